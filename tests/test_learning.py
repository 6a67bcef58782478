"""The Rust engine learns: XOR to 100%, two moons to >= 97% held out, and a
smooth 1-D regression. Settings were checked to succeed for 30 of 30 (XOR)
and 5 of 5 (moons) seeds on the reference engine; one seed per case is fixed."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_moons

from fnn import TrainConfig, TrainState, get_engine

ENGINE = get_engine("rust")


def fit(config, X, Y, dtype=np.float64):
    X = np.ascontiguousarray(X, dtype=dtype)
    Y = np.ascontiguousarray(Y, dtype=dtype)
    params = ENGINE.init_params(config, dtype)
    state = TrainState.fresh(config, dtype)
    log = ENGINE.fit_epochs(config, params, state, X, Y)
    return params, log


XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation,hidden,seed", [("tanh", 8, 0), ("relu", 16, 3)])
def test_xor(activation, hidden, seed, dtype):
    config = TrainConfig(
        layer_sizes=(2, hidden, 2),
        activations=(activation,),
        loss="log_loss",
        output="softmax",
        solver="adam",
        learning_rate_init=0.03,
        batch_size=4,
        max_epochs=300,
        stopping="none",
        seed=seed,
    )
    params, log = fit(config, XOR_X, np.eye(2)[XOR_Y], dtype)
    proba = ENGINE.predict(config, params, np.ascontiguousarray(XOR_X, dtype=dtype))
    assert proba.dtype == dtype
    np.testing.assert_array_equal(np.argmax(proba, axis=1), XOR_Y)
    assert proba[np.arange(4), XOR_Y].min() > 0.9
    assert log.loss[-1] < 0.1 < log.loss[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_two_moons_held_out_accuracy(activation, dtype):
    X, y = make_moons(n_samples=1000, noise=0.1, random_state=0)
    X_train, y_train, X_test, y_test = X[:600], y[:600], X[600:], y[600:]
    config = TrainConfig(
        layer_sizes=(2, 32, 16, 2),
        activations=(activation, activation),
        loss="log_loss",
        output="softmax",
        solver="adam",
        learning_rate_init=0.01,
        batch_size=32,
        max_epochs=150,
        stopping="none",
        seed=1,
        threads=2,
    )
    params, _ = fit(config, X_train, np.eye(2)[y_train], dtype)
    proba = ENGINE.predict(config, params, np.ascontiguousarray(X_test, dtype=dtype))
    accuracy = np.mean(np.argmax(proba, axis=1) == y_test)
    assert accuracy >= 0.97


def test_sine_regression():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(600, 1))
    y = np.sin(x) + 0.05 * rng.normal(size=x.shape)
    config = TrainConfig(
        layer_sizes=(1, 32, 1),
        activations=("tanh",),
        loss="squared_error",
        output="identity",
        solver="adam",
        learning_rate_init=0.01,
        batch_size=32,
        max_epochs=200,
        stopping="none",
        seed=0,
    )
    params, _ = fit(config, x[:400], y[:400])
    pred = ENGINE.predict(config, params, np.ascontiguousarray(x[400:]))
    r2 = 1 - np.sum((y[400:] - pred) ** 2) / np.sum((y[400:] - y[400:].mean()) ** 2)
    assert r2 > 0.98
