"""FNNClassifier inside scikit-learn's model selection tools, on digits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from fnn import FNNClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def pipeline(**params):
    classifier = FNNClassifier(max_iter=30, random_state=0, **params)
    return Pipeline([("scale", StandardScaler()), ("net", classifier)])


def test_grid_search_over_layers_learning_rate_and_batch_size(digits):
    X, y = digits
    grid = {
        "net__hidden_layer_sizes": [(32,), (64, 32)],
        "net__learning_rate_init": [1e-3, 1e-2],
        "net__batch_size": [64, "auto"],
    }
    search = GridSearchCV(pipeline(), grid, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_score_ > 0.93
    # 30 epochs at 1e-3 underfit; the search must find that out.
    assert search.best_params_["net__learning_rate_init"] == 1e-2
    assert search.best_estimator_.score(X, y) > 0.98


def test_cross_val_score_on_digits(digits):
    X, y = digits
    scores = cross_val_score(pipeline(learning_rate_init=1e-2), X, y, cv=5)
    assert scores.shape == (5,)
    assert scores.mean() > 0.93
