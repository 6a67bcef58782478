"""The defaults workloads: what a scikit-learn user gets by changing one import.

Every estimator parameter keeps its default (``hidden_layer_sizes=(100,)``,
``batch_size=min(200, n)``, Adam, ``max_iter=200`` with scikit-learn's
stopping rule, fnn's ``n_jobs`` = all cores) except ``random_state=0``, so
that every repetition trains the same epochs. The data are float64, as
scikit-learn loads and makes them, and the estimator sits in
``make_pipeline(StandardScaler(), ...)``.

The four loaded data sets are split by ``train_test_split(random_state=0)``
(3/4 for training: 1347 of 1797 digits, 426 of 569, 133 of 178, 331 of 442);
their score is on the held-out quarter. The two generated sets are fitted
whole and scored on their training rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from fnn import FNNClassifier, FNNRegressor

#: Rows of the two generated sets: the full run, and ``--quick``.
GENERATED_ROWS = {
    "make_classification": {"full": 50_000, "quick": 2_000},
    "make_regression": {"full": 20_000, "quick": 1_000},
}

LOADERS = {
    "digits": datasets.load_digits,
    "breast_cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "diabetes": datasets.load_diabetes,
}

#: The data sets in table order (workload ``defaults-<name>``).
NAMES = (*LOADERS, *GENERATED_ROWS)

REGRESSION = ("diabetes", "make_regression")


@dataclass
class DefaultsData:
    """One data set of the family: what to fit on and what to score on."""

    name: str
    regression: bool
    X: np.ndarray
    y: np.ndarray
    X_score: np.ndarray
    y_score: np.ndarray
    #: How the table names it, e.g. ``digits 1347×64``.
    label: str


def load(name: str, size: str = "full") -> DefaultsData:
    """The data set ``name`` (see `NAMES`); ``size`` is "full" or "quick"
    (the quick run makes the generated sets 20–25× smaller)."""
    regression = name in REGRESSION
    if name in LOADERS:
        X, y = LOADERS[name](return_X_y=True)
        X, X_score, y, y_score = train_test_split(X, y, random_state=0)
        return DefaultsData(
            name, regression, X, y, X_score, y_score, f"{name} {X.shape[0]}×{X.shape[1]}"
        )
    rows = GENERATED_ROWS[name][size]
    if name == "make_classification":
        settings = "n_informative=40, n_classes=5"
        X, y = datasets.make_classification(
            rows, 100, n_informative=40, n_classes=5, random_state=0
        )
    else:
        settings = "n_informative=30, noise=5"
        X, y = datasets.make_regression(rows, 50, n_informative=30, noise=5, random_state=0)
    label = f"{name}({rows}, {X.shape[1]}, {settings})"
    return DefaultsData(name, regression, X, y, X, y, label)


def make_pipeline_for(system: str, regression: bool) -> Pipeline:
    """``make_pipeline(StandardScaler(), net)`` with ``system``'s estimator at
    its defaults: ``fnn``, ``fnn-1thread`` (``n_jobs=1``) or ``sklearn``."""
    if system == "sklearn":
        net = (MLPRegressor if regression else MLPClassifier)(random_state=0)
    elif system in ("fnn", "fnn-1thread"):
        n_jobs = 1 if system == "fnn-1thread" else None
        net = (FNNRegressor if regression else FNNClassifier)(random_state=0, n_jobs=n_jobs)
    else:
        raise ValueError(f"the defaults workloads run fnn, fnn-1thread and sklearn, not {system!r}")
    return make_pipeline(StandardScaler(), net)
