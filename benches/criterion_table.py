"""The criterion results of ``cargo bench --bench kernels`` as a Markdown table.

Reads ``target/criterion/*/*/new/{benchmark,estimates}.json`` (criterion's
own files, rewritten by every run) and prints one row per benchmark: the
median time and the median throughput in the bench's unit (GFLOP/s for
products, training steps and the FMA peak). ``make bench`` runs it after
``cargo bench``.

Usage: ``python benches/criterion_table.py [TARGET_DIR]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: Benchmark group prefix -> (unit of one element, factor to the printed unit).
UNITS = {
    "gemm_": ("GFLOP/s", 1e-9),
    "small_": ("GFLOP/s", 1e-9),
    "train_step_": ("GFLOP/s", 1e-9),
    "fma_peak_": ("GFLOP/s", 1e-9),
    "activation_": ("G values/s", 1e-9),
    "adam_step_": ("G params/s", 1e-9),
    "predict_1_row_": ("rows/s", 1.0),
    "handoff": ("joins/s", 1.0),
}


def _time(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def rows(criterion_dir: Path) -> list[list[str]]:
    """One row per benchmark found, sorted by group as the bench defines them."""
    found = []
    for bench in sorted(criterion_dir.glob("*/*/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        median = json.loads((bench.parent / "estimates.json").read_text())["median"]
        ns = median["point_estimate"]
        elements = (meta.get("throughput") or {}).get("Elements")
        group = meta["group_id"]
        unit, factor = next((u for p, u in UNITS.items() if group.startswith(p)), ("/s", 1.0))
        rate = f"{elements / (ns * 1e-9) * factor:,.1f}" if elements else ""
        found.append([group, meta["function_id"], _time(ns), f"{rate} {unit}".strip()])
    return found


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1] / "target"
    table = rows(target / "criterion")
    if not table:
        print(f"no criterion results under {target / 'criterion'}; run cargo bench first")
        return 1
    print("| bench | variant | median time | median throughput |")
    print("|---|---|---|---|")
    for row in table:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
