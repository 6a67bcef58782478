"""Exercise 1, binary classification: XOR, two moons and two circles.

XOR's four points need a hidden layer: no straight line separates them.
Moons and circles are noisy 2-D problems whose boundaries are curves; the
figures shade the probability the network gives class 1 over the plane, so
the learned boundary is visible, next to the loss curves.
"""

from __future__ import annotations

import time

import numpy as np

from .. import FNNClassifier, datasets
from ._common import (
    DEFAULT_ENGINE,
    ExerciseResult,
    Progress,
    Steps,
    Table,
    check_seed,
    colour,
    hidden_label,
    log_scale,
    new_figure,
    plot_decision_boundary,
    resolve_settings,
    timed_fit,
)

NAME = "binary"
TITLE = "1. Binary classification: XOR, moons and circles"
PREDICTION = (
    "The lesson predicts that one hidden layer is enough to learn XOR, which no "
    "linear model can, and that a small network draws curved boundaries around "
    "the moons and the circles that hold on points it never saw."
)

#: Settings of a full run; `run` takes any of them as keyword overrides.
FULL = {
    "xor_hidden": (8,),
    "xor_activation": "tanh",
    "xor_learning_rate": 0.05,
    "xor_max_epochs": 2000,
    "hidden": (32, 32),
    "activation": "relu",
    "learning_rate": 0.01,
    "batch_size": 32,
    "max_epochs": 300,
    "n_train": 300,
    "n_test": 200,
    "moons_noise": 0.2,
    "circles_noise": 0.1,
    "circles_factor": 0.5,
}
#: What ``quick=True`` changes.
QUICK = {"max_epochs": 100}


def _linear_accuracy(X_train, y_train, X_test, y_test) -> float:
    """Held-out accuracy of logistic regression: what a straight line achieves."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(X_train, y_train)
    return float(model.score(X_test, y_test))


def _problems(s, seed):
    """(name, X_train, y_train, X_test, y_test) for moons and circles."""
    from sklearn.datasets import make_circles

    n = s.n_train + s.n_test
    X_m, y_m = datasets.make_moons(n, noise=s.moons_noise, random_state=seed)
    X_c, y_c = make_circles(n, noise=s.circles_noise, factor=s.circles_factor, random_state=seed)
    for name, X, y in (("moons", X_m, y_m), ("circles", X_c, y_c)):
        yield name, X[: s.n_train], y[: s.n_train], X[s.n_train :], y[s.n_train :]


def run(
    *,
    quick: bool = False,
    seed: int = 0,
    engine: str = DEFAULT_ENGINE,
    progress: Progress | None = None,
    **overrides,
) -> ExerciseResult:
    """Learn XOR, two moons and two circles; draw the decision boundaries.

    Parameters
    ----------
    quick : bool, default=False
        Fewer epochs for moons and circles (see `QUICK`).
    seed : int, default=0
        Seed of the data and of the networks.
    engine : {"rust", "numpy"}, default="rust"
        The estimators' engine.
    progress : callable or None, default=None
        ``progress(done, total, label)``, see `fnn.lab.Progress`.
    **overrides
        Any key of `FULL`, e.g. ``hidden=(8,)``.

    Returns
    -------
    ExerciseResult
        ``table`` has one record per data set (``dataset``, ``n_train``,
        ``n_test``, ``hidden``, ``activation``, ``epochs``, ``final_loss``,
        ``train_accuracy``, ``test_accuracy``, ``linear_accuracy``,
        ``seconds``); for XOR the test points are the four training points.
        Figures: ``boundaries`` and ``loss``.
    """
    seed = check_seed(seed)
    s = resolve_settings(FULL, QUICK, quick, overrides)
    started = time.perf_counter()
    steps = Steps(progress, 3)
    records, models, data = [], {}, {}

    X, y = datasets.xor()
    xor_model = FNNClassifier(
        hidden_layer_sizes=s.xor_hidden,
        activation=s.xor_activation,
        solver="adam",
        learning_rate_init=s.xor_learning_rate,
        batch_size=4,
        max_iter=s.xor_max_epochs,
        # Four points: train until the loss has really flattened, not until
        # the first 10-epoch plateau.
        tol=1e-5,
        n_iter_no_change=50,
        alpha=0.0,
        random_state=seed,
        engine=engine,
    )
    seconds = timed_fit(xor_model, X, y)
    records.append(
        {
            "dataset": "xor",
            "n_train": 4,
            "n_test": 4,
            "hidden": hidden_label(s.xor_hidden),
            "activation": s.xor_activation,
            "epochs": int(xor_model.n_iter_),
            "final_loss": float(xor_model.loss_curve_[-1]),
            "train_accuracy": float(xor_model.score(X, y)),
            "test_accuracy": float(xor_model.score(X, y)),
            "linear_accuracy": _linear_accuracy(X, y, X, y),
            "seconds": seconds,
        }
    )
    models["xor"], data["xor"] = xor_model, (X, y, X, y)
    steps.step("xor")
    p_xor = xor_model.predict_proba(X)[:, 1]
    xor_rows = [
        {
            "x1": int(a),
            "x2": int(b),
            "target": int(t),
            "p_class_1": float(p),
            "predicted": int(p > 0.5),
        }
        for (a, b), t, p in zip(X, y, p_xor)
    ]

    for name, X_train, y_train, X_test, y_test in _problems(s, seed):
        model = FNNClassifier(
            hidden_layer_sizes=s.hidden,
            activation=s.activation,
            solver="adam",
            learning_rate_init=s.learning_rate,
            batch_size=s.batch_size,
            max_iter=s.max_epochs,
            random_state=seed,
            engine=engine,
        )
        seconds = timed_fit(model, X_train, y_train, eval_set=(X_test, y_test))
        records.append(
            {
                "dataset": name,
                "n_train": len(y_train),
                "n_test": len(y_test),
                "hidden": hidden_label(s.hidden),
                "activation": s.activation,
                "epochs": int(model.n_iter_),
                "final_loss": float(model.loss_curve_[-1]),
                "train_accuracy": float(model.score(X_train, y_train)),
                "test_accuracy": float(model.score(X_test, y_test)),
                "linear_accuracy": _linear_accuracy(X_train, y_train, X_test, y_test),
                "seconds": seconds,
            }
        )
        models[name], data[name] = model, (X_train, y_train, X_test, y_test)
        steps.step(name)

    figures = {
        "boundaries": _boundaries_figure(records, models, data),
        "loss": _loss_figure(records, models),
    }
    return ExerciseResult(
        name=NAME,
        title=TITLE,
        table=records,
        tables=[
            Table("Accuracy per data set (XOR is scored on its 4 training points)", records),
            Table("XOR: the network's probability of class 1 for each point", xor_rows),
        ],
        figures=figures,
        prediction=PREDICTION,
        findings=_findings(records),
        settings=vars(s),
        seconds=time.perf_counter() - started,
    )


def _findings(records) -> list[str]:
    by = {r["dataset"]: r for r in records}
    xor = by["xor"]
    right = round(xor["train_accuracy"] * 4)
    if right == 4:
        first = (
            f"Measured: the network classified all 4 XOR points correctly after "
            f"{xor['epochs']} epochs (final loss {xor['final_loss']:.4f}), where "
            f"logistic regression gets {xor['linear_accuracy']:.0%}."
        )
    else:
        first = (
            f"Measured: the network got only {right} of the 4 XOR points right in "
            f"{xor['epochs']} epochs (logistic regression: {xor['linear_accuracy']:.0%})."
        )
    m, c = by["moons"], by["circles"]
    second = (
        f"On held-out points it reached {m['test_accuracy']:.1%} on the moons and "
        f"{c['test_accuracy']:.1%} on the circles, against {m['linear_accuracy']:.1%} "
        f"and {c['linear_accuracy']:.1%} for logistic regression (training minus held-out "
        f"accuracy: {100 * (m['train_accuracy'] - m['test_accuracy']):+.1f} and "
        f"{100 * (c['train_accuracy'] - c['test_accuracy']):+.1f} percentage points)."
    )
    return [first, second]


def _boundaries_figure(records, models, data):
    fig, axes = new_figure(1, 3, width=13.5, height=4.4)
    for ax, r in zip(axes[0], records):
        name = r["dataset"]
        X_train, y_train, X_test, y_test = data[name]
        plot_decision_boundary(
            ax,
            models[name].predict_proba,
            np.vstack([X_train, X_test]),
            np.concatenate([y_train, y_test]),
            X_shown=X_test,
            y_shown=y_test,
            margin=0.5 if name == "xor" else 0.3,
            title=(
                f"{name}: {r['test_accuracy']:.1%} "
                + ("of the 4 points" if name == "xor" else "held-out accuracy")
            ),
        )
    axes[0, 0].legend(loc="center", fontsize=9, framealpha=0.9)
    fig.suptitle(
        "Learned decision boundaries: colour = P(class 1), black line = 0.5"
        " (moons and circles: held-out points shown)"
    )
    return fig


def _loss_figure(records, models):
    fig, axes = new_figure(1, 3, width=13.5, height=3.8)
    for i, (ax, r) in enumerate(zip(axes[0], records)):
        model = models[r["dataset"]]
        epochs = np.arange(1, len(model.loss_curve_) + 1)
        ax.plot(epochs, model.loss_curve_, color=colour(i), label="training loss")
        if model.validation_loss_curve_ is not None:
            ax.plot(
                epochs,
                model.validation_loss_curve_,
                color=colour(i),
                linestyle="--",
                label="held-out loss",
            )
        log_scale(ax)
        ax.set_title(f"{r['dataset']}: {r['epochs']} epochs")
        ax.set_xlabel("epoch")
        ax.set_ylabel("log-loss (log scale)")
        ax.legend(fontsize=9)
    fig.suptitle("Loss curves")
    return fig
