"""Typed stub of the Rust extension `fnn._core` (see rust/python/).

Arrays cross as flat C-contiguous 1-D float32/float64 buffers, all in the
dtype of ``params`` (or of the first array); `config` and `spec` are objects
with `fnn.TrainConfig`'s attributes (`spec` needs only the network's:
``layer_sizes``, ``activations``, ``negative_slope``, ``loss``, ``output``,
``huber_delta``). ``make lint`` checks this file against the built module
with ``python -m mypy.stubtest fnn._core``.
"""

from collections.abc import Callable
from typing import Any, final

import numpy as np
import numpy.typing as npt

_Floats = npt.NDArray[np.floating[Any]]
#: A feature matrix: dense rows, or a CSR matrix as (values, int64 indices,
#: int64 indptr) that Rust densifies a minibatch at a time.
_Features = _Floats | tuple[_Floats, npt.NDArray[np.int64], npt.NDArray[np.int64]]

__all__ = [
    "Predictor",
    "activate",
    "activation_derivative",
    "adam_step",
    "default_threads",
    "fit_epochs",
    "fma_peak_gflops",
    "forward",
    "init_params",
    "loss_and_gradients",
    "rmsprop_step",
    "rng_bits",
    "sgd_step",
]

def init_params(spec: Any, params: _Floats, seed: int) -> None: ...
def fit_epochs(
    config: Any,
    params: _Floats,
    slots: _Floats,
    state: Any,  # an fnn.TrainState, updated in place
    log: Any,  # an fnn.EpochLog, appended to (also when training ends with an exception)
    x: _Features,
    y: _Floats,
    weights: _Floats | None,
    x_val: _Features | None,
    y_val: _Floats | None,
    weights_val: _Floats | None,
    callback: Callable[[int, float, float, float], bool] | None,
) -> None: ...
def forward(
    spec: Any, params: _Floats, x: _Features, apply_output: bool, threads: int = 1
) -> _Floats: ...
def loss_and_gradients(
    spec: Any,
    params: _Floats,
    x: _Floats,
    y: _Floats,
    weights: _Floats | None,
    alpha: float,
    l1: float,
) -> tuple[float, _Floats]: ...
def activate(name: str, z: _Floats, width: int, negative_slope: float) -> _Floats: ...
def activation_derivative(name: str, a: _Floats, negative_slope: float) -> _Floats: ...
def sgd_step(
    params: _Floats, grad: _Floats, buf: _Floats, lr: float, momentum: float, nesterov: bool
) -> None: ...
def rmsprop_step(
    params: _Floats,
    grad: _Floats,
    sq: _Floats,
    avg: _Floats,
    buf: _Floats,
    lr: float,
    rho: float,
    eps: float,
    momentum: float,
    centered: bool,
) -> None: ...
def adam_step(
    params: _Floats,
    grad: _Floats,
    m: _Floats,
    v: _Floats,
    vmax: _Floats,
    lr: float,
    step: int,
    beta_1: float,
    beta_2: float,
    eps: float,
    amsgrad: bool,
    weight_decay: float,
) -> None: ...
def rng_bits(seed: int, stream: int, a: int, b: int, n: int) -> npt.NDArray[np.uint64]: ...
def default_threads() -> int: ...
def fma_peak_gflops(threads: int, repetitions: int = 20) -> float | None: ...

@final
class Predictor:
    """A fitted model's inference, set up once (rust/python/predictor.rs)."""

    def __new__(cls, config: Any, params: _Floats, finish: str) -> Predictor: ...
    def run(self, x: object, finished: bool, threads: int | None = None) -> _Floats | None: ...
    def finish(self, logits: _Floats) -> _Floats: ...
