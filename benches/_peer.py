"""The scikit-learn face shared by the peers written for the benchmark
(`_torch.TorchMLPClassifier`, `_jax.JaxMLPClassifier`): the hyperparameters
every system of a workload gets, under scikit-learn's names."""

from __future__ import annotations

from sklearn.base import BaseEstimator, ClassifierMixin


class PeerMLPClassifier(ClassifierMixin, BaseEstimator):
    """An MLP classifier trained by another library; subclasses write ``fit``
    and ``predict``. Every epoch runs (no early stopping); the threads are the
    process's (``_systems.set_threads``).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Units per hidden layer.
    batch_size : int, default=200
        Rows per minibatch (the last batch of an epoch takes the rest).
    max_iter : int, default=200
        Epochs; all of them run.
    learning_rate_init : float, default=1e-3
        Adam's step size.
    alpha : float, default=1e-4
        L2 penalty on the weights (not the biases).
    random_state : int, default=0
        Seed of the initial weights and of the shuffling.
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        batch_size=200,
        max_iter=200,
        learning_rate_init=1e-3,
        alpha=1e-4,
        random_state=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.random_state = random_state
