"""Full-batch training with SciPy's L-BFGS-B (``solver='lbfgs'``).

A short driver: the objective and its gradient come from the engine's
`loss_and_gradients` (the spec's objective over all rows, penalty included;
see `fnn._full_batch`). SciPy keeps its iterate in float64; the engine
computes in the working dtype (float32 for float32 input) and hands the
gradient back in float64.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.optimize


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
    engine,
    config,
    params,
    X,
    Y,
    sample_weight,
    *,
    max_iter,
    max_fun,
    tol,
    reporter,
    iteration_hook=None,
) -> LbfgsResult:
    """Minimise the training objective from ``params`` with L-BFGS-B.

    Parameters
    ----------
    engine : Engine
        Computes the objective and its gradient (`Engine.loss_and_gradients`).
    config : TrainConfig
        The network, its loss and the penalty (``alpha``, ``l1``).
    params : ndarray of shape (n_params,)
        Starting point (not modified); its dtype is the working dtype.
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
        Positive weights; None means ones.
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
    dtype = params.dtype

    def objective(theta):
        return engine.loss_and_gradients(
            config, np.asarray(theta, dtype=dtype), X, Y, sample_weight
        )

    start = np.asarray(params, dtype=np.float64)
    # (iterations, iterate, loss) of the last iteration recorded in full.
    last = {"iterate": (0, start, math.nan)}

    def on_iteration(intermediate_result):
        nit = last["iterate"][0] + 1
        x, fun = intermediate_result.x.copy(), float(intermediate_result.fun)
        reporter(nit, fun, math.nan, math.nan)
        # One store: a Ctrl-C lands before it or after it, never between the
        # count and the iterate (the caller drops a report made just before).
        last["iterate"] = (nit, x, fun)
        if iteration_hook is not None and iteration_hook(x, fun):
            raise StopIteration  # SciPy ends the run at this iterate

    try:
        with warnings.catch_warnings():
            # Overflow shows up as a non-finite objective, which the caller reports.
            warnings.simplefilter("ignore", RuntimeWarning)
            result = scipy.optimize.minimize(
                objective,
                start,
                method="L-BFGS-B",
                jac=True,
                callback=on_iteration,
                options={"maxiter": max_iter, "maxfun": max_fun, "gtol": tol},
            )
    except KeyboardInterrupt:
        nit, x, fun = last["iterate"]
        return LbfgsResult(
            params=x.astype(params.dtype),
            n_iter=nit,
            loss=fun,
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
