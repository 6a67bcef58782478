"""The one interface both engines implement, and how to pick one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from ._config import EpochLog, TrainConfig, TrainState

#: Called after each epoch with (epoch, loss, val_loss, val_score); True stops.
EpochCallback = Callable[[int, float, float, float], bool]


class Engine(Protocol):
    """A training engine: stateless, every buffer comes in and goes out."""

    def init_params(self, config: TrainConfig, dtype) -> np.ndarray:
        """Return a fresh flat parameter buffer (spec section 2)."""
        ...

    def fit_epochs(
        self,
        config: TrainConfig,
        params: np.ndarray,
        state: TrainState,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        validation: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
        callback: EpochCallback | None = None,
        log: EpochLog | None = None,
    ) -> EpochLog:
        """Train ``params`` in place for up to ``config.max_epochs`` epochs.

        ``X`` is ``(n, d0)``, ``Y`` is ``(n, dL)`` (one-hot or indicator for
        classification), both C-contiguous in ``params.dtype``; ``state`` is
        updated in place. ``validation`` is ``(X_val, Y_val, weights_or_None)``.
        Each finished epoch is appended to ``log`` (a new `EpochLog` when
        None), which is also returned: when training ends with an exception
        (divergence, Ctrl-C), ``log`` still holds the epochs run before it.
        """
        ...

    def predict(self, config: TrainConfig, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Return the output-layer activations (after the output function), no dropout."""
        ...

    def logits(self, config: TrainConfig, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Return the output-layer pre-activations, no dropout."""
        ...

    def loss_and_gradients(
        self,
        config: TrainConfig,
        params: np.ndarray,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray]:
        """Return the objective over all rows of ``(X, Y)``, penalty included, and its gradient.

        The spec's objective (section 4) with every row in one batch, no
        dropout, ``config.alpha`` and ``config.l1`` as the penalty: what
        full-batch solvers (L-BFGS) minimise. ``X`` may be sparse; the
        gradient is flat (spec section 1) and float64. See `fnn._full_batch`.
        """
        ...


def get_engine(name: str) -> Engine:
    """Return the engine called ``name``.

    This registry is the one place that imports the NumPy engine
    (`fnn.reference`); everything else reaches it through here.

    Parameters
    ----------
    name : {"rust", "numpy"}
        ``"rust"``: the multi-threaded Rust engine (`fnn._core`);
        ``"numpy"``: the readable reference engine (`fnn.reference`).

    Returns
    -------
    Engine

    Raises
    ------
    ValueError
        If ``name`` is neither.
    """
    if name == "rust":
        from ._rust_engine import RustEngine

        return RustEngine()
    if name == "numpy":
        from .reference import NumpyEngine

        return NumpyEngine()
    raise ValueError(f"unknown engine {name!r}; expected 'rust' or 'numpy'")
