"""``FNNRegressor(loss="poisson")``: a log link and half the Poisson deviance,
as scikit-learn's ``MLPRegressor`` has it, on both engines and every solver.

The oracle for the loss is scikit-learn's ``mean_poisson_deviance`` (twice
the half deviance); for the model, scikit-learn's ``PoissonRegressor``.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import mean_poisson_deviance, r2_score

from fnn import FNNRegressor, load, save

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SOLVERS = ["sgd", "adam", "adamw", "rmsprop", "lbfgs"]


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 3))
    rate = np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1] ** 2 + 0.7)
    return X, rng.poisson(rate).astype(np.float64), rate


def _deviance_of_the_mean(y):
    return mean_poisson_deviance(y, np.full_like(y, y.mean()))


@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_fits_counts_better_than_their_mean(counts, solver):
    X, y, _ = counts
    options = {"lbfgs": {}, "sgd": {"learning_rate_init": 0.01}}.get(solver, {})
    reg = FNNRegressor(loss="poisson", hidden_layer_sizes=(16,), solver=solver, max_iter=300,
                       random_state=0, **options)  # fmt: skip
    prediction = reg.fit(X, y).predict(X)
    assert reg.out_activation_ == "exp"
    assert prediction.shape == y.shape and (prediction > 0).all()
    assert mean_poisson_deviance(y, prediction) < 0.8 * _deviance_of_the_mean(y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_loss_is_half_the_mean_poisson_deviance(counts, dtype):
    X, y, _ = counts
    # L-BFGS reports the objective at its final parameters: with alpha=0 it is
    # exactly the data term.
    reg = FNNRegressor(loss="poisson", hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.0,
                       max_iter=50, random_state=0).fit(X.astype(dtype), y)  # fmt: skip
    deviance = mean_poisson_deviance(y, reg.predict(X.astype(dtype)).astype(np.float64))
    tolerance = 1e-9 if dtype == np.float64 else 1e-5
    assert reg.loss_ == pytest.approx(0.5 * deviance, rel=tolerance)
    assert reg.predict(X.astype(dtype)).dtype == dtype


def test_zero_targets_cost_only_the_predicted_mean():
    X = np.linspace(-1, 1, 20).reshape(-1, 1)
    reg = FNNRegressor(loss="poisson", hidden_layer_sizes=(4,), solver="sgd",
                       learning_rate_init=1e-12, alpha=0.0, batch_size=20, max_iter=1,
                       random_state=0).fit(X, np.zeros(20))  # fmt: skip
    # y = 0: y log(y / mu) - y + mu = mu, so the loss is the mean prediction.
    assert reg.loss_ == pytest.approx(reg.predict(X).mean(), rel=1e-9)


def test_without_hidden_nonlinearity_it_matches_the_poisson_glm(counts):
    X, y, _ = counts
    glm = PoissonRegressor(alpha=0, tol=1e-10, max_iter=1000).fit(X, y)
    reg = FNNRegressor(loss="poisson", hidden_layer_sizes=(1,), activation="identity", alpha=0,
                       solver="lbfgs", tol=1e-10, max_iter=2000, random_state=0)  # fmt: skip
    np.testing.assert_allclose(reg.fit(X, y).predict(X), glm.predict(X), rtol=1e-4)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_both_engines_train_the_same_model(counts, solver):
    X, y, _ = counts
    params = dict(loss="poisson", hidden_layer_sizes=(8,), solver=solver, max_iter=20,
                  random_state=3)  # fmt: skip
    rust = FNNRegressor(engine="rust", **params).fit(X, y)
    numpy = FNNRegressor(engine="numpy", **params).fit(X, y)
    np.testing.assert_allclose(rust.loss_curve_, numpy.loss_curve_, rtol=1e-7)
    np.testing.assert_allclose(rust.predict(X), numpy.predict(X), rtol=1e-7)


def test_early_stopping_scores_r2_of_the_predicted_means(counts):
    X, y, _ = counts
    X_val, y_val = X[:60] * 0.9, y[:60]
    reg = FNNRegressor(loss="poisson", hidden_layer_sizes=(8,), early_stopping=True,
                       restore_best_weights=False, max_iter=15, random_state=0)  # fmt: skip
    reg.fit(X, y, eval_set=(X_val, y_val))
    assert reg.validation_scores_[-1] == pytest.approx(
        r2_score(y_val, reg.predict(X_val)), rel=1e-9
    )


def test_negative_targets_are_refused_with_the_smallest_named(counts):
    X, y, _ = counts
    bad = y.copy()
    bad[5] = -2.5
    reg = FNNRegressor(loss="poisson")
    with pytest.raises(ValueError, match=r"out of the valid range of loss='poisson'.*-2\.5"):
        reg.fit(X, bad)
    assert not hasattr(reg, "n_iter_")
    with pytest.raises(ValueError, match="eval_set's y are out of the valid range"):
        FNNRegressor(loss="poisson", early_stopping=True).fit(X, y, eval_set=(X, bad))
    with pytest.raises(ValueError, match="out of the valid range"):
        FNNRegressor(loss="poisson").partial_fit(X, bad)


def test_a_saved_poisson_model_predicts_the_same(counts, tmp_path):
    X, y, _ = counts
    reg = FNNRegressor(loss="poisson", hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    reg.fit(X, y)
    save(reg, tmp_path / "counts.fnn")
    loaded = load(tmp_path / "counts.fnn")
    assert loaded.out_activation_ == "exp" and loaded.loss == "poisson"
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_overflowing_means_are_an_error_not_infinity(counts):
    X, y, _ = counts
    reg = FNNRegressor(loss="poisson", hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    reg.fit(X, y)
    with pytest.raises(ValueError, match="predicted means overflow float64"):
        reg.predict(X * 1e6)
