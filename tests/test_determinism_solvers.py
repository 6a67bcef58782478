"""Bit-identical weights for the same seed across 1, 2 and 3 threads, for every
solver, through the estimators, with dropout and shuffling on.

The net is large enough for the multi-threaded code paths: a 512-row batch
on (200, 256, 128, 10) is ~44 M multiply-adds, past the engine's
``PARALLEL_MIN_BATCH_WORK`` (4 M). test_determinism.py holds the engine-level
(Adam) version of this.
"""

from __future__ import annotations

import numpy as np
import pytest

from fnn import FNNClassifier, FNNRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: rust/parallel.rs: below this many multiply-adds per batch, training is serial.
PARALLEL_MIN_BATCH_WORK = 4_000_000
HIDDEN = (256, 128)
BATCH = 512


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1100, 200))  # two full batches and a short one
    labels = np.argmax(X[:, :10] + rng.normal(size=(1100, 10)), axis=1)
    return X, labels


def n_params(sizes):
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def weights(est) -> bytes:
    return b"".join(a.tobytes() for a in est.coefs_ + est.intercepts_)


def fit(cls, X, y, n_jobs, **settings):
    est = cls(hidden_layer_sizes=HIDDEN, batch_size=BATCH, random_state=7, n_jobs=n_jobs)
    return est.set_params(**settings).fit(X, y)


def test_the_net_is_large_enough_for_the_parallel_paths():
    assert BATCH * n_params((200, *HIDDEN, 10)) > 10 * PARALLEL_MIN_BATCH_WORK


@pytest.mark.parametrize("solver", ["sgd", "rmsprop", "adam", "adamw"])
def test_every_stochastic_solver_gives_identical_weights_on_1_2_and_3_threads(data, solver):
    X, y = data
    settings = dict(solver=solver, dropout=(0.3, 0.1), shuffle=True, max_iter=2)
    runs = {t: fit(FNNClassifier, X, y, t, **settings) for t in (1, 2, 3)}
    assert [runs[t]._config.threads for t in (1, 2, 3)] == [1, 2, 3]
    assert runs[1]._config.dropout == (0.3, 0.1) and runs[1]._config.shuffle
    assert all(np.isfinite(a).all() for a in runs[1].coefs_)
    for t in (2, 3):
        assert weights(runs[t]) == weights(runs[1]), f"{solver}: weights differ on {t} threads"
        assert runs[t].loss_curve_ == runs[1].loss_curve_
        assert runs[t]._train_state.slots.tobytes() == runs[1]._train_state.slots.tobytes()
    # The seed matters: another one trains another model.
    other = fit(FNNClassifier, X, y, 2, random_state=8, **settings)
    assert weights(other) != weights(runs[1])


def test_lbfgs_gives_identical_weights_on_1_2_and_3_threads(data):
    X, y = data
    runs = [fit(FNNClassifier, X[:300], y[:300], t, solver="lbfgs", max_iter=5) for t in (1, 2, 3)]
    assert runs[0].n_iter_ == 5
    assert weights(runs[1]) == weights(runs[0]) == weights(runs[2])


def test_float32_regression_with_early_stopping_is_identical_across_threads(data):
    X, y = data
    X32 = X.astype(np.float32)
    Y = np.column_stack([X32[:, 0] - X32[:, 1], X32[:, 2]])
    settings = dict(solver="adam", dropout=0.2, early_stopping=True, max_iter=2)
    runs = [fit(FNNRegressor, X32, Y, t, **settings) for t in (1, 2, 3)]
    assert runs[0].coefs_[0].dtype == np.float32
    assert runs[0].validation_scores_ == runs[1].validation_scores_ == runs[2].validation_scores_
    assert weights(runs[1]) == weights(runs[0]) == weights(runs[2])


def test_thousands_of_requested_threads_run_capped_and_give_the_same_weights(data):
    X, y = data
    one = fit(FNNClassifier, X, y, 1, max_iter=1)
    many = fit(FNNClassifier, X, y, 3000, max_iter=1)  # used to take minutes per batch
    assert weights(many) == weights(one)
    np.testing.assert_array_equal(many.predict_proba(X), one.predict_proba(X))
