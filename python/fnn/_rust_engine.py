"""The Rust engine behind the `Engine` interface: shapes and dtypes are
settled here, the work happens in `fnn._core` with the GIL released."""

from __future__ import annotations

import numpy as np

from . import _core
from ._config import EpochLog, TrainConfig, TrainState


def _flat(a: np.ndarray, dtype) -> np.ndarray:
    """A C-contiguous 1-D view of ``a`` in ``dtype``; copies only when it must.

    Read-only inputs (memmaps) are fine: Rust only reads them.
    """
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1)


def _2d(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{what} must be 2-D, got shape {a.shape}")
    return a


class RustEngine:
    """Training and inference in `fnn._core` (multi-threaded Rust)."""

    name = "rust"

    def init_params(self, config: TrainConfig, dtype) -> np.ndarray:
        params = np.empty(config.n_params, dtype=np.dtype(dtype))
        _core.init_params(config, params, config.seed)
        return params

    def fit_epochs(
        self,
        config: TrainConfig,
        params: np.ndarray,
        state: TrainState,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        validation=None,
        callback=None,
    ) -> EpochLog:
        dtype = params.dtype
        X, Y = _2d(X, "X"), _2d(Y, "Y")
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        w = None if sample_weight is None else _flat(sample_weight, dtype)
        xv = yv = wv = None
        if validation is not None:
            X_val, Y_val, w_val = validation
            xv = _flat(_2d(X_val, "X_val"), dtype)
            yv = _flat(_2d(Y_val, "Y_val"), dtype)
            wv = None if w_val is None else _flat(w_val, dtype)
        slots = state.slots.reshape(-1)
        if slots.dtype != dtype or not np.shares_memory(slots, state.slots):
            raise ValueError("state.slots must be a C-contiguous array of the parameters' dtype")
        loss, val_loss, val_score, converged = _core.fit_epochs(
            config,
            params,
            slots,
            state,
            _flat(X, dtype),
            _flat(Y, dtype),
            w,
            xv,
            yv,
            wv,
            callback,
        )
        return EpochLog(loss=loss, val_loss=val_loss, val_score=val_score, converged=converged)

    def predict(self, config: TrainConfig, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self._forward(config, params, X, apply_output=True)

    def logits(self, config: TrainConfig, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self._forward(config, params, X, apply_output=False)

    def _forward(self, config, params, X, *, apply_output):
        X = _2d(X, "X")
        out = _core.forward(
            config, params, _flat(X, params.dtype), apply_output, config.threads
        )
        return out.reshape(X.shape[0], config.layer_sizes[-1])
