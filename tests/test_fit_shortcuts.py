"""Work `fit` no longer repeats, pinned to what it replaced: classes without
a second `type_of_target`, targets made in the training dtype, the
zero-output loss in blocks, the parameter names read once per class, plain
arrays past `validate_data`, parameters validated once."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import validate_data

import fnn._divergence
from fnn import FNNClassifier, FNNRegressor, _labels
from fnn._config import TrainConfig
from fnn._losses import per_sample_loss
from fnn._plain_input import plain_training_data

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


@pytest.mark.parametrize(
    "y",
    [np.arange(30), np.arange(30) % 3, np.arange(20), np.array([f"c{i}" for i in range(30)])],
    ids=["mostly unique", "three classes", "twenty samples", "mostly unique strings"],
)
def test_labels_warn_as_check_classification_targets_does(y):
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        _labels.problem_kind(y)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        check_classification_targets(y)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]


X_PLAIN = RNG.normal(size=(40, 3))
ACCEPTED = {
    "float64": (X_PLAIN, np.arange(40) % 3),
    "float32, Fortran order": (np.asfortranarray(X_PLAIN.astype(np.float32)), np.arange(40) % 2),
    "read-only, string labels": (
        np.frombuffer(X_PLAIN.tobytes()).reshape(40, 3),
        np.array(["a", "b"] * 20),
    ),
}


def _memmap(array, tmp_path):
    mapped = np.lib.format.open_memmap(
        tmp_path / "x.npy", mode="w+", dtype=array.dtype, shape=array.shape
    )
    mapped[...] = array
    mapped.flush()
    return np.load(tmp_path / "x.npy", mmap_mode="r")


def test_plain_training_data_takes_a_memmap_chunk_as_validate_data_does(tmp_path):
    X = _memmap(X_PLAIN, tmp_path)[5:25]
    y = np.arange(40)[5:25] % 3
    ours = plain_training_data(FNNClassifier(), X, y, dtype=None, y_numeric=False, reset=True)
    theirs = validate_data(FNNClassifier(), X, y, dtype=(np.float64, np.float32), multi_output=True)
    for a, b in zip(ours, theirs, strict=True):
        assert type(a) is type(b) is np.ndarray
        assert np.shares_memory(a, b)
        np.testing.assert_array_equal(a, b)


REFUSED = {
    "a list": (X_PLAIN.tolist(), np.arange(40) % 3),
    "NaN": (np.where(X_PLAIN > 2, np.nan, X_PLAIN), np.arange(40) % 3),
    "integer X": (np.ones((40, 3), dtype=np.int64), np.arange(40) % 3),
    "big-endian X": (X_PLAIN.astype(">f8"), np.arange(40) % 3),
    "column y": (X_PLAIN, (np.arange(40) % 3)[:, None]),
    "object y": (X_PLAIN, np.array(["a", "b"] * 20, dtype=object)),
    "short y": (X_PLAIN, np.arange(39) % 3),
    "no rows": (X_PLAIN[:0], np.arange(0)),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_plain_training_data_is_what_validate_data_returns(name):
    X, y = ACCEPTED[name]
    ours, theirs = FNNClassifier(), FNNClassifier()
    ours.feature_names_in_ = theirs.feature_names_in_ = np.array(["a", "b", "c"], dtype=object)
    X_ours, y_ours = plain_training_data(ours, X, y, dtype=None, y_numeric=False, reset=True)
    X_theirs, y_theirs = validate_data(
        theirs, X, y, accept_sparse="csr", dtype=(np.float64, np.float32), multi_output=True
    )
    assert (X_ours.dtype, X_ours.shape, X_ours.flags.c_contiguous) == (
        X_theirs.dtype,
        X_theirs.shape,
        X_theirs.flags.c_contiguous,
    )
    np.testing.assert_array_equal(X_ours, X_theirs)
    np.testing.assert_array_equal(y_ours, y_theirs)
    assert vars(ours) == {**vars(theirs), "n_features_in_": 3}
    assert not hasattr(ours, "feature_names_in_")


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_plain_training_data_leaves_the_rest_to_validate_data(name):
    X, y = REFUSED[name]
    assert (
        plain_training_data(FNNClassifier(), X, y, dtype=None, y_numeric=False, reset=True) is None
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_continuing_in_float32_refuses_what_overflows_it():
    model = FNNClassifier(max_iter=1).fit(X_PLAIN.astype(np.float32), np.arange(40) % 3)
    X = X_PLAIN.copy()
    assert (
        plain_training_data(
            model, X, np.arange(40) % 3, dtype=np.float32, y_numeric=False, reset=False
        )[0].dtype
        == np.float32
    )
    X[0, 0] = 1e300
    assert (
        plain_training_data(
            model, X, np.arange(40) % 3, dtype=np.float32, y_numeric=False, reset=False
        )
        is None
    )


class _UnhashableFloat(float):
    __hash__ = None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_parameters_are_validated_until_found_valid_whatever_their_type():
    X, y = X_PLAIN, np.arange(40) % 3
    for bad in (0, -1, np.int64(-1), "2", 1.5):
        for _ in range(2):  # the second time too: invalid sets are not remembered
            with pytest.raises(ValueError, match="max_iter"):
                FNNClassifier(max_iter=bad).fit(X, y)
    FNNClassifier(max_iter=1, alpha=_UnhashableFloat(1e-4)).fit(X, y)
    FNNClassifier(max_iter=1, hidden_layer_sizes=[4]).fit(X, y)
    model = FNNClassifier(max_iter=1).fit(X, y)
    model.hidden_layer_sizes = (4, 0)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        model.fit(X, y)
