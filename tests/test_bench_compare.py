"""benches/compare.py as a smoke run: a subset of ``--quick`` with one
repetition on one thread, each system in its own process, with the peers this
interpreter has (fnn, its NumPy engine and scikit-learn always; ONNX Runtime,
JAX and PyTorch when installed). Asserts the results file's structure and the
values that must hold whatever the machine's speed; no timing assertion."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCHES = Path(__file__).resolve().parents[1] / "benches"

#: One data set of each kind of the defaults family, every other timed
#: workload kind once (memory and oversubscription have their own fresh
#: processes and are left to `make bench`).
WORKLOADS = ("defaults-wine", "defaults-diabetes", "tiny", "mnist", "predict", "search", "threads")


def importable(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def load_bench_module(name: str):
    """A module of benches/ by file (benches/ is not a package)."""
    if str(BENCHES) not in sys.path:
        sys.path.insert(0, str(BENCHES))
    spec = importlib.util.spec_from_file_location(name, BENCHES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expected_systems(workload: str) -> set[str]:
    """The systems the run must have measured on ``workload`` here."""
    if workload.startswith("defaults-"):
        return {"fnn", "fnn-1thread", "sklearn"}
    systems = {"fnn", "fnn-numpy", "sklearn"}
    if importable("torch"):
        systems.add("torch")
    if workload in ("tiny", "mnist") and importable("jax"):
        systems.add("jax")
    if workload.startswith("predict-"):
        systems.discard("jax")
        if importable("onnxruntime", "skl2onnx"):
            systems.add("onnxruntime")
    return systems


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(results.json as a dict, the printed Markdown) of one smoke run."""
    out = tmp_path_factory.mktemp("compare")
    command = [
        sys.executable,
        str(BENCHES / "compare.py"),
        "--quick",
        "--reps",
        "1",
        "--threads",
        "1",
        "--workloads",
        ",".join(WORKLOADS),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads((out / "results.json").read_text()), done.stdout


def by_workload(data: dict) -> dict[str, dict[str, dict]]:
    found: dict[str, dict[str, dict]] = {}
    for timing in data["timings"]:
        found.setdefault(timing["workload"], {})[timing["system"]] = timing
    return found


def test_every_workload_has_every_system_once(run):
    data, _ = run
    timings = by_workload(data)
    workloads = [w for w in WORKLOADS if w not in ("predict", "threads")]
    workloads += ["predict-1", "predict-2k"]
    for workload in workloads:
        assert set(timings[workload]) == expected_systems(workload), workload
    assert set(timings) == {*workloads, "threads"}
    for timing in data["timings"]:
        assert len(timing["seconds"]) == 1
        assert all(math.isfinite(s) and s > 0 for s in timing["seconds"])
        assert timing["samples"] > 0
    assert data["settings"]["quick"] is True
    assert data["settings"]["processes"] == "one per system"


def test_defaults_keep_every_default_and_the_same_bits_on_one_thread(run):
    data, _ = run
    timings = by_workload(data)
    wine, diabetes = timings["defaults-wine"], timings["defaults-diabetes"]
    assert wine["fnn"]["details"]["data"] == "wine 133×13"
    assert diabetes["fnn"]["details"]["data"] == "diabetes 331×10"
    assert diabetes["sklearn"]["details"]["regression"] is True
    for entries in (wine, diabetes):
        for timing in entries.values():
            details = timing["details"]
            assert details["dtype"] == "float64" and details["held_out"] is True
            assert 1 <= details["n_iter"] <= 200  # max_iter's default
        # n_jobs changes no bits: the same epochs and the same score.
        serial, default = entries["fnn-1thread"], entries["fnn"]
        assert serial["details"]["n_iter"] == default["details"]["n_iter"]
        assert serial["score"] == default["score"]
    # Wine is easy: both libraries classify the held-out quarter well.
    assert wine["fnn"]["score"] >= 0.9 and wine["sklearn"]["score"] >= 0.9
    # Diabetes at the defaults is far from converged (200 epochs at lr 1e-3
    # on targets in the hundreds); both reach about the same held-out R².
    assert abs(diabetes["fnn"]["score"] - diabetes["sklearn"]["score"]) < 0.2


def test_fits_learn_and_both_fnn_engines_agree(run):
    data, _ = run
    timings = by_workload(data)
    for workload, floor in (("tiny", 0.7), ("mnist", 0.8)):
        entries = timings[workload]
        assert all(t["score"] >= floor for t in entries.values()), workload
        assert abs(entries["fnn"]["score"] - entries["fnn-numpy"]["score"]) <= 0.01
        assert all(t["flops"] > 0 for t in entries.values())
    search = timings["search"]
    assert all(t["score"] >= 0.85 for t in search.values())
    assert set(data["search_params"]) == set(search)


def test_onnx_runtime_serves_the_converted_model(run):
    if not importable("onnxruntime", "skl2onnx"):
        pytest.skip("ONNX Runtime or skl2onnx not installed")
    data, _ = run
    for workload in ("predict-1", "predict-2k"):
        details = by_workload(data)[workload]["onnxruntime"]["details"]
        assert details["agrees_with_mlpclassifier"] >= 0.99


def test_report_leads_with_the_defaults_and_peers_tables(run):
    data, markdown = run
    sections = [line for line in markdown.splitlines() if line.startswith("### ")]
    assert sections[:2] == [
        "### Every default: fnn against MLPClassifier / MLPRegressor",
        "### fnn and its peers",
    ]
    assert "| wine 133×13 |" in markdown and "| diabetes 331×10 (regressor) |" in markdown
    assert "defaults, wine: ≥ 10× MLPClassifier" in markdown
    threads = by_workload(data)["threads"]
    assert set(threads) == {"fnn, 1 thread, alpha=0.0001", "fnn, 1 thread, alpha=0"}


def test_a_missed_target_never_reads_as_met():
    report = load_bench_module("_report")
    assert report._ratio(4.9974, 5) == "4.997×"
    assert report._ratio(1.7996, 1.8) == "1.7996×"
    assert report._ratio(19.97, 20) == "19.97×"
    # Met, or missed by more than the rounding: the usual decimals.
    assert report._ratio(5.004, 5) == "5.00×"
    assert report._ratio(4.9974) == "5.00×"
    assert report._ratio(3.374, 10) == "3.37×"
    assert report._ratio(11.43, 10) == "11.4×"
    # The defaults table's "faster by" reads as its targets line does.
    details = {"data": "make_regression(20000, 50)"}
    assert report._defaults_target(details) == 5
    assert report._defaults_target({"data": "wine 133×13"}) == 10


def test_the_peak_the_run_measured_is_in_its_results(run):
    from fnn import _core

    data, markdown = run
    peaks = data["machine"]["measured_peaks_gflops_f32"]
    assert len(peaks) == 2  # before and after the workloads
    if _core.fma_peak_gflops(1, 1) is None:
        assert peaks == [None, None]
        assert data["machine"]["measured_peak_gflops_f32"] is None
        assert "before and after the workloads: not measured" in markdown
    else:
        assert all(p > 0 for p in peaks)
        assert data["machine"]["measured_peak_gflops_f32"] == max(peaks)
        assert "of the measured" in markdown


def test_the_mnist_peak_target_reads_against_the_measured_peak():
    report = load_bench_module("_report")
    # 130 GFLOP/s: 39% of a nominal 332.8, 63% of a measured 205.
    mnist = {"workload": "mnist", "system": "fnn", "seconds": [1.0], "flops": 130e9}

    def verdict(measured):
        machine = {"peak_gflops_f32": 332.8, "peak_avx2_gflops_f32": 166.4}
        if measured is not None:
            machine["measured_peak_gflops_f32"] = measured
        data = {
            "machine": machine,
            "settings": {"threads": 2},
            "timings": [mnist],
            "memory": [],
            "oversubscription": [],
        }
        (found,) = [t for t in report.targets(data) if "FMA peak" in t[0]]
        return found

    assert verdict(205.0) == (
        "mnist fit ≥ 60% of the float32 FMA peak",
        "130.0 GFLOP/s = 63% of the measured 205 (nominal 333)",
        True,
    )
    assert verdict(None)[1:] == (
        "130.0 GFLOP/s = 39% of the nominal 333 (78% of its AVX2 peak)",
        False,
    )


def test_the_peak_measurement_refuses_a_thread_count_it_cannot_start():
    from fnn import _core

    for threads in (0, 1025):
        with pytest.raises(ValueError, match=f"threads must be between 1 and 1024, got {threads}"):
            _core.fma_peak_gflops(threads)


def test_every_repetition_starts_on_a_probed_machine(run):
    data, markdown = run
    host = load_bench_module("_host")
    settle = data["settings"]["settle"]
    assert settle["pause_seconds"] == host.SETTLE_PAUSE
    assert settle["quiet_share"] == host.QUIET_SHARE
    for timing in data["timings"]:
        assert len(timing["host_gflops"]) == len(timing["seconds"])
        assert len(timing["quiet"]) == len(timing["seconds"])
        assert all(p is None or p > 0 for p in timing["host_gflops"])
    assert "each repetition started at least 0.25 s after the last" in markdown


def test_a_reading_is_quiet_against_the_best_so_far():
    host = load_bench_module("_host")
    # 85% of 220 is 187: 200 is quiet, 150 is not; no reading counts as quiet.
    assert [host.is_quiet(r, 220.0) for r in (200.0, 150.0, None)] == [True, False, True]
    assert host.is_quiet(10.0, None)  # nothing read yet


def test_the_gate_waits_for_a_quiet_reading_and_no_longer_than_its_limit(monkeypatch):
    host = load_bench_module("_host")
    clock = [0.0]
    monkeypatch.setattr(host.time, "perf_counter", lambda: clock[0])

    def sleep(seconds):
        clock[0] += seconds

    monkeypatch.setattr(host.time, "sleep", sleep)

    def readings(*values):
        queue = list(values)
        monkeypatch.setattr(host, "probe", lambda threads: queue.pop(0))

    # Busy twice, then quiet: three probes after the pause, the best kept.
    gate = host.Gate(2, 230.0)
    readings(110.0, 120.0, 225.0)
    assert gate.settle() == (225.0, True)
    assert clock[0] == host.SETTLE_PAUSE + 2 * 0.05 and gate.best == 230.0
    # A higher reading raises the bar for the next repetition.
    readings(240.0)
    assert gate.settle() == (240.0, True) and gate.best == 240.0
    # Busy for good: the repetition starts once the limit has run out.
    clock[0] = 0.0
    monkeypatch.setattr(host, "probe", lambda threads: 100.0)
    assert gate.settle() == (100.0, False)
    assert (
        host.SETTLE_PAUSE + host.SETTLE_LIMIT
        < clock[0]
        <= (host.SETTLE_PAUSE + host.SETTLE_LIMIT + 0.1)
    )
    # No loop to probe with: the pause alone.
    clock[0] = 0.0
    readings(None)
    assert host.Gate(2).settle() == (None, True) and clock[0] == host.SETTLE_PAUSE
    # A cold start: the idle time after the quiet reading, and after a limit run out.
    clock[0] = 0.0
    readings(230.0)
    assert host.Gate(2, 230.0, idle=0.05).settle() == (230.0, True)
    assert clock[0] == host.SETTLE_PAUSE + 0.05
    clock[0] = 0.0
    monkeypatch.setattr(host, "probe", lambda threads: 100.0)
    assert host.Gate(2, 230.0, idle=0.05).settle() == (100.0, False)
    assert clock[0] > host.SETTLE_PAUSE + host.SETTLE_LIMIT + 0.05


def test_the_report_counts_the_repetitions_that_started_busy():
    report = load_bench_module("_report")
    settle = {"pause_seconds": 0.25, "limit_seconds": 2.0, "quiet_share": 0.85, "probed": True}
    data = {"settings": {"reps": 3, "threads": 2, "settle": settle}}
    busy = {"seconds": [1.0, 9.0, 2.0], "quiet": [True, False, True]}
    # Every repetition is read: a busy start is reported, not dropped.
    assert report._median(busy) == 2.0
    assert report._reps_note(busy, data) == " (1 of 3 started with a core still busy)"
    slow = {"seconds": [130.0], "quiet": [False]}
    assert report._reps_note(slow, data) == (
        " (1 rep: too slow to repeat; 1 of 1 started with a core still busy)"
    )
    header = report._medians_of({**data, "timings": [busy, slow]})
    assert "of its best so far (waiting up to 2 s; 2 of 4 started with a core still busy)" in (
        header
    )
    assert header.endswith("busy); medians")
    # A cold run says so.
    cold = {**data, "settings": {**data["settings"], "settle": {**settle, "idle_seconds": 0.05}}}
    assert report._medians_of({**cold, "timings": [busy]}).endswith(
        "busy), then 0.05 s idle (a cold start, `--cold`); medians"
    )
    # Runs from before the gate: their flags meant something else; no notes.
    before = {"settings": {"reps": 3, "quiet_share": 0.85}, "timings": [busy]}
    assert report._reps_note(busy, before) == "" and report._medians_of(before) == "medians"
    settle["probed"] = False
    assert report._medians_of({**data, "timings": [busy]}) == (
        "each repetition started at least 0.25 s after the last "
        "(fnn's FMA loop could not probe this machine); medians"
    )
