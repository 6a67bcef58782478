"""pytest-benchmark timings of `FNNClassifier.fit` and `predict` on digits.

Under ``make test`` benchmarking is off (``--benchmark-disable`` in
pyproject's addopts): each benchmarked call runs once and the test checks
its result, so these cost the suite a few hundred milliseconds. ``make bench``
times them with ``--benchmark-enable --benchmark-only``. The full comparison
with other libraries is ``benches/compare.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from fnn import FNNClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


def classifier(engine="rust", **params):
    settings = dict(hidden_layer_sizes=(32,), batch_size=64, max_iter=10, random_state=0)
    return FNNClassifier(engine=engine, **{**settings, **params})


@pytest.fixture(scope="module")
def fitted(digits):
    return classifier().fit(*digits)


@pytest.mark.benchmark(group="fit digits 10 epochs")
@pytest.mark.parametrize("engine", ["rust", "numpy"])
def test_fit_learns_digits_on_each_engine(benchmark, digits, engine):
    X, y = digits
    model = benchmark(lambda: classifier(engine).fit(X, y))
    assert model.n_iter_ == 10
    assert model.score(X, y) > 0.95


def test_both_engines_fit_the_same_predictions(digits):
    X, y = digits
    rust, numpy = (classifier(engine).fit(X, y) for engine in ("rust", "numpy"))
    assert np.mean(rust.predict(X) == numpy.predict(X)) > 0.99


@pytest.mark.benchmark(group="predict")
def test_predict_all_digits_matches_their_labels(benchmark, digits, fitted):
    X, y = digits
    predicted = benchmark(fitted.predict, X)
    assert predicted.shape == y.shape
    assert np.mean(predicted == y) > 0.95


@pytest.mark.benchmark(group="predict")
def test_predict_one_row_agrees_with_the_batch(benchmark, digits, fitted):
    X, _ = digits
    one = X[7:8]
    predicted = benchmark(fitted.predict, one)
    assert predicted.shape == (1,)
    assert predicted[0] == fitted.predict(X[:10])[7]


@pytest.mark.benchmark(group="predict")
def test_predict_proba_one_row_agrees_with_the_batch(benchmark, digits, fitted):
    X, _ = digits
    one = X[7:8]
    probabilities = benchmark(fitted.predict_proba, one)
    assert probabilities.shape == (1, 10)
    np.testing.assert_allclose(probabilities[0], fitted.predict_proba(X[:10])[7], rtol=1e-12)
