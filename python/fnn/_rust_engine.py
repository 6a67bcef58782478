"""The Rust engine behind the `Engine` interface.

Shapes and dtypes are settled here; the work happens in `fnn._core` with the
GIL released.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._config import EpochLog, TrainConfig, TrainState
from ._full_batch import full_batch_objective


def _flat(a: np.ndarray, dtype) -> np.ndarray:
    """Return a C-contiguous, aligned 1-D view of ``a`` in ``dtype``, copying only when it must.

    Read-only inputs (memmaps) are fine: Rust only reads them. Contiguous is
    not enough: arrays rebuilt from a byte stream (a dask block received by a
    worker) can start at an address that is no multiple of the item size,
    and Rust reads whole elements.
    """
    return np.require(a, dtype=dtype, requirements=("C", "A")).reshape(-1)


def _2d(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{what} must be 2-D, got shape {a.shape}")
    return a


def _features(X, dtype, what: str):
    """Return ``(n_rows, argument for _core)`` for the feature matrix ``X``.

    The argument is a flat dense array or, for a SciPy sparse matrix, the CSR
    triple ``(values, indices, indptr)`` that Rust densifies one minibatch at
    a time.
    """
    if hasattr(X, "tocsr") and hasattr(X, "toarray"):
        csr = X.tocsr()
        if not csr.has_canonical_format:
            # Rust writes each stored value into its column: duplicates must be summed.
            csr = csr.copy()
            csr.sum_duplicates()
        values = _flat(csr.data, dtype)
        indices = _flat(csr.indices, np.int64)
        indptr = _flat(csr.indptr, np.int64)
        return csr.shape[0], (values, indices, indptr)
    X = _2d(X, what)
    return X.shape[0], _flat(X, dtype)


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
        log: EpochLog | None = None,
    ) -> EpochLog:
        log = EpochLog() if log is None else log
        dtype = params.dtype
        n_rows, x = _features(X, dtype, "X")
        Y = _2d(Y, "Y")
        if n_rows != Y.shape[0]:
            raise ValueError(f"X has {n_rows} rows but Y has {Y.shape[0]}")
        w = None if sample_weight is None else _flat(sample_weight, dtype)
        xv = yv = wv = None
        if validation is not None:
            X_val, Y_val, w_val = validation
            xv = _features(X_val, dtype, "X_val")[1]
            yv = _flat(_2d(Y_val, "Y_val"), dtype)
            wv = None if w_val is None else _flat(w_val, dtype)
        slots = state.slots.reshape(-1)
        if slots.dtype != dtype or not np.shares_memory(slots, state.slots):
            raise ValueError("state.slots must be a C-contiguous array of the parameters' dtype")
        _core.fit_epochs(
            config,
            params,
            slots,
            state,
            log,
            x,
            _flat(Y, dtype),
            w,
            xv,
            yv,
            wv,
            callback,
        )
        return log

    def predict(self, config: TrainConfig, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self._forward(config, params, X, apply_output=True)

    def logits(self, config: TrainConfig, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self._forward(config, params, X, apply_output=False)

    def loss_and_gradients(
        self,
        config: TrainConfig,
        params: np.ndarray,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray]:
        dtype = params.dtype

        def data_term(X_rows, Y_rows, w_rows):
            x, y, w = _flat(X_rows, dtype), _flat(Y_rows, dtype), _flat(w_rows, dtype)
            # No penalty here: full_batch_objective adds it once for all rows.
            return _core.loss_and_gradients(config, params, x, y, w, 0.0, 0.0)

        return full_batch_objective(config, params, X, Y, sample_weight, data_term)

    def _forward(self, config, params, X, *, apply_output):
        n_rows, x = _features(X, params.dtype, "X")
        out = _core.forward(config, params, x, apply_output, config.threads)
        return out.reshape(n_rows, config.layer_sizes[-1])
