"""Work `fit` no longer repeats, pinned to what it replaced: classes without
a second `type_of_target`, targets made in the training dtype, the
zero-output loss in blocks, the parameter names read once per class."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.multiclass import type_of_target, unique_labels

import fnn._divergence
from fnn import FNNClassifier, FNNRegressor, _labels
from fnn._config import TrainConfig
from fnn._losses import per_sample_loss

RNG = np.random.default_rng(0)

LABELS = {
    "int64": RNG.integers(0, 4, 50),
    "int8": RNG.integers(-2, 2, 50).astype(np.int8),
    "uint16": RNG.integers(0, 3, 50).astype(np.uint16),
    "bool": RNG.integers(0, 2, 50).astype(bool),
    "integral float32": RNG.integers(0, 5, 50).astype(np.float32),
    "strings": np.array(["b", "a", "c"] * 10),
    "objects": np.array(["x", "y"] * 10, dtype=object),
}


@pytest.mark.parametrize("name", sorted(LABELS))
def test_classes_and_kind_are_what_scikit_learn_finds(name):
    y = LABELS[name]
    assert _labels.problem_kind(y) == "single_label"
    assert type_of_target(y) in ("binary", "multiclass")
    classes = _labels.classes_of(y, "single_label")
    expected = unique_labels(y)
    assert classes.dtype == expected.dtype
    np.testing.assert_array_equal(classes, expected)


def test_labels_mixing_strings_and_numbers_fail_as_in_scikit_learn():
    y = np.array(["a", 1, "b"], dtype=object)
    with pytest.raises((TypeError, ValueError)) as ours:
        _labels.classes_of(y, "single_label")
    with pytest.raises((TypeError, ValueError)) as theirs:
        unique_labels(y)
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


def test_continuous_and_multioutput_targets_are_still_refused():
    with pytest.raises(ValueError, match="Unknown label type"):
        _labels.problem_kind(np.linspace(0, 1, 30))
    with pytest.raises(ValueError, match="multiclass-multioutput"):
        _labels.problem_kind(RNG.integers(0, 3, (30, 2)))
    assert _labels.problem_kind(RNG.integers(0, 2, (30, 3))) == _labels.MULTILABEL


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("y", [np.arange(30) % 2, np.arange(30) % 4], ids=["binary", "multiclass"])
def test_targets_come_in_the_training_dtype_without_a_float64_copy(dtype, y):
    X = RNG.normal(size=(30, 3)).astype(dtype)
    clf = FNNClassifier()
    _, _, Y, _, _ = clf._training_data(X, y, None, False, False, None)
    assert Y.dtype == dtype and Y.flags.c_contiguous
    expected = _labels.encode(y, np.unique(y), clf._target_kind, np.float64)
    np.testing.assert_array_equal(Y, expected.astype(dtype))


def test_regressor_targets_come_in_the_training_dtype():
    X = RNG.normal(size=(30, 3)).astype(np.float32)
    _, _, Y, _, _ = FNNRegressor()._training_data(X, X[:, 0] * 2, None, False, False, None)
    assert Y.dtype == np.float32 and Y.shape == (30, 1) and Y.flags.c_contiguous
    np.testing.assert_array_equal(Y[:, 0], X[:, 0] * 2)


@pytest.mark.parametrize(
    "loss,output,outputs",
    [("log_loss", "softmax", 4), ("log_loss", "sigmoid", 1), ("huber", "identity", 2)],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_zero_output_loss_in_blocks_equals_the_loss_over_all_rows(
    monkeypatch, loss, output, outputs, weighted
):
    config = TrainConfig(layer_sizes=(3, outputs), activations=(), loss=loss, output=output)
    Y = RNG.random((1000, outputs))
    if loss == "log_loss":
        Y = (Y > 0.5).astype(float)
    weights = RNG.random(1000) if weighted else None
    per_sample, _ = per_sample_loss(loss, output, np.zeros_like(Y), Y, config.huber_delta)
    expected = np.average(per_sample, weights=weights)
    monkeypatch.setattr(fnn._divergence, "_LOSS_BLOCK_ROWS", 96)  # 11 blocks, the last one short
    got = fnn._divergence.zero_output_loss(config, Y, weights)
    assert got == pytest.approx(expected, rel=1e-12)


def test_parameter_names_are_scikit_learns_and_a_fresh_list_each_time():
    for cls in (FNNClassifier, FNNRegressor):
        names = cls._get_param_names()
        assert names == BaseEstimator._get_param_names.__func__(cls)
        names.append("mutated")
        assert "mutated" not in cls._get_param_names()
    assert "class_weight" in FNNClassifier._get_param_names()
    assert "huber_delta" in FNNRegressor._get_param_names()
