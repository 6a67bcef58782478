"""The systems compared, each as a scikit-learn-style classifier with the same
hyperparameters: Adam, ReLU, softmax cross-entropy, L2 penalty ``alpha``,
shuffling every epoch, and no early stopping (every epoch runs).

- ``fnn``: `fnn.FNNClassifier` on the Rust engine;
- ``fnn-1thread``: the same with ``n_jobs=1`` (the defaults workloads only);
- ``fnn-numpy``: the same estimator on fnn's NumPy reference engine;
- ``sklearn``: scikit-learn's ``MLPClassifier`` (``MLPRegressor`` for the
  regression data of the defaults workloads);
- ``torch``: `_torch.TorchMLPClassifier`, a plain ``nn.Sequential`` trained by
  a ``torch.optim.Adam`` loop;
- ``jax``: `_jax.JaxMLPClassifier`, the whole fit compiled by XLA;
- ``onnxruntime``: `_onnx.OnnxRuntimeClassifier`, the ``MLPClassifier``
  converted by skl2onnx, for the predict workloads.

The last three run only where their libraries import (``make bench-venv``).
Each system runs in a process of its own (``_worker.py``), which imports only
that system's library and sets its threads once (`set_threads`).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass

from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from fnn import FNNClassifier

#: Every system, in table order.
ALL_SYSTEMS = ("fnn", "fnn-1thread", "fnn-numpy", "sklearn", "torch", "jax", "onnxruntime")

#: The modules a system needs beyond fnn and scikit-learn.
PEER_MODULES = {"torch": ("torch",), "jax": ("jax",), "onnxruntime": ("onnxruntime", "skl2onnx")}

#: The systems of each kind of workload (the fit, predict and search
#: workloads train the same classifiers; defaults are the estimators' defaults).
FIT_SYSTEMS = ("fnn", "fnn-numpy", "sklearn", "torch", "jax")
PREDICT_SYSTEMS = ("fnn", "fnn-numpy", "sklearn", "torch", "onnxruntime")
SEARCH_SYSTEMS = ("fnn", "fnn-numpy", "sklearn", "torch")
DEFAULTS_SYSTEMS = ("fnn", "fnn-1thread", "sklearn")

# Short runs (1 epoch, 50 epochs in the search) are the point here, not a
# problem: silence the "max_iter reached" warnings once for every system.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
warnings.filterwarnings("ignore", message=".*max_iter.*still improving.*")


def available(system: str) -> bool:
    """Whether this interpreter can run ``system`` (the peers are optional)."""
    return all(importlib.util.find_spec(m) is not None for m in PEER_MODULES.get(system, ()))


def available_systems() -> tuple[str, ...]:
    """The systems this interpreter can run."""
    return tuple(s for s in ALL_SYSTEMS if available(s))


@dataclass(frozen=True)
class Hyper:
    """Hyperparameters shared by every system in one workload."""

    hidden: tuple[int, ...]
    batch_size: int
    epochs: int
    learning_rate: float = 1e-3
    alpha: float = 1e-4
    seed: int = 0


def set_threads(system: str, threads: int) -> None:
    """Give ``system``'s libraries in this process ``threads`` threads.

    threadpoolctl caps the BLAS (NumPy, scikit-learn, fnn's NumPy engine) and
    OpenMP pools for the rest of the process; fnn gets ``n_jobs`` and ONNX
    Runtime its intra-op threads from `make_estimator`, PyTorch
    ``set_num_threads``. XLA's CPU client takes all cores; with one thread it
    runs its operations inline (its flags must be set before jax is imported).
    """
    from threadpoolctl import threadpool_limits

    if system == "torch":
        import torch

        torch.set_num_threads(threads)
    if system == "jax" and threads == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
    threadpool_limits(limits=threads)


def make_estimator(system: str, hyper: Hyper, threads: int) -> BaseEstimator:
    """An unfitted classifier of ``system`` with ``hyper``'s settings."""
    common = dict(
        hidden_layer_sizes=hyper.hidden,
        batch_size=hyper.batch_size,
        max_iter=hyper.epochs,
        learning_rate_init=hyper.learning_rate,
        alpha=hyper.alpha,
        random_state=hyper.seed,
    )
    # n_iter_no_change = max_iter: the no-improvement count can never exceed
    # it, so every epoch runs, in both scikit-learn and fnn.
    no_stopping = dict(
        solver="adam",
        activation="relu",
        shuffle=True,
        early_stopping=False,
        n_iter_no_change=hyper.epochs,
    )
    if system in ("fnn", "fnn-1thread"):
        n_jobs = 1 if system == "fnn-1thread" else threads
        return FNNClassifier(**common, **no_stopping, n_jobs=n_jobs, engine="rust")
    if system == "fnn-numpy":
        return FNNClassifier(**common, **no_stopping, n_jobs=threads, engine="numpy")
    if system == "sklearn":
        return MLPClassifier(**common, **no_stopping)
    if system == "torch":
        from _torch import TorchMLPClassifier

        return TorchMLPClassifier(**common)
    if system == "jax":
        from _jax import JaxMLPClassifier

        return JaxMLPClassifier(**common)
    if system == "onnxruntime":
        from _onnx import OnnxRuntimeClassifier

        return OnnxRuntimeClassifier({**common, **no_stopping}, threads=threads)
    raise ValueError(f"unknown system {system!r}; expected one of {ALL_SYSTEMS}")
