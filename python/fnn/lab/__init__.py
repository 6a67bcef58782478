"""The lesson's lab: six exercises that train networks, measure and draw them.

The exercises train networks, measure them and draw what they learned.

Every exercise is a module with a function ``run(*, quick=False, seed=0,
engine="rust", progress=None, **settings)`` returning an `ExerciseResult`: a
tidy table (one ``dict`` per run), the figures (matplotlib, no display
needed), and sentences generated from the measured numbers. The command line
(``python -m fnn.lab``, `fnn.lab.cli`) and the report (`fnn.lab.report`) are
thin layers over these functions, so a notebook can call them directly::

    from fnn.lab import activations
    result = activations.run(quick=True, seeds=10)
    result.table            # list of dicts; pandas.DataFrame(result.table)
    result.figures["curves"]

Exercises
---------
binary
    XOR, two moons and two circles: decision boundaries and loss curves.
activations
    Sigmoid, tanh, ReLU and leaky ReLU over several seeds.
multiclass
    Iris, digits and MNIST (when its files are given): accuracy, confusion
    matrices and a per-class report.
optimizers
    SGD, momentum, Nesterov, RMSprop, Adam and AdamW on digits: validation
    accuracy against epochs and against time.
regularization
    None, L2, L1, dropout and early stopping on a network built to overfit.
tuning
    A 5-fold grid search, and the same search with scikit-learn's
    ``MLPClassifier``, timed in the same run.

Every ``run`` takes its settings (the keys of the module's ``FULL``) as
keyword arguments; ``quick=True`` applies the module's ``QUICK`` changes.
"""

from __future__ import annotations

from collections.abc import Callable

from . import activations, binary, multiclass, optimizers, regularization, tuning
from ._common import (
    DEFAULT_ENGINE,
    MAX_SEED,
    ExerciseResult,
    Progress,
    Table,
    train_by_epoch,
)
from .report import format_table, write_report

__all__ = [
    "DEFAULT_ENGINE",
    "EXERCISES",
    "MAX_SEED",
    "OUTPUT_DIR",
    "SETTINGS",
    "ExerciseResult",
    "Progress",
    "Table",
    "format_table",
    "run_exercise",
    "train_by_epoch",
    "write_report",
]

#: Where ``python -m fnn.lab`` writes its report (relative to the cwd).
OUTPUT_DIR = "lab-output"

_MODULES = (binary, activations, multiclass, optimizers, regularization, tuning)

#: The exercises in the order of the lesson: name -> run function.
EXERCISES: dict[str, Callable[..., ExerciseResult]] = {m.NAME: m.run for m in _MODULES}

#: Each exercise's full-run settings: name -> {setting: default}.
SETTINGS: dict[str, dict] = {m.NAME: dict(m.FULL) for m in _MODULES}


def run_exercise(name: str, **kwargs) -> ExerciseResult:
    """Run the exercise called ``name`` (a key of `EXERCISES`).

    Parameters
    ----------
    name : str
        ``"binary"``, ``"activations"``, ``"multiclass"``, ``"optimizers"``,
        ``"regularization"`` or ``"tuning"``.
    **kwargs
        Passed to the exercise's ``run``: ``quick``, ``seed``, ``engine``,
        ``progress`` and any of its settings.

    Returns
    -------
    ExerciseResult
        What the exercise measured and drew.
    """
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; choose from {', '.join(EXERCISES)}")
    return EXERCISES[name](**kwargs)
