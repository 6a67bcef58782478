"""The lesson's lab: small experiments that show what a network learns.

Each exercise is a function ``exercise(engine="rust", seed=0)`` that trains
through the engine interface (`fnn.get_engine`) and returns a list of records,
one plain ``dict`` per training run, holding what the run learned (losses,
accuracies, predictions, the loss curve). `EXERCISES` lists them in the order
of the lesson. ``python -m fnn.lab`` (see `fnn.lab.__main__`) runs them and
prints the records as tables; nothing here prints.

Exercises
---------
xor
    The four XOR points with one hidden layer of 8 units, once with ``tanh``
    and once with ``relu``: no linear model can fit them, a tiny network can.
moons
    Two noisy interleaving half circles, a ``(32, 32)`` ReLU network trained
    with Adam, scored on held-out points it never saw.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import EpochLog, TrainConfig, TrainState, datasets, get_engine

__all__ = [
    "DEFAULT_ENGINE",
    "EXERCISES",
    "OUTPUT_DIR",
    "format_table",
    "moons_exercise",
    "targets",
    "train",
    "xor_exercise",
]

#: Engine used when none is named: the Rust core.
DEFAULT_ENGINE = "rust"

#: Where exercises that write plots or reports put them (relative to the cwd).
OUTPUT_DIR = "lab-output"

Record = dict[str, Any]

# XOR: train until every point is right and the mean log-loss is below this,
# or until XOR_MAX_EPOCHS.
XOR_LOSS_TARGET = 0.05
XOR_MAX_EPOCHS = 5000

# Two moons. At noise 0.2 the classes overlap so much that no model reaches 97%
# held-out accuracy on every seed; 0.12 keeps the moons clearly noisy but
# separable enough for that.
MOONS_NOISE = 0.12
MOONS_N_TRAIN = 400
MOONS_N_TEST = 200
MOONS_EPOCHS = 100
#: Epochs (1-based) at which the moons table shows the losses.
MOONS_CHECKPOINTS = (1, 5, 10, 25, 50, 100)


def targets(y: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """The float64 target matrix an engine trains on, from integer labels.

    Parameters
    ----------
    y : array-like of int, shape (n,)
        Class labels ``0 .. n_classes - 1``.
    n_classes : int or None, default=None
        Number of classes; ``max(y) + 1`` when None.

    Returns
    -------
    ndarray of shape (n, 1) or (n, n_classes), float64
        One column of 0/1 for two classes (for ``output="sigmoid"``),
        one-hot rows otherwise (for ``output="softmax"``).
    """
    y = np.asarray(y, dtype=np.int64)
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if k <= 2:
        return np.ascontiguousarray(y.reshape(-1, 1), dtype=np.float64)
    Y = np.zeros((y.shape[0], k), dtype=np.float64)
    Y[np.arange(y.shape[0]), y] = 1.0
    return Y


def _labels(P: np.ndarray) -> np.ndarray:
    """Predicted labels from output-layer probabilities."""
    if P.shape[1] == 1:
        return (P[:, 0] > 0.5).astype(np.int64)
    return np.argmax(P, axis=1)


def train(
    config: TrainConfig,
    X: np.ndarray,
    Y: np.ndarray,
    engine: str = DEFAULT_ENGINE,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    stop: Callable[[int, float, float, float], bool] | None = None,
) -> tuple[np.ndarray, EpochLog]:
    """Train a fresh network with the engine interface.

    Parameters
    ----------
    config : TrainConfig
        What to train; ``config.max_epochs`` bounds the epochs.
    X : ndarray of shape (n, d0)
        Inputs.
    Y : ndarray of shape (n, dL)
        Targets, as made by `targets`.
    engine : {"rust", "numpy"}, default="rust"
        The engine to train with.
    validation : (X_val, Y_val) or None, default=None
        Held-out data the engine scores after every epoch.
    stop : callable or None, default=None
        ``stop(epoch, loss, val_loss, val_score)`` after every epoch; training
        ends early when it returns True.

    Returns
    -------
    params : ndarray
        The trained flat parameter buffer (float64).
    log : EpochLog
        One entry per epoch run.
    """
    eng = get_engine(engine)
    X = np.ascontiguousarray(X, dtype=np.float64)
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    val = None
    if validation is not None:
        X_val, Y_val = validation
        val = (
            np.ascontiguousarray(X_val, dtype=np.float64),
            np.ascontiguousarray(Y_val, dtype=np.float64),
            None,
        )
    params = eng.init_params(config, np.float64)
    state = TrainState.fresh(config, np.float64)
    log = eng.fit_epochs(config, params, state, X, Y, validation=val, callback=stop)
    return params, log


def xor_exercise(engine: str = DEFAULT_ENGINE, seed: int = 0) -> list[Record]:
    """Learn XOR with one hidden layer of 8 units, for tanh and for relu.

    Full-batch Adam until all four points are classified right and the mean
    log-loss is below ``XOR_LOSS_TARGET`` (at most ``XOR_MAX_EPOCHS`` epochs).

    Returns
    -------
    list of dict
        One record per activation with keys ``exercise``, ``engine``,
        ``activation``, ``hidden``, ``epochs``, ``final_loss``, ``accuracy``,
        ``probabilities`` (P(y=1) for the four points, in order), ``targets``,
        ``loss_curve`` and ``seconds``.
    """
    X, y = datasets.xor()
    Y = targets(y, 2)
    records = []
    for activation in ("tanh", "relu"):
        config = TrainConfig(
            layer_sizes=(2, 8, 1),
            activations=(activation,),
            loss="log_loss",
            output="sigmoid",
            solver="adam",
            learning_rate_init=0.03,
            batch_size=4,
            max_epochs=XOR_MAX_EPOCHS,
            stopping="none",
            score="accuracy",
            seed=seed,
        )

        def solved(epoch, loss, val_loss, val_score):
            return val_score >= 1.0 and loss < XOR_LOSS_TARGET

        start = time.perf_counter()
        params, log = train(config, X, Y, engine, validation=(X, Y), stop=solved)
        seconds = time.perf_counter() - start
        P = get_engine(engine).predict(config, params, X)
        records.append(
            {
                "exercise": "xor",
                "engine": engine,
                "activation": activation,
                "hidden": config.layer_sizes[1:-1],
                "epochs": len(log.loss),
                "final_loss": float(log.loss[-1]) if log.loss else math.nan,
                "accuracy": float(np.mean(_labels(P) == y)),
                "probabilities": [float(p) for p in P[:, 0]],
                "targets": [int(t) for t in y],
                "loss_curve": [float(v) for v in log.loss],
                "seconds": seconds,
            }
        )
    return records


def moons_exercise(engine: str = DEFAULT_ENGINE, seed: int = 0) -> list[Record]:
    """Fit two noisy moons with a (32, 32) ReLU network and Adam.

    ``MOONS_N_TRAIN`` training points and ``MOONS_N_TEST`` held-out points are
    drawn from one `fnn.datasets.make_moons` sample (noise ``MOONS_NOISE``);
    the engine scores the held-out points after every epoch.

    Returns
    -------
    list of dict
        One record with keys ``exercise``, ``engine``, ``hidden``,
        ``activation``, ``solver``, ``noise``, ``n_train``, ``n_test``,
        ``epochs``, ``loss_curve``, ``val_loss_curve``, ``val_score_curve``
        (held-out accuracy per epoch), ``train_accuracy``, ``test_accuracy``
        and ``seconds``.
    """
    X, y = datasets.make_moons(MOONS_N_TRAIN + MOONS_N_TEST, noise=MOONS_NOISE, random_state=seed)
    X_train, y_train = X[:MOONS_N_TRAIN], y[:MOONS_N_TRAIN]
    X_test, y_test = X[MOONS_N_TRAIN:], y[MOONS_N_TRAIN:]
    config = TrainConfig(
        layer_sizes=(2, 32, 32, 1),
        activations=("relu", "relu"),
        loss="log_loss",
        output="sigmoid",
        solver="adam",
        learning_rate_init=0.01,
        batch_size=32,
        max_epochs=MOONS_EPOCHS,
        stopping="none",
        score="accuracy",
        seed=seed,
    )
    start = time.perf_counter()
    params, log = train(
        config,
        X_train,
        targets(y_train, 2),
        engine,
        validation=(X_test, targets(y_test, 2)),
    )
    seconds = time.perf_counter() - start
    eng = get_engine(engine)
    train_pred = _labels(eng.predict(config, params, np.ascontiguousarray(X_train)))
    test_pred = _labels(eng.predict(config, params, np.ascontiguousarray(X_test)))
    return [
        {
            "exercise": "moons",
            "engine": engine,
            "hidden": config.layer_sizes[1:-1],
            "activation": "relu",
            "solver": config.solver,
            "noise": MOONS_NOISE,
            "n_train": MOONS_N_TRAIN,
            "n_test": MOONS_N_TEST,
            "epochs": len(log.loss),
            "loss_curve": [float(v) for v in log.loss],
            "val_loss_curve": [float(v) for v in log.val_loss],
            "val_score_curve": [float(v) for v in log.val_score],
            "train_accuracy": float(np.mean(train_pred == y_train)),
            "test_accuracy": float(np.mean(test_pred == y_test)),
            "seconds": seconds,
        }
    ]


#: The exercises in the order of the lesson: name -> function.
EXERCISES: dict[str, Callable[..., list[Record]]] = {
    "xor": xor_exercise,
    "moons": moons_exercise,
}


def format_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Render rows as a plain-text table with right-aligned columns.

    Floats are shown with 4 significant decimals, everything else with
    ``str``.

    Parameters
    ----------
    rows : sequence of sequences
        The cells, one inner sequence per row, as many cells as ``header``.
    header : sequence of str
        Column titles.

    Returns
    -------
    str
        The table, lines joined by newlines, no trailing newline.
    """

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return str(value)

    cells = [[str(h) for h in header]] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
