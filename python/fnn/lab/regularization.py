"""Exercise 5, regularization: none, L2, L1, dropout and early stopping.

A setting built to overfit: 60 noisy two-moons points and a network of two
hidden layers of 256 units, trained for hundreds of epochs. Training and
validation accuracy and loss are measured after every epoch; a separate test
set, never used for training or stopping, scores the final models.
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
    mean_sd,
    new_figure,
    plot_decision_boundary,
    quiet_training,
    resolve_settings,
    train_by_epoch,
)

NAME = "regularization"
TITLE = "5. Regularization"
PREDICTION = (
    "The lesson predicts that a wide network trained long on few points memorizes "
    "them, with training accuracy near 100% and a validation loss that climbs, "
    "and that L2, L1, dropout and early stopping each narrow the gap between "
    "training and held-out accuracy."
)

VARIANTS = ("none", "l2", "l1", "dropout", "early_stopping")

FULL = {
    "variants": VARIANTS,
    "seeds": 3,
    "epochs": 300,
    "hidden": (256, 256),
    "learning_rate": 0.01,
    "batch_size": 16,
    "n_train": 60,
    "n_val": 500,
    "n_test": 500,
    "noise": 0.35,
    "alpha": 0.1,
    "l1": 0.01,
    "dropout": 0.5,
    "patience": 20,
}
QUICK = {"seeds": 1, "epochs": 100}

#: |w| below this counts as a zero weight (L1 drives weights to about 0).
ZERO = 1e-3


def _variant_params(variant: str, s) -> dict:
    if variant == "none":
        return {"alpha": 0.0}
    if variant == "l2":
        return {"alpha": s.alpha}
    if variant == "l1":
        return {"alpha": 0.0, "l1": s.l1}
    if variant == "dropout":
        return {"alpha": 0.0, "dropout": s.dropout}
    if variant == "early_stopping":
        return {"alpha": 0.0}
    raise ValueError(f"unknown variant {variant!r}; choose from {VARIANTS}")


def _label(variant: str, s) -> str:
    return {
        "none": "none",
        "l2": f"L2 (alpha={s.alpha})",
        "l1": f"L1 (l1={s.l1})",
        "dropout": f"dropout {s.dropout}",
        "early_stopping": f"early stopping (patience {s.patience})",
    }[variant]


def run(
    *,
    quick: bool = False,
    seed: int = 0,
    engine: str = DEFAULT_ENGINE,
    progress: Progress | None = None,
    **overrides,
) -> ExerciseResult:
    """Train an overfitting network with and without each regularizer.

    Parameters
    ----------
    quick : bool, default=False
        One seed and fewer epochs (see `QUICK`).
    seed : int, default=0
        Repeat ``k`` draws its data and network with seed ``seed + k``.
    engine : {"rust", "numpy"}, default="rust"
        The estimators' engine.
    progress : callable or None, default=None
        ``progress(done, total, label)``.
    **overrides
        Any key of `FULL`, e.g. ``alpha=1.0`` or ``variants=("none", "l2")``.

    Returns
    -------
    ExerciseResult
        ``table`` has one record per (variant, seed): ``variant``, ``seed``,
        ``epochs`` (run), ``best_epoch`` (whose weights are kept),
        ``train_accuracy``, ``val_accuracy``, ``test_accuracy``, ``gap``
        (training minus test accuracy), ``train_loss``, ``val_loss``,
        ``zero_weights`` (share of weights with ``|w| < 1e-3``),
        ``seconds``. Figures: ``curves``, ``weights`` and ``boundaries``.
    """
    seed = check_seed(seed)
    s = resolve_settings(FULL, QUICK, quick, overrides)
    for variant in s.variants:
        _variant_params(variant, s)
    started = time.perf_counter()
    run_seeds = [seed + k for k in range(s.seeds)]
    steps = Steps(progress, len(s.variants) * len(run_seeds))

    records, curves, weights, shown = [], {}, {}, {}
    for run_seed in run_seeds:
        n = s.n_train + s.n_val + s.n_test
        X, y = datasets.make_moons(n, noise=s.noise, random_state=run_seed)
        a, b = s.n_train, s.n_train + s.n_val
        X_train, y_train, X_val, y_val = X[:a], y[:a], X[a:b], y[a:b]
        X_test, y_test = X[b:], y[b:]
        for variant in s.variants:
            model = FNNClassifier(
                hidden_layer_sizes=s.hidden,
                learning_rate_init=s.learning_rate,
                batch_size=s.batch_size,
                random_state=run_seed,
                engine=engine,
                **_variant_params(variant, s),
            )
            patience = s.patience if variant == "early_stopping" else None
            with quiet_training():
                c = train_by_epoch(
                    model, X_train, y_train, X_val, y_val, s.epochs, patience=patience
                )
            best = c["best_epoch"] - 1
            all_weights = np.concatenate([w.ravel() for w in model.coefs_])
            train_accuracy = float(model.score(X_train, y_train))
            test_accuracy = float(model.score(X_test, y_test))
            records.append(
                {
                    "variant": variant,
                    "seed": run_seed,
                    "epochs": c["epochs"],
                    "best_epoch": c["best_epoch"],
                    "train_accuracy": train_accuracy,
                    "val_accuracy": c["val_accuracy"][best],
                    "test_accuracy": test_accuracy,
                    "gap": train_accuracy - test_accuracy,
                    "train_loss": c["train_loss"][best],
                    "val_loss": c["val_loss"][best],
                    "zero_weights": float(np.mean(np.abs(all_weights) < ZERO)),
                    "seconds": c["seconds"],
                }
            )
            if run_seed == run_seeds[0]:
                curves[variant] = c
                weights[variant] = all_weights
                shown[variant] = (model, X_train, y_train, X_test, y_test)
            steps.step(f"{variant} seed {run_seed}")

    summary = _summary(records, s)
    return ExerciseResult(
        name=NAME,
        title=TITLE,
        table=records,
        tables=[
            Table(
                f"{s.n_train} training points, network {hidden_label(s.hidden)}, "
                f"{s.epochs} epochs; mean over {len(run_seeds)} seed(s)",
                summary,
            ),
            Table("Every run", records, terminal=False),
        ],
        figures={
            "curves": _curves_figure(curves, s),
            "weights": _weights_figure(weights, s),
            "boundaries": _boundaries_figure(shown, records, s),
        },
        prediction=PREDICTION,
        findings=_findings(summary, s),
        settings=vars(s),
        seconds=time.perf_counter() - started,
    )


def _summary(records, s) -> list[dict]:
    rows = []
    for variant in s.variants:
        runs = [r for r in records if r["variant"] == variant]
        row = {"variant": variant, "setting": _label(variant, s)}
        for key in (
            "epochs",
            "train_accuracy",
            "val_accuracy",
            "test_accuracy",
            "gap",
            "train_loss",
            "val_loss",
            "zero_weights",
        ):
            row[key] = mean_sd([r[key] for r in runs])[0]
        rows.append(row)
    return rows


def _points(share: float) -> str:
    return f"{100 * share:.1f} points"


def _findings(summary, s) -> list[str]:
    by = {r["variant"]: r for r in summary}
    out = []
    if "none" in by:
        base = by["none"]
        out.append(
            f"Measured without regularization: {base['train_accuracy']:.1%} training "
            f"against {base['test_accuracy']:.1%} test accuracy (a gap of "
            f"{_points(base['gap'])}), validation loss {base['val_loss']:.3f} against "
            f"{base['train_loss']:.3f} on the training points."
        )
        others = [v for v in s.variants if v != "none"]
        narrower = [v for v in others if by[v]["gap"] < base["gap"]]
        wider = [v for v in others if v not in narrower]
        if others:
            parts = []
            if narrower:
                parts.append(
                    "the gap narrowed with "
                    + ", ".join(f"{v} (to {_points(by[v]['gap'])})" for v in narrower)
                )
            if wider:
                parts.append(
                    "it did not narrow with "
                    + ", ".join(f"{v} ({_points(by[v]['gap'])})" for v in wider)
                )
            best = max(others, key=lambda v: by[v]["test_accuracy"])
            verdict = "above" if by[best]["test_accuracy"] > base["test_accuracy"] else "not above"
            sentence = "; ".join(parts)
            out.append(
                sentence[0].upper()
                + sentence[1:]
                + f". The best test accuracy was {best}'s, {by[best]['test_accuracy']:.1%}, "
                f"{verdict} the {base['test_accuracy']:.1%} without regularization."
            )
        if "l1" in by:
            out.append(
                f"L1 left {by['l1']['zero_weights']:.0%} of the weights below {ZERO:g} in "
                f"size, against {base['zero_weights']:.0%} without regularization."
            )
    if "early_stopping" in by:
        out.append(
            f"Early stopping ran {by['early_stopping']['epochs']:.0f} of {s.epochs} epochs "
            "on average and kept its best epoch's weights."
        )
    return out


def _curves_figure(curves, s):
    n = len(s.variants)
    fig, axes = new_figure(2, n, width=3.1 * n, height=6.4)
    lowest = min(min(curves[v]["train_accuracy"] + curves[v]["val_accuracy"]) for v in s.variants)
    for j, variant in enumerate(s.variants):
        c = curves[variant]
        epochs = np.arange(1, c["epochs"] + 1)
        top, bottom = axes[0, j], axes[1, j]
        top.plot(epochs, c["train_accuracy"], color=colour(0), label="training")
        top.plot(epochs, c["val_accuracy"], color=colour(1), label="validation")
        bottom.plot(epochs, c["train_loss"], color=colour(0), label="training")
        bottom.plot(epochs, c["val_loss"], color=colour(1), label="validation")
        if variant == "early_stopping":
            for ax in (top, bottom):
                ax.axvline(c["best_epoch"], color="grey", linestyle=":", label="kept epoch")
        top.set_title(_label(variant, s), fontsize=10)
        top.set_ylim(lowest - 0.03, 1.01)
        log_scale(bottom)
        bottom.set_xlabel("epoch")
        for ax in (top, bottom):
            ax.set_xlim(0, s.epochs)
    axes[0, 0].set_ylabel("accuracy")
    axes[1, 0].set_ylabel("log-loss (log scale)")
    axes[0, 0].legend(fontsize=8, loc="lower right")
    axes[1, -1].legend(fontsize=8)
    lows = [min(min(curves[v]["train_loss"]), min(curves[v]["val_loss"])) for v in s.variants]
    highs = [max(max(curves[v]["train_loss"]), max(curves[v]["val_loss"])) for v in s.variants]
    for ax in axes[1]:
        ax.set_ylim(max(min(lows) * 0.8, 1e-4), max(highs) * 1.2)
    fig.suptitle(
        f"Training vs validation, {s.n_train} training points (first seed); the distance "
        "between the two curves is the overfitting"
    )
    return fig


def _weights_figure(weights, s):
    n = len(s.variants)
    fig, axes = new_figure(1, n, width=3.1 * n, height=3.4)
    limit = max(np.percentile(np.abs(w), 99.5) for w in weights.values())
    bins = np.linspace(-limit, limit, 61)
    for j, variant in enumerate(s.variants):
        ax = axes[0, j]
        w = weights[variant]
        ax.hist(np.clip(w, -limit, limit), bins=bins, color=colour(j))
        ax.set_yscale("log")
        ax.set_title(_label(variant, s), fontsize=10)
        ax.set_xlabel("weight value")
        ax.text(
            0.03,
            0.95,
            f"|w| < {ZERO:g}: {np.mean(np.abs(w) < ZERO):.0%}\nmax |w| = {np.abs(w).max():.2f}",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )
    top = max(ax.get_ylim()[1] for ax in axes[0])
    for ax in axes[0]:
        ax.set_ylim(0.8, top)
    axes[0, 0].set_ylabel("number of weights (log scale)")
    fig.suptitle("All weights after training (first seed; same bins in every panel)")
    return fig


def _boundaries_figure(shown, records, s):
    n = len(s.variants)
    fig, axes = new_figure(1, n, width=3.1 * n, height=3.4)
    for j, variant in enumerate(s.variants):
        model, X_train, y_train, X_test, y_test = shown[variant]
        plot_decision_boundary(
            axes[0, j],
            model.predict_proba,
            np.vstack([X_train, X_test]),
            np.concatenate([y_train, y_test]),
            X_shown=X_train,
            y_shown=y_train,
            margin=0.2,
            resolution=150,
            title=f"{variant}: test {model.score(X_test, y_test):.1%}",
        )
        axes[0, j].title.set_fontsize(10)
    fig.suptitle(
        f"What each model learned from the {s.n_train} training points (shown; first seed)"
    )
    return fig
