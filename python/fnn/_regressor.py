"""`FNNRegressor`: scikit-learn's ``MLPRegressor`` interface, and more."""

from __future__ import annotations

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if

from ._base import BaseFNN
from ._docs import with_shared_docs


def _is_stochastic(estimator) -> bool:
    if estimator.solver == "lbfgs":
        raise AttributeError("partial_fit is only available for stochastic solvers, not 'lbfgs'.")
    return True


@with_shared_docs
class FNNRegressor(RegressorMixin, BaseFNN):
    """Multi-layer perceptron regressor, a drop-in for ``MLPRegressor``.

    Every parameter that scikit-learn's ``MLPRegressor`` has keeps its name,
    position and default, with its 'squared_error' and 'poisson' losses; the
    rest add the Huber loss, dropout, an L1 penalty, RMSprop and AdamW, leaky ReLU,
    restoring the best weights, a progress bar, an explicit validation set and
    a multi-threaded Rust engine. One or several outputs, dense or sparse CSR
    input.

    Parameters
    ----------
    loss : {'squared_error', 'poisson', 'huber'}, default='squared_error'
        Training loss per output, summed over outputs:

        - 'squared_error': half the squared error.
        - 'poisson': half the Poisson deviance, for counts and other
          non-negative targets. The output goes through ``exp`` (a log link,
          ``out_activation_ == 'exp'``), so predictions are positive; the
          targets must be non-negative.
        - 'huber': the Huber loss with threshold ``huber_delta``, quadratic
          near the target and linear beyond, so outliers pull less.

    %(mlp_parameters)s

    %(extra_parameters)s

    huber_delta : float, default=1.0
        Residual size where the Huber loss turns from quadratic to linear.

    %(run_parameters)s

    Attributes
    ----------
    %(attributes)s

    See Also
    --------
    FNNClassifier : The same network for classification.
    fnn.save : Save a fitted estimator in the safetensors format.

    Notes
    -----
    %(failure_notes)s

    %(callback_notes)s

    Examples
    --------
    >>> import numpy as np
    >>> from fnn import FNNRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
    >>> y = np.sin(3 * X).ravel()
    >>> reg = FNNRegressor(hidden_layer_sizes=(30,), solver="lbfgs", random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.99
    True
    """

    _parameter_constraints: dict = {
        **BaseFNN._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson", "huber"})],
        "huber_delta": [Interval(Real, 0, None, closed="neither")],
    }

    _score_name = "r2"

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        negative_slope=0.01,
        rho=0.99,
        weight_decay=0.01,
        lr_step_size=30,
        lr_gamma=0.1,
        lr_min=0.0,
        l1=0.0,
        dropout=0.0,
        huber_delta=1.0,
        restore_best_weights=True,
        n_jobs=None,
        engine="rust",
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            loss=loss,
            negative_slope=negative_slope,
            rho=rho,
            weight_decay=weight_decay,
            lr_step_size=lr_step_size,
            lr_gamma=lr_gamma,
            lr_min=lr_min,
            l1=l1,
            dropout=dropout,
            restore_best_weights=restore_best_weights,
            n_jobs=n_jobs,
            engine=engine,
        )
        self.huber_delta = huber_delta

    # ------------------------------------------------------------------
    # Training

    def fit(self, X, y, sample_weight=None, eval_set=None):
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training inputs; sparse input is converted to CSR.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; samples of weight 0 are left
            out. None weighs all samples equally.
        eval_set : tuple (X_val, y_val), default=None
            Validation data, evaluated after every epoch
            (``validation_scores_``, ``validation_loss_curve_``) and used for
            early stopping instead of holding out ``validation_fraction``.

        Returns
        -------
        self : FNNRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, eval_set=eval_set)

    @available_if(_is_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        self : FNNRegressor
            The updated estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _prepare_targets(self, y, *, continuing, incremental, classes, dtype):
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        if continuing and targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {targets.shape[1]} outputs but the network was trained with "
                f"{self.n_outputs_}."
            )
        self._check_target_range(targets, "y")
        return np.ascontiguousarray(targets, dtype=dtype)

    def _prepare_eval_targets(self, y):
        y = y.toarray() if sp.issparse(y) else np.asarray(y, dtype=np.float64)
        self._check_target_range(y, "eval_set's y")
        return y.reshape(len(y), -1)

    def _check_target_range(self, targets, name):
        if self.loss == "poisson" and targets.size and not targets.min() >= 0:
            raise ValueError(
                f"Some value(s) of {name} are out of the valid range of loss='poisson': "
                f"its targets must be non-negative (counts, rates), and the smallest is "
                f"{targets.min():.6g}."
            )

    def _loss_and_output(self):
        return self.loss, "exp" if self.loss == "poisson" else "identity"

    # ------------------------------------------------------------------
    # Prediction

    def predict(self, X):
        """Predict targets for ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions; one dimension when the network has one output.
        """
        outputs = self._outputs(X, finished=True)
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def _finish(self, logits, predictor):
        if self._config.output != "exp":
            return logits
        # The Poisson mean; past exp's range it is no number to hand out.
        with np.errstate(over="ignore"):
            means = np.exp(logits) if predictor is None else predictor.finish(logits)
        if not np.isfinite(means).all():
            raise ValueError(
                f"The predicted means overflow {logits.dtype} for some rows of X (the "
                f"largest log-mean is {logits.max():.6g}). Scale X as the training data was."
            )
        return means

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
