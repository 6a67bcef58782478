"""JAX as a benchmark peer: a whole training run compiled by XLA.

`JaxMLPClassifier.fit` calls one ``jax.jit`` function: a ``lax.fori_loop``
over the epochs, each epoch a permutation of the rows and a ``lax.scan`` over
its full minibatches (then one step on the rows left over, as scikit-learn's
last, smaller batch), the Adam update written out. The first fit of a shape
compiles; the benchmark times later fits (steady state).

Same model and arithmetic as the other systems: Glorot-uniform weights and
biases, ReLU, softmax cross-entropy, scikit-learn's penalty
``alpha/2 · ΣW² / batch rows``, Adam with scikit-learn's bias correction, float32.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from _peer import PeerMLPClassifier
from jax import lax
from sklearn.utils.validation import check_is_fitted, validate_data

BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-8


def _logits(params, X):
    for weights, bias in params[:-1]:
        X = jax.nn.relu(X @ weights + bias)
    weights, bias = params[-1]
    return X @ weights + bias


def _batch_loss(params, X, Y, alpha):
    log_p = jax.nn.log_softmax(_logits(params, X))
    cross_entropy = -jnp.sum(Y * log_p) / X.shape[0]
    penalty = sum(jnp.sum(weights * weights) for weights, _ in params)
    return cross_entropy + 0.5 * alpha * penalty / X.shape[0]


_gradient = jax.grad(_batch_loss)


def _adam_step(state, rows, X, Y, learning_rate, alpha):
    params, first, second, step = state
    grads = _gradient(params, X[rows], Y[rows], alpha)
    step = step + 1.0
    first = jax.tree.map(lambda m, g: BETA_1 * m + (1 - BETA_1) * g, first, grads)
    second = jax.tree.map(lambda v, g: BETA_2 * v + (1 - BETA_2) * g * g, second, grads)
    rate = learning_rate * jnp.sqrt(1 - BETA_2**step) / (1 - BETA_1**step)
    params = jax.tree.map(
        lambda p, m, v: p - rate * m / (jnp.sqrt(v) + EPSILON), params, first, second
    )
    return params, first, second, step


@partial(jax.jit, static_argnames=("batch_size", "epochs"))
def train(params, X, Y, key, learning_rate, alpha, *, batch_size, epochs):
    """``epochs`` epochs of shuffled minibatch Adam from ``params``; returns the
    trained params. One compiled program per shape and static argument."""
    n = X.shape[0]
    full, rest = divmod(n, batch_size)
    step = partial(_adam_step, X=X, Y=Y, learning_rate=learning_rate, alpha=alpha)

    def scan_step(state, rows):
        return step(state, rows), None

    def epoch(_, carry):
        state, key = carry
        key, draw = jax.random.split(key)
        order = jax.random.permutation(draw, n)
        state, _ = lax.scan(scan_step, state, order[: full * batch_size].reshape(full, -1))
        if rest:
            state = step(state, order[full * batch_size :])
        return state, key

    zeros = jax.tree.map(jnp.zeros_like, params)
    state = (params, zeros, zeros, jnp.float32(0.0))
    (params, _, _, _), _ = lax.fori_loop(0, epochs, epoch, (state, key))
    return params


_predict_codes = jax.jit(lambda params, X: jnp.argmax(_logits(params, X), axis=1))


class JaxMLPClassifier(PeerMLPClassifier):
    """A JAX MLP behind scikit-learn's classifier API, trained by one compiled
    program (see the module docstring). Parameters: see `PeerMLPClassifier`.
    """

    def _initial_params(self, n_in: int, n_out: int) -> list:
        rng = np.random.default_rng(int(self.random_state))
        sizes = [n_in, *self.hidden_layer_sizes, n_out]
        params = []
        for d_in, d_out in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(6.0 / (d_in + d_out))
            weights = rng.uniform(-bound, bound, (d_in, d_out)).astype(np.float32)
            bias = rng.uniform(-bound, bound, d_out).astype(np.float32)
            params.append((jnp.asarray(weights), jnp.asarray(bias)))
        return params

    def fit(self, X, y):
        """Train for ``max_iter`` epochs (compiles on the first call of a shape)."""
        X, y = validate_data(self, X, y, dtype=np.float32, order="C")
        self.classes_, codes = np.unique(y, return_inverse=True)
        Y = np.eye(len(self.classes_), dtype=np.float32)[codes]
        params = train(
            self._initial_params(X.shape[1], len(self.classes_)),
            jnp.asarray(X),
            jnp.asarray(Y),
            jax.random.PRNGKey(int(self.random_state)),
            jnp.float32(self.learning_rate_init),
            jnp.float32(self.alpha),
            batch_size=min(int(self.batch_size), X.shape[0]),
            epochs=int(self.max_iter),
        )
        self.params_ = jax.block_until_ready(params)
        self.n_iter_ = int(self.max_iter)
        return self

    def predict(self, X):
        """The most probable class per row."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, order="C", reset=False)
        return self.classes_[np.asarray(_predict_codes(self.params_, jnp.asarray(X)))]
