"""Exercise 6, hyperparameter tuning: a 5-fold grid search on digits.

`sklearn.model_selection.GridSearchCV` searches hidden layers, neurons per
layer, learning rate and batch size for `FNNClassifier`; the same search with
scikit-learn's ``MLPClassifier`` (same grid, same folds, same epoch budget)
runs right after it, so the two wall times come from the same machine in the
same minute.
"""

from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext

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
    new_figure,
    quiet_training,
    resolve_settings,
)

NAME = "tuning"
TITLE = "6. Hyperparameter tuning"
PREDICTION = (
    "The lesson predicts that the learning rate and the size of the network matter "
    "more than the batch size, and that fnn's compiled engine runs the same search "
    "faster than scikit-learn's MLPClassifier, thread for thread."
)

FULL = {
    "layers": (1, 2),
    "neurons": (32, 64, 128),
    "learning_rates": (0.001, 0.01),
    "batch_sizes": (32, 128),
    "folds": 5,
    "max_epochs": 40,
    "test_fraction": 0.2,
    "n_samples": None,
    "compare_sklearn": True,
    "threads": 1,
}
QUICK = {
    "neurons": (16, 32),
    "learning_rates": (0.01,),
    "batch_sizes": (64,),
    "max_epochs": 15,
    "n_samples": 500,
}

#: The table's grid columns, each read from a candidate's parameter dict.
_COLUMNS = {
    "layers": lambda p: len(p["hidden_layer_sizes"]),
    "neurons": lambda p: p["hidden_layer_sizes"][0],
    "learning_rate": lambda p: p["learning_rate_init"],
    "batch_size": lambda p: p["batch_size"],
}


def param_grid(s) -> dict:
    """Return the grid in estimator parameters: every (layers, neurons) pair as a tuple.

    Parameters
    ----------
    s : settings
        The exercise's settings (``layers``, ``neurons``, ``learning_rates``,
        ``batch_sizes``).

    Returns
    -------
    dict
        A ``param_grid`` for `sklearn.model_selection.GridSearchCV`.
    """
    return {
        "hidden_layer_sizes": [(n,) * k for k in s.layers for n in s.neurons],
        "learning_rate_init": list(s.learning_rates),
        "batch_size": list(s.batch_sizes),
    }


@contextmanager
def _blas_threads(threads: int):
    """Limit NumPy's BLAS to ``threads`` threads while MLPClassifier trains.

    Left alone, OpenBLAS starts one thread per core for the larger matrix
    products; on a busy machine those threads wait on each other and a fit
    can take 10-30 times longer, which would time the machine's load, not
    the library. threadpoolctl comes with scikit-learn.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def run(
    *,
    quick: bool = False,
    seed: int = 0,
    engine: str = DEFAULT_ENGINE,
    progress: Progress | None = None,
    **overrides,
) -> ExerciseResult:
    """Grid-search an `FNNClassifier` on digits, then time ``MLPClassifier`` on it.

    Both searches run one fit at a time (``n_jobs=1``) on the same folds,
    each fit on ``threads`` threads: fnn's ``n_jobs`` and the BLAS threads
    of scikit-learn's NumPy.

    Parameters
    ----------
    quick : bool, default=False
        A tiny grid on 500 digits (see `QUICK`).
    seed : int, default=0
        Seed of the split, the folds and the networks.
    engine : {"rust", "numpy"}, default="rust"
        The estimators' engine.
    progress : callable or None, default=None
        ``progress(done, total, label)``, once per fold scored.
    **overrides
        Any key of `FULL`; ``compare_sklearn=False`` skips ``MLPClassifier``.

    Returns
    -------
    ExerciseResult
        ``table`` has one record per candidate: ``layers``, ``neurons``,
        ``learning_rate``, ``batch_size``, ``fnn_score`` and ``fnn_sd`` (mean
        and sd of the fold accuracies), ``fnn_rank``, ``fnn_fit_seconds``
        (mean per fold), and the same ``sklearn_*`` columns. A second table
        compares the two searches. Figure: ``heatmaps``.
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
    from sklearn.neural_network import MLPClassifier

    seed = check_seed(seed)
    s = resolve_settings(FULL, QUICK, quick, overrides)
    started = time.perf_counter()
    X, y = datasets.load_digits()
    X = X / 16.0
    if s.n_samples is not None and s.n_samples < len(y):
        X, _, y, _ = train_test_split(X, y, train_size=s.n_samples, random_state=seed, stratify=y)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=s.test_fraction, random_state=seed, stratify=y
    )
    grid = param_grid(s)
    n_candidates = int(np.prod([len(v) for v in grid.values()]))
    libraries = {
        "fnn": FNNClassifier(
            max_iter=s.max_epochs, random_state=seed, engine=engine, n_jobs=s.threads
        )
    }
    if s.compare_sklearn:
        libraries["sklearn"] = MLPClassifier(max_iter=s.max_epochs, random_state=seed)
    steps = Steps(progress, len(libraries) * n_candidates * s.folds)

    searches, comparison = {}, []
    for library, estimator in libraries.items():

        def scorer(model, X_fold, y_fold, library=library):
            steps.step(f"{library} fold")
            return float(np.mean(model.predict(X_fold) == y_fold))

        search = GridSearchCV(
            estimator,
            grid,
            scoring=scorer,
            cv=StratifiedKFold(s.folds, shuffle=True, random_state=seed),
            n_jobs=1,
            error_score="raise",
        )
        limit = _blas_threads(s.threads) if library == "sklearn" else nullcontext()
        with quiet_training(), limit:
            t0 = time.perf_counter()
            search.fit(X_train, y_train)
            wall = time.perf_counter() - t0
        searches[library] = search
        best = {c: read(search.best_params_) for c, read in _COLUMNS.items()}
        comparison.append(
            {
                "library": "fnn FNNClassifier"
                if library == "fnn"
                else "scikit-learn MLPClassifier",
                "fits": n_candidates * s.folds + 1,
                "wall_seconds": wall,
                **{f"best_{k}": v for k, v in best.items()},
                "best_cv_accuracy": float(search.best_score_),
                "test_accuracy": float(search.score(X_test, y_test)),
            }
        )

    records = _records(searches)
    settings = {**vars(s), "n_train": len(y_train)}
    return ExerciseResult(
        name=NAME,
        title=TITLE,
        table=records,
        tables=[
            Table(
                f"The two searches: {n_candidates} candidates x {s.folds} folds + the refit, "
                f"{len(y_train)} training digits, at most {s.max_epochs} epochs per fit",
                comparison,
            ),
            Table(
                "Every candidate (mean fold accuracy), best first",
                sorted(records, key=lambda r: r["fnn_rank"]),
            ),
        ],
        figures={"heatmaps": _figure(records, comparison, s)},
        prediction=PREDICTION,
        findings=_findings(records, comparison, s),
        settings=settings,
        seconds=time.perf_counter() - started,
    )


def _records(searches) -> list[dict]:
    fnn = searches["fnn"].cv_results_
    sk = searches["sklearn"].cv_results_ if "sklearn" in searches else None
    rows = []
    for i, params in enumerate(fnn["params"]):
        row = {c: read(params) for c, read in _COLUMNS.items()}
        row.update(
            fnn_score=float(fnn["mean_test_score"][i]),
            fnn_sd=float(fnn["std_test_score"][i]),
            fnn_rank=int(fnn["rank_test_score"][i]),
            fnn_fit_seconds=float(fnn["mean_fit_time"][i]),
        )
        if sk is not None:
            # Both searches walk the same ParameterGrid, so rows line up.
            assert sk["params"][i] == params
            row.update(
                sklearn_score=float(sk["mean_test_score"][i]),
                sklearn_sd=float(sk["std_test_score"][i]),
                sklearn_rank=int(sk["rank_test_score"][i]),
                sklearn_fit_seconds=float(sk["mean_fit_time"][i]),
            )
        rows.append(row)
    return rows


def _spread(records, column) -> float:
    """How much the best score changes across the values of ``column``."""
    values = sorted({r[column] for r in records})
    best = [max(r["fnn_score"] for r in records if r[column] == v) for v in values]
    return max(best) - min(best)


def _findings(records, comparison, s) -> list[str]:
    fnn = comparison[0]
    best = min(records, key=lambda r: r["fnn_rank"])
    layers = "layer" if best["layers"] == 1 else "layers"
    out = [
        f"Measured: the best of the {len(records)} candidates had {best['layers']} hidden "
        f"{layers} of {best['neurons']} neurons, learning rate {best['learning_rate']:g} and "
        f"batch size {best['batch_size']}, with {best['fnn_score']:.3f} ± {best['fnn_sd']:.3f} "
        f"mean {s.folds}-fold accuracy; refit on all training digits it scored "
        f"{fnn['test_accuracy']:.3f} on the test set."
    ]
    varied = [c for c in _COLUMNS if len({r[c] for r in records}) > 1]
    if len(varied) >= 2:
        spread = {c: _spread(records, c) for c in varied}
        most, least = max(spread, key=spread.get), min(spread, key=spread.get)
        out.append(
            f"The best score moved most with {most.replace('_', ' ')} "
            f"(by {spread[most]:.3f} across its values) and least with "
            f"{least.replace('_', ' ')} ({spread[least]:.3f})."
        )
    if len(comparison) > 1:
        sk = comparison[1]
        ratio = sk["wall_seconds"] / fnn["wall_seconds"]
        relation = f"{ratio:.1f}× faster" if ratio >= 1 else f"{1 / ratio:.1f}× slower"
        threads = "one thread" if s.threads == 1 else f"{s.threads} threads"
        out.append(
            f"With {threads} per fit, the search took {fnn['wall_seconds']:.1f} s with fnn "
            f"and {sk['wall_seconds']:.1f} s with scikit-learn's MLPClassifier: "
            f"fnn was {relation}; MLPClassifier's best candidate scored "
            f"{sk['best_cv_accuracy']:.3f} in cross-validation and {sk['test_accuracy']:.3f} "
            "on the test set."
        )
    return out


def _heatmap(ax, records, rows, cols, title, limits):
    row_values = sorted({r[rows] for r in records})
    col_values = sorted({r[cols] for r in records})
    grid = np.full((len(row_values), len(col_values)), np.nan)
    for i, a in enumerate(row_values):
        for j, b in enumerate(col_values):
            grid[i, j] = max(r["fnn_score"] for r in records if r[rows] == a and r[cols] == b)
    ax.grid(False)
    low, high = limits
    image = ax.imshow(grid, cmap="viridis", aspect="auto", vmin=low, vmax=high)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            bright = high > low and (grid[i, j] - low) / (high - low) > 0.6
            ax.text(
                j,
                i,
                f"{grid[i, j]:.3f}",
                ha="center",
                va="center",
                color="black" if bright else "white",
                fontsize=11,
            )
    ax.set_xticks(range(len(col_values)), [f"{v:g}" for v in col_values])
    ax.set_yticks(range(len(row_values)), [f"{v:g}" for v in row_values])
    ax.set_xlabel(cols.replace("_", " "))
    ax.set_ylabel(rows.replace("_", " "))
    ax.set_title(title, fontsize=10)
    return image


def _figure(records, comparison, s):
    fig, axes = new_figure(1, 3, width=14.0, height=4.2)
    # One colour scale for both maps, so equal colours mean equal scores.
    scores = [r["fnn_score"] for r in records]
    limits = (min(scores), max(scores))
    if limits[1] - limits[0] < 1e-3:
        limits = (limits[0] - 0.01, limits[1] + 0.01)
    _heatmap(
        axes[0, 0],
        records,
        "layers",
        "neurons",
        "fnn: best CV accuracy per network size\n(over learning rates and batch sizes)",
        limits,
    )
    image = _heatmap(
        axes[0, 1],
        records,
        "learning_rate",
        "batch_size",
        "fnn: best CV accuracy per learning rate and batch\n(over network sizes)",
        limits,
    )
    fig.colorbar(image, ax=axes[0, 1], shrink=0.8, label="mean CV accuracy")
    ax = axes[0, 2]
    names = ["fnn" if c["library"].startswith("fnn") else "MLPClassifier" for c in comparison]
    seconds = [c["wall_seconds"] for c in comparison]
    bars = ax.barh(names, seconds, color=[colour(i) for i in range(len(names))])
    for bar, c in zip(bars, comparison):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {c['wall_seconds']:.1f} s",
            va="center",
        )
    ax.set_xlim(0, max(seconds) * 1.3)
    ax.invert_yaxis()
    ax.set_xlabel("wall time of the whole search (s)")
    threads = "1 thread" if s.threads == 1 else f"{s.threads} threads"
    ax.set_title(
        f"Wall time: same grid, same {s.folds} folds,\none fit at a time, {threads} per fit",
        fontsize=10,
    )
    fig.suptitle(f"{s.folds}-fold grid search on digits")
    return fig
