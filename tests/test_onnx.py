"""ONNX export (fnn.to_onnx, skl2onnx registration), checked by running the graphs in
ONNX Runtime against fnn's own predictions.

Every exported case runs in both dtypes: labels must equal ``predict``, and
probabilities, scores and values must be within 1e-5 (float32) or 1e-9
(float64) of fnn's, relative to the largest magnitude of the compared array
(scores cross zero, where a purely relative bound means nothing).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from readme_blocks import readme_block
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import fnn
from fnn import FNNClassifier, FNNRegressor

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (fnn[onnx])")
skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is not installed (fnn[onnx])")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DTYPES = [np.float32, np.float64]
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-9}
NO_ZIPMAP = {"options": {FNNClassifier: {"zipmap": False}}}


def _data(n_classes=3, n_samples=120):
    X, y = make_classification(
        n_samples=n_samples, n_features=6, n_informative=4, n_classes=n_classes, random_state=0
    )
    return X, y


X3, Y3 = _data(3)
X2, Y2 = _data(2)


def run(onx, X):
    """The graph's outputs for ``X`` in ONNX Runtime, by output name."""
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X})))


def assert_close(got, expected, dtype):
    expected = np.asarray(expected)
    assert got.dtype == expected.dtype == dtype
    scale = np.abs(expected).max()
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)


def export_and_run(model, X, **options):
    return run(fnn.to_onnx(model, X[:1], **options), X)


# ---------------------------------------------------------------------------
# Classifiers: activations, label kinds, problem kinds, losses


ACTIVATION_CASES = {
    "identity": dict(activation="identity"),
    "logistic": dict(activation="logistic"),
    "sigmoid": dict(activation="sigmoid"),
    "tanh": dict(activation="tanh"),
    "relu": dict(activation="relu"),
    "leaky_relu slope 0.2": dict(activation="leaky_relu", negative_slope=0.2),
    "leaky_relu slope 1.5": dict(activation="leaky_relu", negative_slope=1.5),
    "per-layer list": dict(
        hidden_layer_sizes=(8, 7, 6), activation=["leaky_relu", "tanh", "logistic"]
    ),
    "dropout": dict(hidden_layer_sizes=(16, 8), dropout=[0.3, 0.2]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("params", ACTIVATION_CASES.values(), ids=ACTIVATION_CASES.keys())
def test_every_activation_exports_with_predict_and_predict_proba(params, dtype):
    X = X3.astype(dtype)
    params = {"hidden_layer_sizes": (10, 8), "max_iter": 30, "random_state": 0, **params}
    clf = FNNClassifier(**params).fit(X, Y3)
    out = export_and_run(clf, X, **NO_ZIPMAP)
    np.testing.assert_array_equal(out["label"], clf.predict(X))
    assert_close(out["probabilities"], clf.predict_proba(X), dtype)


LABEL_KINDS = {
    "int": lambda y: y * 10 - 7,
    "str": lambda y: np.array(["ant", "bee", "cat"])[y],
    "object": lambda y: np.array(["ant", "bee", "cat"], dtype=object)[y],
    "bool": lambda y: y == 1,
    "whole floats": lambda y: y.astype(np.float64) + 1.0,
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "multiclass"])
@pytest.mark.parametrize("labels", LABEL_KINDS.values(), ids=LABEL_KINDS.keys())
def test_labels_of_every_kind_come_out_as_predict_gives_them(labels, binary, dtype):
    X, y = (X2, Y2) if binary else (X3, Y3)
    if labels is LABEL_KINDS["bool"] and not binary:
        y = np.minimum(y, 1)  # booleans have two classes
    X, y = X.astype(dtype), labels(y)
    clf = FNNClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, y)
    out = export_and_run(clf, X, **NO_ZIPMAP)
    expected = clf.predict(X)
    if expected.dtype.kind in "biuf":
        assert out["label"].dtype == np.int64
        np.testing.assert_array_equal(out["label"], expected.astype(np.int64))
    else:
        assert out["label"].tolist() == expected.tolist()
    assert_close(out["probabilities"], clf.predict_proba(X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_class_classifier_gives_that_class_with_probability_one(dtype):
    X = X3.astype(dtype)
    clf = FNNClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    clf.fit(X, np.full(len(X), "only"))
    out = export_and_run(clf, X, **NO_ZIPMAP)
    assert out["label"].tolist() == clf.predict(X).tolist() == ["only"] * len(X)
    assert out["probabilities"].dtype == dtype
    np.testing.assert_array_equal(out["probabilities"], clf.predict_proba(X))


@pytest.mark.parametrize("dtype", DTYPES)
def test_multilabel_classifier_gives_the_indicator_matrix_and_sigmoids(dtype):
    X, Y = make_multilabel_classification(n_samples=100, n_features=6, random_state=0)
    X = X.astype(dtype)
    clf = FNNClassifier(hidden_layer_sizes=(12,), max_iter=40, random_state=0).fit(X, Y)
    out = export_and_run(clf, X, **NO_ZIPMAP)
    assert out["label"].shape == Y.shape and out["label"].dtype == np.int64
    np.testing.assert_array_equal(out["label"], clf.predict(X))
    assert_close(out["probabilities"], clf.predict_proba(X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "multiclass"])
@pytest.mark.parametrize("loss", ["hinge", "squared_hinge", "squared_error"])
def test_score_losses_output_decision_function_scores(loss, binary, dtype):
    X, y = (X2, Y2) if binary else (X3, Y3)
    X = X.astype(dtype)
    clf = FNNClassifier(hidden_layer_sizes=(8,), loss=loss, max_iter=30, random_state=0)
    clf.fit(X, y)
    out = export_and_run(clf, X, **NO_ZIPMAP)
    np.testing.assert_array_equal(out["label"], clf.predict(X))
    scores = clf.decision_function(X)
    # A binary problem's one score s comes out as two columns, [-s, s].
    expected = np.column_stack([-scores, scores]) if binary else scores
    assert_close(out["probabilities"], expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_raw_scores_option_gives_the_logits_of_a_log_loss_model(dtype):
    X = X3.astype(dtype)
    clf = FNNClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, Y3)
    out = export_and_run(clf, X, options={FNNClassifier: {"zipmap": False, "raw_scores": True}})
    np.testing.assert_array_equal(out["label"], clf.predict(X))
    assert_close(out["probabilities"], clf.decision_function(X), dtype)


# ---------------------------------------------------------------------------
# Regressors


def _poisson_regressor():
    """FNNRegressor(loss='poisson'), or a skip where this fnn does not have it yet."""
    regressor = FNNRegressor(loss="poisson", hidden_layer_sizes=(10,), max_iter=40, random_state=0)
    try:
        regressor._validate_params()
    except InvalidParameterError as error:
        pytest.skip(f"this fnn rejects FNNRegressor(loss='poisson'): {error}")
    return regressor


REGRESSION_CASES = {
    "one output": (lambda: FNNRegressor(hidden_layer_sizes=(10,), max_iter=40), 1),
    "three outputs": (lambda: FNNRegressor(hidden_layer_sizes=(10, 6), max_iter=40), 3),
    "huber, leaky_relu": (
        lambda: FNNRegressor(loss="huber", activation="leaky_relu", negative_slope=0.1),
        1,
    ),
    "poisson (exp output)": (_poisson_regressor, 1),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", REGRESSION_CASES.values(), ids=REGRESSION_CASES.keys())
def test_regressors_export_predict(case, dtype):
    make, n_outputs = case
    regressor = make().set_params(random_state=0, max_iter=40)
    X = X3.astype(dtype)
    rng = np.random.default_rng(0)
    if regressor.loss == "poisson":
        y = rng.poisson(np.exp(0.3 * X[:, :n_outputs])).astype(np.float64)
    else:
        y = X[:, :n_outputs] @ rng.normal(size=(n_outputs, n_outputs)) + 0.1 * X[:, -1:]
    regressor.fit(X, y.ravel() if n_outputs == 1 else y)
    if regressor.loss == "poisson":
        assert regressor.out_activation_ == "exp"
    out = export_and_run(regressor, X)
    assert list(out) == ["variable"]
    assert out["variable"].shape == (len(X), n_outputs)
    expected = regressor.predict(X).reshape(len(X), n_outputs)
    assert_close(out["variable"], expected, dtype)


def test_an_exp_output_function_exponentiates_the_network_outputs():
    # Independent of which fnn fits Poisson models: the graph for
    # out_activation_ 'exp' is exp of what the identity output gives.
    X = X3.astype(np.float64)
    regressor = FNNRegressor(hidden_layer_sizes=(6,), max_iter=10, random_state=0)
    regressor.fit(X, 0.1 * X[:, :2])
    identity = regressor.predict(X)
    regressor.out_activation_ = "exp"
    out = export_and_run(regressor, X)
    assert_close(out["variable"], np.exp(identity), np.float64)


# ---------------------------------------------------------------------------
# Pipelines, meta-estimators and skl2onnx's own entry point


def test_plain_skl2onnx_converts_a_pipeline_after_import_fnn_onnx():
    import fnn.onnx  # noqa: F401  (registers the converters)

    X = X3.astype(np.float32)
    pipeline = make_pipeline(StandardScaler(), FNNClassifier(hidden_layer_sizes=(8,), max_iter=30))
    pipeline.fit(X * 50 + 3, Y3)
    onx = skl2onnx.to_onnx(pipeline, X[:1], options={FNNClassifier: {"zipmap": False}})
    out = run(onx, X * 50 + 3)
    np.testing.assert_array_equal(out["label"], pipeline.predict(X * 50 + 3))
    assert_close(out["probabilities"], pipeline.predict_proba(X * 50 + 3), np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_grid_search_holding_a_pipeline_exports_its_best_model(dtype):
    X = X3.astype(dtype)
    pipeline = make_pipeline(StandardScaler(), FNNRegressor(max_iter=20, random_state=0))
    search = GridSearchCV(pipeline, {"fnnregressor__hidden_layer_sizes": [(4,), (8,)]}, cv=2)
    search.fit(X, X[:, 0] - X[:, 1])
    out = export_and_run(search, X)
    assert_close(out["variable"][:, 0], search.predict(X), dtype)


def test_float64_input_into_a_float32_model_is_cast_as_predict_casts_it():
    clf = FNNClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
    clf.fit(X3.astype(np.float32), Y3)
    onx = fnn.to_onnx(clf, X3[:1], **NO_ZIPMAP)
    assert onx.graph.input[0].type.tensor_type.elem_type == 11  # double in
    out = run(onx, X3)
    np.testing.assert_array_equal(out["label"], clf.predict(X3))
    assert_close(out["probabilities"], clf.predict_proba(X3), np.float32)


# ---------------------------------------------------------------------------
# Options: the same as skl2onnx's MLPClassifier


def test_zipmap_gives_a_list_of_dicts_keyed_by_label():
    X = X3.astype(np.float32)
    y = np.array(["ant", "bee", "cat"])[Y3]
    clf = FNNClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, y)
    out = export_and_run(clf, X)
    assert list(out) == ["output_label", "output_probability"]
    assert out["output_label"].tolist() == clf.predict(X).tolist()
    proba = clf.predict_proba(X)
    for row, expected in zip(out["output_probability"], proba):
        assert list(row) == ["ant", "bee", "cat"]
        np.testing.assert_allclose(list(row.values()), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zipmap_columns_gives_one_output_per_class(dtype):
    X = X3.astype(dtype)
    clf = FNNClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, Y3 + 4)
    out = export_and_run(clf, X, options={FNNClassifier: {"zipmap": "columns"}})
    assert list(out) == ["output_label", "i4", "i5", "i6"]
    np.testing.assert_array_equal(out["output_label"], clf.predict(X))
    proba = clf.predict_proba(X)
    for j, name in enumerate(["i4", "i5", "i6"]):
        assert_close(out[name], proba[:, j], dtype)


def test_nocl_labels_with_class_indices_and_output_class_labels_lists_the_classes():
    X = X3.astype(np.float32)
    y = np.array(["ant", "bee", "cat"])[Y3]
    clf = FNNClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, y)
    out = export_and_run(clf, X, options={FNNClassifier: {"zipmap": False, "nocl": True}})
    np.testing.assert_array_equal(out["label"], np.searchsorted(clf.classes_, clf.predict(X)))
    options = {FNNClassifier: {"zipmap": False, "output_class_labels": True}}
    out = export_and_run(clf, X, options=options)
    assert list(out) == ["label", "probabilities", "class_labels"]
    assert out["class_labels"].tolist() == ["ant", "bee", "cat"]


# ---------------------------------------------------------------------------
# What cannot export says why


def test_float64_model_with_zipmap_names_the_option():
    clf = FNNClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X3, Y3)
    with pytest.raises(ValueError, match="float64 FNNClassifier with zipmap=True"):
        fnn.to_onnx(clf, X3[:1])


def test_labels_int64_cannot_hold_name_classes_and_nocl():
    y = np.array([1, 2**63, 2**64 - 1], dtype=np.uint64)[Y3]
    clf = FNNClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X3, y)
    with pytest.raises(ValueError, match=r"classes_=\[1, 9223372036854775808, .*nocl"):
        fnn.to_onnx(clf, X3[:1], **NO_ZIPMAP)
    # With nocl the same model exports, labelled by class index.
    out = export_and_run(clf, X3, options={FNNClassifier: {"zipmap": False, "nocl": True}})
    np.testing.assert_array_equal(out["label"], np.searchsorted(clf.classes_, clf.predict(X3)))


def test_an_output_function_the_converter_does_not_know_is_named():
    regressor = FNNRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    regressor.fit(X3, X3[:, 0])
    regressor.out_activation_ = "softplus"  # as a future fnn might fit
    with pytest.raises(ValueError, match="out_activation_='softplus'"):
        fnn.to_onnx(regressor, X3[:1])


def test_a_hidden_activation_the_converter_does_not_know_is_named():
    clf = FNNClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X3, Y3)
    # TrainConfig is frozen and checked; a future fnn might fit a new activation.
    object.__setattr__(clf._config, "activations", ("softplus",))
    with pytest.raises(ValueError, match="activation='softplus'"):
        fnn.to_onnx(clf, X3[:1].astype(np.float32), **NO_ZIPMAP)


def test_an_unfitted_model_is_refused_as_unfitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        fnn.to_onnx(FNNRegressor(), X3[:1])


# ---------------------------------------------------------------------------
# The README's example


def test_readme_export_and_serve_example_prints_what_its_comment_says(tmp_path):
    example = readme_block("onnx-example")
    out = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-4000:]
    promised = example.strip().splitlines()[-1].split("#", 1)[1].strip()
    assert out.stdout.strip() == promised
    assert (tmp_path / "digits.onnx").stat().st_size > 0


REGISTRATION_ONLY = """
import numpy as np, skl2onnx
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
import fnn.onnx  # registers; fnn.to_onnx is never called here
from fnn import FNNRegressor
X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
pipeline = make_pipeline(StandardScaler(), FNNRegressor(max_iter=5)).fit(X, X[:, 0])
onx = skl2onnx.to_onnx(pipeline, X[:1])
print([n.op_type for n in onx.graph.node], [o.name for o in onx.graph.output])
"""


def test_import_fnn_onnx_alone_registers_the_converters_with_skl2onnx():
    out = subprocess.run([sys.executable, "-c", REGISTRATION_ONLY], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-4000:]
    ops, outputs = out.stdout.strip().split("] [")
    assert "'Gemm', 'Relu', 'Gemm'" in ops and outputs == "'variable']"


# ---------------------------------------------------------------------------
# The extra is optional

WITHOUT_ONNX = """
import sys
for name in ("onnx", "skl2onnx", "onnxruntime"):
    sys.modules[name] = None  # makes `import name` fail, as if not installed
import fnn
assert "skl2onnx" not in [m for m in sys.modules if sys.modules[m] is not None]
try:
    fnn.to_onnx(None, None)
except ImportError as error:
    print(error)
"""


def test_fnn_imports_without_the_onnx_extra_and_to_onnx_says_what_to_install():
    out = subprocess.run([sys.executable, "-c", WITHOUT_ONNX], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert 'pip install "fnn[onnx]"' in out.stdout
