"""Class labels as ONNX can hold them: int64 or strings.

ONNX classifiers label with int64 or string tensors (``ZipMap`` keys are one
or the other), so fnn's labels map as skl2onnx maps scikit-learn's: integers
and booleans to int64, strings (str or object arrays of str) to strings, and
floats to int64 when every one is a whole number.
"""

from __future__ import annotations

import numpy as np

from .. import _labels


def onnx_labels(estimator, *, nocl: bool) -> np.ndarray:
    """Return the labels the graph outputs: an int64 array or an object array of str.

    With ``nocl`` the labels are the class indices 0..k-1.

    Raises
    ------
    ValueError
        If ``classes_`` holds labels that neither int64 nor strings can
        represent exactly.
    """
    classes = estimator.classes_
    if nocl or estimator._target_kind == _labels.MULTILABEL:
        return np.arange(len(classes), dtype=np.int64)
    values = classes.tolist()
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=object)
    if all(isinstance(v, (bool, int)) for v in values):
        if all(-(2**63) <= v < 2**63 for v in values):
            return np.asarray(values, dtype=np.int64)
    elif all(isinstance(v, float) for v in values):
        if all(v.is_integer() and -(2**63) <= v < 2**63 for v in values):
            return np.asarray(values, dtype=np.int64)
    raise ValueError(
        f"Cannot export {type(estimator).__name__} with classes_={values!r} to ONNX: its "
        "labels must be all strings, or all integers (booleans and whole floats count) "
        "within int64. Train on such labels, or pass options={'nocl': True} to label "
        "with class indices."
    )
