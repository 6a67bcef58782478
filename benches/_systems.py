"""The systems compared, each as a scikit-learn classifier with the same
hyperparameters: Adam, ReLU, softmax cross-entropy, L2 penalty ``alpha``,
shuffling every epoch, and no early stopping (every epoch runs).

- ``fnn``: `fnn.FNNClassifier` on the Rust engine;
- ``fnn-numpy``: the same estimator on fnn's NumPy reference engine;
- ``sklearn``: scikit-learn's ``MLPClassifier``;
- ``torch``: `TorchMLPClassifier`, a plain ``nn.Sequential`` trained by a
  ``torch.optim.Adam`` loop (only when PyTorch is importable).

Thread counts are set by the caller (`set_threads`), once for the process.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.utils.validation import check_is_fitted, validate_data

from fnn import FNNClassifier

#: Every system, in table order; ``torch`` only when importable.
ALL_SYSTEMS = ("fnn", "fnn-numpy", "sklearn", "torch")

# Short runs (1 epoch, 50 epochs in the search) are the point here, not a
# problem: silence the "max_iter reached" warnings once for every system.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
warnings.filterwarnings("ignore", message=".*max_iter.*still improving.*")


def torch_available() -> bool:
    """Whether PyTorch can be imported here (it is never a requirement)."""
    return importlib.util.find_spec("torch") is not None


def available_systems() -> tuple[str, ...]:
    """The systems this interpreter can run."""
    return tuple(s for s in ALL_SYSTEMS if s != "torch" or torch_available())


@dataclass(frozen=True)
class Hyper:
    """Hyperparameters shared by every system in one workload."""

    hidden: tuple[int, ...]
    batch_size: int
    epochs: int
    learning_rate: float = 1e-3
    alpha: float = 1e-4
    seed: int = 0


def set_threads(threads: int) -> None:
    """Give every library in this process ``threads`` threads.

    threadpoolctl caps the BLAS (NumPy, scikit-learn, fnn's NumPy engine) and
    OpenMP pools for the rest of the process; fnn gets ``n_jobs`` from
    `make_estimator`, PyTorch ``set_num_threads``.
    """
    from threadpoolctl import threadpool_limits

    if torch_available():
        import torch

        torch.set_num_threads(threads)
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
    if system == "fnn":
        return FNNClassifier(**common, **no_stopping, n_jobs=threads, engine="rust")
    if system == "fnn-numpy":
        return FNNClassifier(**common, **no_stopping, n_jobs=threads, engine="numpy")
    if system == "sklearn":
        return MLPClassifier(**common, **no_stopping)
    if system == "torch":
        return TorchMLPClassifier(**common, n_threads=threads)
    raise ValueError(f"unknown system {system!r}; expected one of {ALL_SYSTEMS}")


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """A PyTorch MLP behind scikit-learn's classifier API, written the way a
    PyTorch user would: ``nn.Sequential`` of ``Linear``/``ReLU``, softmax
    cross-entropy, ``torch.optim.Adam``, a shuffled minibatch loop.

    To train the same model as the others it starts from Glorot-uniform
    weights and biases (as scikit-learn and fnn do) and adds scikit-learn's
    penalty ``alpha/2 · ΣW² / batch rows`` to each batch loss.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Units per hidden layer.
    batch_size : int, default=200
        Rows per minibatch.
    max_iter : int, default=200
        Epochs; all of them run.
    learning_rate_init : float, default=1e-3
        Adam's step size.
    alpha : float, default=1e-4
        L2 penalty on the weights (not the biases).
    random_state : int, default=0
        Seed of the initial weights and the shuffling.
    n_threads : int or None, default=None
        ``torch.set_num_threads`` during `fit` and `predict` (None: leave it).
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        batch_size=200,
        max_iter=200,
        learning_rate_init=1e-3,
        alpha=1e-4,
        random_state=0,
        n_threads=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.random_state = random_state
        self.n_threads = n_threads

    def _network(self, n_in: int, n_out: int):
        import torch
        from torch import nn

        sizes = [n_in, *self.hidden_layer_sizes, n_out]
        layers: list = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            linear = nn.Linear(d_in, d_out)
            bound = float(np.sqrt(6.0 / (d_in + d_out)))
            with torch.no_grad():
                linear.weight.uniform_(-bound, bound)
                linear.bias.uniform_(-bound, bound)
            layers.append(linear)
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def fit(self, X, y):
        """Train for ``max_iter`` epochs (float32 ``X`` is used without a copy)."""
        import torch
        import torch.nn.functional as F

        if self.n_threads:
            torch.set_num_threads(int(self.n_threads))
        X, y = validate_data(self, X, y, dtype=np.float32, order="C")
        self.classes_, codes = np.unique(y, return_inverse=True)
        torch.manual_seed(int(self.random_state))
        generator = torch.Generator().manual_seed(int(self.random_state))
        self.model_ = self._network(X.shape[1], len(self.classes_))
        weights = [m.weight for m in self.model_ if isinstance(m, torch.nn.Linear)]
        optimizer = torch.optim.Adam(
            self.model_.parameters(), lr=self.learning_rate_init, betas=(0.9, 0.999), eps=1e-8
        )
        inputs = torch.from_numpy(X)  # shares X's memory
        targets = torch.from_numpy(codes.astype(np.int64))
        n = inputs.shape[0]
        batch = min(int(self.batch_size), n)
        half_alpha = 0.5 * float(self.alpha)
        self.model_.train()
        for _ in range(int(self.max_iter)):
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, batch):
                rows = order[start : start + batch]
                logits = self.model_(inputs[rows])
                loss = F.cross_entropy(logits, targets[rows])
                if half_alpha:
                    penalty = sum(w.square().sum() for w in weights)
                    loss = loss + half_alpha * penalty / rows.shape[0]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        self.n_iter_ = int(self.max_iter)
        return self

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits)."""
        import torch

        check_is_fitted(self)
        if self.n_threads and torch.get_num_threads() != int(self.n_threads):
            torch.set_num_threads(int(self.n_threads))
        X = validate_data(self, X, dtype=np.float32, order="C", reset=False)
        with torch.inference_mode():
            return torch.softmax(self.model_(torch.from_numpy(X)), dim=1).numpy()

    def predict(self, X):
        """The most probable class per row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
