"""The glue from a fit to an engine: one training call, stochastic or L-BFGS.

Plain functions of the engine, the `TrainConfig` and the parameters and
`TrainState` they train in place; the estimator validates the data before
and commits the result after. Each returns an `Outcome`, the per-epoch
records the fitted attributes are made from.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._callbacks import EpochTasks, IterationTasks
from ._config import EpochLog
from ._divergence import NON_FINITE_WEIGHTS, fall_back
from ._errors import DivergedError
from ._lbfgs import fit_lbfgs
from ._progress import EpochReporter
from ._warn import warn


@dataclass
class Outcome:
    """What one training call reports: per-epoch records and the final loss."""

    losses: list[float]
    val_losses: list[float]
    val_scores: list[float]
    n_iter: int
    final_loss: float
    interrupted: bool = False


@dataclass
class Watch:
    """How scikit-learn's callbacks see a fit: what a fit task per step is made from.

    ``root``, ``estimator``, ``data`` and ``fitted`` are as `EpochTasks`
    (in `fnn._callbacks`) takes them.
    """

    root: Any
    estimator: Any
    data: dict
    fitted: Callable


def train_stochastic(
    engine, config, params, state, data, *, start, incremental, verbose, name, watch
):
    """Train with a stochastic solver, in place; return the `Outcome`.

    Parameters
    ----------
    engine : Engine
        Runs the epochs.
    config : TrainConfig
        What to train.
    params : ndarray
        The parameter buffer, trained in place.
    state : TrainState
        Where training stands, advanced in place.
    data : tuple
        ``(X, Y, weights, validation)`` as `Engine.fit_epochs` takes them.
    start : callable
        ``start()`` gives the starting point again (parameters and state),
        for the replay after a divergence under early stopping.
    incremental : bool
        Whether this is one `partial_fit` epoch (no bar, no max_iter warning).
    verbose : int
        The estimator's ``verbose``.
    name : str
        The estimator's class name, for the messages.
    watch : Watch or None
        How callbacks see the fit; None when none does.

    Returns
    -------
    Outcome
        The epochs' records and the final loss.
    """
    reporter = EpochReporter(verbose, config.max_epochs, name, bar=not incremental)
    tasks = None
    if watch is not None:
        n_rows = data[0].shape[0]
        tasks = EpochTasks(
            watch.root, watch.estimator, watch.data, config, params, state, n_rows, watch.fitted
        )
    # Only a visible report or a callback needs Python after every epoch; the
    # curves come back in `log` either way, also when training stops with an
    # exception.
    callback = every_one_hears(reporter if verbose else None, tasks)
    log = EpochLog()
    with reporter:
        try:
            interrupted, diverged = _fit_epochs(
                engine, config, params, state, data, callback, log, name
            )
        finally:
            if tasks is not None:
                tasks.close()
    if diverged:
        fall_back(engine, config, params, state, data, log, start, name)
    n_iter = len(log.loss)
    stopped = log.converged or interrupted or (tasks is not None and tasks.stopped)
    if not (incremental or stopped) and n_iter == config.max_epochs:
        criterion = "validation score" if config.stopping == "val_score" else "training loss"
        warn(
            f"{name} ran max_iter={config.max_epochs} epochs and the {criterion} was "
            "still improving; raise max_iter to train further.",
            ConvergenceWarning,
        )
    final_loss = log.loss[-1] if log.loss else math.nan
    return Outcome(
        list(log.loss), list(log.val_loss), list(log.val_score), n_iter, final_loss, interrupted
    )


def _fit_epochs(engine, config, params, state, data, callback, log, name) -> tuple[bool, bool]:
    """Run `Engine.fit_epochs`; return whether Ctrl-C stopped it and whether it diverged.

    A divergence ends the fit with scikit-learn's message unless early
    stopping has a model to fall back on.
    """
    try:
        engine.fit_epochs(config, params, state, *data, callback, log)
    except KeyboardInterrupt:
        # The caller commits the weights reached, then raises it again.
        return True, False
    except DivergedError as error:
        if config.stopping != "val_score":
            raise DivergedError(
                f"{NON_FINITE_WEIGHTS} {name}: {error} (e.g. with StandardScaler). The "
                "estimator keeps its previous fitted state, if it had one."
            ) from error
        return False, True
    return False, False


def train_lbfgs(
    engine, config, params, state, X, Y, weights, *, max_iter, max_fun, tol, verbose, name, watch
):
    """Train with L-BFGS, in place; return the `Outcome`.

    Parameters
    ----------
    engine, config, params, state
        As for `train_stochastic`.
    X, Y, weights
        The training data and its sample weights (None: ones).
    max_iter, max_fun, tol
        The estimator's L-BFGS settings.
    verbose, name, watch
        As for `train_stochastic`.

    Returns
    -------
    Outcome
        One record per iteration, and the last iterate's loss.
    """
    reporter = EpochReporter(verbose, max_iter, name, unit="iteration")
    tasks = None
    if watch is not None:
        tasks = IterationTasks(
            watch.root, watch.estimator, watch.data, params, state, X.shape[0], watch.fitted
        )
    with reporter:
        try:
            result = fit_lbfgs(
                engine,
                config,
                params,
                X,
                Y,
                weights,
                max_iter=int(max_iter),
                max_fun=int(max_fun),
                tol=float(tol),
                reporter=reporter,
                iteration_hook=tasks,
            )
        finally:
            if tasks is not None:
                tasks.close()
    if result.interrupted:
        # Ctrl-C may have come after an iteration was reported but before it
        # was kept: the record ends where the kept iterate does.
        for record in (reporter.losses, reporter.val_losses, reporter.val_scores):
            del record[result.n_iter :]
    _check_lbfgs_result(result, name, stopped=tasks is not None and tasks.stopped)
    params[...] = result.params
    state.epoch += result.n_iter
    state.samples_seen += result.n_iter * X.shape[0]
    state.best_loss = min([state.best_loss, result.loss, *reporter.losses])
    # The final loss is the last iterate's, also when no iteration completed.
    return Outcome(
        reporter.losses,
        reporter.val_losses,
        reporter.val_scores,
        result.n_iter,
        result.loss,
        result.interrupted,
    )


def _check_lbfgs_result(result, name, stopped) -> None:
    """Raise for a run that diverged or kept no iterate; warn for one that did not converge.

    ``stopped`` says whether a callback asked the fit to stop.
    """
    if result.interrupted and result.n_iter == 0:
        raise KeyboardInterrupt  # before any iterate: nothing to keep
    if not math.isfinite(result.loss) or not np.isfinite(result.params).all():
        raise DivergedError(
            f"{NON_FINITE_WEIGHTS} {name}: training diverged (the L-BFGS objective is "
            f"{result.loss}). Scale the inputs (e.g. with StandardScaler). The estimator "
            "keeps its previous fitted state, if it had one."
        )
    if not (result.converged or result.interrupted or stopped):
        warn(
            f"{name}: L-BFGS stopped before converging ({result.message}); raise "
            "max_iter or max_fun, or scale the inputs.",
            ConvergenceWarning,
        )


def every_one_hears(*callbacks):
    """Return one engine callback that calls each of ``callbacks`` after every epoch.

    None stands for an absent one; training stops when any of them asks to.
    """
    present = [c for c in callbacks if c is not None]
    if len(present) < 2:
        return present[0] if present else None
    return lambda *epoch: any([c(*epoch) for c in present])  # a list: no short cut
