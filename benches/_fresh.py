"""The workloads that need a fresh process for every run: the peak memory of
one mnist fit per system, and ``GridSearchCV(n_jobs=...)`` around fnn (wall
and CPU time, and the threads each joblib worker ends up with).

``compare.py`` calls `memory_workload` and `oversubscription_workload`; each
run is this file started with ``--child rss`` or ``--child oversubscription``,
whose last stdout line is its JSON report.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import _data
import _machine
import numpy as np
from _alternate import alternate, log
from _systems import make_estimator, set_threads
from _workloads import MNIST_HYPER, MNIST_SIZES


def _child(args: list[str], timeout: float = 900) -> dict:
    """Runs this file with ``args`` in a fresh interpreter; its last stdout line is JSON."""
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_workload(systems, scale, threads):
    """Peak RSS of each system's mnist fit, each in a fresh process."""
    log("memory: peak RSS of one mnist fit per system, each in a fresh process")
    rows = []
    for system in systems:
        report = _child(
            [
                "--child",
                "rss",
                "--system",
                system,
                "--threads",
                str(threads),
                "--rows",
                str(scale.mnist_rows),
            ]
        )
        data, fit = report["data_mib"], report["fit_peak_mib"]
        log(f"    {system}: data {data:.0f} MiB, fit peak +{fit:.1f} MiB")
        rows.append({"system": system, **report})
    return rows


def rss_child(system: str, threads: int, n_rows: int) -> dict:
    """In a fresh process: RSS of the data, then the peak RSS of one fit above it."""
    set_threads(system, threads)
    hyper = MNIST_HYPER
    # One fit on a few rows first, so the libraries' one-time set-up (thread
    # pools, lazily loaded modules, allocator arenas) is not counted as the
    # memory the fit needs for the data.
    warm_X, warm_y = _data.mnist_like(512, seed=1)
    make_estimator(system, hyper, threads).fit(warm_X, warm_y)
    del warm_X, warm_y
    gc.collect()
    _machine.release_free_memory()
    before = _machine.status_mib("VmRSS")
    X, y = _data.mnist_like(n_rows)
    gc.collect()
    # Memory freed while making the data goes back to the system, so the fit
    # cannot hide its allocations in it.
    _machine.release_free_memory()
    after_data = _machine.status_mib("VmRSS")
    estimator = make_estimator(system, hyper, threads)
    exact = _machine.reset_peak_rss()
    baseline = _machine.status_mib("VmRSS") if exact else _machine.status_mib("VmHWM")
    estimator.fit(X, y)
    peak = _machine.status_mib("VmHWM")
    return {
        "data_mib": after_data - before,
        "x_mib": X.nbytes / 2**20,
        "fit_peak_mib": peak - baseline,
        "peak_rss_mib": peak,
        "hwm_reset": exact,
    }


OVERSUBSCRIPTION_CONFIGS = {
    # label: (GridSearchCV n_jobs, FNNClassifier n_jobs)
    "search n_jobs=1, fnn default threads": (1, None),
    "search n_jobs=2, fnn default threads": (2, None),
    "search n_jobs=2, fnn n_jobs=2 (forced)": (2, 2),
}


def oversubscription_workload(scale, threads):
    """GridSearchCV(n_jobs=2) around fnn: wall and CPU time, and the threads
    each joblib worker ends up with, each configuration in a fresh process."""
    log("oversubscription: GridSearchCV(n_jobs=...) around fnn on mnist-shaped data")
    reports: dict[str, list[dict]] = {label: [] for label in OVERSUBSCRIPTION_CONFIGS}

    def run(label):
        search_jobs, fnn_jobs = OVERSUBSCRIPTION_CONFIGS[label]
        report = _child(
            [
                "--child",
                "oversubscription",
                "--search-jobs",
                str(search_jobs),
                "--fnn-jobs",
                str(fnn_jobs or 0),
                "--rows",
                str(scale.oversubscription_rows),
            ]
        )
        reports[label].append(report)
        return report["wall"]

    # A check of thread counts more than a race: three rounds are enough.
    alternate(list(OVERSUBSCRIPTION_CONFIGS), min(scale.reps, 3), run)
    rows = []
    for label, runs in reports.items():
        rows.append(
            {
                "config": label,
                "wall": float(np.median([r["wall"] for r in runs])),
                "cpu": float(np.median([r["cpu"] for r in runs])),
                "workers": runs[-1]["workers"],
                "walls": [r["wall"] for r in runs],
                "cpus": [r["cpu"] for r in runs],
            }
        )
    return rows


def worker_probe() -> dict:
    """What a joblib worker sees: its OMP_NUM_THREADS, fnn's default thread
    count there, how many fnn pool threads the process has started, and the
    CPU time it has used so far (all its threads)."""
    import fnn

    time.sleep(0.2)  # keeps each worker busy long enough for all to get a probe
    usage = resource.getrusage(resource.RUSAGE_SELF)
    try:
        names = [Path(p, "comm").read_text().strip() for p in Path("/proc/self/task").iterdir()]
    except OSError:
        names = []
    return {
        "pid": os.getpid(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "fnn_default_threads": fnn.resolve_threads(None),
        "fnn_pool_threads": sum(n.startswith("fnn-") for n in names),
        "cpu": usage.ru_utime + usage.ru_stime,
    }


def oversubscription_child(search_jobs: int, fnn_jobs: int, n_rows: int) -> dict:
    from joblib import Parallel, delayed
    from joblib.externals.loky import get_reusable_executor
    from sklearn.model_selection import GridSearchCV

    from fnn import FNNClassifier

    X, y = _data.mnist_like(n_rows)
    estimator = FNNClassifier(
        hidden_layer_sizes=MNIST_SIZES[1:-1],
        batch_size=128,
        max_iter=1,
        random_state=0,
        n_jobs=fnn_jobs or None,
    )
    grid = {"learning_rate_init": [1e-3, 3e-3, 1e-2]}
    search = GridSearchCV(estimator, grid, cv=3, n_jobs=search_jobs)

    def probe_workers() -> dict[int, dict]:
        if search_jobs == 1:
            return {os.getpid(): worker_probe()}
        found = Parallel(n_jobs=search_jobs)(
            delayed(worker_probe)() for _ in range(2 * search_jobs)
        )
        return {w["pid"]: w for w in found}

    # Start the (reused) loky workers before the clock: their start-up is
    # joblib's cost, paid once per session, not the search's.
    before = probe_workers()
    own_start = os.times()
    start = time.perf_counter()
    search.fit(X, y)
    wall = time.perf_counter() - start
    own_end = os.times()
    after = probe_workers()
    if search_jobs > 1:
        get_reusable_executor().shutdown(wait=True)
        cpu = own_end[0] + own_end[1] - own_start[0] - own_start[1]
        cpu += sum(after[p]["cpu"] - before[p]["cpu"] for p in after if p in before)
    else:
        cpu = own_end[0] + own_end[1] - own_start[0] - own_start[1]
    workers = [{k: v for k, v in w.items() if k != "cpu"} for w in after.values()]
    return {
        "wall": wall,
        "cpu": cpu,
        "workers": workers,
        "probed_all_workers": set(after) == set(before),
        "best_score": float(search.best_score_),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="one fresh-process run of benches/compare.py")
    parser.add_argument("--child", choices=["rss", "oversubscription"], required=True)
    parser.add_argument("--system")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--search-jobs", type=int)
    parser.add_argument("--fnn-jobs", type=int)
    args = parser.parse_args(argv)
    if args.child == "rss":
        report = rss_child(args.system, args.threads, args.rows)
    else:
        report = oversubscription_child(args.search_jobs, args.fnn_jobs, args.rows)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
