"""The validated fast paths into prediction (`fnn._plain_input`, `fnn._core.Predictor`).

Plain float arrays skip scikit-learn's `validate_data`; everything else, and
every bad value, must behave exactly as through the full validation: the
same outputs, the same errors, the same warnings.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from sklearn.exceptions import NotFittedError

import fnn._base
from fnn import FNNClassifier, FNNRegressor, _core
from fnn._plain_input import plain_float_rows

# Five epochs are plenty for comparing two paths to the same outputs.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X64 = RNG.normal(size=(40, 6))
Y_CLASSES = np.arange(40) % 3
Y_VALUES = X64[:, :2].sum(axis=1)


def _classifier(dtype):
    return FNNClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(
        X64.astype(dtype), Y_CLASSES
    )


def _regressor(dtype):
    return FNNRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(
        X64.astype(dtype), Y_VALUES
    )


@pytest.fixture
def full_validation(monkeypatch):
    """Within the test: every call takes the full validation path."""

    def always_validate():
        monkeypatch.setattr(fnn._base, "plain_float_rows", lambda *args: None)
        predictor_of = fnn._base.predictor_of
        # The model's Predictor still finishes the outputs, but takes no input itself.
        monkeypatch.setattr(
            fnn._base, "predictor_of", lambda *args: (predictor_of(*args)[0], False)
        )

    return always_validate


def _inputs(dtype):
    """The same rows as C-ordered, F-ordered and strided (non-contiguous) arrays."""
    rows = X64[:7].astype(dtype)
    wide = np.repeat(rows, 2, axis=1)
    return {
        "C": rows,
        "F": np.asfortranarray(rows),
        "strided": wide[:, ::2],
        "one row": rows[:1],
    }


def _outputs(estimator, X):
    if isinstance(estimator, FNNRegressor):
        return [estimator.predict(X)]
    return [
        estimator.predict(X),
        estimator.predict_proba(X),
        estimator.predict_log_proba(X),
        estimator.decision_function(X),
    ]


@pytest.mark.parametrize("make", [_classifier, _regressor])
@pytest.mark.parametrize("model_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
def test_fast_path_outputs_equal_the_fully_validated_ones(
    make, model_dtype, input_dtype, full_validation
):
    estimator = make(model_dtype)
    inputs = _inputs(input_dtype)
    for layout, X in inputs.items():
        assert plain_float_rows(estimator, X, estimator._params.dtype) is not None, layout
    fast = {layout: _outputs(estimator, X) for layout, X in inputs.items()}
    full_validation()
    for layout, X in inputs.items():
        slow = _outputs(estimator, X)
        for got, expected in zip(fast[layout], slow):
            assert got.dtype == expected.dtype, layout
            np.testing.assert_array_equal(got, expected, err_msg=layout)


def _outcome(call):
    """(error type and message or None, [(warning category, message)])."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call()
            error = None
        except Exception as e:  # noqa: BLE001 - the outcome is what is compared
            error = (type(e), str(e))
    return error, [(w.category, str(w.message)) for w in caught]


BAD_ROWS = {
    "nan": np.array([[np.nan, 0, 0, 0, 0, 0]]),
    "inf": np.array([[0, 0, -np.inf, 0, 0, 0]]),
    "float32 overflow": np.array([[1e300, 0, 0, 0, 0, 0]]),
    "wrong feature count": np.zeros((1, 5)),
    "no rows": np.zeros((0, 6)),
    "three dimensions": np.zeros((1, 6, 1)),
}


@pytest.mark.parametrize("bad", sorted(BAD_ROWS))
@pytest.mark.parametrize("model_dtype", [np.float32, np.float64])
def test_bad_rows_raise_and_warn_exactly_as_through_full_validation(
    bad, model_dtype, full_validation
):
    estimator = _classifier(model_dtype)
    X = BAD_ROWS[bad]
    fast = _outcome(lambda: estimator.predict(X))
    full_validation()
    slow = _outcome(lambda: estimator.predict(X))
    assert fast == slow
    if bad != "float32 overflow" or model_dtype == np.float32:
        assert fast[0] is not None and fast[0][0] is ValueError, fast


def test_nan_in_one_row_raises_scikit_learns_value_error():
    estimator = _classifier(np.float32)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        estimator.predict(np.full((1, 6), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="Input X contains infinity"):
        estimator.predict_proba(np.full((1, 6), np.inf))


def test_predicting_unfitted_raises_not_fitted():
    with pytest.raises(NotFittedError):
        FNNClassifier().predict(X64[:1])
    with pytest.raises(NotFittedError):
        FNNClassifier().predict_proba(X64[:1])
    with pytest.raises(NotFittedError):
        FNNRegressor().predict(X64[:1])


def test_feature_name_warnings_are_unchanged():
    columns = [f"f{i}" for i in range(6)]
    named = FNNClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(
        pd.DataFrame(X64, columns=columns), Y_CLASSES
    )
    assert plain_float_rows(named, X64[:1], named._params.dtype) is None
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = named.predict(X64[:3])
    unnamed = _classifier(np.float64)
    with pytest.warns(UserWarning, match="X has feature names"):
        from_frame = unnamed.predict(pd.DataFrame(X64[:3], columns=columns))
    np.testing.assert_array_equal(from_frame, unnamed.predict(X64[:3]))
    np.testing.assert_array_equal(from_array, named.predict(pd.DataFrame(X64[:3], columns=columns)))


@pytest.mark.parametrize(
    "X",
    [
        X64[:2].tolist(),
        X64[:2].astype(">f8"),
        X64[:2].astype(np.float16),
        X64[:2].astype(np.int64),
        np.ma.masked_array(X64[:2]),
        pd.DataFrame(X64[:2]),
    ],
    ids=["list", "big-endian", "float16", "int64", "ndarray subclass", "DataFrame"],
)
def test_other_inputs_take_the_full_validation_and_give_the_same_predictions(X):
    estimator = _classifier(np.float64)
    assert plain_float_rows(estimator, X, np.dtype(np.float64)) is None
    expected = estimator.predict_proba(np.asarray(X, dtype=np.float64))
    np.testing.assert_array_equal(estimator.predict_proba(X), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rust_probabilities_are_the_cores_softmax_of_the_logits_bit_for_bit(dtype):
    estimator = _classifier(dtype)
    X = RNG.normal(scale=30, size=(50, 6)).astype(dtype)  # large logits: the max shift matters
    logits = estimator.decision_function(X)
    expected = _core.activate("softmax", logits.reshape(-1), 3, 0.0).reshape(logits.shape)
    got = estimator.predict_proba(X)
    np.testing.assert_array_equal(got, expected)
    # The same distribution as scipy's, to the dtype's rounding.
    tolerance = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(got, softmax(logits, axis=1), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_engine_probabilities_are_scipys_softmax_of_the_logits_bit_for_bit(dtype):
    estimator = _classifier(dtype).set_params(engine="numpy")
    X = RNG.normal(scale=30, size=(50, 6)).astype(dtype)
    expected = softmax(estimator.decision_function(X), axis=1)
    np.testing.assert_array_equal(estimator.predict_proba(X), expected)
