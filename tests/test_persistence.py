"""fnn.save / fnn.load: the safetensors format, round trips and rejection of bad files."""

from __future__ import annotations

import builtins
import json
import pickle
import struct

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_multilabel_classification
from sklearn.exceptions import NotFittedError

import fnn
from fnn import FNNClassifier, FNNRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def read_container(path):
    """Header length, header JSON and data bytes, read by hand."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return length, json.loads(data[8 : 8 + length]), data[8 + length :]


def write_container(path, header, body):
    header_bytes = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(header_bytes)) + header_bytes + body)


def fitted_attributes(estimator):
    names = ["n_iter_", "t_", "loss_", "best_loss_", "loss_curve_", "validation_scores_",
             "validation_loss_curve_", "best_validation_score_", "n_features_in_", "n_layers_",
             "n_outputs_", "out_activation_"]  # fmt: skip
    return {name: getattr(estimator, name) for name in names}


def assert_same_fitted_model(original, loaded, X, method):
    assert type(loaded) is type(original)
    assert loaded.get_params() == original.get_params()
    assert fitted_attributes(loaded) == fitted_attributes(original)
    np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(original, method)(X))
    for a, b in zip(original.coefs_ + original.intercepts_, loaded.coefs_ + loaded.intercepts_):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize(
    "labels",
    [
        lambda y: np.array(["setosa", "versicolor", "virginica"])[y],
        lambda y: np.array(["setosa", "versicolor", "virginica"], dtype=object)[y],
        lambda y: y * 10 - 5,
        lambda y: y == 1,
        lambda y: y.astype(np.float64) + 1.0,
    ],
    ids=["str", "object", "int", "bool", "float"],
)
def test_classifier_round_trip_keeps_labels_and_predictions(tmp_path, iris, labels):
    X, y = iris
    y = labels(y)
    clf = FNNClassifier(hidden_layer_sizes=(8,), class_weight="balanced", max_iter=20)
    clf.set_params(random_state=0).fit(X, y)
    path = tmp_path / "model.safetensors"
    fnn.save(clf, path)
    loaded = fnn.load(path)
    assert_same_fitted_model(clf, loaded, X, "predict_proba")
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))


def test_regressor_multilabel_float32_and_early_stopping_round_trip(tmp_path, iris):
    X, y = iris
    reg = FNNRegressor(hidden_layer_sizes=(8, 4), early_stopping=True, random_state=1)
    reg.fit(X[:, :2].astype(np.float32), X[:, 2:].astype(np.float32))
    fnn.save(reg, tmp_path / "r.safetensors")
    loaded = fnn.load(tmp_path / "r.safetensors")
    assert loaded.coefs_[0].dtype == np.float32
    assert_same_fitted_model(reg, loaded, X[:, :2], "predict")

    X_multi, Y_multi = make_multilabel_classification(n_samples=80, random_state=0)
    clf = FNNClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X_multi, Y_multi)
    fnn.save(clf, tmp_path / "m.safetensors")
    assert_same_fitted_model(clf, fnn.load(tmp_path / "m.safetensors"), X_multi, "predict_proba")


def test_feature_names_and_tuple_and_dict_parameters_survive(tmp_path, iris):
    pandas = pytest.importorskip("pandas")
    X, y = iris
    frame = pandas.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = FNNClassifier(
        hidden_layer_sizes=(6, 5), activation=("relu", "tanh"), class_weight={0: 1.0, 1: 2, 2: 3},
        n_iter_no_change=np.inf, max_iter=5, random_state=0,
    )  # fmt: skip
    clf.fit(frame, y)
    fnn.save(clf, tmp_path / "f.safetensors")
    loaded = fnn.load(tmp_path / "f.safetensors")
    assert loaded.get_params() == clf.get_params()
    assert isinstance(loaded.hidden_layer_sizes, tuple) and isinstance(loaded.activation, tuple)
    assert loaded.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))


def test_loaded_model_continues_training_like_the_original(tmp_path, iris):
    X, y = iris
    clf = FNNClassifier(max_iter=5, n_iter_no_change=100, warm_start=True, random_state=0)
    clf.fit(X, y)
    fnn.save(clf, tmp_path / "w.safetensors")
    loaded = fnn.load(tmp_path / "w.safetensors")
    clf.fit(X, y)
    loaded.fit(X, y)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.loss_curve_ == clf.loss_curve_


def test_file_is_standard_safetensors(tmp_path, iris):
    X, y = iris
    clf = FNNClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    path = tmp_path / "s.safetensors"
    fnn.save(clf, path)
    length, header, body = read_container(path)
    assert length % 8 == 0
    metadata = header.pop("__metadata__")
    assert metadata["format"] == "fnn" and metadata["estimator"] == "FNNClassifier"
    assert all(isinstance(v, str) for v in metadata.values())
    assert header["coefs.0"] == {"dtype": "F64", "shape": [4, 5], "data_offsets": [0, 160]}
    begin, end = header["intercepts.1"]["data_offsets"]
    np.testing.assert_array_equal(np.frombuffer(body[begin:end], "<f8"), clf.intercepts_[1])
    assert json.loads(metadata["classes"])["labels"]["values"] == [0, 1, 2]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_files_load_with_the_safetensors_reference_reader(tmp_path, iris, dtype):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    X, y = iris
    reg = FNNRegressor(hidden_layer_sizes=(5, 3), max_iter=3, random_state=0)
    reg.fit(X[:, :3].astype(dtype), X[:, 3].astype(dtype))
    fnn.save(reg, tmp_path / "r.safetensors")
    tensors = safetensors_numpy.load_file(tmp_path / "r.safetensors")
    assert sorted(tensors) == ["coefs.0", "coefs.1", "coefs.2", "intercepts.0", "intercepts.1",
                               "intercepts.2", "optimizer_slots"]  # fmt: skip
    for i, (W, b) in enumerate(zip(reg.coefs_, reg.intercepts_)):
        assert tensors[f"coefs.{i}"].dtype == tensors[f"intercepts.{i}"].dtype == dtype
        np.testing.assert_array_equal(tensors[f"coefs.{i}"], W)
        np.testing.assert_array_equal(tensors[f"intercepts.{i}"], b)
    np.testing.assert_array_equal(tensors["optimizer_slots"], reg._train_state.slots)


def test_the_same_model_always_gives_the_same_bytes(tmp_path, iris):
    X, y = iris
    clf = FNNClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    again = FNNClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    fnn.save(clf, tmp_path / "a.safetensors")
    fnn.save(again, tmp_path / "b.safetensors")
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_save_refuses_unfitted_and_foreign_estimators(tmp_path):
    with pytest.raises(NotFittedError):
        fnn.save(FNNClassifier(), tmp_path / "x")
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="fnn estimators"):
        fnn.save(LogisticRegression(), tmp_path / "x")


# ---------------------------------------------------------------------------
# Rejection


@pytest.fixture
def saved(tmp_path, iris):
    X, y = iris
    clf = FNNClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    path = tmp_path / "good.safetensors"
    fnn.save(clf, path)
    return path


def test_every_truncation_is_rejected(saved, tmp_path):
    data = saved.read_bytes()
    cut = tmp_path / "cut.safetensors"
    for size in sorted({0, 4, 7, 8, 9, 100, len(data) // 2, len(data) - 8, len(data) - 1}):
        cut.write_bytes(data[:size])
        with pytest.raises(ValueError, match="not a valid fnn model file"):
            fnn.load(cut)


def edited(saved, tmp_path, edit):
    """A copy of the saved file with ``edit(header, body)`` applied."""
    _, header, body = read_container(saved)
    body = edit(header, body) or body
    path = tmp_path / "edited.safetensors"
    write_container(path, header, body)
    return path


def set_metadata(key, value):
    def edit(header, body):
        header["__metadata__"][key] = value

    return edit


def set_tensor(name, field, value):
    def edit(header, body):
        header[name][field] = value

    return edit


def negative_alpha(header, body):
    params = json.loads(header["__metadata__"]["params"])
    header["__metadata__"]["params"] = json.dumps(
        [[name, -1.0 if name == "alpha" else value] for name, value in params]
    )


BAD_EDITS = {
    "overlapping offsets": set_tensor("intercepts.0", "data_offsets", [0, 40]),
    "offsets past the end": set_tensor("optimizer_slots", "data_offsets", [0, 10**9]),
    "unknown dtype": set_tensor("coefs.0", "dtype", "I64"),
    "shape disagrees with bytes": set_tensor("coefs.0", "shape", [5, 5]),
    "negative shape": set_tensor("coefs.0", "shape", [-4, -10]),
    "missing tensor": lambda header, body: header.pop("coefs.1") and None,
    "extra bytes": lambda header, body: body + b"\0" * 8,
    "class outside the allow-list": set_metadata("estimator", "LogisticRegression"),
    "code as a class name": set_metadata("estimator", "__import__('os').system('true')"),
    "not fnn": set_metadata("format", "torch"),
    "future version": set_metadata("format_version", "99"),
    "params not JSON": set_metadata("params", "{not json"),
    "missing parameters": set_metadata("params", '[["alpha", 0.1]]'),
    "invalid parameter": negative_alpha,
    "unknown tag": set_metadata("config", '{"__reduce__": "os.system"}'),
    "classes do not fit the outputs": set_metadata(
        "classes", '{"kind": "binary", "labels": {"type": "int", "dtype": "<i8", "values": [0, 1]}}'
    ),
    "metadata value not a string": set_metadata("fitted", {"n_iter_": 3}),
    "no metadata": lambda header, body: header.pop("__metadata__") and None,
}


@pytest.mark.parametrize("edit", BAD_EDITS.values(), ids=BAD_EDITS.keys())
def test_malformed_files_are_rejected_with_value_error(saved, tmp_path, edit):
    with pytest.raises(ValueError, match="not a valid fnn model file"):
        fnn.load(edited(saved, tmp_path, edit))


def test_non_finite_weights_and_garbage_headers_are_rejected(saved, tmp_path):
    length, header, body = read_container(saved)
    nan_body = bytearray(body)
    nan_body[0:8] = struct.pack("<d", float("nan"))
    path = tmp_path / "nan.safetensors"
    write_container(path, header, bytes(nan_body))
    with pytest.raises(ValueError, match="not all finite"):
        fnn.load(path)
    not_an_object = struct.pack("<Q", 2) + b"[]"
    not_utf8 = struct.pack("<Q", 4) + b"\xff\xfe{}"
    for garbage in (b"\xff" * 16, not_an_object, not_utf8):
        path.write_bytes(garbage)
        with pytest.raises(ValueError, match="not a valid fnn model file"):
            fnn.load(path)


def test_loading_runs_no_pickle_and_no_eval(saved, monkeypatch, iris):
    def forbidden(*args, **kwargs):
        raise AssertionError("fnn.load must not run code from the file")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    loaded = fnn.load(saved)
    assert loaded.score(*iris) > 0.5
