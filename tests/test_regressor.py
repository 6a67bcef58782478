"""FNNRegressor's behaviour beyond scikit-learn's generic checks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from fnn import FNNRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def wave():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(400, 2))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2 + 0.05 * rng.normal(size=400)
    return X, y


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_fits_a_smooth_function(wave, solver):
    X, y = wave
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    max_iter = 1000 if solver == "adam" else 500
    reg = FNNRegressor(hidden_layer_sizes=(64,), solver=solver, max_iter=max_iter, random_state=0)
    reg.fit(X_train, y_train)
    assert reg.out_activation_ == "identity" and reg.n_outputs_ == 1
    assert reg.predict(X_test).shape == (len(y_test),)
    assert reg.score(X_test, y_test) > 0.95


def test_multi_output_regression(wave):
    X, y = wave
    Y = np.column_stack([y, -2 * y + 1, X[:, 0]])
    reg = FNNRegressor(hidden_layer_sizes=(64,), solver="lbfgs", max_iter=500, random_state=0)
    reg.fit(X, Y)
    prediction = reg.predict(X)
    assert prediction.shape == Y.shape and reg.n_outputs_ == 3
    assert min(r2_score(Y[:, k], prediction[:, k]) for k in range(3)) > 0.95


def test_loss_sums_half_squared_errors_over_outputs(wave):
    X, y = wave
    Y = np.column_stack([y, 2 * y])
    reg = FNNRegressor(learning_rate_init=1e-12, alpha=0.0, batch_size=400, max_iter=1)
    reg.set_params(random_state=0).fit(X, Y)
    residuals = reg.predict(X) - Y
    # MLPRegressor's loss_ would also average over the 2 outputs (half this value).
    assert reg.loss_ == pytest.approx(0.5 * (residuals**2).sum(axis=1).mean(), rel=1e-9)


def test_huber_loss_resists_outliers():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(300, 1))
    y = 3 * X[:, 0]
    y_dirty = y.copy()
    y_dirty[:15] += 40  # a few wild outliers
    settings = dict(hidden_layer_sizes=(), solver="lbfgs", alpha=0.0, random_state=0)
    squared = FNNRegressor(**settings).fit(X, y_dirty)
    huber = FNNRegressor(loss="huber", huber_delta=0.5, **settings).fit(X, y_dirty)
    assert abs(huber.coefs_[0][0, 0] - 3) < 0.3
    assert abs(huber.intercepts_[0][0]) < 0.5
    assert abs(squared.intercepts_[0][0]) > 1.5  # dragged towards the outliers


def test_repeated_partial_fit_equals_fit(wave):
    X, y = wave
    fitted = FNNRegressor(max_iter=5, n_iter_no_change=100, random_state=0).fit(X, y)
    stepped = FNNRegressor(random_state=0)
    for _ in range(5):
        stepped.partial_fit(X, y)
    np.testing.assert_array_equal(stepped.predict(X), fitted.predict(X))
    assert stepped.loss_curve_ == fitted.loss_curve_


def test_early_stopping_scores_with_r2(wave):
    X, y = wave
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    reg = FNNRegressor(
        learning_rate_init=0.01, early_stopping=True, n_iter_no_change=5, max_iter=500,
        random_state=0,
    )  # fmt: skip
    reg.fit(X_train, y_train, eval_set=(X_val, y_val))
    assert reg.n_iter_ < 500
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.score(X_val, y_val) == pytest.approx(reg.best_validation_score_, abs=1e-12)


def test_column_vector_target_warns_and_predicts_one_dimension(wave):
    X, y = wave
    with pytest.warns(DataConversionWarning):
        column = FNNRegressor(max_iter=5, random_state=0).fit(X, y[:, None])
    flat = FNNRegressor(max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(column.predict(X), flat.predict(X))
    assert column.predict(X).ndim == 1


def test_sparse_input_gives_the_same_model_as_dense(wave):
    X, y = wave
    dense = FNNRegressor(max_iter=5, random_state=0).fit(X, y)
    sparse = FNNRegressor(max_iter=5, random_state=0).fit(sp.csr_array(X), y)
    np.testing.assert_allclose(sparse.predict(sp.csr_array(X)), dense.predict(X), rtol=1e-12)


def test_numpy_and_rust_engines_give_the_same_model(wave):
    X, y = wave
    settings = dict(
        loss="huber", hidden_layer_sizes=(16, 8), dropout=0.1, batch_size=50, max_iter=4,
        random_state=5,
    )  # fmt: skip
    rust = FNNRegressor(engine="rust", **settings).fit(X, y)
    numpy = FNNRegressor(engine="numpy", **settings).fit(X, y)
    np.testing.assert_allclose(rust.predict(X), numpy.predict(X), rtol=1e-9)
    np.testing.assert_allclose(rust.loss_curve_, numpy.loss_curve_, rtol=1e-9)


def test_regressor_keeps_mlpregressors_positional_order():
    reg = FNNRegressor("huber", (7,), "tanh")
    assert (reg.loss, reg.hidden_layer_sizes, reg.activation) == ("huber", (7,), "tanh")
