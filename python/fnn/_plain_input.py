"""The fast path into prediction: a plain float array skips `validate_data`.

scikit-learn's `validate_data` costs several one-row forward passes (BENCHMARKS.md,
"Measurements behind the code's constants").

It applies only where `validate_data` would do nothing but convert the
dtype and find every value finite: an exact `numpy.ndarray` (no subclass,
no DataFrame, no sparse matrix, no list) of native float32 or float64, two
dimensions, at least one row, the fitted number of columns, and an estimator
fitted without feature names. Anything else, and any non-finite value,
returns None, and the caller validates in full, so every error and warning
is still scikit-learn's own.
"""

from __future__ import annotations

import numpy as np

_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def plain_float_rows(estimator, X, dtype) -> np.ndarray | None:
    """``X`` in ``dtype``, validated, or None when it needs the full validation.

    Parameters
    ----------
    estimator : BaseFNN
        A fitted estimator: its ``n_features_in_`` is the column count.
    X : object
        The input `predict` was given.
    dtype : numpy.dtype
        The model's parameter dtype, which the engine computes in.

    Returns
    -------
    ndarray or None
        ``X`` itself when it already has ``dtype``, else its conversion.
    """
    if type(X) is not np.ndarray or X.ndim != 2 or X.dtype not in _NATIVE_FLOATS:
        return None
    if (
        X.shape[0] == 0
        or X.shape[1] != getattr(estimator, "n_features_in_", None)
        or getattr(estimator, "feature_names_in_", None) is not None
    ):
        return None
    # Silent: on overflow or NaN the full validation runs next and gives
    # scikit-learn's own warning and error, once.
    with np.errstate(over="ignore", invalid="ignore"):
        X = X.astype(dtype, copy=False)
        # A finite sum means every value is finite (sklearn's first check too).
        finite = np.isfinite(X.sum())
    return X if finite else None
