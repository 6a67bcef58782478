"""A quiet machine at the start of every repetition: a pause, then fnn's FMA
loop on the run's threads until it reads near the run's best.

The systems run one process at a time, but a process's threads do not stop
when its call returns: OpenBLAS's spin for about 0.1 s after a threaded
product (scikit-learn's worker used 0.1 s of CPU in the 0.25 s after a
digits fit, then none), OpenMP's and ONNX Runtime's pools similarly. Run
straight after, the next system's repetition shared a core with them: in
the defaults runs fnn's two-thread fits of the small sets, which last 5–30
ms, took as long as its one-thread fits. So each repetition starts after
`SETTLE_PAUSE`, and after the probe reads at least `QUIET_SHARE` of the
best it has read in the run, or after `SETTLE_LIMIT`: another tenant of a
shared host can hold a core for seconds. The report says how many
repetitions started without a quiet reading.
"""

from __future__ import annotations

import time

import _machine

#: Seconds before the first probe: longer than the spin of the thread pools
#: the systems use (OpenBLAS ~0.1 s, OpenMP's default 0.2 s).
SETTLE_PAUSE = 0.25

#: The most seconds a repetition waits for a quiet reading.
SETTLE_LIMIT = 2.0

#: The share of the run's best reading that counts as quiet: a quiet host's
#: readings vary by a few per cent, a core taken costs a two-thread reading
#: about half.
QUIET_SHARE = 0.85

#: Timings per reading, of a few milliseconds each, the best kept.
PROBE_REPETITIONS = 5


def probe(threads: int) -> float | None:
    """The float32 FMA rate of ``threads`` threads now (GFLOP/s), or None
    where fnn cannot measure it."""
    return _machine.measured_peak_gflops(threads, PROBE_REPETITIONS)


class Gate:
    """Waits, before each repetition, for the machine to be quiet, and keeps
    the best reading of the run as the measure of quiet."""

    def __init__(self, threads: int, best: float | None = None):
        self.threads = threads
        self.best = best

    def quiet(self, reading: float | None) -> bool:
        """Whether ``reading`` counts as quiet against the best so far (no
        reading, or no best yet, counts as quiet)."""
        return reading is None or not self.best or reading >= QUIET_SHARE * self.best

    def settle(self) -> float | None:
        """Pauses, then probes until a quiet reading or `SETTLE_LIMIT`;
        returns the last reading."""
        time.sleep(SETTLE_PAUSE)
        deadline = time.perf_counter() + SETTLE_LIMIT
        while True:
            reading = probe(self.threads)
            if reading is not None:
                self.best = max(self.best or 0.0, reading)
            if self.quiet(reading) or time.perf_counter() > deadline:
                return reading
            time.sleep(0.05)


def mark_quiet(timings: list, best: float | None) -> None:
    """Sets each timing's ``quiet`` from its ``host_gflops`` (the reading
    each repetition started on), against the run's best reading ``best``."""
    gate = Gate(0, best)
    for timing in timings:
        timing.quiet = [gate.quiet(r) for r in timing.host_gflops]
