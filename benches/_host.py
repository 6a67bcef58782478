"""Whether the host gave a repetition all its cores: fnn's FMA loop on the
run's threads, timed just before and just after each repetition.

On a shared virtual machine another tenant can hold part of a core for
seconds at a time. A repetition timed then measures the host, not the
library, and one system's slow repetition flips a ratio: the same build's
wine fit was 13.4× scikit-learn's in one run and 7.6× in the next. Each
repetition keeps the lower of its two probes; the report's medians leave out
the repetitions whose probe fell below `QUIET_SHARE` of the run's best
(while a system has others), and say how many they left out.
"""

from __future__ import annotations

import _machine

#: The share of the run's best probe below which a repetition counts as
#: timed while the host withheld part of a core. The probe of a quiet host
#: varies by a few per cent; a withheld core costs a two-thread probe
#: about half.
QUIET_SHARE = 0.85

#: Timings per probe, of a few milliseconds each, the best kept: long enough
#: to see a core held for a while, short beside any repetition.
PROBE_REPETITIONS = 5


def probe(threads: int) -> float | None:
    """The float32 FMA rate of ``threads`` threads now (GFLOP/s), or None
    where fnn cannot measure it."""
    return _machine.measured_peak_gflops(threads, PROBE_REPETITIONS)


def lower(before: float | None, after: float | None) -> float | None:
    """The lower of a repetition's two probes (None where neither ran)."""
    known = [p for p in (before, after) if p is not None]
    return min(known) if known else None


def quiet_flags(probes: list[float | None], best: float | None) -> list[bool]:
    """Per repetition, whether its probe reached `QUIET_SHARE` of ``best``
    (a repetition without a probe, or a run without any, counts as quiet)."""
    if not best:
        return [True] * len(probes)
    return [p is None or p >= QUIET_SHARE * best for p in probes]


def mark_quiet(timings: list, peaks: list[float | None]) -> None:
    """Sets each timing's ``quiet`` from its ``host_gflops``, against the best
    FMA rate the run saw: its probes, and ``peaks`` (measured before and
    after the workloads)."""
    seen = [p for t in timings for p in t.host_gflops if p] + [p for p in peaks if p]
    best = max(seen, default=None)
    for timing in timings:
        timing.quiet = quiet_flags(timing.host_gflops, best)
