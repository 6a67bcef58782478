"""The fast paths into prediction and training: plain arrays skip `validate_data`.

scikit-learn's `validate_data` costs several one-row forward passes (BENCHMARKS.md,
"Measurements behind the code's constants"), and with the targets' checks a
third of a small fit's fixed cost (BENCHMARKS.md, "What one call costs").

They apply only where `validate_data` would do nothing but convert the
dtype, find every value finite and record the column count: an exact
`numpy.ndarray` (no subclass but, for training, a `numpy.memmap`; no
DataFrame, no sparse matrix, no list) of native float32 or float64, two
dimensions, at least one row and one column, and, once fitted, the fitted
number of columns and no feature names; for training also a
one-dimensional target array of as many rows, of numbers or (for labels)
strings. Anything else, and any non-finite value, returns None, and the
caller validates in full, so every error and warning is still
scikit-learn's own.
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
    n_columns = getattr(estimator, "n_features_in_", None)
    if type(X) is not np.ndarray or n_columns is None:
        return None
    if getattr(estimator, "feature_names_in_", None) is not None:
        return None
    return _finite_floats(X, dtype, n_columns)


def _finite_floats(X: np.ndarray, dtype, n_columns) -> np.ndarray | None:
    """Return ``X`` in ``dtype`` (None: as it is), or None if it needs validating.

    It must be a native float matrix of at least one row, ``n_columns``
    columns (None: at least one) and finite values.
    """
    if X.ndim != 2 or X.dtype not in _NATIVE_FLOATS or X.shape[0] == 0:
        return None
    columns_ok = X.shape[1] > 0 if n_columns is None else X.shape[1] == n_columns
    if not columns_ok:
        return None
    # Silent: on overflow or NaN the full validation runs next and gives
    # scikit-learn's own warning and error, once.
    with np.errstate(over="ignore", invalid="ignore"):
        if dtype is not None:
            X = X.astype(dtype, copy=False)
        # A finite sum means every value is finite (sklearn's first check too).
        finite = np.isfinite(X.sum())
    return X if finite else None


#: Array types taken as they are: no subclass but a memory map.
_PLAIN_ARRAYS = (np.ndarray, np.memmap)
#: Target dtypes `validate_data` passes through unchanged: booleans, integers,
#: native floats (checked finite) and, for class labels, strings.
_LABEL_KINDS = frozenset("biuU")
_NUMBER_KINDS = frozenset("biu")


def plain_training_data(estimator, X, y, *, dtype, y_numeric, reset):
    """``(X, y)`` as `validate_data` would return them, or None when they need it.

    Parameters
    ----------
    estimator : BaseFNN
        The estimator being trained. With ``reset`` its ``n_features_in_`` is
        set (and ``feature_names_in_`` dropped), as `validate_data` does.
    X, y : object
        The training call's inputs and targets.
    dtype : numpy.dtype or None
        The parameters' dtype when training continues; None keeps float32 or
        float64 input as it is.
    y_numeric : bool
        Whether the targets must be numbers (a regressor's).
    reset : bool
        Whether this call starts a new model, as `validate_data`'s ``reset``.

    Returns
    -------
    tuple or None
        ``(X, y)``, with ``X`` in ``dtype`` if one was given.
    """
    if type(X) not in _PLAIN_ARRAYS or type(y) not in _PLAIN_ARRAYS:
        return None
    if not reset and getattr(estimator, "feature_names_in_", None) is not None:
        return None
    # A memmap (a chunk of `fnn.stream.memmap_batches`) as `validate_data`
    # returns it: an ndarray view of the same memory.
    X = X if type(X) is np.ndarray else X.view(np.ndarray)
    y = y if type(y) is np.ndarray else y.view(np.ndarray)
    kinds = _NUMBER_KINDS if y_numeric else _LABEL_KINDS
    if y.ndim != 1 or (y.dtype.kind not in kinds and y.dtype not in _NATIVE_FLOATS):
        return None
    if X.ndim != 2 or y.shape[0] != X.shape[0]:
        return None
    n_columns = None if reset else getattr(estimator, "n_features_in_", None)
    X = _finite_floats(X, dtype, n_columns)
    if X is None or (y.dtype.kind == "f" and not np.isfinite(y.sum())):
        return None
    if reset:
        estimator.n_features_in_ = X.shape[1]
        estimator.__dict__.pop("feature_names_in_", None)
    return X, y
