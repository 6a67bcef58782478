"""The estimators' parameters read into the `TrainConfig` an engine trains with.

The checks here are those that depend on more than one parameter (or on the
data), so scikit-learn's declarative constraints cannot state them; their
errors use scikit-learn's wording all the same.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError

from ._config import TrainConfig
from ._threads import resolve_threads
from ._warn import warn

#: Activation names accepted by the estimators -> the engines' names.
ACTIVATIONS = {
    "identity": "identity",
    "logistic": "sigmoid",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
}
STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw", "rmsprop")

#: Stands in for ``n_iter_no_change=np.inf``: more epochs than will ever run.
_NEVER = 2**63


def train_config(estimator, *, n_features, n_outputs, n_train, seed, incremental, stopping):
    """Return the `TrainConfig` of one training call of ``estimator``.

    Parameters
    ----------
    estimator : BaseFNN
        Whose parameters (validated by their constraints) to read.
    n_features, n_outputs, n_train : int
        Input columns, output columns and training rows.
    seed : int
        The fit's random seed.
    incremental : bool
        Whether this is one `partial_fit` epoch.
    stopping : str
        The stopping rule: "none", "train_loss" or "val_score".

    Returns
    -------
    TrainConfig
        What the engine trains.
    """
    hidden = hidden_layer_sizes(estimator)
    loss, output = estimator._loss_and_output()
    solver = estimator.solver if estimator.solver in STOCHASTIC_SOLVERS else "adam"
    dropout = dropout_rates(estimator, len(hidden))
    if estimator.solver == "lbfgs" and dropout:
        raise ValueError(
            "dropout needs a stochastic solver; solver='lbfgs' trains on the full batch without it."
        )
    return TrainConfig(
        layer_sizes=(n_features, *hidden, n_outputs),
        activations=hidden_activations(estimator, len(hidden)),
        negative_slope=float(estimator.negative_slope),
        loss=loss,
        output=output,
        huber_delta=float(getattr(estimator, "huber_delta", 1.0)),
        alpha=float(estimator.alpha),
        l1=float(estimator.l1),
        dropout=dropout,
        solver=solver,
        learning_rate_init=float(estimator.learning_rate_init),
        # Momentum belongs to 'sgd' as in scikit-learn; RMSprop runs without it.
        momentum=float(estimator.momentum) if solver == "sgd" else 0.0,
        nesterov=bool(estimator.nesterovs_momentum),
        rho=float(estimator.rho),
        beta_1=float(estimator.beta_1),
        beta_2=float(estimator.beta_2),
        epsilon=float(estimator.epsilon),
        weight_decay=float(estimator.weight_decay),
        schedule=estimator.learning_rate,
        power_t=float(estimator.power_t),
        step_size=min(int(estimator.lr_step_size), _NEVER),
        gamma=float(estimator.lr_gamma),
        t_max=min(int(estimator.max_iter), _NEVER),
        eta_min=float(estimator.lr_min),
        # L-BFGS trains on the full batch: its batch_size is no setting to warn about.
        batch_size=n_train if estimator.solver == "lbfgs" else batch_size(estimator, n_train),
        shuffle=bool(estimator.shuffle),
        seed=seed,
        max_epochs=1 if incremental else min(int(estimator.max_iter), _NEVER),
        tol=float(estimator.tol),
        n_iter_no_change=_NEVER
        if math.isinf(estimator.n_iter_no_change)
        else min(int(estimator.n_iter_no_change), _NEVER),
        stopping=stopping,
        restore_best=bool(estimator.restore_best_weights),
        score=estimator._score_name,
        threads=resolve_threads(estimator.n_jobs),
    )


def hidden_layer_sizes(estimator) -> tuple[int, ...]:
    """Return the hidden layers' widths from ``hidden_layer_sizes`` (an int or a list)."""
    sizes = estimator.hidden_layer_sizes
    sizes = [sizes] if isinstance(sizes, Integral) else list(np.ravel(sizes))
    if not all(isinstance(s, Integral) and s >= 1 for s in sizes):
        raise _invalid(
            estimator, "hidden_layer_sizes", "positive integers", estimator.hidden_layer_sizes
        )
    return tuple(int(s) for s in sizes)


def hidden_activations(estimator, n_hidden) -> tuple[str, ...]:
    """Return the engines' name of each hidden layer's activation (one name, or one per layer)."""
    names = estimator.activation
    if isinstance(names, str):
        return (ACTIVATIONS[names],) * n_hidden
    names = list(names)
    if len(names) != n_hidden or not all(n in ACTIVATIONS for n in names):
        raise _invalid(
            estimator,
            "activation",
            f"a str among {sorted(ACTIVATIONS)} or a list of {n_hidden} of them "
            "(one per hidden layer)",
            estimator.activation,
        )
    return tuple(ACTIVATIONS[n] for n in names)


def dropout_rates(estimator, n_hidden) -> tuple[float, ...]:
    """Return the dropout rate of each hidden layer, or () when there is no dropout."""
    rates = estimator.dropout
    if isinstance(rates, Real):
        return (float(rates),) * n_hidden if rates > 0 else ()
    rates = [float(r) for r in np.ravel(rates)]
    if len(rates) != n_hidden or not all(0.0 <= r < 1.0 for r in rates):
        raise _invalid(
            estimator,
            "dropout",
            f"a float in [0, 1) or a list of {n_hidden} of them (one per hidden layer)",
            estimator.dropout,
        )
    return tuple(rates) if any(rates) else ()


def batch_size(estimator, n_samples) -> int:
    """Return the minibatch size, cut (with a warning) to the ``n_samples`` rows."""
    if estimator.batch_size == "auto":
        return min(200, n_samples)
    if estimator.batch_size > n_samples:
        warn(
            f"batch_size={estimator.batch_size} is larger than the {n_samples} training "
            f"samples; using {n_samples}.",
            UserWarning,
        )
    return min(int(estimator.batch_size), n_samples)


def _invalid(estimator, name, expected, got) -> InvalidParameterError:
    # Same wording as scikit-learn's declarative checks, for the checks that
    # depend on more than one parameter and so cannot be declared.
    return InvalidParameterError(
        f"The {name!r} parameter of {type(estimator).__name__} must be {expected}. "
        f"Got {got!r} instead."
    )
