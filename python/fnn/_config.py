"""The engine interface's data: what to train (`TrainConfig`), where training
stands (`TrainState`) and what one call reports (`EpochLog`).

Both engines read exactly these objects; docs/engine-spec.md gives the math
behind every field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")
LOSSES = ("squared_error", "huber", "log_loss", "hinge", "squared_hinge", "poisson")
OUTPUTS = ("identity", "sigmoid", "softmax", "exp")
#: The output function each loss needs (identity for the rest).
OUTPUT_OF = {"poisson": ("exp",), "log_loss": ("sigmoid", "softmax")}
SOLVERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "invscaling", "adaptive", "step", "cosine")
STOPPING = ("none", "train_loss", "val_score")
SCORES = ("accuracy", "r2")

#: Number of optimizer state slots kept per parameter (see the spec, section 6).
N_SLOTS = 3


@dataclass(frozen=True)
class TrainConfig:
    """Everything an engine needs to train a network, fixed for one fit.

    Layer sizes run from the number of features to the number of outputs;
    ``activations`` has one name per hidden layer and ``dropout`` one rate per
    hidden layer (empty means no dropout).
    """

    layer_sizes: tuple[int, ...]
    activations: tuple[str, ...]
    negative_slope: float = 0.01
    loss: str = "log_loss"
    output: str = "softmax"
    huber_delta: float = 1.0
    alpha: float = 0.0
    l1: float = 0.0
    dropout: tuple[float, ...] = ()
    solver: str = "adam"
    learning_rate_init: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    rho: float = 0.99
    centered: bool = False
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    amsgrad: bool = False
    weight_decay: float = 0.01
    schedule: str = "constant"
    power_t: float = 0.5
    step_size: int = 30
    gamma: float = 0.1
    t_max: int = 200
    eta_min: float = 0.0
    batch_size: int = 200
    shuffle: bool = True
    seed: int = 0
    max_epochs: int = 200
    tol: float = 1e-4
    n_iter_no_change: int = 10
    stopping: str = "train_loss"
    restore_best: bool = True
    score: str = "accuracy"
    threads: int = 1

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise ValueError("invalid TrainConfig: " + "; ".join(problems))

    @property
    def n_hidden(self) -> int:
        """Number of hidden layers."""
        return len(self.layer_sizes) - 2

    @property
    def n_params(self) -> int:
        """Length of the flat parameter buffer."""
        sizes = self.layer_sizes
        return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))

    def dropout_rates(self) -> tuple[float, ...]:
        """One dropout rate per hidden layer (zeros when dropout is off)."""
        return self.dropout if self.dropout else (0.0,) * self.n_hidden


def _problems(c: TrainConfig):
    if len(c.layer_sizes) < 2 or any(int(s) < 1 for s in c.layer_sizes):
        yield f"layer_sizes must have at least 2 positive sizes, got {c.layer_sizes}"
    if len(c.activations) != max(len(c.layer_sizes) - 2, 0):
        yield "activations needs one name per hidden layer"
    for name in c.activations:
        if name not in ACTIVATIONS:
            yield f"unknown activation {name!r}"
    for value, options, what in (
        (c.loss, LOSSES, "loss"),
        (c.output, OUTPUTS, "output"),
        (c.solver, SOLVERS, "solver"),
        (c.schedule, SCHEDULES, "schedule"),
        (c.stopping, STOPPING, "stopping"),
        (c.score, SCORES, "score"),
    ):
        if value not in options:
            yield f"unknown {what} {value!r}; expected one of {options}"
    if c.output not in OUTPUT_OF.get(c.loss, ("identity",)):
        yield f"loss {c.loss!r} does not go with output {c.output!r}"
    if c.dropout and len(c.dropout) != len(c.layer_sizes) - 2:
        yield "dropout needs one rate per hidden layer"
    if any(not 0.0 <= p < 1.0 for p in c.dropout):
        yield "dropout rates must be in [0, 1)"
    if not c.negative_slope >= 0.0:
        yield "negative_slope must be >= 0"
    if c.batch_size < 1 or c.max_epochs < 0 or c.threads < 1:
        yield "batch_size and threads must be >= 1, max_epochs >= 0"
    if not (c.learning_rate_init > 0.0 and math.isfinite(c.learning_rate_init)):
        yield "learning_rate_init must be a finite number > 0"
    if c.step_size < 1 or c.t_max < 1:
        yield "step_size and t_max must be >= 1"
    if not 0 <= c.seed < 2**64:
        yield "seed must fit in an unsigned 64-bit integer"
    counts = ("max_epochs", "step_size", "t_max", "n_iter_no_change", "batch_size", "threads")
    for name in counts:
        if not getattr(c, name) < 2**64:
            yield f"{name} must fit in an unsigned 64-bit integer"
    if c.n_params * 8 > np.iinfo(np.intp).max:
        yield f"layer_sizes {c.layer_sizes} need {c.n_params} parameters, more than memory holds"


@dataclass
class TrainState:
    """Where training stands; carried across calls for warm starts.

    ``slots`` holds the optimizer's state (section 6 of the spec), shaped
    ``(N_SLOTS, n_params)`` in the working dtype.
    """

    slots: np.ndarray
    lr_base: float
    step: int = 0
    epoch: int = 0
    samples_seen: int = 0
    best_loss: float = math.inf
    best_score: float = -math.inf
    no_improve: int = 0

    @classmethod
    def fresh(cls, config: TrainConfig, dtype) -> TrainState:
        """The state before the first step."""
        slots = np.zeros((N_SLOTS, config.n_params), dtype=dtype)
        return cls(slots=slots, lr_base=float(config.learning_rate_init))


@dataclass
class EpochLog:
    """What one `fit_epochs` call reports, one entry per epoch run."""

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)
    converged: bool = False
