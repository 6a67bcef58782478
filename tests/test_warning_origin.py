"""fnn's warnings name the line of the user's code that caused them.

They come from one helper (`fnn._warn.warn`) that walks out of fnn's frames
and scikit-learn's callback wrapper around `fit`, instead of each call site
counting its own depth: these tests fail when a warning points into fnn.
"""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import fnn._base
from fnn import FNNClassifier, FNNRegressor

# Only the warnings a test expects are looked at; fits also warn of max_iter.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
y = (X[:, 0] > 0).astype(int)


def next_line() -> int:
    """The caller's next line number."""
    return inspect.currentframe().f_back.f_lineno + 1


def assert_all_from(record, category, line):
    hits = [w for w in record if issubclass(w.category, category)]
    assert hits, f"no {category.__name__}"
    assert {(w.filename, w.lineno) for w in hits} == {(__file__, line)}


def test_max_iter_warning_names_the_fit_call():
    with pytest.warns(ConvergenceWarning) as record:
        line = next_line()
        FNNClassifier(hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(X, y)
    assert_all_from(record, ConvergenceWarning, line)


def test_batch_size_warning_names_the_fit_and_partial_fit_calls():
    with pytest.warns(UserWarning, match="batch_size=100") as record:
        line = next_line()
        FNNRegressor(batch_size=100, max_iter=2).fit(X, X[:, 0])
    assert_all_from(record, UserWarning, line)
    with pytest.warns(UserWarning, match="batch_size=100") as record:
        line = next_line()
        FNNClassifier(batch_size=100).partial_fit(X, y, classes=[0, 1])
    assert_all_from(record, UserWarning, line)


def test_lbfgs_warnings_name_the_fit_call():
    with pytest.warns(UserWarning, match="eval_set is ignored") as record:
        line = next_line()
        FNNClassifier(solver="lbfgs", max_iter=1).fit(X, y, eval_set=(X, y))
    assert_all_from(record, UserWarning, line)
    assert any("L-BFGS stopped before converging" in str(w.message) for w in record)


def test_unpickling_warning_names_the_loads_call(monkeypatch):
    blob = pickle.dumps(FNNClassifier(max_iter=50, random_state=0).fit(X, y))
    monkeypatch.setattr(fnn._base, "fnn_version", "0.0.0+other")
    with pytest.warns(UserWarning, match="made by fnn") as record:
        line = next_line()
        pickle.loads(blob)
    assert_all_from(record, UserWarning, line)
