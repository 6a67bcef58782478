"""The Rust engine is deterministic: the same seed gives byte-identical
parameters whatever the number of threads, with shuffling and dropout on, on a
net big enough for the parallel code paths to run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fnn import TrainConfig, TrainState, get_engine

ENGINE = get_engine("rust")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 64))
    W = rng.normal(size=(64, 10))
    labels = np.argmax(X @ W + rng.normal(size=(2000, 10)), axis=1)
    return X, np.eye(10)[labels]


def config(**overrides):
    settings = dict(
        layer_sizes=(64, 128, 64, 10),
        activations=("relu", "tanh"),
        loss="log_loss",
        output="softmax",
        dropout=(0.2, 0.1),
        alpha=1e-3,
        solver="adam",
        learning_rate_init=1e-3,
        batch_size=256,
        shuffle=True,
        max_epochs=2,
        stopping="none",
        seed=1234,
        threads=1,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def train(cfg, data, dtype):
    X, Y = (np.ascontiguousarray(a, dtype=dtype) for a in data)
    params = ENGINE.init_params(cfg, dtype)
    state = TrainState.fresh(cfg, dtype)
    log = ENGINE.fit_epochs(cfg, params, state, X, Y)
    return params, state, log


# batch x width reaches the engine's parallel threshold (2**15 elements) in the
# first net's first hidden layer and in both of the wider net's; 2000 rows
# leave a short last batch.
# scikit-learn's default (100,) at batch 200 is cut into row blocks that run
# on separate threads (spec, "Row blocks"); 4 and 8 threads simulate a bigger
# machine on this one.
NETS = {
    "128-64-batch256": dict(layer_sizes=(64, 128, 64, 10), batch_size=256),
    "256-128-batch300": dict(layer_sizes=(64, 256, 128, 10), batch_size=300),
    "default-100-batch200": dict(
        layer_sizes=(64, 100, 10), activations=("relu",), dropout=(0.1,), batch_size=200
    ),
}
THREADS = (2, 3, 4, 8)


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_seed_is_byte_identical_across_thread_counts(data, dtype, net):
    runs = {t: train(config(threads=t, **NETS[net]), data, dtype) for t in (1, *THREADS)}
    p1, s1, log1 = runs[1]
    assert p1.dtype == dtype and np.all(np.isfinite(p1))
    for t in THREADS:
        p, s, log = runs[t]
        assert p.tobytes() == p1.tobytes(), f"params differ with threads={t}"
        assert s.slots.tobytes() == s1.slots.tobytes(), f"optimizer state differs with threads={t}"
        assert log.loss == log1.loss, f"losses differ with threads={t}"
    # and a repeat of the same call is identical too
    again = train(config(threads=2, **NETS[net]), data, dtype)[0]
    assert again.tobytes() == p1.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predictions_are_identical_across_thread_counts(data, dtype):
    X = np.ascontiguousarray(data[0], dtype=dtype)
    base = config()
    params = ENGINE.init_params(base, dtype)
    outputs = [
        ENGINE.predict(dataclasses.replace(base, threads=t), params, X).tobytes() for t in (1, 2, 3)
    ]
    assert outputs[0] == outputs[1] == outputs[2]


def test_different_seeds_give_different_params(data):
    a = train(config(seed=1, threads=2), data, np.float64)[0]
    b = train(config(seed=2, threads=2), data, np.float64)[0]
    assert a.shape == b.shape
    assert not np.allclose(a, b)


def test_shuffle_seed_alone_changes_the_run(data):
    """Same initial parameters, different shuffle/dropout streams: different results."""
    X, Y = data
    cfg_a, cfg_b = config(seed=5, threads=2), config(seed=6, threads=2)
    params = ENGINE.init_params(cfg_a, np.float64)
    results = []
    for cfg in (cfg_a, cfg_b):
        p = params.copy()
        ENGINE.fit_epochs(cfg, p, TrainState.fresh(cfg, np.float64), X, Y)
        results.append(p)
    assert not np.array_equal(results[0], results[1])
