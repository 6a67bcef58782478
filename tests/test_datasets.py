"""Tests of fnn.datasets: shapes, dtypes, labels and determinism."""

import numpy as np
import pytest

from fnn import datasets


def test_xor_is_the_truth_table():
    X, y = datasets.xor()
    assert X.shape == (4, 2) and X.dtype == np.float64
    assert y.shape == (4,) and np.issubdtype(y.dtype, np.integer)
    np.testing.assert_array_equal(y, np.logical_xor(X[:, 0], X[:, 1]).astype(int))


@pytest.mark.parametrize("n_samples", [1, 7, 200])
def test_moons_shapes_and_labels(n_samples):
    X, y = datasets.make_moons(n_samples, noise=0.1, random_state=3)
    assert X.shape == (n_samples, 2) and X.dtype == np.float64
    assert X.flags.c_contiguous
    assert y.shape == (n_samples,) and np.issubdtype(y.dtype, np.integer)
    assert set(y.tolist()) <= {0, 1}
    assert np.sum(y == 0) == n_samples // 2
    assert np.all(np.isfinite(X))


def test_moons_without_noise_lie_on_the_two_half_circles():
    X, y = datasets.make_moons(100, noise=0.0, random_state=0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert np.all(upper[:, 1] >= 0) and np.all(lower[:, 1] <= 0.5)


def test_moons_are_deterministic_by_random_state():
    X1, y1 = datasets.make_moons(50, noise=0.2, random_state=7)
    X2, y2 = datasets.make_moons(50, noise=0.2, random_state=7)
    X3, _ = datasets.make_moons(50, noise=0.2, random_state=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_moons_rejects_bad_arguments():
    with pytest.raises(ValueError):
        datasets.make_moons(0)
    with pytest.raises(ValueError):
        datasets.make_moons(10, noise=-1.0)


def test_load_iris():
    pytest.importorskip("sklearn")
    X, y = datasets.load_iris()
    assert X.shape == (150, 4) and X.dtype == np.float64
    assert y.shape == (150,) and np.issubdtype(y.dtype, np.integer)
    assert np.bincount(y).tolist() == [50, 50, 50]


def test_load_digits():
    pytest.importorskip("sklearn")
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,)
    assert sorted(set(y.tolist())) == list(range(10))
    assert X.min() == 0.0 and X.max() == 16.0


def test_sklearn_loaders_explain_a_missing_scikit_learn(monkeypatch):
    # A None entry in sys.modules makes `import sklearn` raise ImportError.
    monkeypatch.setitem(__import__("sys").modules, "sklearn", None)
    with pytest.raises(ImportError, match="'lab' extra"):
        datasets.load_iris()
