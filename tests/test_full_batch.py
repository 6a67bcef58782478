"""`Engine.loss_and_gradients`: the full-batch objective, penalty included, that L-BFGS minimises.

Checked against the spec's formula composed independently from the reference
engine's batch objective (which includes the penalty itself), across the two
engines, and across row blocks (sparse input densified a block at a time).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from fnn import TrainConfig, _full_batch, _layout, get_engine, reference

ENGINES = ("rust", "numpy")


def problem(dtype=np.float64, n=30, weighted=True, alpha=0.3, l1=0.05, seed=0):
    rng = np.random.default_rng(seed)
    config = TrainConfig(
        layer_sizes=(4, 5, 3),
        activations=("tanh",),
        loss="log_loss",
        output="softmax",
        alpha=alpha,
        l1=l1,
    )
    params = rng.normal(size=config.n_params).astype(dtype)
    X = np.where(rng.random((n, 4)) > 0.5, rng.normal(size=(n, 4)), 0.0).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]
    w = rng.uniform(0.5, 2.0, n).astype(dtype) if weighted else None
    return config, params, X, Y, w


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("weighted", [False, True])
def test_the_objective_is_the_spec_batch_objective_over_all_rows(engine, weighted):
    config, params, X, Y, w = problem(weighted=weighted)
    value, gradient = get_engine(engine).loss_and_gradients(config, params, X, Y, w)
    coefs, intercepts = _layout.unpack(config, params)
    expected, coef_grads, intercept_grads = reference.loss_and_gradients(
        coefs, intercepts, X, Y, activation="tanh", loss="log_loss", output="softmax",
        alpha=config.alpha, l1=config.l1, sample_weight=w,
    )  # fmt: skip
    assert gradient.dtype == np.float64 and gradient.shape == (config.n_params,)
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(gradient, _layout.pack(coef_grads, intercept_grads), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_both_engines_give_the_same_objective(dtype):
    config, params, X, Y, w = problem(dtype)
    (v_rust, g_rust), (v_numpy, g_numpy) = (
        get_engine(name).loss_and_gradients(config, params, X, Y, w) for name in ENGINES
    )
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert v_rust == pytest.approx(v_numpy, rel=rtol)
    np.testing.assert_allclose(g_rust, g_numpy, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("engine", ENGINES)
def test_sparse_rows_in_many_blocks_give_the_dense_objective(engine, monkeypatch):
    config, params, X, Y, w = problem(n=50)
    dense = get_engine(engine).loss_and_gradients(config, params, X, Y, w)
    monkeypatch.setattr(_full_batch, "BLOCK_VALUES", 4 * 7)  # blocks of 7 rows, the last 1
    blocks = list(_full_batch.row_blocks(sp.csr_matrix(X), Y, w))
    assert [len(rows) for rows, _, _ in blocks] == [7] * 7 + [1]
    in_blocks = get_engine(engine).loss_and_gradients(config, params, sp.csr_matrix(X), Y, w)
    assert in_blocks[0] == pytest.approx(dense[0], rel=1e-13)
    np.testing.assert_allclose(in_blocks[1], dense[1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_penalty_touches_weights_only(engine):
    config, params, X, Y, w = problem(alpha=0.0, l1=0.0)
    bare_value, bare = get_engine(engine).loss_and_gradients(config, params, X, Y, w)
    penalised = dataclasses.replace(config, alpha=0.3, l1=0.05)
    value, gradient = get_engine(engine).loss_and_gradients(penalised, params, X, Y, w)
    is_weight = _layout.weight_mask(config)
    W = params[is_weight]
    S = w.sum()
    assert value - bare_value == pytest.approx(
        (0.15 * (W @ W) + 0.05 * np.abs(W).sum()) / S, rel=1e-10
    )
    np.testing.assert_array_equal(gradient[~is_weight], bare[~is_weight])
    np.testing.assert_allclose(
        gradient[is_weight] - bare[is_weight], (0.3 * W + 0.05 * np.sign(W)) / S, rtol=1e-9
    )
