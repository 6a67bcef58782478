"""Bad hyperparameters fail early and clearly; a diverging fit says so.

Every bad setting raises scikit-learn's ``InvalidParameterError`` (a
ValueError) or a ValueError naming the parameter, at `fit`, before any
training and without leaving a model behind. A fit that diverges raises
ValueError (non-finite loss) and leaves the estimator as it was, or warns
(finite but exploded loss) and keeps the finite weights reached.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import fnn
from fnn import FNNClassifier, FNNRegressor, TrainConfig

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y_CLASS = np.arange(40) % 2
Y_REG = X[:, 0] * 2


def make(cls, **params):
    return cls(hidden_layer_sizes=(4,), max_iter=3, random_state=0).set_params(**params)


def fit(cls, **params):
    return make(cls, **params).fit(X, Y_CLASS if cls is FNNClassifier else Y_REG)


BAD = {
    "negative layer size": dict(hidden_layer_sizes=(-1,)),
    "zero layer size": dict(hidden_layer_sizes=(4, 0)),
    "zero as the only size": dict(hidden_layer_sizes=0),
    "fractional layer size": dict(hidden_layer_sizes=(3.5,)),
    "bool layer size": dict(hidden_layer_sizes=(True,)),
    "string layer sizes": dict(hidden_layer_sizes="abc"),
    "zero learning rate": dict(learning_rate_init=0.0),
    "negative learning rate": dict(learning_rate_init=-1e-3),
    "NaN learning rate": dict(learning_rate_init=np.nan),
    "infinite learning rate": dict(learning_rate_init=np.inf),
    "string learning rate": dict(learning_rate_init="fast"),
    "dropout of 1": dict(dropout=1.0),
    "dropout above 1": dict(dropout=1.5),
    "negative dropout": dict(dropout=-0.1),
    "NaN dropout": dict(dropout=np.nan),
    "dropout list of the wrong length": dict(dropout=[0.1, 0.1]),
    "dropout list with 1": dict(dropout=[1.0]),
    "unknown activation": dict(activation="swish"),
    "activation list of the wrong length": dict(activation=["relu", "tanh"]),
    "activation of the wrong type": dict(activation=3),
    "unknown solver": dict(solver="newton"),
    "solver of the wrong type": dict(solver=None),
    "unknown schedule": dict(learning_rate="warmup"),
    "unknown engine": dict(engine="torch"),
    "negative alpha": dict(alpha=-1.0),
    "NaN alpha": dict(alpha=np.nan),
    "infinite alpha": dict(alpha=np.inf),
    "infinite l1": dict(l1=np.inf),
    "zero batch size": dict(batch_size=0),
    "fractional batch size": dict(batch_size=2.5),
    "zero max_iter": dict(max_iter=0),
    "float max_iter": dict(max_iter=2.0),
    "momentum of 1": dict(solver="sgd", momentum=1.0),
    "momentum above 1": dict(solver="sgd", momentum=2.0),
    "beta_1 of 1": dict(beta_1=1.0),
    "NaN beta_2": dict(beta_2=np.nan),
    "zero epsilon": dict(epsilon=0.0),
    "rho of 1": dict(solver="rmsprop", rho=1.0),
    "NaN negative_slope": dict(activation="leaky_relu", negative_slope=np.nan),
    "infinite weight_decay": dict(solver="adamw", weight_decay=np.inf),
    "zero n_iter_no_change": dict(n_iter_no_change=0),
    "NaN n_iter_no_change": dict(n_iter_no_change=np.nan),
    "zero n_jobs": dict(n_jobs=0),
    "fractional n_jobs": dict(n_jobs=1.5),
    "negative random_state": dict(random_state=-1),
    "string shuffle": dict(shuffle="yes"),
    "validation_fraction of 1": dict(early_stopping=True, validation_fraction=1.0),
    "lbfgs with dropout": dict(solver="lbfgs", dropout=0.5),
}


@pytest.mark.parametrize("cls", [FNNClassifier, FNNRegressor])
@pytest.mark.parametrize("params", BAD.values(), ids=BAD.keys())
def test_a_bad_hyperparameter_is_a_value_error_naming_it_and_fits_nothing(cls, params):
    est = make(cls, **params)
    with pytest.raises(ValueError) as raised:
        est.fit(X, Y_CLASS if cls is FNNClassifier else Y_REG)
    names = [name for name in params if name not in ("solver", "early_stopping", "activation")]
    names = names or list(params)
    assert any(name in str(raised.value) for name in names), str(raised.value)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("cls", [FNNClassifier, FNNRegressor])
def test_an_unknown_loss_is_rejected_with_the_valid_options(cls):
    with pytest.raises(ValueError, match="'loss' parameter .* must be a str among"):
        fit(cls, loss="cross_entropy")


def test_a_bad_setting_on_a_fitted_estimator_keeps_the_old_model():
    clf = fit(FNNClassifier)
    before = [a.copy() for a in clf.coefs_]
    with pytest.raises(ValueError, match="learning_rate_init"):
        clf.set_params(learning_rate_init=-1.0).fit(X, Y_CLASS)
    for a, b in zip(before, clf.coefs_):
        np.testing.assert_array_equal(a, b)
    assert clf.predict(X).shape == (40,)


HUGE_BUT_VALID = {
    "max_iter beyond 2**64": dict(max_iter=2**70, n_iter_no_change=1, tol=1e9),
    "n_iter_no_change beyond 2**64": dict(n_iter_no_change=2**70, max_iter=2),
    "lr_step_size beyond 2**64": dict(learning_rate="step", lr_step_size=2**70),
    "batch size beyond the data": dict(batch_size=10**12),
    "an empty tuple of hidden layers (a linear model)": dict(hidden_layer_sizes=()),
    "lr_min above the initial rate": dict(learning_rate="cosine", lr_min=1.0),
    "many threads": dict(n_jobs=64),
}


@pytest.mark.parametrize("params", HUGE_BUT_VALID.values(), ids=HUGE_BUT_VALID.keys())
def test_extreme_but_valid_settings_train_a_finite_model(params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # batch_size larger than the data
        clf = fit(FNNClassifier, **params)
    assert all(np.isfinite(a).all() for a in clf.coefs_ + clf.intercepts_)
    assert 1 <= clf.n_iter_ <= 3


def test_engine_configs_refuse_counts_beyond_64_bits_and_impossible_networks():
    base = dict(layer_sizes=(3, 2), activations=(), loss="squared_error", output="identity")
    with pytest.raises(ValueError, match="max_epochs must fit in an unsigned 64-bit integer"):
        TrainConfig(**base, max_epochs=2**64)
    with pytest.raises(ValueError, match="more than memory holds"):
        TrainConfig(**{**base, "layer_sizes": (2**40, 2**40, 1), "activations": ("relu",)})


# ---------------------------------------------------------------------------
# Divergence


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16, y


@pytest.mark.parametrize("solver", ["sgd", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("cls", [FNNClassifier, FNNRegressor])
def test_a_learning_rate_of_1e3_ends_in_a_divergence_error_or_warning(digits, cls, solver):
    X, y = digits
    est = cls(hidden_layer_sizes=(32,), solver=solver, learning_rate_init=1e3, max_iter=20)
    est.set_params(random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est.fit(X, y.astype(float) if cls is FNNRegressor else y)
        except ValueError as error:
            # Non-finite loss: the estimator is left as it was (here: unfitted).
            assert "training diverged" in str(error)
            assert "lower the learning rate" in str(error)
            assert not hasattr(est, "coefs_")
            return
    # Finite but exploded loss: a warning, and the finite weights reached.
    diverged = [w for w in caught if "training diverged" in str(w.message)]
    assert diverged and issubclass(diverged[0].category, ConvergenceWarning)
    assert all(np.isfinite(a).all() for a in est.coefs_ + est.intercepts_)
    assert est.loss_ == est.loss_curve_[-1]


def test_divergence_during_a_warm_start_keeps_the_previous_model(digits):
    X, y = digits
    reg = FNNRegressor(hidden_layer_sizes=(32,), solver="sgd", max_iter=5, random_state=0)
    reg.set_params(warm_start=True).fit(X, y.astype(float))
    before = [a.copy() for a in reg.coefs_ + reg.intercepts_]
    curve = list(reg.loss_curve_)
    with pytest.raises(ValueError, match="keeps its previous fitted state"):
        reg.set_params(learning_rate_init=1e3).fit(X, y.astype(float))
    for a, b in zip(before, reg.coefs_ + reg.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert reg.loss_curve_ == curve
    assert reg.set_params(learning_rate_init=1e-3).fit(X, y.astype(float)).n_iter_ == 5


def test_a_healthy_fit_raises_no_divergence_warning(digits):
    X, y = digits
    for cls, target in ((FNNClassifier, y), (FNNRegressor, y.astype(float))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cls(hidden_layer_sizes=(32,), max_iter=3, random_state=0).fit(X * 16, target)
        assert not [w for w in caught if "diverged" in str(w.message)]


@pytest.mark.parametrize("cls", [FNNClassifier, FNNRegressor])
def test_an_lbfgs_divergence_is_the_typed_error_and_keeps_no_model(cls):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) * 1e150  # the first objective overflows
    y = (X[:, 0] > 0).astype(int) if cls is FNNClassifier else X.sum(axis=1) / 1e150
    # Squared error for both: the classifier's log loss stays finite on these logits.
    est = cls(solver="lbfgs", loss="squared_error", hidden_layer_sizes=(4,), random_state=0)
    with pytest.raises(fnn.DivergedError, match="Solver produced non-finite parameter weights"):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")
