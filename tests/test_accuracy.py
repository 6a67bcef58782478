"""Held-out accuracy against scikit-learn's MLPClassifier with the same settings.

Both train the same network (Glorot-uniform start, Adam, the same stopping
rule) from different random draws, so over 5 seeds their mean accuracies must
agree; fnn may not be worse by more than one percentage point.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fnn import FNNClassifier

SEEDS = range(5)
DATASETS = {
    "iris": (load_iris, dict(hidden_layer_sizes=(100,), max_iter=500)),
    "digits": (load_digits, dict(hidden_layer_sizes=(100,), max_iter=200)),
}


def mean_held_out_accuracy(classifier, load, settings):
    X, y = load(return_X_y=True)
    scores = []
    for seed in SEEDS:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, random_state=seed, stratify=y
        )
        model = make_pipeline(StandardScaler(), classifier(random_state=seed, **settings))
        scores.append(model.fit(X_train, y_train).score(X_test, y_test))
    return float(np.mean(scores))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", DATASETS)
def test_accuracy_matches_mlpclassifier(name):
    load, settings = DATASETS[name]
    ours = mean_held_out_accuracy(FNNClassifier, load, settings)
    theirs = mean_held_out_accuracy(MLPClassifier, load, settings)
    print(f"{name}: fnn {ours:.4f}, MLPClassifier {theirs:.4f}")
    assert ours >= theirs - 0.01
