"""Class labels to network targets and back, for `FNNClassifier`.

Four kinds of problem, each with its own target layout:

- ``"one_class"``: every sample has the same label (scikit-learn fits it
  too); one output whose target is always 1. The answer needs no network,
  but the network is trained as for any other target.
- ``"binary"``: two classes, one output; the target is 1 for ``classes_[1]``
  and 0 for ``classes_[0]`` (the engine turns 0/1 into -1/+1 for the hinge
  losses).
- ``"multiclass"``: k > 2 classes, k outputs, one-hot targets.
- ``"multilabel"``: an indicator matrix ``y`` of shape (n, k) is its own
  target, one sigmoid output per label.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

ONE_CLASS = "one_class"
BINARY = "binary"
MULTICLASS = "multiclass"
MULTILABEL = "multilabel"


def problem_kind(y) -> str:
    """``"multilabel"`` for an indicator matrix, else ``"single_label"``.

    Raises
    ------
    ValueError
        For continuous targets ("Unknown label type") and for multi-output
        multi-class targets, which the network does not model.
    """
    if type(y) is np.ndarray and y.ndim == 1 and y.dtype.kind in "biuU" and not _mostly_unique(y):
        # Booleans, integers and strings in one dimension are binary or
        # multi-class labels: `type_of_target` would find that in ~125 µs,
        # a tenth of a small fit's fixed cost (BENCHMARKS.md, "What one
        # call costs").
        return "single_label"
    check_classification_targets(y)
    if not sp.issparse(y) and np.ndim(y) == 1:
        # One dimension that passed the check is binary or multi-class:
        # telling which needs no second, costly `type_of_target` (BENCHMARKS.md,
        # "Measurements behind the code's constants").
        return "single_label"
    kind = type_of_target(y, input_name="y")
    if kind == "multilabel-indicator":
        return MULTILABEL
    if kind in ("binary", "multiclass"):
        return "single_label"
    raise ValueError(
        f"FNNClassifier handles binary, multi-class and multi-label (indicator) "
        f"targets; got a {kind} target."
    )


def _mostly_unique(y) -> bool:
    """Whether `check_classification_targets` would warn that ``y`` looks like a regression target.

    It does for more than 20 samples with more distinct labels than half of
    them; those take its path, so that the warning is its own.
    """
    return y.shape[0] > 20 and len(np.unique(y)) > round(0.5 * y.shape[0])


def classes_of(y, kind: str) -> np.ndarray:
    """Return the sorted class labels of ``y`` (column indices for an indicator matrix)."""
    if kind == MULTILABEL:
        return np.arange(y.shape[1])
    if isinstance(y, np.ndarray) and y.dtype.kind in "biuf":
        # Numbers cannot mix with strings, the one thing `unique_labels` checks
        # beyond `np.unique`; it would call `type_of_target` once more.
        return np.unique(y)
    return unique_labels(y)


def kind_for(classes: np.ndarray, multilabel: bool) -> str:
    """Return the layout for these classes: one_class, binary, multiclass or multilabel."""
    if multilabel:
        return MULTILABEL
    if len(classes) == 1:
        return ONE_CLASS
    return BINARY if len(classes) == 2 else MULTICLASS


def plain(labels) -> str:
    """Return labels as NumPy prints an array of them, e.g. ``[0 1 2]`` or ``['a' 'b']``.

    That is how scikit-learn's messages show classes (never ``np.float64(1.0)``).
    """
    return str(np.asarray(labels))


def class_indices(y, classes: np.ndarray) -> np.ndarray:
    """Position of every label of ``y`` in ``classes`` (which is sorted).

    Raises
    ------
    ValueError
        If ``y`` holds a label that is not in ``classes``.
    """
    y = np.asarray(y)
    found = np.searchsorted(classes, y)
    found_in_range = np.minimum(found, len(classes) - 1)
    unknown = (found >= len(classes)) | (classes[found_in_range] != y)
    if unknown.any():
        raise ValueError(
            f"y contains labels that are not among the classes {classes.tolist()}: "
            f"{np.unique(y[unknown]).tolist()}"
        )
    return found


def encode(y, classes: np.ndarray, kind: str, dtype) -> np.ndarray:
    """Return the training targets for ``y``: shape (n, outputs), C-contiguous ``dtype``."""
    if kind == MULTILABEL:
        y = y.toarray() if sp.issparse(y) else np.asarray(y)
        if y.ndim != 2 or y.shape[1] != len(classes):
            raise ValueError(
                f"y must be an indicator matrix with {len(classes)} columns, got shape {y.shape}"
            )
        return np.ascontiguousarray(y, dtype=dtype)
    index = class_indices(y, classes)
    if kind == ONE_CLASS:
        return np.ones((len(index), 1), dtype=dtype)
    if kind == BINARY:
        return np.ascontiguousarray((index == 1)[:, None], dtype=dtype)
    targets = np.zeros((len(index), len(classes)), dtype=dtype)
    targets[np.arange(len(index)), index] = 1
    return targets
