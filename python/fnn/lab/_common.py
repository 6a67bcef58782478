"""What every exercise shares.

The result type, settings, progress, tables, epoch-by-epoch training and
plotting helpers.

Nothing here prints; the command line (`fnn.lab.cli`) and the report
(`fnn.lab.report`) are the only places that write anything.
"""

from __future__ import annotations

import ast
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

Record = dict[str, Any]

#: ``progress(done, total, label)``: called when an exercise starts (done=0)
#: and after each unit of work (one training run, one cross-validation fold).
Progress = Callable[[int, int, str], None]

#: Engine used when none is named: the Rust core.
DEFAULT_ENGINE = "rust"

#: Seeds the exercises accept: they add small offsets (one per repeat) and
#: scikit-learn's ``random_state`` must stay below 2**32.
MAX_SEED = 2**31 - 1

#: A consistent colour per name across every figure of the lab.
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
)


@dataclass
class Table:
    """A table to show: a caption and its rows (one ``dict`` per row).

    ``terminal=False`` marks long per-run tables that only the report shows.
    """

    caption: str
    rows: list[Record]
    terminal: bool = True


@dataclass
class ExerciseResult:
    """What one exercise returns.

    Attributes
    ----------
    name : str
        The exercise's command-line name, e.g. ``"activations"``.
    title : str
        Its section title.
    table : list of dict
        The tidy results: one record per training run or measurement, with
        scalar values; ``pandas.DataFrame(result.table)`` turns it into a
        data frame.
    tables : list of Table
        What the terminal and the report show, ``table`` or summaries of it.
    figures : dict of str to matplotlib.figure.Figure
        The plots, by short name (the report saves ``<name>_<key>.png``).
    prediction : str
        What the lesson predicts (the claim under test).
    findings : list of str
        Sentences generated from the measured numbers.
    settings : dict
        The settings the exercise ran with (after ``quick`` and overrides).
    seconds : float
        Wall time of the whole exercise.
    """

    name: str
    title: str
    table: list[Record]
    tables: list[Table]
    figures: dict[str, Any]
    prediction: str
    findings: list[str]
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        """The prediction and the findings as one paragraph."""
        return " ".join([self.prediction, *self.findings])


def resolve_settings(
    full: Mapping[str, Any],
    quick_changes: Mapping[str, Any],
    quick: bool,
    overrides: Mapping[str, Any],
) -> SimpleNamespace:
    """Return an exercise's settings: its defaults, the ``quick`` changes, then overrides.

    Parameters
    ----------
    full : mapping
        The defaults of a full run.
    quick_changes : mapping
        What ``quick=True`` changes.
    quick : bool
        Whether to apply ``quick_changes``.
    overrides : mapping
        The caller's changes; every key must be a setting.

    Returns
    -------
    types.SimpleNamespace
        The settings, as attributes.

    Raises
    ------
    TypeError
        If an override names no setting.
    """
    unknown = sorted(set(overrides) - set(full))
    if unknown:
        raise TypeError(
            f"unknown setting(s) {', '.join(unknown)}; the settings are {', '.join(sorted(full))}"
        )
    values = dict(full)
    if quick:
        values.update(quick_changes)
    values.update(overrides)
    return SimpleNamespace(**values)


def parse_setting(text: str) -> tuple[str, str, Any]:
    """Split ``EXERCISE.KEY=VALUE`` into its parts; VALUE as a Python literal.

    Parameters
    ----------
    text : str
        For example ``"regularization.epochs=500"`` or
        ``"tuning.neurons=(16, 32)"``; a VALUE that is not a Python literal
        stays a string (``activations.solver=adam``).

    Returns
    -------
    exercise, key, value : str, str, object

    Raises
    ------
    ValueError
        If ``text`` has no ``=`` or no ``.`` before it.
    """
    name, sep, raw = text.partition("=")
    exercise, dot, key = name.strip().partition(".")
    if not sep or not dot or not exercise or not key:
        raise ValueError(f"expected EXERCISE.KEY=VALUE, got {text!r}")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return exercise, key.strip(), value


def check_seed(seed: int) -> int:
    """``seed`` as an int in ``[0, MAX_SEED]``; ValueError otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed must be in [0, {MAX_SEED}], got {seed}")
    return int(seed)


class Steps:
    """Counts an exercise's units of work and reports them to ``progress``."""

    def __init__(self, progress: Progress | None, total: int, label: str = "starting"):
        self._progress = progress
        self.total = int(total)
        self.done = 0
        if progress is not None:
            progress(0, self.total, label)

    def step(self, label: str) -> None:
        """One unit of work is done."""
        self.done += 1
        if self._progress is not None:
            self._progress(min(self.done, self.total), self.total, label)


def timed_fit(model, X, y, **fit_params) -> float:
    """Fit ``model`` quietly (see `quiet_training`); return the seconds it took."""
    with quiet_training():
        start = time.perf_counter()
        model.fit(X, y, **fit_params)
        return time.perf_counter() - start


@contextmanager
def quiet_training() -> Iterator[None]:
    """Silence the warnings the lab triggers on purpose.

    The exercises train for fixed, small epoch budgets, so the estimators'
    "still improving" ConvergenceWarning is expected, not news.
    """
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def is_timing_column(name: str) -> bool:
    """Whether a column holds a wall time, which varies from run to run.

    The lab names every such column ``seconds``, ``*_seconds`` or
    ``seconds_*``; everything else is the same for the same seed.
    """
    return name == "seconds" or name.endswith("_seconds") or name.startswith("seconds_")


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value), ignoring NaN."""
    a = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if a.size == 0:
        return math.nan, math.nan
    sd = float(a.std(ddof=1)) if a.size > 1 else 0.0
    return float(a.mean()), sd


def pm(mean: float, sd: float, digits: int = 3) -> str:
    """``"mean ± sd"`` with ``digits`` decimals."""
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def first_epoch_reaching(curve: Sequence[float], target: float) -> float:
    """1-based first epoch at which ``curve`` reaches ``target``; NaN if never."""
    for epoch, value in enumerate(curve, start=1):
        if value >= target:
            return float(epoch)
    return math.nan


def hidden_label(hidden: Sequence[int]) -> str:
    """``(64, 64)`` -> ``"64-64"``: a compact name for a network's hidden layers."""
    return "-".join(str(int(h)) for h in hidden)


def train_by_epoch(
    estimator,
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    epochs: int,
    *,
    patience: int | None = None,
    tol: float = 1e-4,
    measure_train: bool = True,
) -> Record:
    """Train with `partial_fit`, one epoch per call, measuring after each.

    Both accuracies and log-losses are measured the same way on both sets
    (no dropout, no penalty term), so training and validation curves are
    comparable; the clock counts training only, not the measuring.

    Parameters
    ----------
    estimator : FNNClassifier
        A fresh (unfitted) classifier with a stochastic solver.
    X, y : ndarray
        Training data.
    X_val, y_val : ndarray
        Validation data.
    epochs : int
        Most epochs to train.
    patience : int or None, default=None
        Early stopping: stop when the validation accuracy has not improved
        by more than ``tol`` for ``patience`` epochs and restore the weights
        of the best epoch, the rule of ``early_stopping=True,
        restore_best_weights=True``. None trains all ``epochs``.
    tol : float, default=1e-4
        Smallest improvement of the validation accuracy that counts.
    measure_train : bool, default=True
        Whether to measure on the training set too (else those curves are
        empty).

    Returns
    -------
    dict
        ``train_accuracy``, ``val_accuracy``, ``train_loss``, ``val_loss``
        (one value per epoch), ``elapsed`` (cumulative training seconds after
        each epoch), ``epochs`` (run), ``best_epoch`` (1-based; the epoch
        whose weights the estimator holds), ``seconds`` (training time) and
        ``seconds_per_epoch`` (the median epoch's).
    """
    classes = np.unique(np.concatenate([y, y_val]))
    curves: Record = {
        "train_accuracy": [],
        "val_accuracy": [],
        "train_loss": [],
        "val_loss": [],
        "elapsed": [],
    }
    measured = [("train", X, y)] if measure_train else []
    measured.append(("val", X_val, y_val))
    clock = 0.0
    best_score, best_epoch, best_weights = -math.inf, 0, None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        estimator.partial_fit(X, y, classes=classes)
        clock += time.perf_counter() - start
        curves["elapsed"].append(clock)
        for name, A, b in measured:
            # predict_log_proba is exact where probabilities underflow, so the
            # log-loss needs no clipping.
            log_proba = estimator.predict_log_proba(A)
            column = np.searchsorted(estimator.classes_, b)
            curves[f"{name}_accuracy"].append(
                float(np.mean(np.argmax(log_proba, axis=1) == column))
            )
            curves[f"{name}_loss"].append(float(-np.mean(log_proba[np.arange(len(b)), column])))
        score = curves["val_accuracy"][-1]
        if score > best_score + tol:
            best_score, best_epoch = score, epoch
            if patience is not None:
                best_weights = (
                    [w.copy() for w in estimator.coefs_],
                    [b.copy() for b in estimator.intercepts_],
                )
        elif patience is not None and epoch - best_epoch >= patience:
            break
    if patience is None:
        best_epoch = len(curves["elapsed"])
    elif best_weights is not None:
        estimator.coefs_, estimator.intercepts_ = best_weights
    curves["epochs"] = len(curves["elapsed"])
    # The median epoch: one epoch slowed down by a busy machine moves it little.
    curves["seconds_per_epoch"] = float(np.median(np.diff([0.0, *curves["elapsed"]])))
    curves["best_epoch"] = best_epoch
    curves["seconds"] = clock
    return curves


# ----------------------------------------------------------------------
# Plotting


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 11.0, height: float = 3.8):
    """Return a matplotlib figure and its axes (2-D array), drawn with Agg.

    `matplotlib.figure.Figure` is used directly, without pyplot, so nothing
    needs a display and no figure stays alive in a global registry.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
    return fig, axes


def log_scale(ax) -> None:
    """Log y-axis whose tick labels read as plain numbers (0.3, not 3x10^-1)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.set_yscale("log")
    # 1-2-5 ticks: curves often span less than one decade.
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def colour(i: int) -> str:
    """Return the ``i``-th colour of the lab's palette."""
    return PALETTE[i % len(PALETTE)]


def plot_decision_boundary(
    ax,
    predict_proba: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    *,
    title: str,
    X_shown: np.ndarray | None = None,
    y_shown: np.ndarray | None = None,
    margin: float = 0.5,
    resolution: int = 200,
) -> None:
    """Shade P(class 1) over the plane, draw the 0.5 contour and the points.

    Parameters
    ----------
    ax : matplotlib Axes
        Where to draw.
    predict_proba : callable
        ``predict_proba(points)`` -> ``(n, 2)`` class probabilities.
    X, y : ndarray
        Points that set the plotted area (and are drawn unless ``X_shown``).
    title : str
        Axes title.
    X_shown, y_shown : ndarray or None
        Points to draw instead of ``X, y``.
    margin : float, default=0.5
        Space around the points.
    resolution : int, default=200
        Grid points per axis.
    """
    lo = X.min(axis=0) - margin
    hi = X.max(axis=0) + margin
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    p = predict_proba(grid)[:, 1].reshape(gx.shape)
    ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.55)
    ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.5)
    Xs = X if X_shown is None else X_shown
    ys = y if y_shown is None else y_shown
    for label, marker, c in ((0, "o", "#1f4e9c"), (1, "s", "#b2182b")):
        pts = Xs[ys == label]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=22 if len(Xs) > 10 else 120,
            marker=marker,
            c=c,
            edgecolors="white",
            linewidths=0.6,
            label=f"class {label}",
        )
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_title(title)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
