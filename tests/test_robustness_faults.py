"""Faults around the estimators: Ctrl-C, threads, fork, and memory over time.

The engine-level Ctrl-C test lives in test_gil_and_signals.py; here the
interrupt goes through `fit`, which keeps the weights reached and raises
`KeyboardInterrupt` again.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from fnn import FNNClassifier, FNNRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def rss_mb() -> float:
    """This process's resident memory in MiB (VmRSS of /proc/self/status)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def blobs(n=400, d=20, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3, size=(classes, d))
    y = rng.integers(0, classes, n)
    return centers[y] + rng.normal(size=(n, d)), y


def weights_of(est) -> bytes:
    return b"".join(a.tobytes() for a in est.coefs_ + est.intercepts_)


# ---------------------------------------------------------------------------
# Ctrl-C through fit

CHILD = textwrap.dedent(
    """
    import math, sys, time, warnings
    import numpy as np
    from fnn import FNNClassifier

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 64))
    y = rng.integers(0, 10, 3000)
    settings = dict(hidden_layer_sizes=(256, 256), solver={solver!r}, random_state=0,
                    n_iter_no_change=np.inf, max_fun=10**9)
    FNNClassifier(max_iter=1, **settings).fit(X[:100], y[:100])  # imports, thread pools
    clf = FNNClassifier(max_iter=100_000, **settings)
    print("started", flush=True)
    try:
        clf.fit(X, y)
        print("finished", flush=True)
    except KeyboardInterrupt as interrupt:
        print("interrupted", time.monotonic(), flush=True)
        print(str(interrupt), flush=True)
    consistent = (
        clf.n_iter_ == len(clf.loss_curve_) >= 1
        and all(math.isfinite(v) for v in clf.loss_curve_)
        and clf.t_ >= clf.n_iter_ * (len(X) if {solver!r} == "lbfgs" else 1)
        and np.isfinite(clf.predict_proba(X)).all()
    )
    print("consistent", consistent, flush=True)
    again = FNNClassifier(max_iter=2, **settings).fit(X[:500], y[:500])
    print("refit", again.n_iter_, flush=True)
    """
)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_ctrl_c_in_fit_raises_within_a_second_keeps_a_usable_model_and_refits(solver):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(solver=solver)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "started"
        time.sleep(1.0)  # well inside the training loop
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        word, when = child.stdout.readline().split()
        assert word == "interrupted"
        assert float(when) - sent < 1.0
        assert "keeps the weights reached" in child.stdout.readline()
        assert child.stdout.readline().split() == ["consistent", "True"]
        assert child.stdout.readline().split() == ["refit", "2"]
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()


# ---------------------------------------------------------------------------
# Threads


def test_two_threads_fit_two_estimators_at_once_and_both_succeed():
    X, y = blobs(n=3000, d=64)
    # ~3 s alone: long enough that the short fit lands inside it even on a busy machine.
    long_fit = dict(hidden_layer_sizes=(256, 128), max_iter=100, n_iter_no_change=np.inf)
    short_fit = dict(hidden_layer_sizes=(16,), max_iter=3)
    a = FNNClassifier(random_state=1, n_jobs=1, **long_fit)
    b = FNNClassifier(random_state=2, n_jobs=1, **short_fit)
    spans = {}

    def fit(name, est):
        start = time.monotonic()
        est.fit(X, y)
        spans[name] = (start, time.monotonic())

    long_thread = threading.Thread(target=fit, args=("a", a))
    long_thread.start()
    time.sleep(0.3)  # a is inside Rust now
    fit("b", b)  # on this thread, while a trains
    long_thread.join()
    # b ran from start to end inside a's fit: a does not hold the GIL while it trains.
    assert spans["a"][0] < spans["b"][0] < spans["b"][1] < spans["a"][1]
    assert a.n_iter_ == 100 and all(np.isfinite(w).all() for w in a.coefs_)
    serial_b = FNNClassifier(random_state=2, n_jobs=1, **short_fit).fit(X, y)
    assert weights_of(b) == weights_of(serial_b)  # the overlap changed nothing


def test_predict_while_another_thread_refits_the_same_estimator_never_fails():
    X, y = blobs()
    clf = FNNClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=0).fit(X, y)
    stop = threading.Event()
    errors = []

    def refit():
        try:
            for i in range(30):
                clf.set_params(random_state=i).fit(X, y)
                clf.partial_fit(X, y)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            stop.set()

    worker = threading.Thread(target=refit)
    worker.start()
    calls = 0
    while not stop.is_set():
        proba = clf.predict_proba(X)
        labels = clf.predict(X)
        assert proba.shape == (len(X), 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert set(np.unique(labels)) <= {0, 1, 2}
        calls += 1
    worker.join()
    assert errors == [] and calls > 0


def test_eight_threads_predicting_agree_with_a_serial_run():
    X, y = blobs(n=2000, d=64, classes=10)
    clf = FNNClassifier(hidden_layer_sizes=(128, 64), max_iter=3, random_state=0).fit(X, y)
    reg = FNNRegressor(hidden_layer_sizes=(32,), max_iter=3, random_state=0).fit(X, X[:, :2])
    chunks = [X[i::7] for i in range(7)] + [X]
    serial = [(clf.predict_proba(c).tobytes(), reg.predict(c).tobytes()) for c in chunks]

    def hundred_calls(worker):
        results = []
        for call in range(100):
            c = (worker + call) % len(chunks)
            results.append(
                (c, clf.predict_proba(chunks[c]).tobytes(), reg.predict(chunks[c]).tobytes())
            )
        return results

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [r for rs in pool.map(hundred_calls, range(8)) for r in rs]
    assert len(outcomes) == 800
    for c, proba, pred in outcomes:
        assert (proba, pred) == serial[c]


# ---------------------------------------------------------------------------
# fork


def _fit_in_child(queue, X, y, settings):
    est = FNNClassifier(**settings).fit(X, y)
    queue.put(weights_of(est))


@pytest.mark.parametrize(
    "settings",
    [
        dict(hidden_layer_sizes=(16,), max_iter=3, n_jobs=2, random_state=0),
        # 512-row batches on this net are past the parallel threshold: a thread pool runs.
        dict(hidden_layer_sizes=(256, 128), batch_size=512, max_iter=2, n_jobs=2, random_state=0),
    ],
    ids=["serial-path", "thread-pool"],
)
def test_fit_in_a_forked_child_after_a_fit_in_the_parent_completes(settings):
    X, y = blobs(n=2048, d=200, classes=10)
    parent = FNNClassifier(**settings).fit(X, y)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, Python >= 3.12
        child = context.Process(target=_fit_in_child, args=(queue, X, y, settings))
        child.start()
    try:
        weights = queue.get(timeout=60)
        child.join(timeout=60)
    finally:
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    assert weights == weights_of(parent)


# ---------------------------------------------------------------------------
# Memory


def test_a_thousand_fit_predict_cycles_grow_memory_by_less_than_10_mb():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6))
    y = (X[:, 0] > 0).astype(int)
    solvers = ["adam", "sgd", "rmsprop", "adamw", "lbfgs"]

    def cycle(i):
        solver = solvers[i % len(solvers)]
        clf = FNNClassifier(hidden_layer_sizes=(8,), solver=solver, max_iter=2, random_state=i)
        clf.fit(X, y)
        clf.predict_proba(X)
        if solver != "lbfgs":
            clf.partial_fit(X, y)
        reg = FNNRegressor(hidden_layer_sizes=(8,), solver=solver, max_iter=2, random_state=i)
        return reg.fit(X, X[:, 0]).predict(X)

    for i in range(100):  # warm-up: caches, allocator pools
        cycle(i)
    before = rss_mb()
    for i in range(1000):
        assert np.isfinite(cycle(i)).all()
    assert rss_mb() - before < 10


def test_a_thousand_epochs_on_digits_keep_the_loss_finite_and_memory_flat():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    FNNClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=0).fit(X, y)  # warm-up
    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append(rss_mb())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    before = rss_mb()
    sampler.start()
    try:
        clf = FNNClassifier(
            hidden_layer_sizes=(32,), max_iter=1000, n_iter_no_change=np.inf, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
    finally:
        done.set()
        sampler.join()
    assert clf.n_iter_ == 1000
    assert np.isfinite(clf.loss_curve_).all() and clf.loss_curve_[-1] < 0.01
    assert len(samples) > 10  # sampled during training: the GIL was free
    assert max(samples) - before < 10 and rss_mb() - before < 10


def test_the_rss_helper_reads_this_process():
    # A 50 MB array that is touched shows up in VmRSS: the memory tests measure something.
    before = rss_mb()
    block = np.ones(50 * 2**20 // 8)
    assert rss_mb() - before > 40
    del block
    assert os.getpid() > 0


def test_ctrl_c_between_an_lbfgs_report_and_its_iterate_keeps_them_in_step(monkeypatch):
    # Ctrl-C landing inside the per-iteration callback, right after the third
    # iteration was reported: the model keeps iteration 2 and a record of 2.
    from fnn import _progress

    report = _progress.EpochReporter.__call__

    def interrupted_after_reporting(self, epoch, *args):
        answer = report(self, epoch, *args)
        if epoch == 3:
            raise KeyboardInterrupt
        return answer

    monkeypatch.setattr(_progress.EpochReporter, "__call__", interrupted_after_reporting)
    X, y = blobs(n=200, d=8)
    clf = FNNClassifier(solver="lbfgs", hidden_layer_sizes=(16,), max_iter=50, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert clf.n_iter_ == len(clf.loss_curve_) == 2
    monkeypatch.undo()
    two = FNNClassifier(solver="lbfgs", hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    two.fit(X, y)
    assert weights_of(clf) == weights_of(two)
    assert clf.loss_curve_ == two.loss_curve_
