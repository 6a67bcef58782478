"""Sparse CSR input trains and predicts exactly like the same data dense."""

import numpy as np
import pytest
import scipy.sparse as sp

from fnn import TrainConfig, TrainState, _core, get_engine


def _sparse_problem(seed=0, n=60, d=25):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random(X.shape) < 0.85] = 0.0
    Y = np.eye(3)[rng.integers(0, 3, n)]
    return X, Y


CONFIG = TrainConfig(
    layer_sizes=(25, 12, 3),
    activations=("relu",),
    batch_size=16,
    max_epochs=3,
    stopping="val_score",
    seed=4,
    dropout=(0.25,),
    alpha=1e-3,
)


def _fit(engine_name, X, Y):
    engine = get_engine(engine_name)
    params = engine.init_params(CONFIG, np.float64)
    state = TrainState.fresh(CONFIG, np.float64)
    log = engine.fit_epochs(CONFIG, params, state, X, Y, validation=(X, Y, None))
    return params, log, engine.predict(CONFIG, params, X)


@pytest.mark.parametrize("engine", ["rust", "numpy"])
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array, sp.csc_matrix])
def test_sparse_input_gives_the_dense_result(engine, container):
    X, Y = _sparse_problem()
    dense_params, dense_log, dense_pred = _fit(engine, X, Y)
    params, log, pred = _fit(engine, container(X), Y)
    np.testing.assert_allclose(params, dense_params, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pred, dense_pred, rtol=1e-12, atol=1e-15)
    assert log.val_score == dense_log.val_score


def test_unsorted_and_duplicate_entries_are_summed_like_scipy_does():
    X, Y = _sparse_problem()
    coo = sp.coo_matrix(X)
    # Split every stored value in two duplicate entries, in reversed order.
    rows = np.concatenate([coo.row, coo.row])[::-1]
    cols = np.concatenate([coo.col, coo.col])[::-1]
    vals = np.concatenate([coo.data * 0.25, coo.data * 0.75])[::-1]
    messy = sp.csr_matrix((vals, (rows, cols)), shape=X.shape)
    messy.has_canonical_format = False
    engine = get_engine("rust")
    params = engine.init_params(CONFIG, np.float64)
    np.testing.assert_allclose(
        engine.predict(CONFIG, params, messy), engine.predict(CONFIG, params, X), rtol=1e-12
    )


def test_a_malformed_csr_triple_is_a_value_error_not_a_crash():
    params = get_engine("rust").init_params(CONFIG, np.float64)
    values = np.ones(2)
    bad_column = (values, np.array([0, 99], dtype=np.int64), np.array([0, 1, 2], dtype=np.int64))
    with pytest.raises(ValueError, match="not a valid CSR matrix"):
        _core.forward(CONFIG, params, bad_column, True, 1)
    bad_indptr = (values, np.array([0, 1], dtype=np.int64), np.array([0, 2, 1], dtype=np.int64))
    with pytest.raises(ValueError, match="not a valid CSR matrix"):
        _core.forward(CONFIG, params, bad_indptr, True, 1)
