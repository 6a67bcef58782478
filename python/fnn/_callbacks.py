"""scikit-learn's callback API (`sklearn.callback`, scikit-learn >= 1.9) for fnn.

A fit is one root task with one subtask per epoch (per iteration for
L-BFGS), as scikit-learn's estimators cut their fits: `EpochTasks` and
`IterationTasks` turn the engine's per-epoch report and SciPy's per-iteration
callback into ``on_fit_task_begin``/``on_fit_task_end`` calls, each able to
hand the callbacks a ``fitted_estimator``: the model as a fit stopped at that
point would leave it. Python runs per epoch only when a callback is set on the
estimator or propagated to it; inside a meta-estimator without callbacks, the
fit only links its root task to the meta-estimator's task tree.

On a scikit-learn without `sklearn.callback`, the estimators still work;
``set_callbacks`` then raises an ImportError naming the version needed.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

import sklearn

from ._config import TrainState

try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # scikit-learn < 1.9

    class CallbackSupportMixin:  # type: ignore[no-redef]
        """Stands in for scikit-learn's mixin where it does not exist."""

        def set_callbacks(self, *callbacks):
            """Callbacks need scikit-learn >= 1.9; this always raises.

            Raises
            ------
            ImportError
                Naming the scikit-learn version needed and the one installed.
            """
            raise ImportError(
                "set_callbacks needs scikit-learn >= 1.9, which brings the callback API "
                f"(sklearn.callback); this is scikit-learn {sklearn.__version__}. "
                "Upgrade it with: pip install 'scikit-learn>=1.9'."
            )

    def with_callbacks(method):  # type: ignore[no-redef]
        """Without `sklearn.callback` there is nothing to tear down."""
        return method


__all__ = [
    "CallbackSupportMixin",
    "EpochTasks",
    "IterationTasks",
    "listened_to",
    "root_task",
    "with_callbacks",
]


def listened_to(estimator) -> bool:
    """Tell whether any callback hears this estimator's tasks.

    Its own callbacks, or those a meta-estimator propagated to it: only then
    do epochs need Python.
    """
    return bool(getattr(estimator, "_skl_callbacks", None))


def root_task(estimator, max_subtasks):
    """Return the fit's root task, or None when no callback can see it.

    A context is made when the estimator has callbacks, or when a
    meta-estimator (Pipeline, GridSearchCV) links its task tree to this fit's.
    """
    if not (hasattr(estimator, "_skl_callbacks") or hasattr(estimator, "_parent_callback_ctx")):
        return None
    return estimator._init_callback_context(max_subtasks=max_subtasks)


@dataclass
class _Counters:
    """The training state's counters after each epoch, as the engine keeps them.

    Spec section 8; the engine hands them back only when it returns.
    """

    step: int
    epoch: int
    samples_seen: int
    lr_base: float
    best_loss: float
    best_score: float
    no_improve: int

    @classmethod
    def of(cls, state) -> _Counters:
        names = cls.__dataclass_fields__
        return cls(**{name: getattr(state, name) for name in names})

    def advance(self, config, n_rows, loss, score) -> tuple[bool, bool]:
        """Count one epoch; returns (the score improved, the engine stops).

        The stopping bookkeeping of spec section 8, step 4.
        """
        self.step += math.ceil(n_rows / config.batch_size)
        self.epoch += 1
        self.samples_seen += n_rows
        improved = False
        # The comparisons as the spec writes them, so that NaN goes the same way.
        if config.stopping == "val_score":
            self.no_improve = self.no_improve + 1 if score < self.best_score + config.tol else 0
            improved = score > self.best_score
            self.best_score = score if improved else self.best_score
        elif config.stopping == "train_loss":
            self.no_improve = self.no_improve + 1 if loss > self.best_loss - config.tol else 0
        self.best_loss = min(self.best_loss, loss)
        patience_lost = config.stopping != "none" and self.no_improve > config.n_iter_no_change
        if patience_lost and config.schedule == "adaptive" and self.lr_base > 1e-6:
            self.lr_base /= 5
            self.no_improve = 0
            patience_lost = False
        return improved, patience_lost


class _Tasks(ABC):
    """One subtask per step of the fit, begun before the step and ended after it.

    The last one begun may never run (`close` ends it empty).
    """

    def __init__(self, root, estimator, data, task_name):
        self._root = root
        self._estimator = estimator
        self._data = data  # X, y and metadata, as the root task got them
        self._task_name = task_name
        self._task = None
        self._cached = None
        #: Whether a callback asked the fit to stop.
        self.stopped = False

    def _attributes(self):
        """Return the fitted attributes at this point.

        Computed once, on demand: the end of a step and the beginning of the
        next share them.
        """
        if self._cached is None:
            self._cached = self._fitted_attributes()
        return self._cached

    @abstractmethod
    def _fitted_attributes(self) -> dict:
        """Return the fitted attributes of the model trained so far."""

    def _begin(self):
        self._task = self._root.subcontext(task_name=self._task_name)
        self._task.call_on_fit_task_begin(
            estimator=self._estimator, **self._data, reconstruction_attributes=self._attributes
        )

    def _end(self) -> bool:
        task, self._task = self._task, None
        stop = task.call_on_fit_task_end(
            estimator=self._estimator, **self._data, reconstruction_attributes=self._attributes
        )
        self.stopped = bool(stop)
        return self.stopped

    def close(self) -> None:
        """End a task that was begun but never ran, with nothing to report."""
        if self._task is not None:
            task, self._task = self._task, None
            task.call_on_fit_task_end(estimator=self._estimator)


class EpochTasks(_Tasks):
    """The engine's per-epoch callback for a stochastic solver: one fit task per epoch.

    Parameters
    ----------
    root : sklearn.callback.CallbackContext
        The fit's root task.
    estimator : BaseFNN
        The estimator being fitted.
    data : dict
        ``X``, ``y`` and ``metadata`` handed to every task.
    config : TrainConfig
        What the engine trains.
    params : ndarray
        The parameter buffer the engine updates in place.
    state : TrainState
        The state training starts from; its ``slots`` are updated in place.
    n_rows : int
        Training rows per epoch.
    fitted : callable
        ``fitted(params, state, losses, val_losses, val_scores)``: the fitted
        attributes of a model trained that far.
    """

    def __init__(self, root, estimator, data, config, params, state, n_rows, fitted):
        super().__init__(root, estimator, data, "epoch")
        self._config = config
        self._params = params
        self._slots = state.slots
        self._counters = _Counters.of(state)
        self._n_rows = n_rows
        self._fitted = fitted
        self._records = ([], [], [])
        self._best = None  # the parameters early stopping would restore
        self._begin()

    def __call__(self, epoch, loss, val_loss, val_score) -> bool:
        """Record one epoch, end its task, begin the next; True stops training."""
        self._cached = None
        for record, value in zip(self._records, (loss, val_loss, val_score)):
            record.append(value)
        improved, engine_stops = self._counters.advance(self._config, self._n_rows, loss, val_score)
        if improved and self._config.restore_best:
            self._best = self._params.copy()
        if self._task is None:  # not foreseen; keeps every end paired with a begin
            self._begin()
        if self._end():
            return True
        if not engine_stops and len(self._records[0]) < self._config.max_epochs:
            self._begin()
        return False

    def _fitted_attributes(self):
        c = self._config
        restores = c.stopping == "val_score" and c.restore_best and self._best is not None
        params = (self._best if restores else self._params).copy()
        state = TrainState(slots=self._slots.copy(), **vars(self._counters))
        return self._fitted(params, state, *(list(r) for r in self._records))


class IterationTasks(_Tasks):
    """SciPy's per-iteration callback for L-BFGS: one fit task per iteration.

    The pattern of scikit-learn's ``LogisticRegression``.

    Parameters
    ----------
    root, estimator, data
        As for `EpochTasks`.
    params : ndarray
        The starting point, in the working dtype.
    state : TrainState
        The state training starts from.
    n_rows : int
        Training rows (every iteration sees all of them).
    fitted : callable
        As for `EpochTasks`.
    """

    def __init__(self, root, estimator, data, params, state, n_rows, fitted):
        super().__init__(root, estimator, data, "iteration")
        self._x = params
        self._state = state
        self._n_rows = n_rows
        self._fitted = fitted
        self._losses = []
        self._begin()

    def __call__(self, x, loss) -> bool:
        """Take the iterate after an iteration and its objective; True stops."""
        self._cached = None
        self._x = x
        self._losses.append(float(loss))
        if self._end():
            return True
        self._begin()
        return False

    def _fitted_attributes(self):
        n = len(self._losses)
        start = self._state
        state = replace(
            start,
            slots=start.slots.copy(),
            epoch=start.epoch + n,
            samples_seen=start.samples_seen + n * self._n_rows,
            best_loss=min([start.best_loss, *self._losses]),
        )
        params = self._x.astype(start.slots.dtype)  # a copy also when no cast is needed
        nans = [math.nan] * n
        return self._fitted(params, state, list(self._losses), nans, list(nans))
