"""A quiet machine at the start of every repetition: a pause, then fnn's FMA
loop on the run's threads until it reads near the best so far.

The systems run one process at a time, but a process's threads do not stop
when its call returns: OpenBLAS's spin for about 0.1 s after a threaded
product (scikit-learn's worker used 0.1 s of CPU in the 0.25 s after a
digits fit, then none), OpenMP's and ONNX Runtime's pools similarly. Run
straight after, the next system's repetition could share a core with them.
So each repetition starts after `SETTLE_PAUSE`, and once the probe reads at
least `QUIET_SHARE` of the best it has read in the run, or after
`SETTLE_LIMIT` (another tenant of a shared host can hold a core for
seconds); the report counts the repetitions that ran out the limit. The FMA
loop sees a busy core, not every slow mode of a shared host: the one in
which the cores exchange data slowly leaves it at full speed.

The probe itself leaves every core awake, which a user's script, between
loading its data and fitting, does not. With an idle time (compare.py's
`--cold`), each repetition then waits that long more, so that every
system starts as after a user's data loading: its threads asleep and the
other cores idle, where waking them can cost more (see fnn's
`rust/placement.rs`).
"""

from __future__ import annotations

import time

import _machine

#: Seconds before the first probe: longer than the spin of the thread pools
#: the systems use (OpenBLAS ~0.1 s, OpenMP's default 0.2 s).
SETTLE_PAUSE = 0.25

#: The most seconds a repetition waits for a quiet reading.
SETTLE_LIMIT = 2.0

#: The share of the best reading so far that counts as quiet: a quiet host's
#: two-thread readings spread over ~15% (199–232 GFLOP/s in one run); a
#: core taken costs a two-thread reading about half.
QUIET_SHARE = 0.85

#: Timings per reading, of a few milliseconds each, the best kept.
PROBE_REPETITIONS = 5


def probe(threads: int) -> float | None:
    """The float32 FMA rate of ``threads`` threads now (GFLOP/s), or None
    where fnn cannot measure it."""
    return _machine.measured_peak_gflops(threads, PROBE_REPETITIONS)


def is_quiet(reading: float | None, best: float | None) -> bool:
    """Whether ``reading`` is at least `QUIET_SHARE` of ``best`` (no reading,
    or no best yet, counts as quiet)."""
    return reading is None or not best or reading >= QUIET_SHARE * best


class Gate:
    """Waits, before each repetition, for the machine to be quiet, and keeps
    the best reading of the run as the measure of quiet."""

    def __init__(self, threads: int, best: float | None = None, idle: float = 0.0):
        self.threads = threads
        self.best = best
        #: Seconds idled after the probe, before the repetition.
        self.idle = idle

    def settle(self) -> tuple[float | None, bool]:
        """Pauses, then probes until a quiet reading or `SETTLE_LIMIT`, then
        idles `idle` seconds. Returns the last reading and whether it was
        quiet (False: the repetition starts after the limit ran out)."""
        time.sleep(SETTLE_PAUSE)
        deadline = time.perf_counter() + SETTLE_LIMIT
        while True:
            reading = probe(self.threads)
            if reading is not None:
                self.best = max(self.best or 0.0, reading)
            quiet = is_quiet(reading, self.best)
            if quiet or time.perf_counter() > deadline:
                if self.idle:
                    time.sleep(self.idle)
                return reading, quiet
            time.sleep(0.05)
