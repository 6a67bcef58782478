"""A ``y`` of one class: fitted as ``MLPClassifier`` fits it, and predicted
with certainty (that class, probability 1)."""

from __future__ import annotations

import numpy as np
import pytest

from fnn import FNNClassifier, load, save

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 4))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("label", [1.0, "spam", 7])
def test_one_class_is_fitted_and_always_predicted_with_certainty(label, dtype):
    y = np.array([label] * len(X))
    clf = FNNClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0)
    clf.fit(X.astype(dtype), y)
    assert clf.classes_.tolist() == [label] and clf.n_outputs_ == 1
    assert clf.out_activation_ == "logistic" and len(clf.loss_curve_) == 20
    X_new = RNG.normal(size=(6, 4)).astype(dtype)
    np.testing.assert_array_equal(clf.predict(X_new), [label] * 6)
    proba = clf.predict_proba(X_new)
    assert proba.shape == (6, 1) and proba.dtype == dtype
    np.testing.assert_array_equal(proba, 1.0)
    np.testing.assert_array_equal(clf.predict_log_proba(X_new), 0.0)
    assert clf.decision_function(X_new).shape == (6,)
    assert clf.score(X_new, [label] * 6) == 1.0


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge", "squared_error"])
def test_one_class_under_every_loss(loss):
    clf = FNNClassifier(loss=loss, hidden_layer_sizes=(5,), max_iter=30, random_state=0)
    clf.fit(X, np.zeros(len(X), dtype=int))
    np.testing.assert_array_equal(clf.predict(X), 0)
    # The one class is trained as the positive target, so the scores rise.
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_one_class_with_early_stopping_partial_fit_and_persistence(tmp_path):
    y = np.full(len(X), "only")
    stopped = FNNClassifier(early_stopping=True, max_iter=15, random_state=0).fit(X, y)
    assert stopped.validation_scores_[-1] == 1.0
    incremental = FNNClassifier(random_state=0)
    for _ in range(3):
        incremental.partial_fit(X, y, classes=["only"])
    with pytest.raises(ValueError, match="not among the classes"):
        incremental.partial_fit(X, np.full(len(X), "other"))
    save(incremental, tmp_path / "one.fnn")
    loaded = load(tmp_path / "one.fnn")
    np.testing.assert_array_equal(loaded.predict(X), y)
    np.testing.assert_array_equal(loaded.decision_function(X), incremental.decision_function(X))
