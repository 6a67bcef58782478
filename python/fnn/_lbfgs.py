"""Full-batch training with SciPy's L-BFGS-B (``solver='lbfgs'``).

The objective is the spec's (section 4) over the whole training set,
evaluated by ``fnn.functional.loss_and_gradients`` (Rust) or its twin
``fnn.reference.loss_and_gradients`` (NumPy). SciPy keeps its iterate in
float64; the loss and gradient are computed in the working dtype (float32 for
float32 input) and handed back to SciPy in float64. Those functions take dense
rows, so sparse input is densified in blocks of bounded size, never whole.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse as sp

from . import reference
from ._config import TrainConfig

#: Dense values per block of sparse rows (32 MiB of float64).
BLOCK_VALUES = 1 << 22


def _dense_blocks(X):
    """Consecutive row blocks of ``X`` as dense arrays: dense input whole,
    sparse input in blocks of about `BLOCK_VALUES` values."""
    if not sp.issparse(X):
        yield np.ascontiguousarray(X)
        return
    step = max(1, BLOCK_VALUES // max(1, X.shape[1]))
    for start in range(0, X.shape[0], step):
        yield X[start : start + step].toarray()


def _loss_and_gradients_of(engine: str):
    if engine == "rust":
        from . import functional

        return functional.loss_and_gradients
    return reference.loss_and_gradients


def _weight_mask(config: TrainConfig) -> np.ndarray:
    """True where the flat buffer holds a weight (penalised), False for biases."""
    mask = np.zeros(config.n_params, dtype=bool)
    coefs, _ = reference.unpack(config, mask)
    for W in coefs:
        W[...] = True
    return mask


class FullBatchObjective:
    """The training objective and its gradient as a function of the flat parameters.

    Rows are visited in blocks (bounded memory for sparse input): each block's
    data term comes from the engine without penalty, weighted by the block's
    total sample weight, and the L1/L2 penalty is added once over all blocks,
    which gives exactly the spec's ``(sum_i w_i l_i + penalty) / sum_i w_i``.

    Parameters
    ----------
    config : TrainConfig
        Architecture, loss, ``alpha`` and ``l1``.
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,)
        Positive weights.
    engine : {"rust", "numpy"}
        Which implementation computes the data term.
    dtype : dtype
        Working dtype of the parameters.
    """

    def __init__(self, config, X, Y, sample_weight, engine, dtype):
        self._config = config
        self._dtype = np.dtype(dtype)
        self._loss_and_gradients = _loss_and_gradients_of(engine)
        self._blocks = []
        start = 0
        for X_block in _dense_blocks(X):
            rows = slice(start, start + X_block.shape[0])
            start = rows.stop
            self._blocks.append((X_block, Y[rows], sample_weight[rows]))
        self._total_weight = float(sum(float(w.sum()) for _, _, w in self._blocks))
        self._is_weight = _weight_mask(config)

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``(objective, gradient)`` at ``theta``; the gradient is float64."""
        c = self._config
        params = np.asarray(theta, dtype=self._dtype)
        coefs, intercepts = reference.unpack(c, params)
        data_term = 0.0
        gradient = np.zeros(c.n_params, dtype=np.float64)
        for X_block, Y_block, w_block in self._blocks:
            block_weight = float(w_block.sum())
            if block_weight == 0.0:
                continue  # nothing to learn here, and the engine refuses a zero total
            value, coef_grads, intercept_grads = self._loss_and_gradients(
                coefs, intercepts, X_block, Y_block,
                activation=c.activations, loss=c.loss, output=c.output,
                sample_weight=w_block, negative_slope=c.negative_slope,
                huber_delta=c.huber_delta,
            )  # fmt: skip
            data_term += value * block_weight
            gradient += reference.pack(coef_grads, intercept_grads) * block_weight
        weights = params[self._is_weight].astype(np.float64)
        penalty = 0.5 * c.alpha * float(weights @ weights) + c.l1 * float(np.abs(weights).sum())
        gradient[self._is_weight] += c.alpha * weights + c.l1 * np.sign(weights)
        return (data_term + penalty) / self._total_weight, gradient / self._total_weight


@dataclass
class LbfgsResult:
    """What one L-BFGS run produced."""

    params: np.ndarray
    n_iter: int
    loss: float
    converged: bool
    message: str
    interrupted: bool


def fit_lbfgs(
    objective, params, *, max_iter, max_fun, tol, reporter, iteration_hook=None
) -> LbfgsResult:
    """Minimise ``objective`` from ``params`` with L-BFGS-B.

    Parameters
    ----------
    objective : FullBatchObjective
    params : ndarray of shape (n_params,)
        Starting point (not modified).
    max_iter, max_fun : int
        SciPy's ``maxiter`` and ``maxfun``.
    tol : float
        SciPy's ``gtol`` (as scikit-learn's ``MLPClassifier``).
    reporter : callable
        Called as ``reporter(iteration, loss, nan, nan)`` after every iteration.
    iteration_hook : callable, default=None
        Called as ``iteration_hook(x, loss)`` after every iteration, with the
        float64 iterate; returning True ends the minimisation there.

    Returns
    -------
    LbfgsResult
        The parameters in ``params.dtype``; on Ctrl-C, those of the last
        completed iteration with ``interrupted=True``.
    """
    last = {"x": np.asarray(params, dtype=np.float64), "fun": math.nan, "nit": 0}

    def on_iteration(intermediate_result):
        last["nit"] += 1
        last["x"], last["fun"] = intermediate_result.x.copy(), float(intermediate_result.fun)
        reporter(last["nit"], last["fun"], math.nan, math.nan)
        if iteration_hook is not None and iteration_hook(last["x"], last["fun"]):
            raise StopIteration  # SciPy ends the run at this iterate

    try:
        with warnings.catch_warnings():
            # Overflow shows up as a non-finite objective, which the caller reports.
            warnings.simplefilter("ignore", RuntimeWarning)
            result = scipy.optimize.minimize(
                objective,
                last["x"],
                method="L-BFGS-B",
                jac=True,
                callback=on_iteration,
                options={"maxiter": max_iter, "maxfun": max_fun, "gtol": tol},
            )
    except KeyboardInterrupt:
        return LbfgsResult(
            params=last["x"].astype(params.dtype),
            n_iter=last["nit"],
            loss=last["fun"],
            converged=False,
            message="interrupted",
            interrupted=True,
        )
    return LbfgsResult(
        params=result.x.astype(params.dtype),
        n_iter=min(int(result.nit), max_iter),
        loss=float(result.fun),
        converged=result.status == 0,
        message=str(result.message),
        interrupted=False,
    )
