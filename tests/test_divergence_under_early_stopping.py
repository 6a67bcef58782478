"""A fit whose loss stops being finite: with early stopping it keeps the
model early stopping would have kept, and warns; without, it raises with
scikit-learn's message and leaves the estimator as it was."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold

from fnn import FNNClassifier, FNNRegressor

X, Y = load_iris(return_X_y=True)
SKLEARN_WORDS = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)
#: Diverges at epoch 31 of 40, after its best validation score at epoch 19.
DIVERGING = dict(
    hidden_layer_sizes=(100,), activation="identity", solver="sgd", learning_rate_init=0.008,
    max_iter=40, early_stopping=True, n_iter_no_change=50, random_state=0,
)  # fmt: skip


def _fit(cls, target, **params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = cls(**{**DIVERGING, **params}).fit(X, target)
    return est, [w for w in caught if "diverged at epoch" in str(w.message)]


@pytest.mark.parametrize("engine", ["rust", "numpy"])
def test_it_keeps_the_best_epoch_exactly_and_warns(engine):
    reg, warned = _fit(FNNRegressor, Y, engine=engine)
    assert len(warned) == 1 and issubclass(warned[0].category, ConvergenceWarning)
    scores = reg.validation_scores_
    assert np.isnan(scores[-1]) and np.isnan(reg.loss_curve_[-1])
    assert len(scores) == len(reg.loss_curve_) == reg.n_iter_ < DIVERGING["max_iter"]
    best = int(np.nanargmax(scores)) + 1
    assert 1 < best < reg.n_iter_ - 1  # the kept epoch is neither the first nor the last
    assert f"keeps the model of epoch {best}, the best" in str(warned[0].message)
    assert reg.best_validation_score_ == np.nanmax(scores)
    # Deterministic training: the kept model is that of a fit that ends there.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        short = FNNRegressor(**{**DIVERGING, "max_iter": best, "engine": engine}).fit(X, Y)
    for kept, expected in zip(reg.coefs_ + reg.intercepts_, short.coefs_ + short.intercepts_):
        np.testing.assert_array_equal(kept, expected)
    assert np.isfinite(reg.predict(X)).all()


def test_without_restoring_it_keeps_the_last_finite_epoch():
    reg, warned = _fit(FNNRegressor, Y, restore_best_weights=False)
    last_finite = reg.n_iter_ - 1
    assert f"keeps the model of epoch {last_finite}." in str(warned[0].message)
    params = {**DIVERGING, "max_iter": last_finite, "restore_best_weights": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        short = FNNRegressor(**params).fit(X, Y)
    np.testing.assert_array_equal(reg.coefs_[0], short.coefs_[0])


def test_a_diverging_candidate_scores_badly_instead_of_failing_the_search():
    grid = {"learning_rate_init": [1e-3, 0.5]}
    model = FNNRegressor(**{**DIVERGING, "learning_rate_init": 1e-3})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        folds = KFold(3, shuffle=True, random_state=0)
        search = GridSearchCV(model, grid, cv=folds, error_score="raise").fit(X, Y)
    ranks = dict(
        zip(search.cv_results_["param_learning_rate_init"], search.cv_results_["rank_test_score"])
    )
    assert ranks == {1e-3: 1, 0.5: 2}
    assert search.best_params_ == {"learning_rate_init": 1e-3}


@pytest.mark.parametrize("cls", [FNNClassifier, FNNRegressor])
def test_without_early_stopping_it_raises_sklearns_message(cls):
    est = cls(**{**DIVERGING, "early_stopping": False})
    with pytest.raises(ValueError, match="^" + re.escape(SKLEARN_WORDS)) as error:
        est.fit(X * 1e200, Y)
    assert "training diverged" in str(error.value)
    assert not hasattr(est, "n_iter_")
