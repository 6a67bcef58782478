"""The Rust engine's fast prediction path: `fnn._core.Predictor` and its cache (`fnn._predictors`).

A plain array goes straight to the model's Predictor; everything else is
validated in full first. Both paths must give the same bytes for every kind
of model, the Predictor must refuse every input that is not plain, a changed
model must never be predicted with a stale Predictor, and several threads
must be able to predict at once.
"""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest

import fnn
import fnn._base
from fnn import FNNClassifier, FNNRegressor, _core
from fnn._predictors import predictor_of

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(5)
X = RNG.normal(size=(60, 6))
X_MORE = RNG.normal(size=(60, 6))

TARGETS = {
    "multiclass": (FNNClassifier, np.arange(60) % 3, {}),
    "binary": (FNNClassifier, np.arange(60) % 2, {}),
    "multilabel": (FNNClassifier, np.column_stack([X[:, 0] > 0, X[:, 1] > 0]).astype(int), {}),
    "one class": (FNNClassifier, np.zeros(60, dtype=int), {}),
    "hinge": (FNNClassifier, np.arange(60) % 3, {"loss": "hinge"}),
    "regression": (FNNRegressor, X[:, :2] @ [1.0, -2.0], {}),
    "two outputs": (FNNRegressor, X[:, :2], {}),
    "poisson": (FNNRegressor, np.exp(X[:, 0] / 2), {"loss": "poisson"}),
}


def _fit(kind, dtype, **params):
    cls, y, extra = TARGETS[kind]
    settings = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, **extra)
    return cls(**{**settings, **params}).fit(X.astype(dtype), y)


def _predictions(estimator, rows):
    """Every prediction method the estimator has, on ``rows``."""
    names = ["predict", "predict_proba", "predict_log_proba", "decision_function"]
    return {n: getattr(estimator, n)(rows) for n in names if hasattr(estimator, n)}


def _fully_validated(estimator, rows, monkeypatch):
    """The predictions of the full path: scikit-learn's validation, then the engine."""
    with monkeypatch.context() as m:
        m.setattr(fnn._base, "plain_float_rows", lambda *args: None)
        m.setattr(fnn._base, "predictor_of", lambda *a: (predictor_of(*a)[0], False))
        return _predictions(estimator, rows)


def _assert_same(got, expected):
    assert got.keys() == expected.keys()
    for name in got:
        assert got[name].dtype == expected[name].dtype, name
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def _takes_fast_path(estimator, rows):
    predictor, plain_allowed = predictor_of(estimator, estimator._params, estimator._config)
    return plain_allowed and predictor.run(rows, False) is not None


@pytest.mark.parametrize("kind", sorted(TARGETS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_path_gives_the_bytes_of_the_full_path(kind, dtype, monkeypatch):
    estimator = _fit(kind, dtype)
    for rows in (X_MORE[:1], X_MORE[:7], np.resize(X_MORE, (5000, 6))):
        rows = rows.astype(dtype)
        assert _takes_fast_path(estimator, rows)
        _assert_same(_predictions(estimator, rows), _fully_validated(estimator, rows, monkeypatch))


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_probabilities_are_the_logits_through_the_output_function(kind):
    estimator = _fit(kind, np.float64)
    logits = estimator.decision_function(X_MORE).reshape(len(X_MORE), -1)
    probabilities = estimator.predict_proba(X_MORE)
    if kind == "multiclass":
        expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    elif kind == "binary":
        expected = 1 / (1 + np.exp(-np.column_stack([-logits[:, 0], logits[:, 0]])))
    else:
        expected = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(probabilities, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(estimator.predict_log_proba(X_MORE), np.log(probabilities))


def test_one_class_probabilities_are_ones_and_predict_the_class():
    estimator = _fit("one class", np.float32)
    np.testing.assert_array_equal(estimator.predict_proba(X_MORE[:3].astype(np.float32)), 1)
    assert estimator.predict_proba(X_MORE[:3].astype(np.float32)).shape == (3, 1)
    np.testing.assert_array_equal(estimator.predict(X_MORE[:3].astype(np.float32)), [0, 0, 0])


def _unaligned(rows):
    buffer = np.zeros(rows.nbytes + 1, dtype=np.uint8)
    view = buffer[1:].view(rows.dtype).reshape(rows.shape)
    view[...] = rows
    return view


NOT_PLAIN = {
    "list": lambda r: r.tolist(),
    "Fortran order": np.asfortranarray,
    "strided": lambda r: np.repeat(r, 2, axis=1)[:, ::2],
    "big-endian": lambda r: r.astype(">f8"),
    "float32 into float64": lambda r: r.astype(np.float32),
    "int64": lambda r: r.astype(np.int64),
    "subclass": np.ma.masked_array,
    "1-D": lambda r: r[0],
    "3-D": lambda r: r[:, :, None],
    "no rows": lambda r: r[:0],
    "wrong columns": lambda r: r[:, :5],
    "nan": lambda r: np.where(np.arange(6) == 4, np.nan, r),
    "inf": lambda r: np.where(np.arange(6) == 0, -np.inf, r),
    "unaligned": _unaligned,
}


@pytest.mark.parametrize("case", sorted(NOT_PLAIN))
def test_the_predictor_refuses_every_input_that_is_not_plain(case):
    estimator = _fit("multiclass", np.float64)
    predictor, _ = predictor_of(estimator, estimator._params, estimator._config)
    rows = np.ascontiguousarray(X_MORE[:3])
    assert predictor.run(rows, True) is not None
    assert predictor.run(NOT_PLAIN[case](rows), True) is None


def test_overflowing_outputs_take_the_full_path_and_its_errors():
    estimator = _fit("multiclass", np.float64)
    predictor, _ = predictor_of(estimator, estimator._params, estimator._config)
    huge = np.full((1, 6), 1.7e308)
    assert predictor.run(huge, False) is None
    with pytest.raises(ValueError, match="outputs overflow float64"):
        estimator.predict_proba(huge)
    poisson = _fit("poisson", np.float64)
    with pytest.raises(ValueError, match="predicted means overflow"):
        poisson.predict(np.array([[1e6] * 6, [-1e6] * 6]))


def test_a_model_fitted_with_feature_names_never_takes_the_fast_path():
    pd = pytest.importorskip("pandas")
    columns = [f"f{i}" for i in range(6)]
    estimator = FNNClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    estimator.fit(pd.DataFrame(X, columns=columns), np.arange(60) % 3)
    assert predictor_of(estimator, estimator._params, estimator._config)[1] is False
    for _ in range(2):  # the second call finds the cached predictor
        with pytest.warns(UserWarning, match="X does not have valid feature names"):
            estimator.predict_proba(X_MORE[:1])


# ----------------------------------------------------------------------
# The cache: a new model gets a new Predictor


def _changes(kind):
    """(name, change of a fitted estimator that changes the model)."""

    def refit(e):
        e.fit(X_MORE, TARGETS[kind][1])

    def partial(e):
        e.partial_fit(X_MORE, TARGETS[kind][1])

    def warm(e):
        e.set_params(warm_start=True, max_iter=3).fit(X_MORE, TARGETS[kind][1])

    def new_architecture(e):
        e.set_params(hidden_layer_sizes=(5, 3), activation="tanh").fit(X, TARGETS[kind][1])

    def coefs(e):
        e.coefs_[0][...] *= -1.5  # in place: the Predictor reads the same buffer

    def intercepts(e):
        e.intercepts_ = [b + 1 for b in e.intercepts_]

    return {
        "refit": refit,
        "partial_fit": partial,
        "warm start": warm,
        "set_params and refit": new_architecture,
        "coefs_ edited": coefs,
        "intercepts_ assigned": intercepts,
    }


@pytest.mark.parametrize("change", sorted(_changes("multiclass")))
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_a_changed_model_is_not_predicted_with_a_stale_predictor(change, kind, monkeypatch):
    estimator = _fit(kind, np.float64, solver="sgd")
    rows = X_MORE[:4]
    before = _predictions(estimator, rows)  # caches the Predictor
    _changes(kind)[change](estimator)
    after = _predictions(estimator, rows)
    assert not np.array_equal(
        after["predict_proba" if kind != "regression" else "predict"],
        before["predict_proba" if kind != "regression" else "predict"],
    )
    _assert_same(after, _fully_validated(estimator, rows, monkeypatch))


def test_pickled_saved_and_copied_models_predict_as_the_original(tmp_path, monkeypatch):
    estimator = _fit("multiclass", np.float32)
    rows = X_MORE[:5].astype(np.float32)
    expected = _predictions(estimator, rows)
    fnn.save(estimator, tmp_path / "model.safetensors")
    for twin in (
        pickle.loads(pickle.dumps(estimator)),
        fnn.load(tmp_path / "model.safetensors"),
    ):
        _assert_same(_predictions(twin, rows), expected)
    # The twin's own model, not the original's: refitting the original leaves it.
    twin = pickle.loads(pickle.dumps(estimator))
    estimator.fit(X_MORE, TARGETS["multiclass"][1])
    _assert_same(_predictions(twin, rows), expected)
    _assert_same(_predictions(estimator, rows), _fully_validated(estimator, rows, monkeypatch))


def test_the_cache_forgets_an_estimator_that_is_gone():
    import gc

    import fnn._predictors

    estimator = _fit("multiclass", np.float64)
    estimator.predict(X_MORE[:1])
    key = id(estimator)
    assert fnn._predictors._CACHE[key][0] is estimator._params
    del estimator
    gc.collect()
    assert key not in fnn._predictors._CACHE


def test_prediction_leaves_the_estimators_dict_unchanged():
    estimator = _fit("multiclass", np.float64)
    before = dict(estimator.__dict__)
    _predictions(estimator, X_MORE[:2])
    assert estimator.__dict__.keys() == before.keys()
    assert all(estimator.__dict__[k] is before[k] for k in before)


def test_the_numpy_engine_set_after_fitting_is_the_one_predicting(monkeypatch):
    estimator = _fit("multiclass", np.float64)
    rust = estimator.predict_proba(X_MORE)
    estimator.set_params(engine="numpy")
    # NumPy's softmax, not the Predictor's: equal to round-off, not in every bit.
    numpy = estimator.predict_proba(X_MORE)
    np.testing.assert_allclose(numpy, rust, rtol=1e-12)
    calls = []
    monkeypatch.setattr(fnn._base, "predictor_of", lambda *a: calls.append(a))
    estimator.predict_proba(X_MORE)
    assert calls == []


# ----------------------------------------------------------------------
# Threads


def test_threads_predicting_at_once_get_their_own_answers():
    estimator = _fit("multiclass", np.float32, hidden_layer_sizes=(64, 32))
    inputs = [RNG.normal(size=(1 + i % 5, 6)).astype(np.float32) for i in range(40)]
    expected = [estimator.predict_proba(rows) for rows in inputs]
    failures = []

    def worker(offset):
        for round_ in range(50):
            i = (offset + round_) % len(inputs)
            if not np.array_equal(estimator.predict_proba(inputs[i]), expected[i]):
                failures.append(i)

    threads = [threading.Thread(target=worker, args=(k * 7,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predictions_are_the_same_bytes_for_any_n_jobs(dtype):
    estimator = _fit("multiclass", dtype, hidden_layer_sizes=(200,))
    rows = np.resize(X_MORE, (20_000, 6)).astype(dtype)
    serial = estimator.set_params(n_jobs=1).predict_proba(rows)
    for n_jobs in (2, 3, None, -1):
        got = estimator.set_params(n_jobs=n_jobs).predict_proba(rows)
        np.testing.assert_array_equal(got, serial, err_msg=str(n_jobs))


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_row_through_wide_layers_is_the_same_bytes_on_any_n_jobs(kind, dtype):
    # A 256 × 300 layer: one row's products are cut among the threads of the
    # model's own team (`linalg::one_row_shared`), as a row of a batch never is.
    estimator = _fit(kind, dtype, hidden_layer_sizes=(256, 300), max_iter=2)
    rows = X_MORE.astype(dtype)
    batch = _predictions(estimator.set_params(n_jobs=1), rows)
    for n_jobs in (1, 2, 3, None):
        estimator.set_params(n_jobs=n_jobs)
        for i in range(0, 60, 7):
            one = _predictions(estimator, rows[i : i + 1])
            _assert_same(one, {name: values[i : i + 1] for name, values in batch.items()})


@pytest.mark.parametrize(
    "dtype, tiny, huge", [(np.float32, 1e-39, 1e30), (np.float64, 1e-310, 1e300)]
)
def test_a_subnormal_input_gives_the_same_bytes_on_any_thread(dtype, tiny, huge):
    # Weights that carry a subnormal input to the output, scaled up: the
    # answer depends on whether subnormals are flushed, which every
    # prediction does on every thread (fnn's pool workers always do).
    estimator = _fit("regression", dtype, hidden_layer_sizes=(256, 300), max_iter=1)
    for layer in (*estimator.coefs_, *estimator.intercepts_):
        layer[...] = 0
    estimator.coefs_[0][0] = 1
    estimator.coefs_[1][...] = 1
    estimator.coefs_[2][...] = huge
    row = np.zeros((1, 6), dtype=dtype)
    row[0, 0] = tiny
    many = np.repeat(row, 200, axis=0)  # enough work for the pool's threads
    on_pool = estimator.set_params(n_jobs=2).predict(many)
    assert np.unique(on_pool).size == 1
    for n_jobs in (1, 2):
        estimator.set_params(n_jobs=n_jobs)
        for _ in range(200):
            assert estimator.predict(row).tobytes() == on_pool[:1].tobytes(), n_jobs


def test_the_predictor_checks_what_it_is_built_from():
    estimator = _fit("multiclass", np.float64)
    with pytest.raises(ValueError, match="params has 3 values"):
        _core.Predictor(estimator._config, np.zeros(3), "output")
    with pytest.raises(ValueError, match="unknown finish"):
        _core.Predictor(estimator._config, estimator._params, "softer")
    with pytest.raises(TypeError):
        _core.Predictor(estimator._config, estimator._params.astype(np.int64), "output")


def test_probability_methods_exist_exactly_as_scikit_learns_available_if_says():
    from sklearn.utils.metaestimators import available_if

    from fnn._classifier import _gives_probabilities

    class Reference:
        def __init__(self, loss):
            self.loss = loss

        @available_if(_gives_probabilities)
        def predict_proba(self, X):
            return X

    for loss in ("log_loss", "hinge", "squared_error"):
        ours, theirs = FNNClassifier(loss=loss), Reference(loss)
        assert (
            hasattr(ours, "predict_proba")
            is hasattr(theirs, "predict_proba")
            is (loss == "log_loss")
        )
        assert hasattr(ours, "predict_log_proba") is (loss == "log_loss")
        if loss != "log_loss":
            with pytest.raises(AttributeError) as error:
                ours.predict_proba  # noqa: B018 - the access is what raises
            assert str(error.value) == "This 'FNNClassifier' has no attribute 'predict_proba'"
            assert "probability estimates need loss='log_loss'" in str(error.value.__cause__)
    # On the class: the documented method, for help() and the API docs.
    assert "Class probabilities" in FNNClassifier.predict_proba.__doc__
    assert FNNClassifier.predict_proba.__name__ == "predict_proba"
