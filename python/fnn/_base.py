"""The estimator lifecycle both `FNNClassifier` and `FNNRegressor` share.

Parameters and their declared constraints; `fit` and `partial_fit` from
validated data to an engine and back; the commit of the fitted state;
pickling; ``coefs_`` and ``intercepts_``; prediction's logits. What a fit
trains with comes from `fnn._settings`, the training call itself from
`fnn._training`.

The fitted model is plain NumPy: one flat parameter buffer (``coefs_`` and
``intercepts_`` are views of it), the `TrainConfig` it was trained with and the
`TrainState` (optimizer slots and counters) that warm starts and `partial_fit`
continue from. Engines are stateless, so pickling and cloning need nothing
from Rust.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._callbacks import CallbackSupportMixin, listened_to, root_task, with_callbacks
from ._config import TrainState
from ._divergence import NON_FINITE_WEIGHTS, warn_if_diverged
from ._engine import get_engine
from ._layout import unpack
from ._plain_input import plain_float_rows, plain_training_data
from ._predictors import predictor_of
from ._settings import ACTIVATIONS, STOCHASTIC_SOLVERS, train_config
from ._threads import resolve_threads
from ._training import Outcome, Watch, train_lbfgs, train_stochastic
from ._validated_params import validate_once
from ._validation_split import validation_split
from ._version import __version__ as fnn_version
from ._warn import warn

#: scikit-learn's name for each output function (``out_activation_``).
OUT_ACTIVATION_NAMES = {
    "softmax": "softmax",
    "sigmoid": "logistic",
    "identity": "identity",
    "exp": "exp",
}


@functools.cache
def _param_names(cls) -> tuple[str, ...]:
    return tuple(BaseEstimator._get_param_names.__func__(cls))


class BaseFNN(CallbackSupportMixin, BaseEstimator, ABC):
    """Base class of the fnn estimators; use `FNNClassifier` or `FNNRegressor`."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS)), "array-like"],
        "solver": [StrOptions({*STOCHASTIC_SOLVERS, "lbfgs"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive", "step", "cosine"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "negative_slope": [Interval(Real, 0, None, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_step_size": [Interval(Integral, 1, None, closed="left")],
        "lr_gamma": [Interval(Real, 0, None, closed="neither")],
        "lr_min": [Interval(Real, 0, None, closed="left")],
        "l1": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "restore_best_weights": ["boolean"],
        "n_jobs": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Integral, None, -1, closed="right"),
            None,
        ],
        "engine": [StrOptions({"rust", "numpy"})],
    }

    #: Validation score the engine computes: "accuracy" or "r2".
    _score_name = "accuracy"

    def __init__(
        self,
        hidden_layer_sizes,
        activation,
        *,
        solver,
        alpha,
        batch_size,
        learning_rate,
        learning_rate_init,
        power_t,
        max_iter,
        shuffle,
        random_state,
        tol,
        verbose,
        warm_start,
        momentum,
        nesterovs_momentum,
        early_stopping,
        validation_fraction,
        beta_1,
        beta_2,
        epsilon,
        n_iter_no_change,
        max_fun,
        loss,
        negative_slope,
        rho,
        weight_decay,
        lr_step_size,
        lr_gamma,
        lr_min,
        l1,
        dropout,
        restore_best_weights,
        n_jobs,
        engine,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.loss = loss
        self.negative_slope = negative_slope
        self.rho = rho
        self.weight_decay = weight_decay
        self.lr_step_size = lr_step_size
        self.lr_gamma = lr_gamma
        self.lr_min = lr_min
        self.l1 = l1
        self.dropout = dropout
        self.restore_best_weights = restore_best_weights
        self.n_jobs = n_jobs
        self.engine = engine

    def _validate_params(self):
        # The values' constraints hold or not whatever the call: checked once.
        validate_once(self, _param_names(type(self)), super()._validate_params)

    @classmethod
    def _get_param_names(cls):
        # scikit-learn reads __init__'s signature on every get_params, so on
        # every fit; a class's signature does not change (BENCHMARKS.md,
        # "Measurements behind the code's constants").
        return list(_param_names(cls))

    # ------------------------------------------------------------------
    # Hooks the two estimators fill in

    @abstractmethod
    def _prepare_targets(self, y, *, continuing, incremental, classes, dtype):
        """Validate ``y``, settle the output layout, return targets (n, k).

        The targets come C-contiguous in ``dtype``, made in it directly: a
        float64 copy beside them would cost mnist's fit 80 bytes a row.
        """

    @abstractmethod
    def _prepare_eval_targets(self, y):
        """Return targets (n, k) for the validation labels of ``eval_set``."""

    @abstractmethod
    def _loss_and_output(self) -> tuple[str, str]:
        """Return the engine's loss and output function for the fitted layout."""

    def _class_weight_factors(self, y, incremental):
        """Return per-sample factors from ``class_weight`` (None: no class weights)."""
        return None

    def _stratification(self, y):
        """Return the class index per row for a stratified validation split, or None."""
        return None

    # ------------------------------------------------------------------
    # The fitted model

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "_params")

    def _layers(self):
        if not self.__sklearn_is_fitted__():
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet.")
        return unpack(self._config, self._params)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weights per layer, views of the flat parameter buffer."""
        return self._layers()[0]

    @coefs_.setter
    def coefs_(self, values) -> None:
        self._assign_layers(self._layers()[0], values, "coefs_")

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Biases per layer, views of the flat parameter buffer."""
        return self._layers()[1]

    @intercepts_.setter
    def intercepts_(self, values) -> None:
        self._assign_layers(self._layers()[1], values, "intercepts_")

    @staticmethod
    def _assign_layers(views, values, name) -> None:
        values = list(values)
        shapes = [v.shape for v in views]
        if [np.shape(v) for v in values] != shapes:
            raise ValueError(f"{name} must have shapes {shapes}")
        for view, value in zip(views, values):
            view[...] = value

    def __getstate__(self):
        state = super().__getstate__()
        # BaseEstimator records the versions only for scikit-learn's own classes.
        return {**state, "_sklearn_version": sklearn.__version__, "_fnn_version": fnn_version}

    def __copy__(self):
        # A plain shallow copy, without pickling's version bookkeeping: the
        # callback API makes one for every fitted_estimator it hands out.
        twin = type(self).__new__(type(self))
        twin.__dict__.update(self.__dict__)
        return twin

    def __setstate__(self, state):
        state = dict(state)
        pickled_sklearn = state.pop("_sklearn_version", "unknown")
        pickled_fnn = state.pop("_fnn_version", "unknown")
        if pickled_sklearn != sklearn.__version__:
            warn(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    current_sklearn_version=sklearn.__version__,
                    original_sklearn_version=pickled_sklearn,
                )
            )
        if pickled_fnn != fnn_version:
            warn(
                f"Unpickling a {type(self).__name__} made by fnn {pickled_fnn} with fnn "
                f"{fnn_version}; it may not work as before.",
                UserWarning,
            )
        params = state.get("_params")
        if isinstance(params, np.ndarray) and not params.flags.aligned:
            # Unpickled from a byte stream (e.g. by a dask worker) at an address
            # the engines cannot read whole elements from.
            state["_params"] = params.copy()
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------
    # Fitting

    @with_callbacks
    def _fit(self, X, y, *, sample_weight=None, eval_set=None, incremental=False, classes=None):
        """Validate, train and commit; on any error the estimator is left as it was.

        Ctrl-C during training is the exception: the weights reached are
        committed, then `KeyboardInterrupt` is raised again. scikit-learn's
        callbacks (``set_callbacks``) see the fit as one task with a subtask
        per epoch (per iteration for L-BFGS).
        """
        self._validate_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True.")
        # Before the snapshot below, so that a failed fit keeps the context
        # that `with_callbacks` tears down.
        steps = 1 if incremental else int(self.max_iter) + (self.solver == "lbfgs")
        root = root_task(self, max_subtasks=steps)
        before = dict(self.__dict__)
        try:
            interrupted = self._fit_and_commit(
                X, y, sample_weight, eval_set, incremental, classes, root
            )
        except BaseException:
            # Training works on copies, so restoring the attributes restores the
            # model. Old values go back before new names go, so that a predict
            # running in another thread never finds the estimator unfitted.
            self.__dict__.update(before)
            for name in set(self.__dict__) - set(before):
                del self.__dict__[name]
            raise
        if interrupted:
            raise KeyboardInterrupt(
                f"{type(self).__name__} training interrupted; the estimator keeps the "
                f"weights reached ({self.n_iter_} complete epochs or iterations)."
            )
        return self

    def _fit_and_commit(self, X, y, sample_weight, eval_set, incremental, classes, root):
        """Train on validated data and commit the result; return whether Ctrl-C stopped it."""
        continuing = self.__sklearn_is_fitted__() and (incremental or self.warm_start)
        X, y, Y, user_weights, train_weights = self._training_data(
            X, y, sample_weight, continuing, incremental, classes
        )
        metadata = None if user_weights is None else {"sample_weight": user_weights}
        task_data = dict(X=X, y=y, metadata=metadata)
        if root is not None:
            root.call_on_fit_task_begin(estimator=self, **task_data)
        seed = self._seed if continuing else self._draw_seed()
        X, Y, train_weights, validation = self._validation(
            eval_set, seed, X, y, Y, user_weights, train_weights, incremental
        )
        config = train_config(
            self,
            n_features=X.shape[1],
            n_outputs=Y.shape[1],
            n_train=X.shape[0],
            seed=seed,
            incremental=incremental,
            stopping=self._stopping_rule(incremental),
        )
        start = functools.partial(self._starting_point, config, X.dtype, continuing, incremental)
        params, state = start()
        watch = None
        if root is not None and listened_to(self):
            fitted = functools.partial(
                self._attributes_after, config, seed, continuing, validation is not None
            )
            watch = Watch(root, self, task_data, fitted)
        data = (X, Y, train_weights, validation)
        outcome = self._train(config, params, state, data, start, incremental, watch)
        if not np.isfinite(params).all():
            raise ValueError(
                f"{NON_FINITE_WEIGHTS} {type(self).__name__}: training produced non-finite "
                "weights. Scale the inputs (e.g. with StandardScaler) or lower "
                "learning_rate_init."
            )
        warn_if_diverged(config, Y, train_weights, outcome.final_loss, type(self).__name__)
        self._commit(config, params, state, seed, continuing, validation is not None, outcome)
        if root is not None:
            root.call_on_fit_task_end(estimator=self, **task_data, reconstruction_attributes={})
        return outcome.interrupted

    def _validation(self, eval_set, seed, X, y, Y, user_weights, train_weights, incremental):
        """Split off the validation data: ``eval_set``, a held-out part for early stopping, or none.

        Returns ``(X, Y, train_weights, validation)``: the training rows and
        the validation triple (or None).
        """
        stochastic = self.solver != "lbfgs"
        if eval_set is not None and not stochastic:
            warn(
                "solver='lbfgs' trains on the full batch without validation; eval_set is ignored.",
                UserWarning,
            )
            return X, Y, train_weights, None
        if eval_set is not None and not incremental:
            return X, Y, train_weights, self._eval_set(eval_set, X.dtype, n_outputs=Y.shape[1])
        if self.early_stopping and stochastic and not incremental:
            train, held_out = validation_split(
                seed, X.shape[0], self.validation_fraction, self._stratification(y)
            )
            held_out_weights = None if user_weights is None else user_weights[held_out]
            validation = (X[held_out], Y[held_out], held_out_weights)
            train_weights = None if train_weights is None else train_weights[train]
            return X[train], Y[train], train_weights, validation
        return X, Y, train_weights, None

    def _stopping_rule(self, incremental) -> str:
        """Return the engine's stopping rule: none, on the validation score or on the loss."""
        if incremental:
            return "none"
        if self.early_stopping and self.solver != "lbfgs":
            return "val_score"
        return "train_loss"

    def _train(self, config, params, state, data, start, incremental, watch):
        """Run the solver's training call (`fnn._training`) in place; return its `Outcome`."""
        engine = get_engine(self.engine)
        name = type(self).__name__
        if self.solver != "lbfgs":
            return train_stochastic(
                engine,
                config,
                params,
                state,
                data,
                start=start,
                incremental=incremental,
                verbose=self.verbose,
                name=name,
                watch=watch,
            )
        X, Y, weights, _ = data
        return train_lbfgs(
            engine,
            config,
            params,
            state,
            X,
            Y,
            weights,
            max_iter=self.max_iter,
            max_fun=self.max_fun,
            tol=self.tol,
            verbose=self.verbose,
            name=name,
            watch=watch,
        )

    def _training_data(self, X, y, sample_weight, continuing, incremental, classes):
        """Return the validated ``X`` and ``y``, the targets ``Y`` and the sample weights.

        ``X`` and ``Y`` come in the working dtype: float32 for float32 input,
        else float64, and the parameters' dtype when training continues.
        Rows whose training weight is zero are left out.
        """
        # Continuing keeps the parameters' dtype; validating in it catches
        # values that overflow it (float64 input, float32 model).
        dtype = self._params.dtype if continuing else None
        y_numeric = self._score_name == "r2"
        plain = plain_training_data(
            self, X, y, dtype=dtype, y_numeric=y_numeric, reset=not continuing
        )
        if plain is None:
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse="csr",
                dtype=(np.float64, np.float32) if dtype is None else dtype,
                multi_output=True,
                y_numeric=y_numeric,
                reset=not continuing,
            )
        else:
            X, y = plain
        if y.ndim == 2 and y.shape[1] == 1:
            # A column vector means one output, as in scikit-learn (with its warning).
            y = column_or_1d(y, warn=True)
        dtype = self._params.dtype if continuing else X.dtype
        X = X.astype(dtype, copy=False)
        Y = self._prepare_targets(
            y, continuing=continuing, incremental=incremental, classes=classes, dtype=dtype
        )
        user_weights, train_weights = self._weights(sample_weight, X, y, incremental, dtype)
        if train_weights is not None and not np.all(train_weights > 0):
            # Zero weight means absent: dropping the rows makes that exact and
            # spares the engine minibatches whose weights sum to zero.
            kept = np.flatnonzero(train_weights > 0)
            X, Y, y, train_weights = X[kept], Y[kept], y[kept], train_weights[kept]
            user_weights = None if user_weights is None else user_weights[kept]
        return X, y, Y, user_weights, train_weights

    def _weights(self, sample_weight, X, y, incremental, dtype):
        """Return the user's sample weights and the training weights (times class weights)."""
        user = None
        if sample_weight is not None:
            user = _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)
        factors = self._class_weight_factors(y, incremental)
        if factors is None:
            train = user
        else:
            factors = np.asarray(factors, dtype=dtype)
            train = factors if user is None else user * factors
        if train is not None:
            # The engine flushes subnormal numbers to zero: so do the weights, here,
            # where an all-zero result can still be reported as such.
            train = np.where(train < np.finfo(dtype).tiny, 0, train).astype(dtype, copy=False)
        if train is not None and not np.isfinite(train.sum()):
            raise ValueError(
                "The sample weights (times the class weights) are too large: their sum "
                f"overflows {train.dtype}. Divide them by a common factor."
            )
        if train is not None and not train.sum() > 0:
            raise ValueError(
                "The sample weights (times the class weights) are all zero; at least one "
                "sample needs a positive weight."
            )
        return user, train

    def _eval_set(self, eval_set, dtype, n_outputs):
        if not isinstance(eval_set, (tuple, list)) or len(eval_set) != 2:
            raise ValueError("eval_set must be a pair (X_val, y_val).")
        X_val, y_val = eval_set
        X_val = validate_data(self, X_val, accept_sparse="csr", dtype=dtype, reset=False)
        Y_val = np.ascontiguousarray(self._prepare_eval_targets(y_val), dtype=dtype)
        if Y_val.shape != (X_val.shape[0], n_outputs):
            raise ValueError(
                f"eval_set needs y_val for {X_val.shape[0]} samples and {n_outputs} outputs; "
                f"its targets have shape {Y_val.shape}."
            )
        return X_val, Y_val, None

    def _draw_seed(self) -> int:
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _starting_point(self, config, dtype, continuing, incremental):
        """Return the parameters and training state to train from (copies when continuing)."""
        if not continuing:
            engine = get_engine(self.engine)
            return engine.init_params(config, dtype), TrainState.fresh(config, dtype)
        if self._config.layer_sizes != config.layer_sizes:
            raise ValueError(
                f"Cannot continue training: the network has layer sizes "
                f"{self._config.layer_sizes} but the parameters now ask for "
                f"{config.layer_sizes}. Set warm_start=False to start afresh."
            )
        params = self._params.copy()
        state = self._train_state.copy()
        if self._config.solver != config.solver:
            # Another optimizer's slots mean nothing to this one.
            state.slots[...] = 0
            state.step = 0
        if not incremental:
            # A new fit gets its full patience and its own learning rate, as a
            # fresh optimizer would; shuffling and dropout streams continue.
            state.lr_base = config.learning_rate_init
            state.no_improve = 0
            state.best_loss = math.inf
            state.best_score = -math.inf
        return params, state

    def _commit(self, config, params, state, seed, continuing, has_validation, outcome):
        """Set the fitted attributes from one finished training call."""
        # In one step, so that a predict in another thread sees one model.
        self.__dict__.update(
            self._fitted_attributes(
                config, params, state, seed, continuing, has_validation, outcome
            )
        )

    def _attributes_after(
        self, config, seed, continuing, has_validation, params, state, losses, val_losses, scores
    ):
        """Return the `_fitted_attributes` of a model trained for the epochs recorded so far."""
        final_loss = losses[-1] if losses else math.nan
        outcome = Outcome(losses, val_losses, scores, len(losses), final_loss)
        return self._fitted_attributes(
            config, params, state, seed, continuing, has_validation, outcome
        )

    def _fitted_attributes(self, config, params, state, seed, continuing, has_validation, outcome):
        """Return the fitted attributes after a training call that went as ``outcome`` says.

        Also those of a model part-way through a call, for callbacks.
        """
        attributes = dict(
            _params=params,
            _train_state=state,
            _config=config,
            _seed=seed,
            n_layers_=len(config.layer_sizes),
            n_outputs_=config.layer_sizes[-1],
            out_activation_=OUT_ACTIVATION_NAMES[config.output],
            n_iter_=outcome.n_iter,
            t_=int(state.samples_seen),
        )
        if not math.isnan(outcome.final_loss) or not continuing:
            attributes["loss_"] = float(outcome.final_loss)
        earlier = self.loss_curve_ if continuing else []
        attributes["loss_curve_"] = [*earlier, *outcome.losses]
        if has_validation:
            earlier_scores = (getattr(self, "validation_scores_", None) or []) if continuing else []
            earlier_losses = (
                (getattr(self, "validation_loss_curve_", None) or []) if continuing else []
            )
            attributes["validation_scores_"] = [*earlier_scores, *outcome.val_scores]
            attributes["validation_loss_curve_"] = [*earlier_losses, *outcome.val_losses]
        else:
            attributes["validation_scores_"] = None
            attributes["validation_loss_curve_"] = None
        early_stopped = config.stopping == "val_score"
        attributes["best_validation_score_"] = float(state.best_score) if early_stopped else None
        attributes["best_loss_"] = None if early_stopped else float(state.best_loss)
        return attributes

    # ------------------------------------------------------------------
    # Prediction

    def _outputs(self, X, *, finished: bool) -> np.ndarray:
        """Return the logits for ``X``, or with ``finished`` the outputs `_finish` makes of them.

        On the Rust engine a plain array (`fnn._core.Predictor.run`) goes
        straight to the model's `Predictor`; anything else is validated in
        full first. Both give the same bytes.
        """
        # One model, also if a fit commits meanwhile.
        params, config = self.__dict__.get("_params"), self.__dict__.get("_config")
        if params is not None and self.engine == "rust":
            predictor, plain_allowed = predictor_of(self, params, config)
            if plain_allowed:
                n_jobs = self.n_jobs
                threads = None if n_jobs is None else resolve_threads(n_jobs)
                outputs = predictor.run(X, finished, threads)
                if outputs is not None:
                    return outputs
        logits, params, config = self._logits(X, params, config)
        if not finished:
            return logits
        rust = self.engine == "rust"
        return self._finish(logits, predictor_of(self, params, config)[0] if rust else None)

    def _finish(self, logits, predictor):
        """Return the outputs the estimator hands out for validated, finite ``logits``.

        ``predictor`` is the model's `fnn._core.Predictor` on the Rust engine
        (whose `finish` the fast path applies too), None on the NumPy engine.
        """
        return logits if predictor is None else predictor.finish(logits)

    def _finish_name(self) -> str:
        """Return the `fnn._core.Predictor`'s ``finish``: what `_finish` makes of the logits."""
        return "output"

    def _logits(self, X, params, config):
        """Return the logits for validated ``X`` and the model ``(params, config)`` they are of.

        ``params`` and ``config`` are the model read at the start of the
        call (None when unfitted then).
        """
        plain = None if params is None else plain_float_rows(self, X, params.dtype)
        if plain is None:
            check_is_fitted(self)
            params, config = self._params, self._config
            X = validate_data(self, X, accept_sparse="csr", dtype=params.dtype, reset=False)
        else:
            X = plain
        threads = resolve_threads(self.n_jobs)
        run_config = config
        if config.threads != threads:
            run_config = dataclasses.replace(config, threads=threads)
        # The engines densify sparse rows a block at a time themselves.
        logits = get_engine(self.engine).logits(run_config, params, X)
        if not np.isfinite(logits).all():
            raise ValueError(
                f"The network's outputs overflow {params.dtype} for some rows of X (the "
                "largest input magnitude is "
                f"{abs(X).max() if X.size else 0:.3g}). Scale X as the training data was."
            )
        return logits, params, config
