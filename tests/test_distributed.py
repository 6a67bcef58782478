"""Hyper-parameter search spread over worker processes with joblib's dask and Ray backends.

The search sends clones of the pipeline to the workers (pickled) and gets the
scores back; the results must be exactly those of the sequential run, since
fnn's numbers do not depend on the thread count. Each worker gives fnn one
thread: dask's nanny and Ray start workers with ``OMP_NUM_THREADS=1`` (one
thread per task slot), which fnn's thread resolution reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import joblib
import numpy as np
import pytest
from readme_blocks import readme_block
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import fnn
from fnn import FNNClassifier

distributed = pytest.importorskip(
    "dask.distributed", reason="dask.distributed is not installed (pip install 'fnn[dask]')"
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = {"net__hidden_layer_sizes": [(32,), (64,)], "net__alpha": [1e-4, 1e-2]}
# The variables fnn's thread resolution reads; the runner's own values must not
# reach the workers, or they would decide the workers' thread counts instead.
THREAD_VARIABLES = ("RAYON_NUM_THREADS", "OMP_NUM_THREADS")


def _search():
    net = FNNClassifier(max_iter=20, learning_rate_init=1e-2, random_state=0)
    pipeline = Pipeline([("scale", StandardScaler()), ("net", net)])
    scoring = {
        "accuracy": "accuracy",
        # Reports how many threads fnn trained this split's model with. A
        # lambda, so that it travels to the workers by value (cloudpickle).
        "threads": lambda model, X, y: model[-1]._config.threads,
    }
    return GridSearchCV(pipeline, GRID, cv=3, scoring=scoring, refit="accuracy")


def _same_results(got, expected):
    """Everything in two cv_results_ but the timings and the thread counts."""
    keys = {k for k in expected if not k.endswith("_time") and not k.endswith("_threads")}
    assert keys <= set(got)
    for key in sorted(keys):
        if key.startswith("param"):
            assert list(got[key]) == list(expected[key]), key
        else:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


@pytest.fixture(scope="module")
def sequential(digits):
    """The search run in this process, one fit after another, and its time."""
    start = time.perf_counter()
    search = _search().fit(*digits)
    return search, time.perf_counter() - start


@pytest.fixture(scope="module")
def dask_client():
    """A client of 2 local worker processes with 1 thread each."""
    with pytest.MonkeyPatch.context() as patch:
        for name in THREAD_VARIABLES:
            patch.delenv(name, raising=False)
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_grid_search_gives_the_sequential_results_with_one_thread_per_worker(
    digits, sequential, dask_client
):
    local, local_seconds = sequential
    search = _search()
    start = time.perf_counter()
    with joblib.parallel_backend("dask"):
        search.fit(*digits)
    seconds = time.perf_counter() - start
    print(
        f"\ngrid search, {len(search.cv_results_['params'])} candidates x 3 folds: "
        f"sequential {local_seconds:.2f} s, dask 2 workers x 1 thread {seconds:.2f} s"
    )
    _same_results(search.cv_results_, local.cv_results_)
    assert search.best_params_ == local.best_params_
    assert search.best_score_ > 0.9
    # Every fit in the workers ran on one thread; in this process, fnn's default.
    assert (search.cv_results_["split0_test_threads"] == 1).all()
    assert (search.cv_results_["mean_test_threads"] == 1).all()
    assert (local.cv_results_["mean_test_threads"] == fnn.resolve_threads(None)).all()
    per_worker = dask_client.run(
        lambda: (os.environ.get("OMP_NUM_THREADS"), fnn.resolve_threads(None))
    )
    assert sorted(per_worker.values()) == [("1", 1), ("1", 1)]


def test_starting_a_local_cluster_leaves_this_process_thread_count_alone(dask_client):
    # dask's nanny set OMP_NUM_THREADS=1 here to pass it on to the workers it
    # spawned; fnn reads the variable when imported, as OpenMP does, so the
    # fits in this process keep the count fnn started with.
    assert os.environ.get("OMP_NUM_THREADS") == "1"
    code = "import fnn; print(fnn.resolve_threads(None))"
    clean = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    fresh = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True)
    assert fnn.resolve_threads(None) == int(fresh.stdout)


FORK_CHILD = """
import os, fnn
before = fnn.resolve_threads(None)
os.environ["OMP_NUM_THREADS"] = "1"
after = fnn.resolve_threads(None)
read, write = os.pipe()
if os.fork() == 0:
    os.write(write, str(fnn.resolve_threads(None)).encode())
    os._exit(0)
os.wait()
print(before, after, os.read(read, 16).decode())
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_thread_variables_count_as_at_import_and_are_read_again_after_fork():
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env["OMP_NUM_THREADS"] = "3"
    out = subprocess.run([sys.executable, "-c", FORK_CHILD], env=env, capture_output=True)
    assert out.returncode == 0, out.stderr
    # A forked child (a dask worker under the 'fork' method) sees the new value.
    assert out.stdout.split() == [b"3", b"3", b"1"]


def test_fitted_models_travel_to_and_from_dask_workers(digits, dask_client):
    X, y = digits
    pipeline = clone(_search().estimator)
    here = clone(pipeline).fit(X, y)
    # Fitted in a worker, pickled back to this process.
    there = dask_client.submit(clone(pipeline).fit, X, y, pure=False).result()
    assert there[-1]._config.threads == 1
    np.testing.assert_array_equal(there.predict_proba(X), here.predict_proba(X))
    # Fitted here, pickled to a worker that predicts with it.
    remote_proba = dask_client.submit(here.predict_proba, X, pure=False).result()
    np.testing.assert_array_equal(remote_proba, here.predict_proba(X))


def test_dask_map_blocks_scores_like_predict_on_the_whole_array(digits, dask_client):
    import dask.array as da

    X, y = digits
    model = FNNClassifier(hidden_layer_sizes=(32,), max_iter=30, random_state=0).fit(X / 16, y)
    rows = da.from_array(np.tile(X / 16, (5, 1)), chunks=(1000, 64))
    labels = rows.map_blocks(model.predict, drop_axis=1, dtype=model.classes_.dtype)
    proba = rows.map_blocks(model.predict_proba, chunks=(rows.chunks[0], (10,)), dtype=float)
    got_labels, got_proba = da.compute(labels, proba)
    assert rows.numblocks == (9, 1)  # 8985 rows in 9 tasks on the 2 workers
    whole = rows.compute()
    np.testing.assert_array_equal(got_labels, model.predict(whole))
    np.testing.assert_array_equal(got_proba, model.predict_proba(whole))


def test_readme_dask_scoring_example_runs_as_written(tmp_path):
    example = readme_block("dask-scoring-example")
    script = tmp_path / "score.py"
    script.write_text(example)
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-4000:]
    # "[counts of the ten classes] 200000 <mean top probability>"
    counts, total, confidence = (
        out.stdout.strip().rsplit("]", 1)[0],
        *out.stdout.split("]")[1].split(),
    )
    assert sum(int(c) for c in counts.strip("[ ").split()) == int(total) == 200_000
    assert 0.1 < float(confidence) <= 1.0


#: Ray on loopback only, and no usage report sent anywhere: Ray reads these
#: when imported and passes them on to the processes it starts.
RAY_LOCAL_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def test_ray_grid_search_gives_the_sequential_results_with_one_thread_per_worker(
    digits, sequential
):
    local, _ = sequential
    search = _search()
    with pytest.MonkeyPatch.context() as patch:
        for name in THREAD_VARIABLES:
            patch.delenv(name, raising=False)
        for name, value in RAY_LOCAL_ONLY.items():
            patch.setenv(name, value)
        ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'fnn[ray]')")
        from ray.util.joblib import register_ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            # Every Ray process serves on the loopback address, nowhere else.
            assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
            register_ray()
            with joblib.parallel_backend("ray"):
                search.fit(*digits)
        finally:
            ray.shutdown()
    _same_results(search.cv_results_, local.cv_results_)
    assert search.best_params_ == local.best_params_
    # Ray starts its workers with OMP_NUM_THREADS=1 unless told otherwise.
    assert (search.cv_results_["mean_test_threads"] == 1).all()
