"""fnn against its peers, on the same work, in one run.

Every system runs every workload in the same process, alternating systems
within each repetition (the order rotates from one repetition to the next),
so a burst of load from elsewhere on the machine hits all of them alike. Each
figure is the median of ``--reps`` repetitions; ratios are taken between
medians of the same run.

Usage (from the repository root; ``make bench`` runs the full set)::

    python benches/compare.py                     # everything, ~10 minutes on 2 cores
    python benches/compare.py --quick             # a smoke run, under 2 minutes
    python benches/compare.py --workloads mnist,predict --reps 7 --threads 2

It prints Markdown tables (workload × system: seconds, samples/s, ratio to
fnn; memory; thread scaling; float64 vs float32; linearity in samples; the
``GridSearchCV(n_jobs=2)`` oversubscription check; the targets) and writes
``results.json``, ``results.md`` and ``compare.png`` to ``--out``.
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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data  # noqa: E402
import _machine  # noqa: E402
import _report  # noqa: E402
from _systems import (  # noqa: E402
    Hyper,
    available_systems,
    make_estimator,
    set_threads,
)

FIT_WORKLOADS = ("tiny", "small", "mnist")
EXTRA_WORKLOADS = (
    "predict",
    "search",
    "memory",
    "threads",
    "dtype",
    "linearity",
    "oversubscription",
)
ALL_WORKLOADS = FIT_WORKLOADS + EXTRA_WORKLOADS

MNIST_SIZES = (784, 256, 128, 10)


@dataclass(frozen=True)
class Scale:
    """Sizes of one run: the full benchmark or the ``--quick`` smoke run."""

    reps: int
    tiny_epochs: int
    small_epochs: int
    mnist_rows: int
    test_rows: int
    predict_rows: int
    predict_calls: int
    search_grid: dict
    search_cv: int
    search_epochs: int
    linearity_rows: tuple[int, ...]
    oversubscription_rows: int


FULL = Scale(
    reps=5,
    tiny_epochs=200,
    small_epochs=30,
    mnist_rows=60_000,
    test_rows=10_000,
    predict_rows=10_000,
    predict_calls=300,
    search_grid={
        "net__hidden_layer_sizes": [(32,), (64,), (64, 32)],
        "net__learning_rate_init": [1e-3, 1e-2],
        "net__batch_size": [32, 128],
    },
    search_cv=5,
    search_epochs=50,
    linearity_rows=(15_000, 30_000, 60_000),
    oversubscription_rows=12_000,
)

QUICK = Scale(
    reps=3,
    tiny_epochs=40,
    small_epochs=6,
    mnist_rows=6_000,
    test_rows=2_000,
    predict_rows=2_000,
    predict_calls=50,
    search_grid={"net__hidden_layer_sizes": [(32,), (64,)], "net__learning_rate_init": [1e-2]},
    search_cv=3,
    search_epochs=5,
    linearity_rows=(1_500, 3_000, 6_000),
    oversubscription_rows=3_000,
)


@dataclass
class Timing:
    """One workload × system: the seconds of each repetition and what they did."""

    workload: str
    system: str
    seconds: list[float]
    #: Samples (rows × epochs, or rows predicted) one repetition processes.
    samples: float
    #: Accuracy (fit workloads: held-out for mnist, training otherwise) or
    #: the search's best cross-validation score.
    score: float | None = None
    flops: float | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return float(np.median(self.seconds))


@dataclass
class Results:
    """Everything one run measured (saved as results.json)."""

    machine: dict
    settings: dict
    timings: list[Timing] = field(default_factory=list)
    memory: list[dict] = field(default_factory=list)
    oversubscription: list[dict] = field(default_factory=list)
    search_params: dict = field(default_factory=dict)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train_flops_per_sample(sizes) -> int:
    """FLOPs of one training sample: forward, weight gradients, and the
    back-propagated deltas of every layer but the first (2 per multiply-add)."""
    products = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2 * (2 * sum(products) + sum(products[1:]))


def forward_flops_per_sample(sizes) -> int:
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


#: A label whose one repetition takes longer than this is not repeated: on an
#: overloaded machine PyTorch's OpenMP threads can slow a GridSearchCV to many
#: minutes, and the run must still end. The report shows the count.
SLOW_RUN_SECONDS = 120.0


def alternate(labels, reps, run_one) -> dict[str, list[float]]:
    """Seconds per label: ``reps`` rounds, each running every label once, the
    order rotating from round to round (a label slower than
    `SLOW_RUN_SECONDS` drops out after its first run)."""
    times: dict[str, list[float]] = {label: [] for label in labels}
    labels = list(labels)
    for rep in range(reps):
        order = labels[rep % len(labels) :] + labels[: rep % len(labels)]
        for label in order:
            if times[label] and times[label][0] > SLOW_RUN_SECONDS:
                continue
            gc.collect()
            times[label].append(run_one(label))
        summary = ", ".join(f"{label} {times[label][-1]:.4g}s" for label in labels)
        log(f"    rep {rep + 1}/{reps}: {summary}")
    return times


def warm_up(systems, threads) -> None:
    """One small fit and predict per system before any clock runs: imports
    done lazily on first use (PyTorch's optimizer pulls in torch._dynamo, ~1.5 s),
    thread pools and allocator arenas are then set up for every system alike."""
    X, y = _data.mnist_like(512, seed=1)
    for system in systems:
        for hyper in (Hyper(MNIST_SIZES[1:-1], 128, 1), Hyper((16,), 16, 1)):
            make_estimator(system, hyper, threads).fit(X, y).predict(X[:1])


def timed_fit(estimator, X, y) -> float:
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


# ----------------------------------------------------------------------
# Workloads


def fit_workload(name, X, y, hyper, systems, scale, threads, test=None, keep=None):
    """Train each system on (X, y); the score is accuracy on ``test`` (else on X)."""
    log(
        f"{name}: {X.shape[0]} × {X.shape[1]}, hidden {hyper.hidden}, batch {hyper.batch_size}, "
        f"{hyper.epochs} epochs"
    )
    scores = {}

    def run(system):
        estimator = make_estimator(system, hyper, threads)
        seconds = timed_fit(estimator, X, y)
        X_eval, y_eval = test if test is not None else (X, y)
        scores[system] = float(estimator.score(X_eval, y_eval))
        if keep is not None:
            keep[system] = estimator
        return seconds

    times = alternate(systems, scale.reps, run)
    sizes = (X.shape[1], *hyper.hidden, len(np.unique(y)))
    flops = train_flops_per_sample(sizes) * X.shape[0] * hyper.epochs
    return [Timing(name, s, times[s], X.shape[0] * hyper.epochs, scores[s], flops) for s in systems]


def predict_workload(models, X, systems, scale):
    """Latency of one row and throughput of ``predict_rows`` rows on the mnist net."""
    one, many = X[:1], X[: scale.predict_rows]
    log(f"predict: 1 row ({scale.predict_calls} calls per rep) and {many.shape[0]} rows")
    for system in systems:  # warm up: first calls build thread pools, caches
        models[system].predict(one)
        models[system].predict(many)

    def run_one_row(system):
        predict = models[system].predict
        start = time.perf_counter()
        for _ in range(scale.predict_calls):
            predict(one)
        return (time.perf_counter() - start) / scale.predict_calls

    def run_many(system):
        start = time.perf_counter()
        models[system].predict(many)
        return time.perf_counter() - start

    fwd = forward_flops_per_sample(MNIST_SIZES)
    single = alternate(systems, scale.reps, run_one_row)
    batch = alternate(systems, scale.reps, run_many)
    rows = many.shape[0]
    return [Timing("predict-1", s, single[s], 1, flops=fwd) for s in systems] + [
        Timing(f"predict-{rows // 1000}k", s, batch[s], rows, flops=fwd * rows) for s in systems
    ]


def search_workload(systems, scale, threads, results):
    """GridSearchCV(Pipeline(StandardScaler(), net)) on digits."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data.digits()
    grid = scale.search_grid
    n_candidates = int(np.prod([len(v) for v in grid.values()]))
    log(
        f"search: GridSearchCV over {n_candidates} candidates, cv={scale.search_cv}, "
        f"max_iter={scale.search_epochs}, digits {X.shape}"
    )
    best = {}

    def run(system):
        hyper = Hyper(hidden=(32,), batch_size=32, epochs=scale.search_epochs)
        pipeline = Pipeline(
            [("scale", StandardScaler()), ("net", make_estimator(system, hyper, threads))]
        )
        search = GridSearchCV(pipeline, grid, cv=scale.search_cv, n_jobs=1)
        seconds = timed_fit(search, X, y)
        params = {k.removeprefix("net__"): v for k, v in search.best_params_.items()}
        best[system] = (float(search.best_score_), params)
        return seconds

    times = alternate(systems, scale.reps, run)
    folds = StratifiedKFold(scale.search_cv).split(X, y)
    train_rows = sum(len(train) for train, _ in folds)
    samples = (n_candidates * train_rows + X.shape[0]) * scale.search_epochs
    results.search_params = {s: best[s][1] for s in systems}
    return [Timing("search", s, times[s], samples, best[s][0]) for s in systems]


def threads_workload(X, y, scale, threads):
    """fnn on mnist with 1 thread and with ``threads``; again with ``alpha=0``,
    which skips the L2 penalty pass (serial in the engine), to show its share."""
    log(f"threads: fnn mnist fit with 1 and {threads} threads, alpha 1e-4 and 0")
    configs = {}
    for alpha in (1e-4, 0.0):
        for n in (1, threads):
            configs[f"fnn, {n} thread{'s' if n > 1 else ''}, alpha={alpha:g}"] = (n, alpha)

    def run(label):
        n, alpha = configs[label]
        hyper = Hyper(hidden=MNIST_SIZES[1:-1], batch_size=128, epochs=1, alpha=alpha)
        return timed_fit(make_estimator("fnn", hyper, n), X, y)

    times = alternate(configs, scale.reps, run)
    flops = train_flops_per_sample(MNIST_SIZES) * X.shape[0]
    return [
        Timing("threads", label, times[label], X.shape[0], flops=flops, note=f"{n} {alpha}")
        for label, (n, alpha) in configs.items()
    ]


def dtype_workload(X, y, scale, threads):
    """fnn on mnist in float32 and float64 (the input's dtype is the training dtype)."""
    log("dtype: fnn mnist fit on float32 and float64 input")
    hyper = Hyper(hidden=MNIST_SIZES[1:-1], batch_size=128, epochs=1)
    inputs = {"float32": X, "float64": X.astype(np.float64)}
    times = alternate(
        inputs, scale.reps, lambda d: timed_fit(make_estimator("fnn", hyper, threads), inputs[d], y)
    )
    flops = train_flops_per_sample(MNIST_SIZES) * X.shape[0]
    return [Timing("dtype", d, times[d], X.shape[0], flops=flops) for d in inputs]


def linearity_workload(X, y, scale, threads):
    """fnn on the first n mnist rows for growing n: time should grow as n."""
    log(f"linearity: fnn mnist fit on {scale.linearity_rows} rows")
    hyper = Hyper(hidden=MNIST_SIZES[1:-1], batch_size=128, epochs=1)
    rows = {f"{n} rows": n for n in scale.linearity_rows}

    def run(label):
        n = rows[label]
        return timed_fit(make_estimator("fnn", hyper, threads), X[:n], y[:n])

    times = alternate(rows, scale.reps, run)
    per = train_flops_per_sample(MNIST_SIZES)
    return [Timing("linearity", label, times[label], n, flops=per * n) for label, n in rows.items()]


# ----------------------------------------------------------------------
# Workloads run in fresh processes


def _child(args: list[str], timeout: float = 900) -> dict:
    """Runs this script with ``args`` in a fresh interpreter; its last stdout line is JSON."""
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
    set_threads(threads)
    hyper = Hyper(hidden=MNIST_SIZES[1:-1], batch_size=128, epochs=1)
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


# ----------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer reps, less data")
    parser.add_argument(
        "--workloads",
        default=",".join(ALL_WORKLOADS),
        help=f"comma-separated subset of {','.join(ALL_WORKLOADS)} (default: all)",
    )
    parser.add_argument("--systems", default=None, help="comma-separated subset of the systems")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5; quick 3)")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="threads for every system"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for results.json, results.md and compare.png "
        "(default: benches/results, or benches/results-quick with --quick)",
    )
    # Internal: the fresh processes of the memory and oversubscription workloads.
    parser.add_argument("--child", choices=["rss", "oversubscription"], help=argparse.SUPPRESS)
    parser.add_argument("--system", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--search-jobs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fnn-jobs", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child == "rss":
        print(json.dumps(rss_child(args.system, args.threads, args.rows)))
        return 0
    if args.child == "oversubscription":
        print(json.dumps(oversubscription_child(args.search_jobs, args.fnn_jobs, args.rows)))
        return 0

    scale = QUICK if args.quick else FULL
    if args.out is None:
        args.out = Path(__file__).resolve().parent / ("results-quick" if args.quick else "results")
    if args.reps is not None:
        scale = replace(scale, reps=max(1, args.reps))
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(workloads) - set(ALL_WORKLOADS)
    if unknown:
        raise SystemExit(f"unknown workloads {sorted(unknown)}; choose from {ALL_WORKLOADS}")
    systems = list(available_systems())
    if args.systems:
        wanted = [s.strip() for s in args.systems.split(",")]
        systems = [s for s in systems if s in wanted]
        if "fnn" not in systems:
            systems.insert(0, "fnn")  # every ratio is to fnn
    threads = args.threads
    set_threads(threads)

    import fnn

    machine = _machine.describe()
    settings = {
        "quick": args.quick,
        "reps": scale.reps,
        "threads": threads,
        "systems": systems,
        "workloads": workloads,
        "fnn_version": fnn.__version__,
        "numpy": np.__version__,
        "sklearn": __import__("sklearn").__version__,
    }
    if "torch" in systems:
        import torch

        settings["torch"] = torch.__version__
    results = Results(machine=machine.as_dict(), settings=settings)
    log(
        f"{machine.model}, {machine.cores} cores, {threads} threads each; systems: {systems}; "
        f"{scale.reps} reps"
    )
    results.settings["load_average_before"] = os.getloadavg()
    started = time.perf_counter()
    warm_up(systems, threads)

    X_iris, y_iris = _data.iris_scaled()
    X_digits, y_digits = _data.digits_scaled()
    needs_mnist = {"mnist", "predict", "threads", "dtype", "linearity"} & set(workloads)
    if needs_mnist:
        X_all, y_all = _data.mnist_like(scale.mnist_rows + scale.test_rows)
        X_mnist, y_mnist = X_all[: scale.mnist_rows], y_all[: scale.mnist_rows]
        mnist_test = (X_all[scale.mnist_rows :], y_all[scale.mnist_rows :])
    mnist_hyper = Hyper(hidden=MNIST_SIZES[1:-1], batch_size=128, epochs=1)
    models: dict = {}

    if "tiny" in workloads:
        hyper = Hyper(hidden=(16,), batch_size=16, epochs=scale.tiny_epochs)
        results.timings += fit_workload("tiny", X_iris, y_iris, hyper, systems, scale, threads)
    if "small" in workloads:
        hyper = Hyper(hidden=(64,), batch_size=64, epochs=scale.small_epochs)
        results.timings += fit_workload("small", X_digits, y_digits, hyper, systems, scale, threads)
    if "mnist" in workloads:
        results.timings += fit_workload(
            "mnist", X_mnist, y_mnist, mnist_hyper, systems, scale, threads, mnist_test, models
        )
    if "predict" in workloads:
        for system in systems:
            if system not in models:  # the weights do not matter for the timing
                models[system] = make_estimator(system, mnist_hyper, threads).fit(
                    X_mnist[:4096], y_mnist[:4096]
                )
        results.timings += predict_workload(models, mnist_test[0], systems, scale)
    if "search" in workloads:
        results.timings += search_workload(systems, scale, threads, results)
    if "memory" in workloads:
        results.memory = memory_workload(systems, scale, threads)
    if "threads" in workloads:
        results.timings += threads_workload(X_mnist, y_mnist, scale, threads)
    if "dtype" in workloads:
        results.timings += dtype_workload(X_mnist, y_mnist, scale, threads)
    if "linearity" in workloads:
        results.timings += linearity_workload(X_mnist, y_mnist, scale, threads)
    if "oversubscription" in workloads:
        results.oversubscription = oversubscription_workload(scale, threads)

    elapsed = time.perf_counter() - started
    results.settings["elapsed_seconds"] = elapsed
    results.settings["load_average_after"] = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    data = asdict(results)
    (args.out / "results.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    markdown = _report.markdown(data)
    (args.out / "results.md").write_text(markdown)
    chart = _report.chart(data, args.out / "compare.png")
    print(markdown)
    log(
        f"done in {elapsed:.0f} s; wrote {args.out / 'results.json'}, {args.out / 'results.md'}"
        + (f", {chart}" if chart else " (no chart: no timed workload, or no matplotlib)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
