"""fnn against its peers, on the same work, in one run.

Every system runs in a process of its own (``_worker.py``), started and
warmed up before any clock runs; the systems alternate within each
repetition (the order rotates from one repetition to the next), one process
busy at a time, so a burst of load from elsewhere on the machine hits all of
them alike; each repetition starts once the previous one's threads have
stopped spinning, as far as fnn's FMA loop can tell (``_host.py``), so that
no system's threads slow another's. Each figure is the median of
``--reps`` repetitions; ratios are taken between medians of the same run.

Usage (from the repository root; ``make bench`` runs the full set)::

    python benches/compare.py                     # everything, ~15 minutes on 2 cores
    python benches/compare.py --quick             # a smoke run, about a minute
    python benches/compare.py --workloads defaults,mnist,predict --reps 7 --threads 2

It prints Markdown tables (the defaults family: fnn against MLPClassifier /
MLPRegressor at every default; workload × system: seconds, samples/s, ratio
to fnn, with JAX, PyTorch and ONNX Runtime where installed; memory; thread
scaling; float64 vs float32; linearity in samples; the
``GridSearchCV(n_jobs=2)`` oversubscription check; the targets) and writes
``results.json``, ``results.md`` and ``compare.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _defaults  # noqa: E402
import _host  # noqa: E402
import _machine  # noqa: E402
import _report  # noqa: E402
from _alternate import alternate, log  # noqa: E402
from _fresh import memory_workload, oversubscription_workload  # noqa: E402
from _systems import (  # noqa: E402
    DEFAULTS_SYSTEMS,
    FIT_SYSTEMS,
    PREDICT_SYSTEMS,
    SEARCH_SYSTEMS,
    available_systems,
)
from _worker import close_workers, start_workers  # noqa: E402
from _workloads import FULL, QUICK, variants  # noqa: E402

DEFAULTS_WORKLOADS = tuple(f"defaults-{name}" for name in _defaults.NAMES)
FNN_VARIANT_WORKLOADS = ("threads", "dtype", "linearity")
ALL_WORKLOADS = (
    "defaults",
    "tiny",
    "small",
    "mnist",
    "predict",
    "search",
    "memory",
    *FNN_VARIANT_WORKLOADS,
    "oversubscription",
)

#: The systems of each workload (the memory workload: those with a training
#: loop of their own to measure; JAX's would count its compilation).
WORKLOAD_SYSTEMS = {
    **{name: DEFAULTS_SYSTEMS for name in DEFAULTS_WORKLOADS},
    "tiny": FIT_SYSTEMS,
    "small": FIT_SYSTEMS,
    "mnist": FIT_SYSTEMS,
    "predict": PREDICT_SYSTEMS,
    "search": SEARCH_SYSTEMS,
    "memory": SEARCH_SYSTEMS,
    **{name: ("fnn",) for name in FNN_VARIANT_WORKLOADS},
    "oversubscription": (),
}


@dataclass
class Timing:
    """One workload × system (or fnn configuration): the seconds of each
    repetition and what they did."""

    workload: str
    system: str
    seconds: list[float]
    #: Samples (rows × epochs, or rows predicted) one repetition processes.
    samples: float
    #: Accuracy (fit workloads: held-out for mnist, training otherwise; the
    #: defaults: accuracy or R², see `_defaults`) or the search's best
    #: cross-validation score.
    score: float | None = None
    flops: float | None = None
    note: str = ""
    #: What else the worker reported (epochs run, the data, best parameters).
    details: dict = field(default_factory=dict)
    #: Per repetition, the FMA rate of the machine it started on (GFLOP/s).
    host_gflops: list[float | None] = field(default_factory=list)
    #: Per repetition, whether it started on a quiet reading (False: after
    #: `_host.SETTLE_LIMIT` ran out).
    quiet: list[bool] = field(default_factory=list)

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


def measure(workload, labels, workers, reps, gate, fnn_variants=False) -> list[Timing]:
    """``reps`` alternating repetitions of ``workload``, one per label: a
    system (in its own worker), or with ``fnn_variants`` a configuration of
    fnn run in fnn's worker; each started once ``gate`` (a `_host.Gate`)
    finds the machine quiet."""
    log(f"{workload}: {', '.join(labels)}")
    last: dict[str, dict] = {}
    host: dict[str, list] = {label: [] for label in labels}
    quiet: dict[str, list] = {label: [] for label in labels}

    def run(label):
        reading, started_quiet = gate.settle()
        host[label].append(reading)
        quiet[label].append(started_quiet)
        if fnn_variants:
            reply = workers["fnn"].run(workload, label)
        else:
            reply = workers[label].run(workload)
        if not last:
            about = reply.get("details", {}).get("about") or reply.get("details", {}).get("data")
            if about:
                log(f"    {about}")
        last[label] = reply
        return reply["seconds"]

    times = alternate(labels, reps, run)
    return [
        Timing(
            workload,
            label,
            times[label],
            last[label]["samples"],
            last[label].get("score"),
            last[label].get("flops"),
            last[label].get("note", ""),
            last[label].get("details", {}),
            host[label],
            quiet[label],
        )
        for label in labels
    ]


def selected_workloads(text: str) -> list[str]:
    """The workloads named in ``--workloads``, ``defaults`` expanded, in run order."""
    names = [w.strip() for w in text.split(",") if w.strip()]
    known = set(ALL_WORKLOADS) | set(DEFAULTS_WORKLOADS)
    unknown = set(names) - known
    if unknown:
        raise SystemExit(
            f"unknown workloads {sorted(unknown)}; choose from {ALL_WORKLOADS} "
            f"or one of {DEFAULTS_WORKLOADS}"
        )
    expanded = [d for d in DEFAULTS_WORKLOADS if "defaults" in names or d in names]
    return expanded + [w for w in ALL_WORKLOADS if w in names and w != "defaults"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer reps, less data")
    parser.add_argument(
        "--workloads",
        default=",".join(ALL_WORKLOADS),
        help=f"comma-separated subset of {','.join(ALL_WORKLOADS)}, or single "
        "defaults-<data> workloads (default: all)",
    )
    parser.add_argument("--systems", default=None, help="comma-separated subset of the systems")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5; quick 3)")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="threads for every system (default: all cores, also the libraries' default)",
    )
    parser.add_argument(
        "--cold",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="after the quiet machine is found, idle this long before each repetition, so "
        "that every system starts with its threads asleep and the other cores idle, as "
        "after a user's data loading (default 0: start right after the probe)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for results.json, results.md and compare.png "
        "(default: benches/results, or benches/results-quick with --quick)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    scale = QUICK if args.quick else FULL
    if args.out is None:
        args.out = Path(__file__).resolve().parent / ("results-quick" if args.quick else "results")
    if args.reps is not None:
        scale = replace(scale, reps=max(1, args.reps))
    workloads = selected_workloads(args.workloads)
    systems = list(available_systems())
    if args.systems:
        wanted = [s.strip() for s in args.systems.split(",")]
        systems = [s for s in systems if s in wanted or s == "fnn"]  # every ratio is to fnn
    threads = args.threads

    machine = _machine.describe()

    def systems_of(names):
        return [s for s in systems if any(s in WORKLOAD_SYSTEMS[w] for w in names)]

    # memory and oversubscription start fresh processes of their own.
    needed = systems_of([w for w in workloads if w not in ("memory", "oversubscription")])
    settings = {
        "quick": args.quick,
        "reps": scale.reps,
        "threads": threads,
        "systems": systems_of(workloads),
        "workloads": workloads,
        "processes": "one per system",
    }
    results = Results(machine=machine.as_dict(), settings=settings)
    log(
        f"{machine.model}, {machine.cores} cores, {threads} threads each; systems: {needed}; "
        f"{scale.reps} reps; starting one process per system"
    )
    results.settings["load_average_before"] = os.getloadavg()
    # The peak the targets are read against, measured before and after the
    # workloads: the larger is the truer bound.
    peaks = [_machine.measured_peak_gflops(threads)]
    gate = _host.Gate(threads, peaks[0], idle=args.cold)
    started = time.perf_counter()
    workers = start_workers(needed, threads, args.quick)
    try:
        for worker in workers.values():
            results.settings.update(worker.versions)
        for workload in workloads:
            if workload in FNN_VARIANT_WORKLOADS:
                labels = variants(workload, scale, threads)
                results.timings += measure(workload, labels, workers, scale.reps, gate, True)
                continue
            labels = [s for s in needed if s in WORKLOAD_SYSTEMS[workload]]
            if workload == "predict":
                for name in ("predict-1", f"predict-{scale.predict_rows // 1000}k"):
                    results.timings += measure(name, labels, workers, scale.reps, gate)
            elif workload not in ("memory", "oversubscription"):
                results.timings += measure(workload, labels, workers, scale.reps, gate)
    finally:
        close_workers(workers)
    search = [t for t in results.timings if t.workload == "search"]
    results.search_params = {t.system: t.details["best_params"] for t in search}
    if "memory" in workloads:
        memory_systems = [s for s in systems if s in WORKLOAD_SYSTEMS["memory"]]
        results.memory = memory_workload(memory_systems, scale, threads)
    if "oversubscription" in workloads:
        results.oversubscription = oversubscription_workload(scale, threads)

    elapsed = time.perf_counter() - started
    peaks.append(_machine.measured_peak_gflops(threads))
    results.machine["measured_peak_gflops_f32"] = max((p for p in peaks if p), default=None)
    results.machine["measured_peaks_gflops_f32"] = peaks
    results.settings["settle"] = {
        "pause_seconds": _host.SETTLE_PAUSE,
        "limit_seconds": _host.SETTLE_LIMIT,
        "quiet_share": _host.QUIET_SHARE,
        "idle_seconds": args.cold,
        "probed": any(r is not None for t in results.timings for r in t.host_gflops),
    }
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
