"""The engine interface's data: what to train, where training stands, what a call reports.

`TrainConfig` is what to train, `TrainState` where training stands and
`EpochLog` what one call reports. Both engines read exactly these objects;
docs/engine-spec.md gives the math behind every field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from . import _layout

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

    Invalid combinations raise ValueError on construction. The section
    numbers are docs/engine-spec.md's.

    Parameters
    ----------
    layer_sizes : tuple of int
        From the number of features to the number of outputs (section 1).
    activations : tuple of str
        One hidden activation per hidden layer, from `ACTIVATIONS` (section 3).
    negative_slope : float
        Slope of ``leaky_relu`` for negative inputs.
    loss, output : str
        The loss (`LOSSES`) and the output function (`OUTPUTS`) it goes with
        (section 4).
    huber_delta : float
        Where the Huber loss turns from quadratic to linear.
    alpha, l1 : float
        L2 and L1 penalty strengths (sections 4 and 5).
    dropout : tuple of float
        One rate per hidden layer; empty means no dropout (section 2).
    solver : str
        One of `SOLVERS` (section 6), with its settings ``learning_rate_init``,
        ``momentum``, ``nesterov``, ``rho``, ``centered``, ``beta_1``,
        ``beta_2``, ``epsilon``, ``amsgrad`` and ``weight_decay``.
    learning_rate_init, momentum, rho, beta_1, beta_2, epsilon, weight_decay : float
        The solver's numbers (PyTorch's names, section 6).
    nesterov, centered, amsgrad : bool
        The solver's switches.
    schedule : str
        One of `SCHEDULES` (section 7), with ``power_t``, ``step_size``,
        ``gamma``, ``t_max`` and ``eta_min``.
    power_t, gamma, eta_min : float
        The schedule's numbers.
    step_size, t_max : int
        The schedule's epoch counts.
    batch_size : int
        Rows per minibatch (section 8).
    shuffle : bool
        Visit the rows in a new random order every epoch (section 2).
    seed : int
        The key of every random stream, in ``[0, 2**64)`` (section 2).
    max_epochs : int
        Most epochs one `fit_epochs` call runs.
    tol, n_iter_no_change : float, int
        scikit-learn's stopping rule (section 8).
    stopping : str
        One of `STOPPING`: what the rule watches.
    restore_best : bool
        With ``stopping="val_score"``, end on the best snapshot of the call.
    score : str
        The validation score, one of `SCORES`.
    threads : int
        Threads the Rust engine uses; results do not depend on it.
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
        """Length of the flat parameter buffer (spec section 1)."""
        return _layout.n_params(self.layer_sizes)

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

    Engines update it in place (docs/engine-spec.md, sections 6 to 8).

    Parameters
    ----------
    slots : ndarray of shape (N_SLOTS, n_params)
        The optimizer's state, in the working dtype.
    lr_base : float
        The learning rate the schedule starts from (divided by 5 by the
        ``adaptive`` schedule).
    step, epoch, samples_seen : int
        Optimizer steps, epochs and rows seen so far.
    best_loss, best_score : float
        Best training loss and validation score so far.
    no_improve : int
        Epochs in a row without improvement.
    """

    slots: np.ndarray
    lr_base: float
    step: int = 0
    epoch: int = 0
    samples_seen: int = 0
    best_loss: float = math.inf
    best_score: float = -math.inf
    no_improve: int = 0

    def __setstate__(self, state) -> None:
        slots = state.get("slots")
        if isinstance(slots, np.ndarray) and not slots.flags.aligned:
            # Unpickled from a byte stream at an address the engines cannot
            # read whole elements from (see BaseFNN.__setstate__).
            state = {**state, "slots": slots.copy()}
        self.__dict__.update(state)

    def copy(self) -> TrainState:
        """Return an independent copy (the counters are immutable; the slots are copied)."""
        return replace(self, slots=self.slots.copy())

    @classmethod
    def fresh(cls, config: TrainConfig, dtype) -> TrainState:
        """Return the state before the first step."""
        slots = np.zeros((N_SLOTS, config.n_params), dtype=dtype)
        return cls(slots=slots, lr_base=float(config.learning_rate_init))


@dataclass
class EpochLog:
    """What one `fit_epochs` call reports, one entry per epoch run.

    Parameters
    ----------
    loss : list of float
        Training loss of each epoch, penalty included.
    val_loss, val_score : list of float
        Validation loss and score of each epoch (NaN without validation data).
    converged : bool
        Whether the stopping rule ended the call.
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)
    converged: bool = False
