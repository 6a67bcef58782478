"""The Rust engine trains without holding the GIL and stays interruptible."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from fnn import EpochLog, TrainConfig, TrainState, get_engine


def _long_config(**overrides):
    settings = dict(
        layer_sizes=(64, 256, 256, 10),
        activations=("relu", "relu"),
        loss="log_loss",
        output="softmax",
        batch_size=64,
        max_epochs=10_000,
        stopping="none",
        seed=0,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def _data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 64))
    Y = np.eye(10)[rng.integers(0, 10, n)]
    return X, Y


CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    sys.path.insert(0, {tests!r})
    from test_gil_and_signals import _data, _long_config
    from fnn import TrainState, get_engine

    engine = get_engine("rust")
    cfg = _long_config(threads={threads})
    X, Y = _data()
    params = engine.init_params(cfg, np.float64)
    state = TrainState.fresh(cfg, np.float64)
    print("started", flush=True)
    try:
        engine.fit_epochs(cfg, params, state, X, Y)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", time.monotonic(), flush=True)
    short = _long_config(max_epochs=1)
    state2 = TrainState.fresh(short, np.float64)
    log = engine.fit_epochs(short, engine.init_params(short, np.float64), state2, X, Y)
    print("refit", len(log.loss), bool(np.isfinite(params).all()), flush=True)
    """
)


# One thread trains on the calling thread, which runs the signal handlers
# itself; two train on fnn's pool while the calling thread waits for them.
@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_raises_keyboard_interrupt_within_a_second_and_fit_works_after(threads):
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=tests_dir, threads=threads)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "started"
        time.sleep(0.5)  # let training get going inside Rust
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        word, when = child.stdout.readline().split()
        assert word == "interrupted"
        assert float(when) - sent < 1.0
        assert child.stdout.readline().split() == ["refit", "1", "True"]
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()


def test_python_threads_run_while_rust_trains():
    engine = get_engine("rust")
    cfg = _long_config(max_epochs=3)
    X, Y = _data()
    params = engine.init_params(cfg, np.float64)
    state = TrainState.fresh(cfg, np.float64)
    done = threading.Event()
    ticks = 0

    def train():
        engine.fit_epochs(cfg, params, state, X, Y)
        done.set()

    worker = threading.Thread(target=train)
    worker.start()
    # With the GIL held by training, this loop would barely advance.
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    worker.join()
    assert state.epoch == 3
    assert ticks > 20


# A small network trains on the calling thread; the long one's batches are
# big enough for two threads, which train on fnn's pool.
CALLBACK_CONFIGS = {
    "calling thread": dict(layer_sizes=(64, 8, 10), activations=("tanh",), max_epochs=50),
    "pool": dict(max_epochs=50, threads=2),
}


@pytest.mark.parametrize("where", CALLBACK_CONFIGS)
def test_callback_sees_every_epoch_and_can_stop_training(where):
    engine = get_engine("rust")
    cfg = _long_config(**CALLBACK_CONFIGS[where])
    X, Y = _data(n=200)
    params = engine.init_params(cfg, np.float64)
    state = TrainState.fresh(cfg, np.float64)
    seen = []

    def callback(epoch, loss, val_loss, val_score):
        # Python's own arithmetic, not training's flushing of subnormals.
        halved = np.float64(np.finfo(np.float64).tiny) / 2
        seen.append((epoch, loss, halved > 0, threading.get_ident()))
        return epoch == 4

    log = engine.fit_epochs(cfg, params, state, X, Y, callback=callback)
    assert [e for e, *_ in seen] == [1, 2, 3, 4]
    assert [loss for _, loss, *_ in seen] == log.loss
    assert all(kept for *_, kept, _ in seen)
    assert {ident for *_, ident in seen} == {threading.get_ident()}
    assert state.epoch == 4 and not log.converged


@pytest.mark.parametrize(
    ("engine_name", "where"), [("rust", "calling thread"), ("rust", "pool"), ("numpy", "pool")]
)
def test_an_exception_in_the_callback_propagates_and_the_log_keeps_the_epochs_run(
    engine_name, where
):
    engine = get_engine(engine_name)
    cfg = _long_config(**CALLBACK_CONFIGS[where])
    X, Y = _data(n=200)
    params = engine.init_params(cfg, np.float64)
    state = TrainState.fresh(cfg, np.float64)
    log = EpochLog()

    def callback(epoch, *_):
        if epoch == 2:
            raise RuntimeError("stop here")
        return False

    with pytest.raises(RuntimeError, match="stop here"):
        engine.fit_epochs(cfg, params, state, X, Y, callback=callback, log=log)
    assert state.epoch == 2
    assert len(log.loss) == 2 and all(np.isfinite(log.loss))


def _stopped_at_epoch_6(threads, *, by_raising):
    """Params after a validated fit whose callback stops it at epoch 6, by
    returning True or by raising."""
    engine = get_engine("rust")
    X, Y = _data(n=200)
    X_val, Y_val = _data(n=100, seed=1)
    cfg = _long_config(
        max_epochs=8,
        threads=threads,
        stopping="val_score",
        restore_best=True,
        n_iter_no_change=100,
        learning_rate_init=0.05,
        score="accuracy",
    )
    params = engine.init_params(cfg, np.float64)
    state = TrainState.fresh(cfg, np.float64)

    def callback(epoch, *_):
        if epoch == 6 and by_raising:
            raise KeyboardInterrupt
        return epoch == 6

    try:
        engine.fit_epochs(
            cfg, params, state, X, Y, validation=(X_val, Y_val, None), callback=callback
        )
    except KeyboardInterrupt:
        assert by_raising
    return params


def test_a_callback_that_raises_stops_training_as_one_that_returns_true():
    # Both restore the best epoch's weights before the exception goes on, on
    # the calling thread (1 thread) as on the pool (2), byte for byte.
    stopped = _stopped_at_epoch_6(1, by_raising=False)
    for threads in (1, 2):
        raised = _stopped_at_epoch_6(threads, by_raising=True)
        assert raised.tobytes() == stopped.tobytes(), threads
