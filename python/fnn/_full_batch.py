"""The training objective over a whole data set, as full-batch solvers need it.

This is the spec's objective (section 4) with every row in one batch:
``(sum_i w_i l_i + 1/2 alpha sum ||W||^2 + l1 sum |W|) / sum_i w_i``. Both
engines compute it through `full_batch_objective`, each supplying the data
term of a block of rows; the blocks bound the memory that densifying sparse
input takes, one block at a time.

The penalty is added here, once, in float64 over all weights, not by the
engines' per-batch penalty (spec section 5), which rounds in the working
dtype: L-BFGS has always minimised this float64 form, and its results are
pinned byte for byte (tests/test_fit_digests.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp

from ._layout import weight_mask

#: Dense values per block of sparse rows (32 MiB of float64).
BLOCK_VALUES = 1 << 22

#: ``data_term(X_rows, Y_rows, w_rows) -> (loss, flat gradient)``: the
#: objective of a block of rows without penalty, in the working dtype.
DataTerm = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[float, np.ndarray]]


def row_blocks(X, Y, sample_weight) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield consecutive row blocks ``(X_rows, Y_rows, w_rows)`` with dense ``X_rows``.

    Dense input comes as one block; a sparse matrix in blocks of about
    `BLOCK_VALUES` values, each densified only when it is reached.
    """
    if not sp.issparse(X):
        yield np.ascontiguousarray(X), Y, sample_weight
        return
    step = max(1, BLOCK_VALUES // max(1, X.shape[1]))
    for start in range(0, X.shape[0], step):
        rows = slice(start, start + step)
        yield X[rows].toarray(), Y[rows], sample_weight[rows]


def full_batch_objective(
    config, params: np.ndarray, X, Y: np.ndarray, sample_weight, data_term: DataTerm
) -> tuple[float, np.ndarray]:
    """Return the objective over all rows and its gradient, penalty included.

    Parameters
    ----------
    config : TrainConfig
        Layer sizes, ``alpha`` and ``l1``.
    params : ndarray of shape (n_params,)
        Flat parameters in the working dtype.
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights summing to a positive number; None means ones.
    data_term : callable
        The engine's objective of a block of rows without penalty (`DataTerm`).

    Returns
    -------
    loss : float
    gradient : ndarray of shape (n_params,), float64
        Each block's gradient, weighted by the block's total weight, summed
        in float64, plus the penalty's, over the total weight.
    """
    if sample_weight is None:
        sample_weight = np.ones(Y.shape[0], dtype=params.dtype)
    data_sum, total_weight = 0.0, 0.0
    gradient = np.zeros(config.n_params, dtype=np.float64)
    for X_rows, Y_rows, w_rows in row_blocks(X, Y, sample_weight):
        block_weight = float(w_rows.sum())
        total_weight += block_weight
        if block_weight == 0.0:
            continue  # nothing to learn here, and the engines refuse a zero total
        value, block_gradient = data_term(X_rows, Y_rows, w_rows)
        # Each block's loss is a weighted mean: weighting it back makes a sum.
        data_sum += value * block_weight
        gradient += block_gradient * block_weight
    is_weight = weight_mask(config)
    weights = params[is_weight].astype(np.float64)
    penalty = 0.5 * config.alpha * float(weights @ weights) + config.l1 * float(
        np.abs(weights).sum()
    )
    gradient[is_weight] += config.alpha * weights + config.l1 * np.sign(weights)
    return (data_sum + penalty) / total_weight, gradient / total_weight
