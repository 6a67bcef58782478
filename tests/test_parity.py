"""The Rust engine against the NumPy engine on whole training runs (float64).

Both follow docs/engine-spec.md, so after a few epochs of minibatch training
the parameters, the epoch log and the training state agree to a relative 1e-9.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from fnn import TrainConfig, TrainState, get_engine

ENGINES = {"rust": get_engine("rust"), "numpy": get_engine("numpy")}
ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")
N, N_VAL, D = 64, 24, 5


def assert_params_close(rust, numpy):
    np.testing.assert_allclose(rust, numpy, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------
# Data


def make_data(kind, k, seed, n=N, d=D):
    """Inputs and targets with some signal in them, float64 C-contiguous."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, k))
    T = X @ W + 0.5 * rng.normal(size=(n, k))
    if kind == "real":
        Y = np.tanh(T) * 2 + 0.3
    elif kind == "counts":
        Y = rng.poisson(np.exp(np.tanh(T))).astype(np.float64)
    elif kind == "onehot":
        Y = np.eye(k)[np.argmax(T, axis=1)]
    else:  # binary / multilabel indicators
        Y = (T > 0).astype(np.float64)
    return np.ascontiguousarray(X), np.ascontiguousarray(Y)


def make_problem(kind, k, seed=0, weighted_validation=True):
    X, Y = make_data(kind, k, seed)
    Xv, Yv = make_data(kind, k, seed + 1000, n=N_VAL)
    wv = np.random.default_rng(seed + 7).uniform(0.5, 2.0, N_VAL) if weighted_validation else None
    return X, Y, (Xv, Yv, wv)


# --------------------------------------------------------------------------
# Running and comparing


def run(engine, config, X, Y, params, state=None, sample_weight=None, validation=None, **kw):
    """Train a copy of ``params``; returns (params, state, log)."""
    params = params.copy()
    if state is None:
        state = TrainState.fresh(config, params.dtype)
    log = ENGINES[engine].fit_epochs(
        config, params, state, X, Y, sample_weight=sample_weight, validation=validation, **kw
    )
    return params, state, log


def both(config, X, Y, sample_weight=None, validation=None, dtype=np.float64, **kw):
    """The same run on both engines, from the NumPy engine's initial parameters."""
    params = ENGINES["numpy"].init_params(config, dtype)
    return {
        name: run(name, config, X, Y, params, None, sample_weight, validation, **kw)
        for name in ENGINES
    }


def assert_runs_agree(results, rtol=1e-9, atol=1e-12):
    (p_r, s_r, log_r), (p_n, s_n, log_n) = results["rust"], results["numpy"]
    assert p_r.dtype == p_n.dtype
    np.testing.assert_allclose(p_r, p_n, rtol=rtol, atol=atol, err_msg="params")
    assert len(log_r.loss) == len(log_n.loss), "number of epochs"
    for field in ("loss", "val_loss", "val_score"):
        np.testing.assert_allclose(
            getattr(log_r, field), getattr(log_n, field), rtol=rtol, atol=atol, err_msg=field
        )
    assert log_r.converged == log_n.converged, "converged"
    for field in ("step", "epoch", "samples_seen", "no_improve"):
        assert getattr(s_r, field) == getattr(s_n, field), field
    for field in ("lr_base", "best_loss", "best_score"):
        np.testing.assert_allclose(
            getattr(s_r, field), getattr(s_n, field), rtol=rtol, atol=atol, err_msg=field
        )
    assert s_r.slots.shape == s_n.slots.shape and s_r.slots.dtype == s_n.slots.dtype
    np.testing.assert_allclose(s_r.slots, s_n.slots, rtol=rtol, atol=atol, err_msg="slots")


def base_config(k, **overrides):
    settings = dict(
        layer_sizes=(D, 8, 6, k),
        activations=("tanh", "relu"),
        solver="adam",
        learning_rate_init=0.01,
        batch_size=16,
        max_epochs=3,
        seed=7,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


# --------------------------------------------------------------------------
# Initialisation


def spec_uniform(seed, stream, a, b, n):
    m64 = (1 << 64) - 1
    gamma = 0x9E3779B97F4A7C15

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m64
        return z ^ (z >> 31)

    def fold(key, w):
        return mix((key + gamma * (w + 1)) & m64)

    key = fold(fold(fold(seed, stream), a), b)
    return [(mix((key + gamma * (i + 1)) & m64) >> 11) * 2.0**-53 for i in range(n)]


def spec_init(config):
    sizes, acts = config.layer_sizes, config.activations
    n_layers = len(sizes) - 1
    out = []
    for layer in range(n_layers):
        act = acts[min(layer, n_layers - 2)] if n_layers > 1 else "relu"
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        bound = math.sqrt((2.0 if act == "sigmoid" else 6.0) / (fan_in + fan_out))
        for b, count in ((0, fan_in * fan_out), (1, fan_out)):
            out += [bound * (2 * u - 1) for u in spec_uniform(config.seed, 1, layer, b, count)]
    return np.array(out)


INIT_CONFIGS = [
    dict(layer_sizes=(3, 2), activations=()),
    dict(layer_sizes=(4, 5, 3), activations=("sigmoid",), seed=1),
    dict(layer_sizes=(2, 3, 4, 2), activations=("tanh", "sigmoid"), seed=2**64 - 1),
    dict(layer_sizes=(6, 7, 5, 1), activations=("sigmoid", "relu"), seed=123456789),
    dict(layer_sizes=(30, 20, 10), activations=("leaky_relu",), seed=5),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("settings", INIT_CONFIGS)
def test_init_params_agree_and_follow_spec(settings, dtype):
    config = TrainConfig(**settings)
    rust = ENGINES["rust"].init_params(config, dtype)
    numpy = ENGINES["numpy"].init_params(config, dtype)
    assert rust.dtype == dtype and rust.shape == (config.n_params,)
    np.testing.assert_array_equal(rust, numpy)
    np.testing.assert_array_equal(rust, spec_init(config).astype(dtype))


def test_init_params_depend_on_seed():
    a = ENGINES["rust"].init_params(TrainConfig((4, 5, 3), ("relu",), seed=0), np.float64)
    b = ENGINES["rust"].init_params(TrainConfig((4, 5, 3), ("relu",), seed=1), np.float64)
    assert not np.array_equal(a, b)


# --------------------------------------------------------------------------
# Every activation with every loss (validation data on, so val_loss/val_score
# and predict/logits are compared too).

# (id, loss, output, outputs, kind of target, score)
LOSS_CASES = [
    ("squared_error", "squared_error", "identity", 2, "real", "r2"),
    ("huber", "huber", "identity", 2, "real", "r2"),
    ("squared_error-argmax-accuracy", "squared_error", "identity", 3, "onehot", "accuracy"),
    ("huber-threshold-accuracy", "huber", "identity", 1, "binary", "accuracy"),
    ("log_loss-softmax", "log_loss", "softmax", 3, "onehot", "accuracy"),
    ("log_loss-sigmoid-binary", "log_loss", "sigmoid", 1, "binary", "accuracy"),
    ("log_loss-sigmoid-multilabel", "log_loss", "sigmoid", 3, "multilabel", "accuracy"),
    ("hinge-1", "hinge", "identity", 1, "binary", "accuracy"),
    ("hinge-k", "hinge", "identity", 3, "onehot", "accuracy"),
    ("squared_hinge-1", "squared_hinge", "identity", 1, "binary", "accuracy"),
    ("squared_hinge-k", "squared_hinge", "identity", 3, "onehot", "accuracy"),
    ("poisson", "poisson", "exp", 2, "counts", "r2"),
]


@pytest.mark.parametrize("case", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_with_every_loss(activation, case):
    _, loss, output, k, kind, score = case
    X, Y, validation = make_problem(kind, k, seed=len(case[0]))
    config = base_config(
        k,
        activations=(activation, activation),
        loss=loss,
        output=output,
        score=score,
        negative_slope=0.1,
        huber_delta=0.5,
    )
    results = both(config, X, Y, validation=validation)
    assert_runs_agree(results)
    log = results["numpy"][2]
    assert len(log.loss) == 3 and all(math.isfinite(v) for v in log.val_score)
    Xv = validation[0]
    for method in ("predict", "logits"):
        got = getattr(ENGINES["rust"], method)(config, results["rust"][0], Xv)
        want = getattr(ENGINES["numpy"], method)(config, results["rust"][0], Xv)
        assert got.shape == (N_VAL, k)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=method)


# --------------------------------------------------------------------------
# Every solver variant with every regularization.

SOLVERS = {
    "sgd": dict(solver="sgd", learning_rate_init=0.05),
    "sgd-momentum": dict(solver="sgd", learning_rate_init=0.02, momentum=0.9),
    "sgd-nesterov": dict(solver="sgd", learning_rate_init=0.02, momentum=0.9, nesterov=True),
    "rmsprop": dict(solver="rmsprop", learning_rate_init=0.003),
    "rmsprop-centered-momentum": dict(
        solver="rmsprop", learning_rate_init=0.002, centered=True, momentum=0.5, rho=0.9
    ),
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "adam-amsgrad": dict(solver="adam", learning_rate_init=0.01, amsgrad=True, beta_2=0.99),
    "adamw": dict(solver="adamw", learning_rate_init=0.01, weight_decay=0.1),
}
REGULARIZATIONS = {
    "none": {},
    "alpha": dict(alpha=0.5),
    "l1": dict(l1=0.05),
    "dropout": dict(dropout=(0.2, 0.2)),
    "sample_weight": {},
}


@pytest.mark.parametrize("reg", list(REGULARIZATIONS))
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_every_solver_with_every_regularization(solver, reg):
    X, Y, validation = make_problem("onehot", 3, seed=3)
    config = base_config(3, loss="log_loss", output="softmax", **SOLVERS[solver])
    config = dataclasses.replace(config, **REGULARIZATIONS[reg])
    sw = np.random.default_rng(11).uniform(0.0, 3.0, N) if reg == "sample_weight" else None
    results = both(config, X, Y, sample_weight=sw, validation=validation)
    assert_runs_agree(results)
    p0 = ENGINES["numpy"].init_params(config, np.float64)
    assert not np.allclose(results["rust"][0], p0), "training must move the parameters"


@pytest.mark.parametrize("case", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_every_solver_with_every_loss(solver, case):
    """Activation and regularization rotate with the pair, so that every one
    meets several solvers and losses."""
    _, loss, output, k, kind, score = case
    i = list(SOLVERS).index(solver) + LOSS_CASES.index(case)
    activation = ACTIVATIONS[i % len(ACTIVATIONS)]
    reg = list(REGULARIZATIONS)[(i // 2) % len(REGULARIZATIONS)]
    X, Y, validation = make_problem(kind, k, seed=i)
    config = base_config(
        k,
        activations=(activation, "tanh"),
        loss=loss,
        output=output,
        score=score,
        **SOLVERS[solver],
        **REGULARIZATIONS[reg],
    )
    sw = np.random.default_rng(i).uniform(0.0, 3.0, N) if reg == "sample_weight" else None
    assert_runs_agree(both(config, X, Y, sample_weight=sw, validation=validation))


def test_dropout_and_sample_weights_together_with_uneven_last_batch():
    X, Y, validation = make_problem("real", 2, seed=5)
    config = base_config(
        2,
        layer_sizes=(D, 9, 7, 2),
        activations=("relu", "leaky_relu"),
        loss="huber",
        output="identity",
        score="r2",
        dropout=(0.3, 0.0),
        batch_size=20,  # 64 = 3 * 20 + 4
        solver="sgd",
        momentum=0.9,
        learning_rate_init=0.01,
        alpha=0.1,
        max_epochs=4,
    )
    sw = np.random.default_rng(2).uniform(0.1, 2.0, N)
    results = both(config, X, Y, sample_weight=sw, validation=validation)
    assert_runs_agree(results)
    assert results["rust"][1].step == 16 and results["rust"][1].samples_seen == 4 * N


def test_no_hidden_layer_and_unshuffled():
    X, Y, validation = make_problem("binary", 1, seed=9)
    config = base_config(
        1, layer_sizes=(D, 1), activations=(), loss="log_loss", output="sigmoid", shuffle=False
    )
    results = both(config, X, Y, validation=validation)
    assert_runs_agree(results)


def test_without_validation_data_scores_are_nan():
    X, Y, _ = make_problem("onehot", 3, seed=4)
    results = both(base_config(3), X, Y)
    assert_runs_agree(results)
    for _, _, log in results.values():
        assert len(log.val_loss) == len(log.val_score) == 3
        assert all(math.isnan(v) for v in log.val_loss + log.val_score)


# --------------------------------------------------------------------------
# Schedules


SCHEDULES = {
    "invscaling": dict(schedule="invscaling", solver="sgd", learning_rate_init=0.5, power_t=0.3),
    "step": dict(schedule="step", step_size=1, gamma=0.5, solver="sgd", momentum=0.5),
    "cosine": dict(schedule="cosine", t_max=3, eta_min=1e-4, solver="adam"),
}


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_schedules(schedule):
    X, Y, validation = make_problem("onehot", 3, seed=6)
    config = base_config(3, max_epochs=4, **SCHEDULES[schedule])
    if config.solver == "sgd" and schedule == "step":
        config = dataclasses.replace(config, learning_rate_init=0.1)
    results = both(config, X, Y, validation=validation)
    assert_runs_agree(results)


@pytest.mark.parametrize("stopping", ["train_loss", "val_score"])
def test_adaptive_schedule_divides_lr_on_plateau(stopping):
    X, Y, validation = make_problem("onehot", 3, seed=6)
    # tol = 10: no epoch after the first counts as an improvement, so every
    # second epoch after the first (n_iter_no_change = 1) is a plateau:
    # lr_base /= 5 at epochs 3, 5 and 7.
    config = base_config(
        3,
        schedule="adaptive",
        stopping=stopping,
        tol=10.0,
        n_iter_no_change=1,
        max_epochs=8,
        solver="sgd",
        learning_rate_init=0.1,
    )
    results = both(config, X, Y, validation=validation)
    assert_runs_agree(results)
    for _, state, log in results.values():
        assert state.lr_base == pytest.approx(0.1 / 125, rel=1e-12)
        assert len(log.loss) == 8 and not log.converged


# --------------------------------------------------------------------------
# Stopping


def test_train_loss_stopping_triggers():
    X, Y, validation = make_problem("onehot", 3, seed=8)
    # tol = 10: epoch 1 sets best_loss, epochs 2, 3, 4 do not improve, and
    # no_improve = 3 > n_iter_no_change = 2 stops after epoch 4.
    config = base_config(3, stopping="train_loss", tol=10.0, n_iter_no_change=2, max_epochs=20)
    results = both(config, X, Y, validation=validation)
    assert_runs_agree(results)
    for _, state, log in results.values():
        assert log.converged and len(log.loss) == 4 and state.epoch == 4


def weighted_r2(config, engine, params, validation):
    Xv, Yv, wv = validation
    Z = ENGINES[engine].logits(config, params, Xv)
    mean = wv @ Yv / wv.sum()
    return float(np.mean(1 - wv @ (Yv - Z) ** 2 / (wv @ (Yv - mean) ** 2)))


@pytest.mark.parametrize("restore_best", [True, False])
def test_val_score_stopping_and_restore_best(restore_best):
    X, Y, validation = make_problem("real", 2, seed=12)
    config = base_config(
        2,
        loss="squared_error",
        output="identity",
        score="r2",
        stopping="val_score",
        restore_best=restore_best,
        tol=1e-3,
        n_iter_no_change=2,
        max_epochs=40,
        solver="sgd",
        momentum=0.9,
        learning_rate_init=0.05,
    )
    results = both(config, X, Y, validation=validation)
    assert_runs_agree(results)
    for engine, (params, state, log) in results.items():
        assert log.converged, engine
        assert len(log.loss) < 40
        # the restored parameters are those of the best epoch, else the last
        expected = max(log.val_score) if restore_best else log.val_score[-1]
        assert weighted_r2(config, engine, params, validation) == pytest.approx(expected, rel=1e-9)
        assert state.best_score == pytest.approx(max(log.val_score), rel=1e-12)
    if restore_best:
        # the scenario must make the restore matter
        log = results["numpy"][2]
        assert log.val_score[-1] < max(log.val_score)


# --------------------------------------------------------------------------
# Warm start and callbacks


@pytest.mark.parametrize(
    "settings",
    [
        dict(schedule="step", step_size=1, gamma=0.7, solver="sgd", momentum=0.9,
             learning_rate_init=0.05, dropout=(0.2, 0.1)),
        dict(schedule="invscaling", solver="sgd", learning_rate_init=0.3),
        dict(schedule="cosine", t_max=5, solver="adam", amsgrad=True),
        dict(schedule="adaptive", solver="rmsprop", learning_rate_init=0.003,
             stopping="train_loss", tol=10.0, n_iter_no_change=1),
    ],
    ids=["step-dropout", "invscaling", "cosine", "adaptive"],
)  # fmt: skip
def test_warm_start_continues_exactly(settings):
    X, Y, validation = make_problem("onehot", 3, seed=13)
    long = base_config(3, max_epochs=4, **settings)
    short = dataclasses.replace(long, max_epochs=2)
    params0 = ENGINES["numpy"].init_params(long, np.float64)
    finals = {}
    for engine in ENGINES:
        p_long, s_long, log_long = run(engine, long, X, Y, params0, validation=validation)
        p, s, log1 = run(engine, short, X, Y, params0, validation=validation)
        p, s, log2 = run(engine, short, X, Y, p, state=s, validation=validation)
        np.testing.assert_array_equal(p, p_long, err_msg=engine)
        np.testing.assert_array_equal(s.slots, s_long.slots, err_msg=engine)
        assert log1.loss + log2.loss == log_long.loss
        assert log1.val_score + log2.val_score == log_long.val_score
        for field in ("step", "epoch", "samples_seen", "no_improve", "lr_base", "best_loss"):
            assert getattr(s, field) == getattr(s_long, field), (engine, field)
        finals[engine] = (p_long, s_long, log_long)
    assert_runs_agree(finals)


def test_callback_sees_each_epoch_and_can_stop():
    X, Y, validation = make_problem("onehot", 3, seed=14)
    config = base_config(3, max_epochs=10, stopping="none")
    params0 = ENGINES["numpy"].init_params(config, np.float64)
    seen = {}
    results = {}
    for engine in ENGINES:
        calls = seen[engine] = []

        def callback(epoch, loss, val_loss, val_score, calls=calls):
            calls.append((epoch, loss, val_loss, val_score))
            return len(calls) == 3

        results[engine] = run(
            engine, config, X, Y, params0, validation=validation, callback=callback
        )
    assert_runs_agree(results)
    for engine, calls in seen.items():
        log = results[engine][2]
        assert len(calls) == 3 and len(log.loss) == 3 and results[engine][1].epoch == 3
        assert [c[1] for c in calls] == log.loss
        assert [c[3] for c in calls] == log.val_score
    np.testing.assert_allclose(np.array(seen["rust"]), np.array(seen["numpy"]), rtol=1e-9)


def test_divergence_is_an_error_on_both_engines():
    X, Y, _ = make_problem("real", 2, seed=15)
    Y = Y * 1e3
    config = base_config(
        2,
        activations=("identity", "identity"),
        loss="squared_error",
        output="identity",
        solver="sgd",
        learning_rate_init=10.0,
        max_epochs=50,
        stopping="none",
    )
    params0 = ENGINES["numpy"].init_params(config, np.float64)
    for engine in ENGINES:
        with pytest.raises(Exception, match="(?i)diverged"):
            run(engine, config, X, Y, params0)


def test_float32_runs_agree_closely():
    X, Y, validation = make_problem("onehot", 3, seed=16)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    val32 = (validation[0].astype(np.float32), validation[1].astype(np.float32), None)
    config = base_config(3, dropout=(0.1, 0.1), alpha=0.1)
    results = both(config, X32, Y32, validation=val32, dtype=np.float32)
    assert results["rust"][0].dtype == np.float32
    assert results["rust"][1].slots.dtype == np.float32
    assert_runs_agree(results, rtol=2e-4, atol=1e-5)
