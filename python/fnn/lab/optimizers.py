"""Exercise 4, optimizers: SGD, momentum, Nesterov, RMSprop, Adam and AdamW.

The same network, data and seeds for every optimizer; each learns digits one
epoch at a time (`partial_fit`) so that validation accuracy can be measured
after every epoch and plotted against the epoch and against the training
time spent so far.
"""

from __future__ import annotations

import math
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
    first_epoch_reaching,
    hidden_label,
    mean_sd,
    new_figure,
    pm,
    quiet_training,
    resolve_settings,
    train_by_epoch,
)

NAME = "optimizers"
TITLE = "4. Optimizers"
PREDICTION = (
    "The lesson predicts that momentum, Nesterov and the adaptive methods (RMSprop, "
    "Adam, AdamW) reach a good accuracy in far fewer epochs than plain SGD, at "
    "about the same cost per epoch."
)

#: Each optimizer's estimator parameters; the learning rates are the usual
#: starting points (SGD's is 10x the momentum methods', whose steps add up
#: to about 1 / (1 - momentum) = 10 times a single gradient step).
OPTIMIZERS = {
    "sgd": {"solver": "sgd", "momentum": 0.0, "learning_rate_init": 0.1},
    "momentum": {
        "solver": "sgd",
        "momentum": 0.9,
        "nesterovs_momentum": False,
        "learning_rate_init": 0.01,
    },
    "nesterov": {
        "solver": "sgd",
        "momentum": 0.9,
        "nesterovs_momentum": True,
        "learning_rate_init": 0.01,
    },
    "rmsprop": {"solver": "rmsprop", "learning_rate_init": 0.001},
    "adam": {"solver": "adam", "learning_rate_init": 0.001},
    "adamw": {"solver": "adamw", "learning_rate_init": 0.001, "weight_decay": 0.01},
}

FULL = {
    "optimizers": tuple(OPTIMIZERS),
    "seeds": 3,
    "epochs": 40,
    "hidden": (128, 64),
    "batch_size": 32,
    "val_fraction": 0.3,
    "target_accuracy": 0.95,
}
QUICK = {"seeds": 2, "epochs": 12}


def _describe(params: dict) -> str:
    shown = {k: v for k, v in params.items() if k != "solver"}
    return ", ".join(f"{k.replace('_init', '')}={v}" for k, v in shown.items())


def run(
    *,
    quick: bool = False,
    seed: int = 0,
    engine: str = DEFAULT_ENGINE,
    progress: Progress | None = None,
    **overrides,
) -> ExerciseResult:
    """Train the same network on digits with six optimizers and the same seeds.

    Parameters
    ----------
    quick : bool, default=False
        Fewer seeds and epochs (see `QUICK`).
    seed : int, default=0
        The runs use seeds ``seed, seed + 1, ...``; the split uses ``seed``.
    engine : {"rust", "numpy"}, default="rust"
        The estimators' engine.
    progress : callable or None, default=None
        ``progress(done, total, label)``.
    **overrides
        Any key of `FULL`; ``optimizers`` selects names from `OPTIMIZERS`.

    Returns
    -------
    ExerciseResult
        ``table`` has one record per (optimizer, seed): ``optimizer``,
        ``seed``, ``epochs``, ``train_seconds`` (training only, without the
        per-epoch measuring), ``seconds_per_epoch`` (the median epoch's),
        ``val_accuracy`` (after
        the last epoch), ``best_val_accuracy``, ``epochs_to_target`` (NaN if
        never) and ``seconds_to_target``. Figure: ``curves``.
    """
    from sklearn.model_selection import train_test_split

    seed = check_seed(seed)
    s = resolve_settings(FULL, QUICK, quick, overrides)
    unknown = [o for o in s.optimizers if o not in OPTIMIZERS]
    if unknown:
        raise ValueError(f"unknown optimizer(s) {unknown}; choose from {list(OPTIMIZERS)}")
    started = time.perf_counter()
    X, y = datasets.load_digits()
    X_train, X_val, y_train, y_val = train_test_split(
        X / 16.0, y, test_size=s.val_fraction, random_state=seed, stratify=y
    )
    run_seeds = [seed + k for k in range(s.seeds)]
    steps = Steps(progress, len(s.optimizers) * len(run_seeds))

    records, curves = [], {}
    for name in s.optimizers:
        for run_seed in run_seeds:
            model = FNNClassifier(
                hidden_layer_sizes=s.hidden,
                batch_size=s.batch_size,
                random_state=run_seed,
                engine=engine,
                **OPTIMIZERS[name],
            )
            with quiet_training():
                c = train_by_epoch(
                    model, X_train, y_train, X_val, y_val, s.epochs, measure_train=False
                )
            curves[name, run_seed] = c
            at = first_epoch_reaching(c["val_accuracy"], s.target_accuracy)
            records.append(
                {
                    "optimizer": name,
                    "seed": run_seed,
                    "epochs": c["epochs"],
                    "train_seconds": c["seconds"],
                    "seconds_per_epoch": c["seconds_per_epoch"],
                    "val_accuracy": c["val_accuracy"][-1],
                    "best_val_accuracy": max(c["val_accuracy"]),
                    "epochs_to_target": at,
                    "seconds_to_target": (
                        c["elapsed"][int(at) - 1] if not math.isnan(at) else math.nan
                    ),
                }
            )
            steps.step(f"{name} seed {run_seed}")

    return ExerciseResult(
        name=NAME,
        title=TITLE,
        table=records,
        tables=[
            Table(
                f"Digits, network {hidden_label(s.hidden)}, batch {s.batch_size}, "
                f"{s.epochs} epochs, seeds {run_seeds[0]}..{run_seeds[-1]} (mean ± sd)",
                _summary(records, s),
            ),
            Table("Every run", records, terminal=False),
        ],
        figures={"curves": _figure(curves, s)},
        prediction=PREDICTION,
        findings=_findings(records, s),
        settings=vars(s),
        seconds=time.perf_counter() - started,
    )


def _groups(records, s):
    return {o: [r for r in records if r["optimizer"] == o] for o in s.optimizers}


def _summary(records, s) -> list[dict]:
    rows = []
    target = f"{s.target_accuracy:.0%}"
    for name, runs in _groups(records, s).items():
        reached = [r for r in runs if not math.isnan(r["epochs_to_target"])]
        rows.append(
            {
                "optimizer": name,
                "settings": _describe(OPTIMIZERS[name]),
                "train_seconds": mean_sd([r["train_seconds"] for r in runs])[0],
                "val_accuracy": pm(*mean_sd([r["val_accuracy"] for r in runs])),
                f"epochs_to_{target}": (
                    f"{np.mean([r['epochs_to_target'] for r in reached]):.1f}"
                    if reached
                    else "never"
                )
                + ("" if len(reached) in (0, len(runs)) else f" ({len(reached)}/{len(runs)})"),
                f"seconds_to_{target}": (
                    f"{np.mean([r['seconds_to_target'] for r in reached]):.2f}"
                    if reached
                    else "never"
                ),
            }
        )
    return rows


def _findings(records, s) -> list[str]:
    groups = _groups(records, s)
    target = f"{s.target_accuracy:.0%}"
    epochs = {}
    for name, runs in groups.items():
        reached = [r["epochs_to_target"] for r in runs if not math.isnan(r["epochs_to_target"])]
        # An optimizer that missed the target in some runs ranks behind all
        # that always reached it.
        epochs[name] = np.mean(reached) if len(reached) == len(runs) else math.inf
    accuracy = {n: mean_sd([r["val_accuracy"] for r in runs])[0] for n, runs in groups.items()}
    per_epoch = {
        n: mean_sd([r["seconds_per_epoch"] for r in runs])[0] for n, runs in groups.items()
    }
    best = max(accuracy, key=accuracy.get)
    out = [
        f"Measured: {best} ended with the best validation accuracy "
        f"({accuracy[best]:.3f} after {s.epochs} epochs)"
        + (
            f", plain SGD with {accuracy['sgd']:.3f}."
            if "sgd" in accuracy and best != "sgd"
            else "."
        )
    ]
    reached = {n: e for n, e in epochs.items() if math.isfinite(e)}
    if reached:
        fastest = min(reached, key=reached.get)
        sentence = f"{fastest} reached {target} first, in {reached[fastest]:.1f} epochs on average"
        if "sgd" in epochs and fastest != "sgd":
            sentence += (
                f", while plain SGD needed {epochs['sgd']:.1f}"
                if math.isfinite(epochs["sgd"])
                else f", while plain SGD did not always get there in {s.epochs} epochs"
            )
        out.append(sentence + ".")
    else:
        out.append(f"No optimizer reached {target} in every run within {s.epochs} epochs.")
    slow, fast = max(per_epoch, key=per_epoch.get), min(per_epoch, key=per_epoch.get)
    out.append(
        f"The median epoch took {1000 * per_epoch[fast]:.1f} ms ({fast}) to "
        f"{1000 * per_epoch[slow]:.1f} ms ({slow}), "
        f"a spread of {per_epoch[slow] / per_epoch[fast] - 1:.0%}."
    )
    return out


def _figure(curves, s):
    fig, axes = new_figure(1, 2, width=13.0, height=4.4)
    ax_epoch, ax_time = axes[0]
    for i, name in enumerate(s.optimizers):
        runs = [c for (o, _), c in curves.items() if o == name]
        n = min(c["epochs"] for c in runs)
        accuracy = np.mean([c["val_accuracy"][:n] for c in runs], axis=0)
        elapsed = np.mean([c["elapsed"][:n] for c in runs], axis=0)
        style = {"color": colour(i), "marker": "o", "markersize": 3, "label": name}
        ax_epoch.plot(np.arange(1, n + 1), accuracy, **style)
        ax_time.plot(elapsed, accuracy, **style)
    for ax in (ax_epoch, ax_time):
        ax.axhline(s.target_accuracy, color="grey", linestyle=":", linewidth=1)
        ax.set_ylabel("validation accuracy (mean over seeds)")
        ax.set_ylim(max(0.0, ax.get_ylim()[0]), 1.0)
        ax.legend(fontsize=9, loc="lower right")
    ax_epoch.set_xlabel("epoch")
    ax_epoch.set_title("Against epochs")
    ax_time.set_xlabel("training time (s, mean over seeds)")
    ax_time.set_title("Against wall-clock time")
    fig.suptitle(
        f"Optimizers on digits: network {hidden_label(s.hidden)}, batch {s.batch_size}; "
        f"dotted line = {s.target_accuracy:.0%}"
    )
    return fig
