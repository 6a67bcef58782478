"""Alternating repetitions: every label (system or configuration) runs once
per round, the order rotating from round to round, so a burst of load from
elsewhere on the machine hits all of them alike."""

from __future__ import annotations

import statistics
import sys
import time

#: A label whose one repetition takes longer than this is not repeated: on an
#: overloaded machine PyTorch's OpenMP threads can slow a GridSearchCV to many
#: minutes, and the run must still end. The report shows the count.
SLOW_RUN_SECONDS = 120.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def alternate(labels, reps, run_one) -> dict[str, list[float]]:
    """Seconds per label: ``reps`` rounds, each running every label once, the
    order rotating from round to round (a label slower than
    `SLOW_RUN_SECONDS` drops out after its first run)."""
    times: dict[str, list[float]] = {label: [] for label in labels}
    labels = list(labels)
    for rep in range(reps):
        order = labels[rep % len(labels) :] + labels[: rep % len(labels)]
        ran = []
        for label in order:
            if times[label] and times[label][0] > SLOW_RUN_SECONDS:
                continue
            times[label].append(run_one(label))
            ran.append(label)
        summary = ", ".join(f"{label} {times[label][-1]:.4g}s" for label in labels if label in ran)
        log(f"    rep {rep + 1}/{reps}: {summary}")
    return times


def interleaved_medians(calls, reps, warm_up=50) -> dict:
    """Median seconds of each of ``calls`` (name -> callable) in this process,
    the calls interleaved rep by rep after ``warm_up`` calls of each (first-call
    allocations, caches)."""
    for call in calls.values():
        for _ in range(warm_up):
            call()
    times = {name: [] for name in calls}
    for _ in range(reps):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
