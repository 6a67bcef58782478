"""Exercise 2, activation functions: sigmoid, tanh, ReLU and leaky ReLU.

The same three-hidden-layer network learns the same noisy two moons with
each activation, over several seeds, trained by SGD with momentum. The
sigmoid's derivative is at most 0.25, so its gradients shrink layer after
layer; tanh's reaches 1 at zero, ReLU's is 1 wherever a unit is active.
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
    resolve_settings,
    timed_fit,
)

NAME = "activations"
TITLE = "2. Activation functions"
PREDICTION = (
    "The lesson predicts that in a deeper network the sigmoid learns slowest, "
    "since its derivative is at most 0.25 and gradients shrink at every layer, "
    "while ReLU and leaky ReLU learn fastest."
)

FULL = {
    "activations": ("sigmoid", "tanh", "relu", "leaky_relu"),
    "seeds": 5,
    "hidden": (16, 16, 16),
    "solver": "sgd",
    "learning_rate": 0.05,
    "momentum": 0.9,
    "batch_size": 32,
    "max_epochs": 200,
    "patience": 30,
    "n_train": 400,
    "n_val": 200,
    "noise": 0.25,
    "target_accuracy": 0.8,
}
QUICK = {"max_epochs": 100}


def run(
    *,
    quick: bool = False,
    seed: int = 0,
    engine: str = DEFAULT_ENGINE,
    progress: Progress | None = None,
    **overrides,
) -> ExerciseResult:
    """Compare activations on two noisy moons over several seeds.

    Each run stops by the estimator's own rule (the training loss improved
    by less than ``tol`` for ``patience`` epochs) or after ``max_epochs``;
    the patience is longer than the estimator's default 10 because a
    sigmoid network sits on long plateaus before it starts to learn.

    Parameters
    ----------
    quick : bool, default=False
        Fewer epochs at most (see `QUICK`).
    seed : int, default=0
        The runs use seeds ``seed, seed + 1, ...``; the data uses ``seed``.
    engine : {"rust", "numpy"}, default="rust"
        The estimators' engine.
    progress : callable or None, default=None
        ``progress(done, total, label)``.
    **overrides
        Any key of `FULL`, e.g. ``seeds=10``.

    Returns
    -------
    ExerciseResult
        ``table`` has one record per (activation, seed): ``activation``,
        ``seed``, ``epochs`` (until the stopping rule fired),
        ``epochs_to_target`` (first epoch with validation accuracy at least
        ``target_accuracy``; NaN if never), ``train_accuracy``,
        ``val_accuracy``, ``final_loss``, ``seconds``. Figure: ``curves``.
    """
    seed = check_seed(seed)
    s = resolve_settings(FULL, QUICK, quick, overrides)
    started = time.perf_counter()
    X, y = datasets.make_moons(s.n_train + s.n_val, noise=s.noise, random_state=seed)
    X_train, y_train = X[: s.n_train], y[: s.n_train]
    X_val, y_val = X[s.n_train :], y[s.n_train :]
    run_seeds = [seed + k for k in range(s.seeds)]
    steps = Steps(progress, len(s.activations) * len(run_seeds))

    records, curves = [], {}
    for activation in s.activations:
        for run_seed in run_seeds:
            model = FNNClassifier(
                hidden_layer_sizes=s.hidden,
                activation=activation,
                solver=s.solver,
                learning_rate_init=s.learning_rate,
                momentum=s.momentum,
                batch_size=s.batch_size,
                max_iter=s.max_epochs,
                n_iter_no_change=s.patience,
                random_state=run_seed,
                engine=engine,
            )
            seconds = timed_fit(model, X_train, y_train, eval_set=(X_val, y_val))
            curves[activation, run_seed] = (model.loss_curve_, model.validation_scores_)
            records.append(
                {
                    "activation": activation,
                    "seed": run_seed,
                    "epochs": int(model.n_iter_),
                    "epochs_to_target": first_epoch_reaching(
                        model.validation_scores_, s.target_accuracy
                    ),
                    "train_accuracy": float(model.score(X_train, y_train)),
                    "val_accuracy": float(model.score(X_val, y_val)),
                    "final_loss": float(model.loss_curve_[-1]),
                    "seconds": seconds,
                }
            )
            steps.step(f"{activation} seed {run_seed}")

    summary = _summary(records, s)
    return ExerciseResult(
        name=NAME,
        title=TITLE,
        table=records,
        tables=[
            Table(
                f"Over {len(run_seeds)} seeds (mean ± sd); network {hidden_label(s.hidden)}, "
                f"{s.solver} lr={s.learning_rate} momentum={s.momentum}",
                summary,
            ),
            Table("Every run", records, terminal=False),
        ],
        figures={"curves": _figure(records, curves, s)},
        prediction=PREDICTION,
        findings=_findings(records, s),
        settings=vars(s),
        seconds=time.perf_counter() - started,
    )


def _by_activation(records, s):
    return {a: [r for r in records if r["activation"] == a] for a in s.activations}


def _summary(records, s) -> list[dict]:
    rows = []
    for activation, runs in _by_activation(records, s).items():
        reached = [r["epochs_to_target"] for r in runs if not math.isnan(r["epochs_to_target"])]
        rows.append(
            {
                "activation": activation,
                "val_accuracy": pm(*mean_sd([r["val_accuracy"] for r in runs])),
                "train_accuracy": pm(*mean_sd([r["train_accuracy"] for r in runs])),
                "epochs_until_stop": pm(*mean_sd([r["epochs"] for r in runs]), digits=0),
                f"epochs_to_{s.target_accuracy:.0%}": (
                    pm(*mean_sd(reached), digits=0) if reached else "never"
                ),
                "runs_reaching_it": f"{len(reached)}/{len(runs)}",
            }
        )
    return rows


def _findings(records, s) -> list[str]:
    groups = _by_activation(records, s)
    acc = {a: mean_sd([r["val_accuracy"] for r in runs]) for a, runs in groups.items()}
    ranked = sorted(acc, key=lambda a: acc[a][0], reverse=True)
    best, worst = ranked[0], ranked[-1]
    first = (
        f"Measured over {len(next(iter(groups.values())))} seeds: {best} reached the "
        f"highest mean validation accuracy ({pm(*acc[best])}), "
        f"{acc[best][0] - acc[worst][0]:.3f} above {worst} ({pm(*acc[worst])})."
    )
    speed = {}
    for a, runs in groups.items():
        reached = [r["epochs_to_target"] for r in runs if not math.isnan(r["epochs_to_target"])]
        speed[a] = (np.mean(reached) if reached else math.inf, len(reached), len(runs))
    finite = [a for a in speed if math.isfinite(speed[a][0])]
    target = f"{s.target_accuracy:.0%}"
    if not finite:
        return [first, f"No activation reached {target} validation accuracy."]
    fastest = min(finite, key=lambda a: speed[a][0])
    slowest = max(speed, key=lambda a: (speed[a][0], -speed[a][1]))
    mean, hits, runs = speed[fastest]
    second = (
        f"To reach {target} validation accuracy, {fastest} needed {mean:.1f} epochs on "
        f"average ({hits}/{runs} runs got there)"
    )
    if slowest != fastest:
        mean_slow, hits_slow, _ = speed[slowest]
        if math.isfinite(mean_slow):
            second += (
                f", {slowest} {mean_slow:.1f} ({mean_slow / mean:.1f}× as many; "
                f"{hits_slow}/{runs} runs got there)"
            )
        else:
            second += f", while {slowest} never got there within {s.max_epochs} epochs"
    return [first, second + "."]


def _figure(records, curves, s):
    fig, axes = new_figure(1, 3, width=14.0, height=4.2)
    ax_loss, ax_acc, ax_bar = axes[0]
    for i, activation in enumerate(s.activations):
        first = True
        for (a, _), (loss, val) in curves.items():
            if a != activation:
                continue
            label = activation if first else None
            ax_loss.plot(np.arange(1, len(loss) + 1), loss, color=colour(i), alpha=0.7, label=label)
            ax_acc.plot(np.arange(1, len(val) + 1), val, color=colour(i), alpha=0.7, label=label)
            first = False
    ax_loss.set_title("Training loss, every seed")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("log-loss")
    ax_acc.axhline(s.target_accuracy, color="grey", linestyle=":")
    ax_acc.text(
        0.98,
        s.target_accuracy - 0.01,
        f"target {s.target_accuracy:.0%}",
        transform=ax_acc.get_yaxis_transform(),
        ha="right",
        va="top",
        color="grey",
    )
    ax_acc.set_title("Validation accuracy, every seed")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0.4, 1.0)
    groups = _by_activation(records, s)
    stats = [mean_sd([r["val_accuracy"] for r in groups[a]]) for a in s.activations]
    ax_bar.bar(
        range(len(stats)),
        [m for m, _ in stats],
        yerr=[sd for _, sd in stats],
        color=[colour(i) for i in range(len(stats))],
        capsize=5,
    )
    for i, (m, _) in enumerate(stats):
        ax_bar.text(i, 0.42, f"{m:.3f}", ha="center", color="white", fontweight="bold")
    ax_bar.set_xticks(range(len(stats)), list(s.activations))
    ax_bar.set_ylim(0.4, 1.0)
    ax_bar.set_title("Final validation accuracy (mean ± sd)")
    ax_bar.set_ylabel("accuracy")
    ax_loss.legend(fontsize=9)
    fig.suptitle(
        f"Activations on two moons (noise {s.noise}), network {hidden_label(s.hidden)}, "
        f"{s.solver} with momentum {s.momentum}"
    )
    return fig
