"""The lab's exercises, in quick mode: tables of the expected shape with sane
values, findings computed from the numbers, reproducible seeds, the command."""

import json
import math
import struct
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from fnn.lab import (
    EXERCISES,
    SETTINGS,
    activations,
    binary,
    format_table,
    multiclass,
    regularization,
    run_exercise,
    tuning,
)
from fnn.lab._common import is_timing_column, parse_setting
from fnn.lab.cli import main
from fnn.lab.optimizers import OPTIMIZERS
from fnn.lab.report import format_value


def idx_bytes(array: np.ndarray) -> bytes:
    """A uint8 array as an IDX file (test_mnist.py covers the format fully)."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture(scope="module")
def quick():
    """Every exercise run once in quick mode with seed 0."""
    return {name: run_exercise(name, quick=True, seed=0) for name in EXERCISES}


def by(records, key):
    return {r[key]: r for r in records}


def test_exercises_are_the_six_of_the_lesson_in_order():
    assert list(EXERCISES) == [
        "binary",
        "activations",
        "multiclass",
        "optimizers",
        "regularization",
        "tuning",
    ]


@pytest.mark.parametrize("name", list(EXERCISES))
def test_every_exercise_returns_a_tidy_table_figures_and_generated_findings(quick, name):
    result = quick[name]
    assert result.name == name
    assert result.table and all(isinstance(r, dict) for r in result.table)
    columns = set(result.table[0])
    assert all(set(r) == columns for r in result.table)
    for row in result.table:
        assert all(isinstance(v, (int, float, str, np.integer, np.floating)) for v in row.values())
    assert result.figures and all(isinstance(f, Figure) for f in result.figures.values())
    assert all(f.axes for f in result.figures.values())
    assert result.prediction.startswith("The lesson predicts")
    # Sentences generated from the numbers carry the numbers.
    assert result.findings and any(ch.isdigit() for ch in result.findings[0])
    assert result.seconds > 0
    # The settings that ran are reported, including every default.
    assert set(SETTINGS[name]) <= set(result.settings)


def test_binary_learns_xor_exactly_and_curved_boundaries(quick):
    rows = by(quick["binary"].table, "dataset")
    assert list(rows) == ["xor", "moons", "circles"]
    assert rows["xor"]["train_accuracy"] == 1.0 and rows["xor"]["test_accuracy"] == 1.0
    assert rows["xor"]["linear_accuracy"] <= 0.75
    for name in ("moons", "circles"):
        assert rows[name]["test_accuracy"] >= 0.9
        assert rows[name]["test_accuracy"] > rows[name]["linear_accuracy"]
    xor_probabilities = quick["binary"].tables[1].rows
    assert [r["predicted"] for r in xor_probabilities] == [0, 1, 1, 0]
    assert f"{rows['xor']['epochs']} epochs" in quick["binary"].findings[0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_xor_is_learned_for_other_seeds_too(seed):
    result = binary.run(quick=True, seed=seed, max_epochs=5)
    assert result.table[0]["dataset"] == "xor" and result.table[0]["test_accuracy"] == 1.0


def test_binary_runs_on_the_numpy_engine_too():
    result = binary.run(quick=True, engine="numpy", max_epochs=40)
    rows = by(result.table, "dataset")
    assert rows["xor"]["test_accuracy"] == 1.0
    assert rows["moons"]["test_accuracy"] >= 0.85


def test_activations_cover_four_functions_over_five_seeds(quick):
    table = quick["activations"].table
    assert len(table) == 4 * 5
    assert {r["activation"] for r in table} == {"sigmoid", "tanh", "relu", "leaky_relu"}
    assert {r["seed"] for r in table} == {0, 1, 2, 3, 4}
    for r in table:
        assert 0.0 <= r["val_accuracy"] <= 1.0 and r["epochs"] >= 1
    relu = [r["val_accuracy"] for r in table if r["activation"] == "relu"]
    assert np.mean(relu) >= 0.85
    summary = quick["activations"].tables[0].rows
    assert [r["activation"] for r in summary] == ["sigmoid", "tanh", "relu", "leaky_relu"]
    assert all("±" in r["val_accuracy"] for r in summary)


def test_activation_findings_follow_the_numbers_not_the_lesson():
    # Made-up runs in which the sigmoid wins: the text must say so.
    s = activations.resolve_settings(activations.FULL, {}, False, {})
    records = [
        {
            "activation": a,
            "seed": k,
            "val_accuracy": 0.95 if a == "sigmoid" else 0.6 + 0.01 * k,
            "epochs_to_target": 3.0 if a == "sigmoid" else math.nan,
        }
        for a in s.activations
        for k in range(5)
    ]
    first, second = activations._findings(records, s)
    assert first.startswith("Measured over 5 seeds: sigmoid reached the highest")
    assert "sigmoid needed 3.0 epochs" in second and "never got there" in second


def test_multiclass_reaches_high_accuracy_on_iris_and_digits(quick):
    result = quick["multiclass"]
    rows = by(result.table, "dataset")
    assert list(rows) == ["iris", "digits"]
    assert rows["iris"]["test_accuracy"] >= 0.9
    assert rows["digits"]["test_accuracy"] >= 0.9
    assert rows["iris"]["n_classes"] == 3 and rows["digits"]["n_classes"] == 10
    per_class = result.tables[1].rows
    assert len(per_class) == 3 + 10
    assert all(0.0 <= r["precision"] <= 1.0 and r["support"] > 0 for r in per_class)
    assert sum(r["support"] for r in per_class) == rows["iris"]["n_test"] + rows["digits"]["n_test"]
    assert "MNIST was skipped" in result.findings[-1]


def write_learnable_mnist(directory, n_train=300, n_test=100):
    """MNIST-shaped files whose digits are learnable: one bright bar per class."""
    rng = np.random.default_rng(0)
    for kind, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 * label + 4 : 2 * label + 6, 4:24] = 255
        (directory / f"{kind}-images-idx3-ubyte").write_bytes(idx_bytes(images))
        (directory / f"{kind}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))


def test_multiclass_adds_mnist_when_given_its_files(tmp_path, monkeypatch):
    write_learnable_mnist(tmp_path)
    monkeypatch.setenv(multiclass.MNIST_ENV, str(tmp_path))
    result = multiclass.run(quick=True, digits_max_epochs=5, mnist_epochs=10)
    rows = by(result.table, "dataset")
    assert rows["mnist"]["n_features"] == 784
    assert rows["mnist"]["n_train"] == 300 and rows["mnist"]["n_test"] == 100
    assert rows["mnist"]["test_accuracy"] >= 0.9
    assert len(result.figures["confusion"].axes) >= 3
    assert not any("skipped" in s for s in result.findings)


def test_optimizers_are_all_timed_and_scored(quick):
    table = quick["optimizers"].table
    assert [r["optimizer"] for r in table[::2]] == list(OPTIMIZERS)
    assert len(table) == 6 * 2
    for r in table:
        assert r["train_seconds"] > 0 and r["seconds_per_epoch"] > 0
        assert 0.5 < r["val_accuracy"] <= 1.0
    summary = by(quick["optimizers"].tables[0].rows, "optimizer")
    assert set(summary) == set(OPTIMIZERS)
    assert all(summary[o]["train_seconds"] > 0 for o in OPTIMIZERS)
    # Same seeds for every optimizer.
    seeds = {o: sorted(r["seed"] for r in table if r["optimizer"] == o) for o in OPTIMIZERS}
    assert len({tuple(v) for v in seeds.values()}) == 1


def test_regularization_overfits_without_and_reports_every_variant(quick):
    result = quick["regularization"]
    rows = by(result.table, "variant")
    assert list(rows) == ["none", "l2", "l1", "dropout", "early_stopping"]
    none = rows["none"]
    assert none["train_accuracy"] > none["test_accuracy"] and none["gap"] > 0.05
    assert none["val_loss"] > 2 * none["train_loss"]
    assert rows["l1"]["zero_weights"] > none["zero_weights"]
    early = rows["early_stopping"]
    assert early["best_epoch"] <= early["epochs"] < result.settings["epochs"]
    for r in rows.values():
        assert math.isclose(r["gap"], r["train_accuracy"] - r["test_accuracy"])
    assert set(result.figures) == {"curves", "weights", "boundaries"}


def test_regularization_findings_say_which_gaps_narrowed():
    s = regularization.resolve_settings(regularization.FULL, {}, False, {})
    summary = [
        {
            "variant": v,
            "gap": gap,
            "train_accuracy": 0.95,
            "test_accuracy": 0.95 - gap,
            "train_loss": 0.1,
            "val_loss": 0.5,
            "zero_weights": 0.4 if v == "l1" else 0.01,
            "epochs": 40.0,
        }
        for v, gap in zip(s.variants, (0.10, 0.05, 0.20, 0.10, 0.02))
    ]
    text = " ".join(regularization._findings(summary, s))
    assert "narrowed with l2 (to 5.0 points), early_stopping (to 2.0 points)" in text
    assert "did not narrow with l1 (20.0 points), dropout (10.0 points)" in text
    assert "L1 left 40% of the weights" in text


def test_tuning_searches_the_grid_and_times_both_libraries(quick):
    result = quick["tuning"]
    s = result.settings
    n_candidates = (
        len(s["layers"]) * len(s["neurons"]) * len(s["learning_rates"]) * len(s["batch_sizes"])
    )
    assert len(result.table) == n_candidates
    assert sorted(r["fnn_rank"] for r in result.table)[0] == 1
    for r in result.table:
        assert 0.5 < r["fnn_score"] <= 1.0 and 0.5 < r["sklearn_score"] <= 1.0
    comparison = result.tables[0].rows
    assert [c["library"] for c in comparison] == [
        "fnn FNNClassifier",
        "scikit-learn MLPClassifier",
    ]
    for c in comparison:
        assert c["wall_seconds"] > 0 and c["fits"] == n_candidates * s["folds"] + 1
        assert c["best_layers"] in s["layers"] and c["best_neurons"] in s["neurons"]
        assert c["best_learning_rate"] in s["learning_rates"]
    assert f"{comparison[0]['wall_seconds']:.1f} s with fnn" in result.findings[-1]


def without_timings(records):
    return [{k: v for k, v in r.items() if not is_timing_column(k)} for r in records]


@pytest.mark.parametrize("name", ["binary", "activations", "optimizers", "tuning"])
def test_the_same_seed_gives_the_same_table(name):
    smaller = {"optimizers": {"epochs": 4, "seeds": 1}}.get(name, {})
    first = run_exercise(name, quick=True, seed=7, **smaller)
    second = run_exercise(name, quick=True, seed=7, **smaller)
    assert without_timings(first.table) == without_timings(second.table)
    other = run_exercise(name, quick=True, seed=8, **smaller)
    assert without_timings(other.table) != without_timings(first.table)


def test_settings_can_be_overridden_and_unknown_ones_are_refused():
    result = activations.run(quick=True, seeds=2, activations=("relu", "tanh"), max_epochs=20)
    assert [(r["activation"], r["seed"]) for r in result.table] == [
        ("relu", 0),
        ("relu", 1),
        ("tanh", 0),
        ("tanh", 1),
    ]
    with pytest.raises(TypeError, match="unknown setting.*no_such_thing"):
        activations.run(quick=True, no_such_thing=1)
    with pytest.raises(ValueError, match="seed must be in"):
        tuning.run(quick=True, seed=-1)


def test_progress_is_reported_from_zero_to_the_total():
    calls = []
    binary.run(quick=True, max_epochs=5, progress=lambda *a: calls.append(a))
    assert calls[0][:2] == (0, 3) and calls[-1][:2] == (3, 3)
    assert [c[2] for c in calls[1:]] == ["xor", "moons", "circles"]


def test_parse_setting_reads_python_literals():
    assert parse_setting("tuning.neurons=(16, 32)") == ("tuning", "neurons", (16, 32))
    assert parse_setting("activations.solver=adam") == ("activations", "solver", "adam")
    assert parse_setting("5.alpha=1e-3") == ("5", "alpha", 0.001)
    with pytest.raises(ValueError, match="EXERCISE.KEY=VALUE"):
        parse_setting("alpha=1")


def test_tables_format_numbers_for_reading():
    assert format_value("test_accuracy", 1.0) == "1.000"
    assert format_value("learning_rate", 0.001) == "0.001"
    assert format_value("seconds", 12.345) == "12.35"
    assert format_value("epochs_to_target", math.nan) == "–"
    text = format_table([{"name": "relu", "val_accuracy": 0.91}, {"name": "tanh"}])
    lines = text.splitlines()
    assert lines[0].split() == ["name", "val", "accuracy"]
    assert lines[2].startswith("relu") and lines[2].endswith("0.910")
    assert lines[3].rstrip().endswith("–")


def test_cli_refuses_unknown_exercises_and_settings(capsys):
    for argv in (["nope"], ["--set", "binary.nope=1"], ["--set", "x"], ["--seed", "-2"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown exercise(s) nope" in err
    assert "binary has no setting 'nope'" in err


def test_the_lab_command_runs_exercises_by_name_or_number(tmp_path):
    out = tmp_path / "report"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fnn.lab",
            "binary",
            "2",
            "--quick",
            "--out",
            str(out),
            "--seed",
            "1",
            "--set",
            "activations.seeds=2",
            "--set",
            "binary.max_epochs=20",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    stdout = run.stdout
    assert "1. Binary classification" in stdout and "2. Activation functions" in stdout
    assert "linear accuracy" in stdout and "Over 2 seeds" in stdout
    assert "%|" in run.stderr  # the progress bars
    assert (out / "index.html").is_file() and (out / "report.md").is_file()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["activations_curves.png", "binary_boundaries.png", "binary_loss.png"]
    data = json.loads((out / "results.json").read_text())
    assert [e["name"] for e in data["exercises"]] == ["binary", "activations"]
    assert data["exercises"][1]["settings"]["seeds"] == 2
    assert data["meta"]["seed"] == 1


def test_the_lab_command_reports_a_corrupt_mnist_file_clearly(tmp_path):
    write_learnable_mnist(tmp_path, n_train=20, n_test=10)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-3])
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fnn.lab",
            "3",
            "--quick",
            "--no-progress",
            "--mnist",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert "cannot read MNIST" in run.stderr and "t10k-labels-idx1-ubyte: truncated" in run.stderr
