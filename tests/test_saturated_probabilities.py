"""Predictions agree with the probabilities, also where those saturate.

Probabilities round: several labels of a confident multi-label model are
exactly 1.0, a near-zero logit gives exactly 0.5, far rows underflow to 0.
For every kind of model and both dtypes, `predict` is the class of the
largest probability (the threshold 0.5 for multi-label), and
`predict_log_proba` is ``log(predict_proba)`` wherever that is positive.
"""

from __future__ import annotations

import numpy as np
import pytest

from fnn import FNNClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 5))
TARGETS = {
    "binary": np.arange(60) % 2,
    "multiclass": np.arange(60) % 4,
    "multilabel": (X[:, :3] > 0).astype(int),
    "one_class": np.zeros(60, dtype=int),
}


def _fitted(kind, dtype):
    clf = FNNClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    return clf.fit(X.astype(dtype), TARGETS[kind])


def _assert_consistent(clf, X):
    proba = clf.predict_proba(X)
    log_proba = clf.predict_log_proba(X)
    predicted = clf.predict(X)
    if predicted.ndim == 2:  # multi-label: the threshold rule
        expected = (proba > 0.5).astype(int)
    else:
        expected = clf.classes_[np.argmax(proba, axis=1)]
    np.testing.assert_array_equal(predicted, expected)
    positive = proba > 0
    np.testing.assert_array_equal(log_proba[positive], np.log(proba[positive]))
    assert np.isfinite(log_proba).all()
    assert (log_proba[~positive] < np.log(np.finfo(proba.dtype).smallest_subnormal)).all()
    np.testing.assert_array_equal(np.argmax(log_proba, axis=1), np.argmax(proba, axis=1))
    return proba


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", list(TARGETS))
def test_saturated_probabilities_keep_predict_and_log_proba_consistent(kind, dtype):
    clf = _fitted(kind, dtype)
    _assert_consistent(clf, X.astype(dtype))
    # Scaling the output layer up drives the probabilities to exactly 0 and 1.
    clf.coefs_ = [*clf.coefs_[:-1], clf.coefs_[-1] * 1e4]
    proba = _assert_consistent(clf, X.astype(dtype))
    if kind != "one_class":
        assert (proba == 1).any() and (proba == 0).any()
    if kind == "multilabel":
        assert ((proba == 1).sum(axis=1) > 1).any()  # ties at 1.0 in a row


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["binary", "multilabel"])
def test_a_logit_a_hair_above_zero_is_a_probability_of_one_half(kind, dtype):
    clf = _fitted(kind, dtype)
    clf.coefs_ = [*clf.coefs_[:-1], np.zeros_like(clf.coefs_[-1])]
    clf.intercepts_ = [*clf.intercepts_[:-1], np.full_like(clf.intercepts_[-1], 1e-20)]
    assert (clf.decision_function(X.astype(dtype)) > 0).all()
    proba = _assert_consistent(clf, X.astype(dtype))
    np.testing.assert_array_equal(proba, 0.5)
    expected = 0 if kind == "multilabel" else clf.classes_[0]
    np.testing.assert_array_equal(clf.predict(X.astype(dtype)), expected)
