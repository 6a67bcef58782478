"""The lab's exercises run and learn what the lesson promises."""

import subprocess
import sys

import pytest

from fnn.lab import moons_exercise, xor_exercise


@pytest.mark.parametrize("engine", ["rust", "numpy"])
def test_xor_exercise_reaches_full_accuracy_with_both_activations(engine):
    records = xor_exercise(engine=engine, seed=0)
    assert [r["activation"] for r in records] == ["tanh", "relu"]
    assert all(r["accuracy"] == 1.0 for r in records)


def test_moons_exercise_generalises():
    (record,) = moons_exercise(engine="rust", seed=0)
    assert record["test_accuracy"] >= 0.97


def test_the_lab_command_prints_both_exercises():
    out = subprocess.run(
        [sys.executable, "-m", "fnn.lab", "--seed", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "XOR" in out and "Two moons" in out
    assert "held-out accuracy 9" in out
