"""Markdown tables, the targets and the bar chart from one run's results
(the dict saved as results.json).

``python benches/_report.py DIR`` renders DIR/results.md and DIR/compare.png
again from DIR/results.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

#: The workloads of the main table, in order.
MAIN_WORKLOADS = ("tiny", "small", "mnist", "predict-1", "predict-10k", "search")

COLORS = {
    "fnn": "#d95f02",
    "fnn-numpy": "#7570b3",
    "sklearn": "#1b9e77",
    "torch": "#e7298a",
    "jax": "#66a61e",
    "onnxruntime": "#e6ab02",
}

#: Systems that are fnn itself; every other system is a peer.
FNN_SYSTEMS = ("fnn", "fnn-1thread", "fnn-numpy")

#: Library versions a run records (settings keys; runs before 2026-12 said
#: ``fnn_version``), in the order printed.
VERSION_KEYS = (
    "fnn",
    "fnn_version",
    "numpy",
    "sklearn",
    "torch",
    "jax",
    "jaxlib",
    "onnxruntime",
    "skl2onnx",
)


def _median(timing: dict) -> float:
    return float(np.median(timing["seconds"]))


def _busy(timing: dict, data: dict) -> int:
    """Repetitions that started after waiting the whole limit for a quiet
    reading (``_host.py``); none in runs from before the gate."""
    if not data["settings"].get("settle"):
        return 0
    return sum(not q for q in timing.get("quiet", []))


def _by(data: dict, workload: str) -> dict[str, dict]:
    return {t["system"]: t for t in data["timings"] if t["workload"] == workload}


def _main_workloads(data: dict) -> list[str]:
    """The main table's workloads present, in order (a ``--quick`` run's
    batch predict, e.g. ``predict-2k``, takes ``predict-10k``'s place)."""
    present = {t["workload"] for t in data["timings"]}
    order = []
    for workload in MAIN_WORKLOADS:
        order.append(workload)
        if workload == "predict-10k":
            order += sorted(w for w in present if w.startswith("predict-") and w not in order)
    return [w for w in order if w in present]


def _ratio(x: float, need: float | None = None) -> str:
    """A ratio of times: two decimals below 10, one above; against a target
    ``need`` it misses, as many more as keep it from reading as the target
    (4.997×, not 5.00×, for a missed 5×)."""
    decimals = 2 if x < 10 else 1
    while need is not None and x < need and round(x, decimals) >= need and decimals < 6:
        decimals += 1
    return f"{x:.{decimals}f}×"


def _peers(systems: dict) -> dict:
    """The entries of ``systems`` that are not fnn (see `FNN_SYSTEMS`)."""
    return {s: t for s, t in systems.items() if s not in FNN_SYSTEMS}


def _time_unit(x: float) -> str:
    """``4.76 ms``, ``29 µs``, ``1.88 s``: three significant digits."""
    if x >= 1:
        return f"{x:.3g} s"
    if x >= 1e-3:
        return f"{x * 1e3:.3g} ms"
    return f"{x * 1e6:.3g} µs"


def _seconds(x: float) -> str:
    return f"{x:.3g}" if x >= 1e-3 else f"{x:.2e}"


def _rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _reps_note(timing: dict, data: dict) -> str:
    n, wanted = len(timing["seconds"]), data["settings"]["reps"]
    notes = [f"{n} rep{'s' if n > 1 else ''}: too slow to repeat"] if n < wanted else []
    if busy := _busy(timing, data):
        notes.append(f"{busy} of {n} started with a core still busy")
    return f" ({'; '.join(notes)})" if notes else ""


def _params_text(params: dict) -> str:
    """``hidden (64, 32), lr 0.01, batch 32`` (JSON turns tuples into lists)."""
    hidden = params.get("hidden_layer_sizes")
    parts = [f"hidden {tuple(hidden)}"] if hidden is not None else []
    if "learning_rate_init" in params:
        parts.append(f"lr {params['learning_rate_init']:g}")
    if "batch_size" in params:
        parts.append(f"batch {params['batch_size']}")
    return ", ".join(parts)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main_table(data: dict) -> str:
    rows = []
    for workload in _main_workloads(data):
        systems = _by(data, workload)
        fnn = _median(systems["fnn"]) if "fnn" in systems else float("nan")
        for system, t in systems.items():
            median = _median(t)
            gflops = t["flops"] / median / 1e9 if t.get("flops") else None
            rows.append(
                [
                    workload,
                    system,
                    _seconds(median) + _reps_note(t, data),
                    _rate(t["samples"] / median),
                    "1" if system == "fnn" else f"{median / fnn:.1f}",
                    "" if t["score"] is None else f"{t['score']:.4f}",
                    "" if gflops is None else f"{gflops:.1f}",
                ]
            )
    header = [
        "workload",
        "system",
        "seconds (median)",
        "samples/s",
        "time ÷ fnn's",
        "accuracy",
        "GFLOP/s",
    ]
    return _table(header, rows)


def _defaults_workloads(data: dict) -> list[str]:
    seen = []
    for t in data["timings"]:
        if t["workload"].startswith("defaults-") and t["workload"] not in seen:
            seen.append(t["workload"])
    return seen


def _defaults_target(details: dict) -> int:
    """How many times faster than MLP* a defaults data set should fit: 5× for
    the generated sets, 10× for the loaded ones (issue 12)."""
    return 5 if details["data"].startswith("make_") else 10


def defaults_table(data: dict) -> str:
    """fnn at every default against MLPClassifier / MLPRegressor, per data set."""
    rows = []
    for workload in _defaults_workloads(data):
        systems = _by(data, workload)
        fnn, mlp, serial = (systems.get(s) for s in ("fnn", "sklearn", "fnn-1thread"))
        any_entry = fnn or mlp or serial
        details = any_entry["details"]
        cells = [details["data"] + (" (regressor)" if details["regression"] else "")]
        for entry in (fnn, serial, mlp):
            cells.append(_time_unit(_median(entry)) + _reps_note(entry, data) if entry else "")
        if fnn and mlp:
            per_epoch = (_median(mlp) / mlp["details"]["n_iter"]) / (
                _median(fnn) / fnn["details"]["n_iter"]
            )
            cells.append(_ratio(_median(mlp) / _median(fnn), _defaults_target(details)))
            cells.append(_ratio(per_epoch))
        else:
            cells += ["", ""]
        cells.append(f"{_median(serial) / _median(fnn):.2f}×" if fnn and serial else "")
        epochs = [str(e["details"]["n_iter"]) if e else "–" for e in (fnn, mlp)]
        scores = [f"{e['score']:.3f}" if e else "–" for e in (fnn, mlp)]
        kind = "R²" if details["regression"] else "accuracy"
        where = "held out" if details["held_out"] else "training"
        cells += [" / ".join(epochs), f"{' / '.join(scores)} ({kind}, {where})"]
        rows.append(cells)
    header = [
        "data (float64, every default)",
        "fnn fit",
        "fnn n_jobs=1",
        "MLP* fit",
        "fnn is faster by",
        "per epoch",
        "speed-up, default n_jobs over 1",
        "epochs fnn / MLP*",
        "score fnn / MLP*",
    ]
    return _table(header, rows)


def peers_table(data: dict) -> str:
    """One row per workload: every system's median time and its ratio to
    fnn's, and how much faster fnn is than the fastest peer (not fnn)."""
    workloads = _main_workloads(data)
    systems = []
    for workload in workloads:
        systems += [s for s in _by(data, workload) if s not in systems]
    rows = []
    for workload in workloads:
        entries = _by(data, workload)
        fnn = _median(entries["fnn"]) if "fnn" in entries else float("nan")
        cells = [workload]
        for system in systems:
            if system not in entries:
                cells.append("")
                continue
            median = _median(entries[system])
            ratio = "" if system == "fnn" else f" ({_ratio(median / fnn)})"
            cells.append(_time_unit(median) + ratio)
        peers = {s: _median(t) for s, t in _peers(entries).items()}
        if peers:
            fastest = min(peers, key=peers.get)
            cells += [fastest, _ratio(peers[fastest] / fnn)]
        else:
            cells += ["", ""]
        rows.append(cells)
    header = ["workload", *systems, "fastest peer", "fnn is faster by"]
    return _table(header, rows)


def memory_table(data: dict) -> str:
    rows = []
    for m in data["memory"]:
        rows.append(
            [
                m["system"],
                f"{m['x_mib']:.0f}",
                f"{m['data_mib']:.0f}",
                f"{m['fit_peak_mib']:.1f}",
                f"{m['fit_peak_mib'] / m['x_mib']:.2f}",
            ]
        )
    header = ["system", "X (MiB)", "RSS of the data (MiB)", "fit peak above it (MiB)", "÷ X"]
    return _table(header, rows)


def _pair_table(data: dict, workload: str, first_header: str, ratio_header: str) -> str:
    entries = list(_by(data, workload).values())
    if not entries:
        return ""
    reference = _median(entries[0])
    rows = []
    for t in entries:
        median = _median(t)
        rows.append(
            [
                t["system"],
                _seconds(median),
                f"{t['flops'] / median / 1e9:.1f}",
                f"{median / reference:.2f}",
                " ".join(f"{s:.3g}" for s in t["seconds"]),
            ]
        )
    header = [first_header, "seconds (median)", "GFLOP/s", ratio_header, "every repetition (s)"]
    return _table(header, rows)


def threads_table(data: dict) -> str:
    entries = list(_by(data, "threads").values())
    if not entries:
        return ""
    parsed = [(t, *t["note"].split()) for t in entries]
    one = {alpha: _median(t) for t, n, alpha in parsed if n == "1"}
    rows = []
    for t, n, alpha in parsed:
        median = _median(t)
        rows.append(
            [
                n,
                alpha,
                _seconds(median),
                f"{t['flops'] / median / 1e9:.1f}",
                f"{one[alpha] / median:.2f}",
                " ".join(f"{s:.3g}" for s in t["seconds"]),
            ]
        )
    header = [
        "threads",
        "alpha",
        "seconds (median)",
        "GFLOP/s",
        "speed-up over 1 thread",
        "every repetition (s)",
    ]
    return _table(header, rows)


def linearity_table(data: dict) -> str:
    entries = list(_by(data, "linearity").values())
    if not entries:
        return ""
    largest = entries[-1]
    per_largest = _median(largest) / largest["samples"]
    rows = []
    for t in entries:
        per = _median(t) / t["samples"]
        rows.append(
            [
                f"{int(t['samples']):,}",
                _seconds(_median(t)),
                f"{per * 1e6:.2f}",
                f"{per / per_largest:.3f}",
            ]
        )
    header = ["rows", "seconds (median)", "µs per sample", "per-sample time ÷ largest's"]
    return _table(header, rows)


def oversubscription_table(data: dict) -> str:
    rows = []
    for o in data["oversubscription"]:
        workers = o["workers"]
        rows.append(
            [
                o["config"],
                f"{o['wall']:.2f}",
                f"{o['cpu']:.2f}",
                f"{o['cpu'] / o['wall']:.2f}",
                str(len(workers)),
                ", ".join(str(w["OMP_NUM_THREADS"]) for w in workers),
                ", ".join(str(w["fnn_default_threads"]) for w in workers),
                ", ".join(str(w["fnn_pool_threads"]) for w in workers),
            ]
        )
    header = [
        "configuration",
        "wall s",
        "CPU s",
        "CPU ÷ wall",
        "processes",
        "OMP_NUM_THREADS",
        "fnn default threads",
        "fnn pool threads started",
    ]
    return _table(header, rows)


def targets(data: dict) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for every target the run has data for."""
    out = []
    peak = data["machine"]["peak_gflops_f32"]

    def peer_ratio(workload, need, label):
        """fnn against the fastest peer (JAX included; fnn's NumPy engine is
        fnn itself, quoted beside it)."""
        systems = _by(data, workload)
        peers = {s: _median(t) for s, t in _peers(systems).items()}
        if "fnn" not in systems or not peers:
            return
        fnn = _median(systems["fnn"])
        fastest = min(peers, key=peers.get)
        ratio = peers[fastest] / fnn
        measured = f"{_ratio(ratio, need)} (fastest peer: {fastest})"
        if "fnn-numpy" in systems:
            measured += f"; fnn-numpy {_median(systems['fnn-numpy']) / fnn:.1f}×"
        out.append((label, measured, ratio >= need))

    for workload in _defaults_workloads(data):
        systems = _by(data, workload)
        if "fnn" in systems and "sklearn" in systems:
            details = systems["fnn"]["details"]
            need = _defaults_target(details)
            ratio = _median(systems["sklearn"]) / _median(systems["fnn"])
            mlp = "MLPRegressor" if details["regression"] else "MLPClassifier"
            name = workload.removeprefix("defaults-")
            verdict = (f"defaults, {name}: ≥ {need}× {mlp}", _ratio(ratio, need), ratio >= need)
            out.append(verdict)
    scaling = _by(data, "defaults-make_classification")
    if "fnn" in scaling and "fnn-1thread" in scaling:
        ratio = _median(scaling["fnn-1thread"]) / _median(scaling["fnn"])
        out.append(
            (
                f"defaults, make_classification: n_jobs={data['settings']['threads']} "
                "≥ 1.8× n_jobs=1",
                _ratio(ratio, 1.8),
                ratio >= 1.8,
            )
        )
    peer_ratio("mnist", 2, "mnist fit ≥ 2× the fastest peer")
    mnist = _by(data, "mnist").get("fnn")
    if mnist:
        gflops = mnist["flops"] / _median(mnist) / 1e9
        measured = data["machine"].get("measured_peak_gflops_f32")
        if measured:
            # What the CPU delivers, not what its clock and a guess of its
            # FMA units promise.
            versus = f"the measured {measured:.0f} (nominal {peak:.0f})"
            bound = measured
        else:
            nominal_avx2 = data["machine"]["peak_avx2_gflops_f32"]
            versus = f"the nominal {peak:.0f} ({100 * gflops / nominal_avx2:.0f}% of its AVX2 peak)"
            bound = peak
        out.append(
            (
                "mnist fit ≥ 60% of the float32 FMA peak",
                f"{gflops:.1f} GFLOP/s = {100 * gflops / bound:.0f}% of {versus}",
                gflops >= 0.6 * bound,
            )
        )
    peer_ratio("small", 5, "small fit ≥ 5× the fastest peer")
    peer_ratio("tiny", 15, "tiny fit ≥ 15× the fastest peer")
    one = _by(data, "predict-1")
    if "fnn" in one and "onnxruntime" in one:
        f, o = _median(one["fnn"]), _median(one["onnxruntime"])
        out.append(
            (
                "predict 1 row no slower than ONNX Runtime",
                f"{f * 1e6:.0f} µs vs {o * 1e6:.0f} µs",
                f <= o,
            )
        )
    batch = [w for w in _main_workloads(data) if w.startswith("predict-") and w != "predict-1"]
    for workload in batch:
        peer_ratio(workload, 1.25, f"{workload} ≥ 1.25× the fastest peer")
    search = _by(data, "search")
    if "fnn" in search and "sklearn" in search:
        ratio = _median(search["sklearn"]) / _median(search["fnn"])
        f, s = search["fnn"]["score"], search["sklearn"]["score"]
        out.append(("search ≥ 20× faster than MLPClassifier's", _ratio(ratio, 20), ratio >= 20))
        out.append(("search best score ≥ MLPClassifier's", f"{f:.4f} vs {s:.4f}", f >= s))
    one = _by(data, "predict-1")
    if "fnn" in one and "sklearn" in one:
        f, s = _median(one["fnn"]), _median(one["sklearn"])
        out.append(
            (
                "predict 1 row ≤ 1/5 of MLPClassifier's latency",
                f"{f * 1e6:.0f} µs vs {s * 1e6:.0f} µs (1/{s / f:.1f})",
                f <= s / 5,
            )
        )
    memory = {m["system"]: m for m in data["memory"]}
    if "fnn" in memory:
        f = memory["fnn"]
        if "sklearn" in memory:
            s = memory["sklearn"]["fit_peak_mib"]
            out.append(
                (
                    "mnist fit peak memory ≤ MLPClassifier's",
                    f"+{f['fit_peak_mib']:.1f} MiB vs +{s:.1f} MiB",
                    f["fit_peak_mib"] <= s,
                )
            )
        out.append(
            (
                "mnist fit copies no X (float32 input: no conversion needed)",
                f"+{f['fit_peak_mib']:.1f} MiB above the data; X is {f['x_mib']:.0f} MiB",
                f["fit_peak_mib"] < 0.5 * f["x_mib"],
            )
        )
    threads = [t for t in _by(data, "threads").values() if t["note"].endswith(" 0.0001")]
    if len(threads) == 2:
        ratio = _median(threads[0]) / _median(threads[1])
        out.append(
            (
                f"mnist: {threads[1]['note'].split()[0]} threads ≥ 1.8× 1 thread",
                _ratio(ratio, 1.8),
                ratio >= 1.8,
            )
        )
    dtypes = _by(data, "dtype")
    if {"float32", "float64"} <= set(dtypes):
        ratio = _median(dtypes["float64"]) / _median(dtypes["float32"])
        out.append(("mnist float64 within 2.2× of float32", f"{ratio:.2f}×", ratio <= 2.2))
    lin = list(_by(data, "linearity").values())
    if len(lin) >= 2:
        per = [_median(t) / t["samples"] for t in lin]
        spread = max(per) / min(per)
        out.append(
            (
                "time linear in samples (per-sample time within 10%)",
                f"max/min per-sample time {spread:.3f}",
                spread <= 1.10,
            )
        )
    over = [o for o in data["oversubscription"] if "default" in o["config"] and "=2" in o["config"]]
    if over:
        o = over[0]
        ones = all(w["fnn_default_threads"] == 1 for w in o["workers"])
        cores = data["machine"]["cores"]
        out.append(
            (
                "GridSearchCV(n_jobs=2) with fnn does not oversubscribe",
                f"each worker: fnn uses {[w['fnn_default_threads'] for w in o['workers']]} "
                f"thread(s); CPU ÷ wall {o['cpu'] / o['wall']:.2f} on {cores} cores",
                ones and len(o["workers"]) * 1 <= cores,
            )
        )
    return out


def _peaks(machine: dict) -> str:
    """The measured float32 FMA peaks (GFLOP/s), or why there are none."""
    peaks = [p for p in machine.get("measured_peaks_gflops_f32", []) if p]
    if not peaks:
        return "not measured"
    return " and ".join(f"{p:.1f}" for p in peaks) + " GFLOP/s"


def _medians_of(data: dict) -> str:
    """How the repetitions started, and what the medians read."""
    settle = data["settings"].get("settle")
    if not settle:
        return "medians"
    if not settle["probed"]:
        return (
            f"each repetition started at least {settle['pause_seconds']:g} s after the last "
            "(fnn's FMA loop could not probe this machine); medians"
        )
    busy = sum(_busy(t, data) for t in data["timings"])
    total = sum(len(t["seconds"]) for t in data["timings"])
    idle = settle.get("idle_seconds") or 0.0
    cold = f", then {idle:g} s idle (a cold start, `--cold`)" if idle else ""
    return (
        f"each repetition started at least {settle['pause_seconds']:g} s after the last, "
        f"once fnn's FMA loop on {data['settings']['threads']} threads read at least "
        f"{settle['quiet_share']:.0%} of its best so far (waiting up to "
        f"{settle['limit_seconds']:g} s; {busy} of {total} started with a core still "
        f"busy){cold}; medians"
    )


def markdown(data: dict) -> str:
    m, s = data["machine"], data["settings"]
    versions = ", ".join(f"{k} {s[k]}" for k in VERSION_KEYS if k in s)
    parts = [
        f"Machine: {m['model']}, {m['cores']} cores at {m['mhz'] / 1e3:.2f} GHz, {m['simd']}, "
        f"{m['memory_gib']} GiB, virtual machine: {m['hypervisor']}; Python {m['python']}, "
        f"{m['system']}; {versions}.\n",
        f"Float32 FMA peak: {m['cores']} × {m['mhz'] / 1e3:.2f} GHz × 2 FMA/cycle × "
        f"{m['f32_lanes']} lanes × 2 = {m['peak_gflops_f32']:.1f} GFLOP/s "
        f"(AVX2: {m['peak_avx2_gflops_f32']:.1f}); measured on {s['threads']} threads "
        f"before and after the workloads: {_peaks(m)}.\n",
        f"{s['reps']} repetitions, systems alternating, "
        + ("each system in its own process, " if s.get("processes") == "one per system" else "")
        + f"{s['threads']} threads for every system; "
        + _medians_of(data)
        + f"; run took {s.get('elapsed_seconds', float('nan')):.0f} s; load average "
        f"(1 min) {s['load_average_before'][0]:.1f} before, "
        f"{s.get('load_average_after', [float('nan')])[0]:.1f} after"
        + (" (--quick)" if s["quick"] else "")
        + ".\n",
    ]
    if _defaults_workloads(data):
        parts += [
            "### Every default: fnn against MLPClassifier / MLPRegressor\n",
            defaults_table(data),
        ]
    if _main_workloads(data):
        parts += ["### fnn and its peers\n", peers_table(data)]
        parts += ["### Workloads\n", main_table(data)]
        if data.get("search_params"):
            best = "; ".join(
                f"{system}: {_params_text(params)}"
                for system, params in data["search_params"].items()
            )
            parts.append(f"Search best parameters — {best}.\n")
    if data["memory"]:
        parts += [
            "### Peak memory of the mnist fit (fresh process per system)\n",
            memory_table(data),
        ]
    table = threads_table(data)
    if table:
        parts += ["### Thread scaling (fnn, mnist fit)\n", table]
    table = _pair_table(data, "dtype", "dtype", "time ÷ float32's")
    if table:
        parts += ["### float64 vs float32 (fnn, mnist fit)\n", table]
    table = linearity_table(data)
    if table:
        parts += ["### Time against samples (fnn, mnist fit, 1 epoch)\n", table]
    if data["oversubscription"]:
        parts += [
            "### GridSearchCV around fnn: threads per worker (mnist-shaped data)\n",
            oversubscription_table(data),
        ]
    found = targets(data)
    if found:
        rows = [[t, measured, "met" if ok else "**missed**"] for t, measured, ok in found]
        parts += ["### Targets\n", _table(["target", "measured", "verdict"], rows)]
    return "\n".join(parts)


def chart(data: dict, path: Path) -> Path | None:
    """A bar chart of the main table (seconds per system, one panel per
    workload, each bar labelled with its time ÷ fnn's); None without matplotlib."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    except ImportError:
        return None
    workloads = _main_workloads(data)
    if not workloads:
        return None
    columns = min(3, len(workloads))
    rows = (len(workloads) + columns - 1) // columns
    figure = Figure(figsize=(4.2 * columns, 3.0 * rows), dpi=90, layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for ax, workload in zip(axes, workloads):
        systems = _by(data, workload)
        names = list(systems)
        medians = [_median(systems[n]) for n in names]
        fnn = medians[names.index("fnn")] if "fnn" in names else None
        unit, factor = ("ms", 1e3) if max(medians) < 1 else ("s", 1)
        if max(medians) < 1e-3:
            unit, factor = ("µs", 1e6)
        bars = ax.bar(
            names, [v * factor for v in medians], color=[COLORS.get(n, "gray") for n in names]
        )
        for bar, value in zip(bars, medians):
            label = f"×{value / fnn:.1f}" if fnn else ""
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_title(workload, fontsize=10)
        if max(medians) > 10 * min(medians):
            # Ratios of 2 and of 200 both readable; plain numbers on the axis.
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_ylabel(f"{unit} (log scale)", fontsize=8)
        else:
            ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=8)
        ax.margins(y=0.25)
    for ax in axes[len(workloads) :]:
        ax.set_visible(False)
    m = data["machine"]
    figure.suptitle(
        f"Median time (lower is better; labels: time ÷ fnn's) — {m['cores']} cores, "
        f"{data['settings']['threads']} threads each",
        fontsize=10,
    )
    figure.savefig(path)
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results")
    results = json.loads((out / "results.json").read_text())
    (out / "results.md").write_text(markdown(results))
    print(chart(results, out / "compare.png") or "no chart")
