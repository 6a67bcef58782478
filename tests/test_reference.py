"""Tests of the NumPy reference engine on its own (fnn.reference)."""

import math
import zlib

import numpy as np
import pytest

from fnn import _layout, _rng
from fnn import reference as ref
from fnn._config import TrainConfig, TrainState

# ---------------------------------------------------------------------------
# Random draws (spec section 2); fnn._rng itself is checked in test_rng.py
# ---------------------------------------------------------------------------


def test_shuffle_order_is_a_permutation_that_changes_by_epoch():
    first = ref.shuffle_order(5, 0, 100)
    second = ref.shuffle_order(5, 1, 100)
    assert sorted(first.tolist()) == list(range(100))
    assert sorted(second.tolist()) == list(range(100))
    assert not np.array_equal(first, second)
    assert np.array_equal(first, ref.shuffle_order(5, 0, 100))
    draws = [int(d) for d in _rng.bits(_rng.key(5, _rng.SHUFFLE, 0, 0), np.arange(100))]
    assert first.tolist() == sorted(range(100), key=lambda i: draws[i])


def test_dropout_mask_follows_the_spec():
    mask = ref.dropout_mask(9, 4, 1, 3, 5, 0.25)
    k = _rng.key(9, _rng.DROPOUT, 4, 1)
    for r in range(3):
        for j in range(5):
            kept = _rng.uniform(k, r * 5 + j) >= 0.25
            assert mask[r, j] == (1 / 0.75 if kept else 0.0)


# ---------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------


def make_config(**kw):
    defaults = dict(layer_sizes=(3, 4, 2), activations=("relu",))
    defaults.update(kw)
    return TrainConfig(**defaults)


def test_init_params_glorot_bounds_and_values():
    config = make_config(layer_sizes=(3, 5, 4, 2), activations=("sigmoid", "tanh"), seed=11)
    flat = ref.init_params(config, np.float64)
    assert flat.shape == (config.n_params,)
    coefs, intercepts = _layout.unpack(config, flat)
    bounds = [math.sqrt(2 / 8), math.sqrt(6 / 9), math.sqrt(6 / 6)]
    for W, b, bound in zip(coefs, intercepts, bounds):
        assert np.abs(W).max() <= bound and np.abs(b).max() <= bound
    u = _rng.uniform(_rng.key(11, _rng.INIT, 1, 0), 2 * 4 + 3)
    assert coefs[1][2, 3] == bounds[1] * (2 * u - 1)
    u = _rng.uniform(_rng.key(11, _rng.INIT, 2, 1), 1)
    assert intercepts[2][1] == bounds[2] * (2 * u - 1)


def test_init_params_deterministic_and_seeded():
    config = make_config(seed=1)
    a = ref.init_params(config, np.float64)
    assert np.array_equal(a, ref.init_params(config, np.float64))
    assert not np.array_equal(a, ref.init_params(make_config(seed=2), np.float64))
    single = ref.init_params(config, np.float32)
    assert single.dtype == np.float32
    assert np.array_equal(single, a.astype(np.float32))


def test_init_params_without_hidden_layer_uses_relu_bound():
    flat = ref.init_params(make_config(layer_sizes=(4, 2), activations=()), np.float64)
    assert np.abs(flat).max() <= math.sqrt(6 / 6)
    assert flat[0] == math.sqrt(1.0) * (2 * _rng.uniform(_rng.key(0, _rng.INIT, 0, 0), 0) - 1)


# ---------------------------------------------------------------------------
# Activations and losses on hand-computed examples
# ---------------------------------------------------------------------------


def test_sigmoid_is_overflow_safe():
    Z = np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        A = ref.activate("sigmoid", Z)
    assert A.tolist() == pytest.approx([0.0, 1 / (1 + math.e), 0.5, 1 / (1 + 1 / math.e), 1.0])


def test_activations_and_derivatives():
    Z = np.array([-2.0, 0.5])
    assert ref.activate("leaky_relu", Z, negative_slope=0.1).tolist() == [-0.2, 0.5]
    assert ref.activate("relu", Z).tolist() == [0.0, 0.5]
    A = ref.activate("leaky_relu", Z, negative_slope=0.1)
    assert ref.activation_derivative("leaky_relu", A, negative_slope=0.1).tolist() == [0.1, 1.0]
    assert ref.activation_derivative("relu", np.array([0.0, 0.5])).tolist() == [0.0, 1.0]
    assert ref.activation_derivative("tanh", np.array([0.5])).tolist() == [0.75]
    assert ref.activation_derivative("sigmoid", np.array([0.25])).tolist() == [0.1875]
    softmax = ref.activate("softmax", np.array([[0.0, math.log(3.0)]]))
    assert softmax.tolist()[0] == pytest.approx([0.25, 0.75])


def loss_of_logits(logits, Y, loss, **kw):
    """Loss of a net with no hidden layer whose logits are its biases."""
    logits = np.asarray(logits, dtype=np.float64)
    coefs = [np.zeros((1, logits.size))]
    value, _, _ = ref.loss_and_gradients(
        coefs, [logits], np.ones((1, 1)), np.atleast_2d(Y), activation=(), loss=loss, **kw
    )
    return value


@pytest.mark.parametrize(
    "logits, Y, loss, kw, expected",
    [
        ([0.0, math.log(3.0)], [0, 1], "log_loss", {}, math.log(4 / 3)),
        ([0.0, math.log(3.0)], [1, 0], "log_loss", {}, math.log(4)),
        ([0.0], [1], "log_loss", {}, math.log(2)),
        ([0.0, 0.0], [1, 0], "log_loss", {"output": "sigmoid"}, 2 * math.log(2)),
        ([1.0, 2.0], [0, 0], "squared_error", {}, 2.5),
        ([0.5, 3.0], [0, 0], "huber", {}, 0.125 + 2.5),
        ([0.5, 3.0], [0, 0], "huber", {"huber_delta": 2.0}, 0.125 + 4.0),
        ([0.25], [1], "hinge", {}, 0.75),
        ([0.25], [0], "hinge", {}, 1.25),
        ([2.0], [1], "hinge", {}, 0.0),
        ([0.25], [0], "squared_hinge", {}, 1.5625),
        ([1.0, 0.0, 0.5], [1, 0, 0], "hinge", {}, 0.5 / 3),
        ([1.0, 0.0, 0.5], [0, 1, 0], "hinge", {}, (2.0 + 1.5) / 3),
        ([1.0, 0.0, 0.5], [0, 1, 0], "squared_hinge", {}, (4.0 + 2.25) / 3),
    ],
)
def test_loss_values(logits, Y, loss, kw, expected):
    assert loss_of_logits(logits, Y, loss, **kw) == pytest.approx(expected, rel=1e-12)


def test_penalties_and_sample_weights_scale_as_specified():
    W = np.array([[1.0, -2.0]])
    X = np.array([[0.0], [0.0]])  # logits are the biases for both rows
    Y = np.array([[1.0, 0.0], [0.0, 0.0]])
    value, coef_grads, intercept_grads = ref.loss_and_gradients(
        [W],
        [np.zeros(2)],
        X,
        Y,
        activation="relu",
        loss="squared_error",
        alpha=0.5,
        l1=0.25,
        sample_weight=np.array([3.0, 1.0]),
    )
    # (3 * 0.5 + 1 * 0 + 0.5 * 0.5 * 5 + 0.25 * 3) / 4
    assert value == pytest.approx((1.5 + 1.25 + 0.75) / 4)
    assert coef_grads[0][0].tolist() == pytest.approx([(0.5 + 0.25) / 4, (-1.0 - 0.25) / 4])
    assert intercept_grads[0].tolist() == pytest.approx([-3 / 4, 0.0])


def test_gradients_keep_float32():
    rng = np.random.default_rng(0)
    coefs = [rng.normal(size=(3, 2)).astype(np.float32)]
    intercepts = [np.zeros(2, np.float32)]
    _, coef_grads, intercept_grads = ref.loss_and_gradients(
        coefs, intercepts, rng.normal(size=(4, 3)), np.eye(2)[[0, 1, 0, 1]], activation=(),
        loss="log_loss",
    )  # fmt: skip
    assert coef_grads[0].dtype == np.float32 and intercept_grads[0].dtype == np.float32


# ---------------------------------------------------------------------------
# Gradients against central finite differences
# ---------------------------------------------------------------------------

# (loss, output, number of outputs, kind of target)
LOSS_CASES = [
    ("squared_error", None, 2, "real"),
    ("huber", None, 2, "real"),
    ("log_loss", None, 3, "onehot"),
    ("log_loss", "sigmoid", 3, "multilabel"),
    ("hinge", None, 1, "binary"),
    ("squared_hinge", None, 1, "binary"),
    ("hinge", None, 3, "onehot"),
    ("squared_hinge", None, 3, "onehot"),
]
HUBER_DELTA = 0.5
KINK_GAP = 1e-3


def make_targets(rng, kind, n, k):
    if kind == "real":
        return rng.normal(scale=1.5, size=(n, k))
    if kind == "onehot":
        return np.eye(k)[rng.integers(k, size=n)]
    return rng.integers(2, size=(n, k)).astype(np.float64)


def distance_to_kinks(coefs, intercepts, X, Y, acts, loss, l1):
    """How close the inputs come to a point where the objective is not smooth."""
    gaps = [np.inf]
    for h, act in enumerate(acts):
        if act in ("relu", "leaky_relu"):
            pre = ref.forward(coefs[: h + 1], intercepts[: h + 1], X, activation=acts[:h])
            gaps.append(np.abs(pre).min())
    Z = ref.forward(coefs, intercepts, X, activation=acts)
    if loss == "huber":
        gaps.append(np.abs(np.abs(Z - Y) - HUBER_DELTA).min())
    if loss in ("hinge", "squared_hinge"):
        if Z.shape[1] == 1:
            margins = 1 - (2 * Y - 1) * Z
        else:
            c = Y.argmax(axis=1)
            margins = 1 - Z[np.arange(len(Z)), c][:, None] + Z
            margins[np.arange(len(Z)), c] = np.inf
        gaps.append(np.abs(margins).min())
    if l1:
        gaps.append(min(np.abs(W).min() for W in coefs))
    return min(gaps)


@pytest.mark.parametrize("activation", ["identity", "sigmoid", "tanh", "relu", "leaky_relu"])
@pytest.mark.parametrize("loss, output, k, kind", LOSS_CASES)
@pytest.mark.parametrize("regularised", [False, True])
def test_gradients_match_finite_differences(activation, loss, output, k, kind, regularised):
    rng = np.random.default_rng(zlib.crc32(f"{activation}{loss}{k}{regularised}".encode()))
    sizes = (5, 4, 3, k)
    acts = [activation, "tanh"] if regularised else activation
    names = list(acts) if regularised else [activation] * 2
    options = dict(activation=acts, loss=loss, output=output, huber_delta=HUBER_DELTA)
    if regularised:
        options.update(alpha=0.3, l1=0.05, negative_slope=0.2)
    for _ in range(100):  # resample until no input sits on a kink
        flat = rng.normal(size=sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))
        coefs, intercepts = _layout.unpack(sizes, flat)
        X = rng.normal(size=(6, 5))
        Y = make_targets(rng, kind, 6, k)
        weights = rng.uniform(0.5, 2.0, size=6) if regularised else None
        l1 = options.get("l1", 0.0)
        if distance_to_kinks(coefs, intercepts, X, Y, names, loss, l1) > KINK_GAP:
            break
    else:
        pytest.fail("could not draw a network away from the kinks")

    def objective():
        return ref.loss_and_gradients(
            coefs, intercepts, X, Y, sample_weight=weights, **options
        )[0]  # fmt: skip

    _, coef_grads, intercept_grads = ref.loss_and_gradients(
        coefs, intercepts, X, Y, sample_weight=weights, **options
    )
    analytic = _layout.pack(coef_grads, intercept_grads)
    numeric = np.empty_like(flat)
    eps = 1e-6
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        up = objective()
        flat[i] = saved - eps
        down = objective()
        flat[i] = saved
        numeric[i] = (up - down) / (2 * eps)
    scale = max(np.linalg.norm(numeric), np.linalg.norm(analytic), 1e-12)
    assert np.linalg.norm(numeric - analytic) / scale <= 1e-5
    assert np.linalg.norm(analytic) > 0


# ---------------------------------------------------------------------------
# Optimizer steps: two steps on [1, -2] with gradients [0.5, -1] then [0.25, 2]
# ---------------------------------------------------------------------------

G1 = np.array([0.5, -1.0])
G2 = np.array([0.25, 2.0])


def run_two_steps(step, n_state, **kw):
    params = np.array([1.0, -2.0])
    state = [np.zeros(2) for _ in range(n_state)]
    for t, g in enumerate((G1, G2), start=1):
        extra = {"step": t} if step is ref.adam_step else {}
        assert step(params, g, *state, **kw, **extra) is None
    return params, state


def test_sgd_plain():
    params, (buf,) = run_two_steps(ref.sgd_step, 1, lr=0.1)
    assert params.tolist() == pytest.approx([0.925, -2.1])
    assert buf.tolist() == [0.0, 0.0]


def test_sgd_momentum():
    # buf: [0.5, -1] then [0.7, 1.1]
    params, (buf,) = run_two_steps(ref.sgd_step, 1, lr=0.1, momentum=0.9)
    assert buf.tolist() == pytest.approx([0.7, 1.1])
    assert params.tolist() == pytest.approx([0.88, -2.01])


def test_sgd_nesterov():
    # directions g + 0.9 buf: [0.95, -1.9] then [0.88, 2.99]
    params, _ = run_two_steps(ref.sgd_step, 1, lr=0.1, momentum=0.9, nesterov=True)
    assert params.tolist() == pytest.approx([0.817, -2.109])


def test_rmsprop_plain():
    params, (sq, _, _) = run_two_steps(ref.rmsprop_step, 3, lr=0.1, rho=0.5, eps=0.0)
    # sq: [0.125, 0.5] then [0.09375, 2.25]
    assert sq.tolist() == [0.09375, 2.25]
    first = [1 - 0.1 * 0.5 / math.sqrt(0.125), -2 + 0.1 * 1 / math.sqrt(0.5)]
    expected = [first[0] - 0.1 * 0.25 / math.sqrt(0.09375), first[1] - 0.1 * 2 / 1.5]
    assert params.tolist() == pytest.approx(expected, rel=1e-14)


def test_rmsprop_centered_momentum():
    params, (sq, avg, buf) = run_two_steps(
        ref.rmsprop_step, 3, lr=0.1, rho=0.5, eps=0.0, momentum=0.5, centered=True
    )
    # step 1: den = sqrt(sq - avg^2) = [0.25, 0.5], buf = [2, -2], params [0.8, -1.8]
    # step 2: sq = [0.09375, 2.25], avg = [0.25, 0.75], den = [sqrt(1/32), sqrt(27/16)]
    assert avg.tolist() == [0.25, 0.75]
    assert buf.tolist() == pytest.approx([1 + math.sqrt(2), -1 + 8 / math.sqrt(27)])
    expected = [0.8 - 0.1 * (1 + math.sqrt(2)), -1.8 - 0.1 * (-1 + 8 / math.sqrt(27))]
    assert params.tolist() == pytest.approx(expected, rel=1e-14)


def adam_expected(second_moments, decay=0.0):
    """Two Adam steps with beta_1 = beta_2 = 0.5, lr = 0.1, eps = 0, worked by hand."""
    # Step 1: m = [0.25, -0.5]; the bias-corrected update is lr * sign(g) = 0.1.
    first = [1 * (1 - decay) - 0.1, -2 * (1 - decay) + 0.1]
    # Step 2: m = [0.25, 0.75], step size 0.1 / 0.75, denominators sqrt(v_hat / 0.75).
    m = [0.25, 0.75]
    return [
        p * (1 - decay) - (0.1 / 0.75) * mi / math.sqrt(vi / 0.75)
        for p, mi, vi in zip(first, m, second_moments)
    ]


def test_adam():
    params, (m, v, vmax) = run_two_steps(ref.adam_step, 3, lr=0.1, beta_1=0.5, beta_2=0.5, eps=0.0)
    assert m.tolist() == [0.25, 0.75] and v.tolist() == [0.09375, 2.25]
    assert params.tolist() == pytest.approx(adam_expected([0.09375, 2.25]), rel=1e-14)


def test_adam_amsgrad_keeps_the_largest_second_moment():
    params, (_, v, vmax) = run_two_steps(
        ref.adam_step, 3, lr=0.1, beta_1=0.5, beta_2=0.5, eps=0.0, amsgrad=True
    )
    assert v.tolist() == [0.09375, 2.25]
    assert vmax.tolist() == [0.125, 2.25]
    assert params.tolist() == pytest.approx(adam_expected([0.125, 2.25]), rel=1e-14)


def test_adamw_decays_before_the_update():
    params, _ = run_two_steps(
        ref.adam_step, 3, lr=0.1, beta_1=0.5, beta_2=0.5, eps=0.0, weight_decay=0.1
    )
    expected = adam_expected([0.09375, 2.25], decay=0.01)
    assert params.tolist() == pytest.approx(expected, rel=1e-14)


# ---------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule, kw, expected",
    [
        ("constant", {}, 0.2),
        ("adaptive", {}, 0.2),
        ("invscaling", {"power_t": 0.5}, 0.2 / 2),
        ("step", {"step_size": 2, "gamma": 0.5}, 0.2 * 0.25),
        ("cosine", {"t_max": 10, "eta_min": 0.1}, 0.15),
    ],
)
def test_learning_rate(schedule, kw, expected):
    config = make_config(schedule=schedule, learning_rate_init=0.2, **kw)
    state = TrainState.fresh(config, np.float64)
    state.epoch, state.samples_seen = 5, 3
    assert ref.learning_rate(config, state) == pytest.approx(expected, rel=1e-15)


# ---------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.eye(2)[[0, 1, 1, 0]]


def fit(config, X, Y, dtype=np.float64, **kw):
    engine = ref.NumpyEngine()
    params = engine.init_params(config, dtype)
    state = TrainState.fresh(config, dtype)
    log = engine.fit_epochs(config, params, state, X.astype(dtype), Y.astype(dtype), **kw)
    return engine, params, state, log


def test_engine_learns_xor():
    config = TrainConfig(
        layer_sizes=(2, 8, 2),
        activations=("tanh",),
        learning_rate_init=0.05,
        batch_size=4,
        stopping="none",
        max_epochs=300,
    )
    engine, params, state, log = fit(config, XOR_X, XOR_Y, validation=(XOR_X, XOR_Y, None))
    assert np.argmax(engine.predict(config, params, XOR_X), axis=1).tolist() == [0, 1, 1, 0]
    assert log.loss[-1] < 0.1 * log.loss[0]
    assert log.val_score[-1] == 1.0
    assert (state.epoch, state.step, state.samples_seen) == (300, 300, 1200)
    assert len(log.loss) == 300 and not log.converged


def test_engine_float32():
    config = TrainConfig(
        layer_sizes=(2, 8, 2), activations=("tanh",), learning_rate_init=0.05, batch_size=4,
        stopping="none", max_epochs=300,
    )  # fmt: skip
    engine, params, _, log = fit(config, XOR_X, XOR_Y, dtype=np.float32)
    assert params.dtype == np.float32
    assert engine.predict(config, params, XOR_X).dtype == np.float32
    assert np.argmax(engine.predict(config, params, XOR_X), axis=1).tolist() == [0, 1, 1, 0]


def test_split_calls_continue_exactly():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 3))
    Y = np.eye(2)[rng.integers(2, size=10)]
    base = dict(
        layer_sizes=(3, 6, 5, 2),
        activations=("relu", "tanh"),
        dropout=(0.3, 0.0),
        solver="adamw",
        batch_size=3,
        stopping="none",
        schedule="step",
        step_size=2,
    )
    _, whole, whole_state, log = fit(TrainConfig(**base, max_epochs=4), X, Y)
    engine = ref.NumpyEngine()
    config = TrainConfig(**base, max_epochs=2)
    params = engine.init_params(config, np.float64)
    state = TrainState.fresh(config, np.float64)
    first = engine.fit_epochs(config, params, state, X, Y)
    second = engine.fit_epochs(config, params, state, X, Y)
    assert np.array_equal(params, whole)
    assert np.array_equal(state.slots, whole_state.slots)
    assert first.loss + second.loss == log.loss
    assert (state.step, state.epoch, state.samples_seen) == (16, 4, 40)


def test_adamw_spares_biases():
    config = make_config(solver="adamw", weight_decay=0.5, learning_rate_init=0.1)
    engine = ref.NumpyEngine()
    params = engine.init_params(config, np.float64)
    before = params.copy()
    state = TrainState.fresh(config, np.float64)
    # Zero gradient: only the decay moves anything (Adam's update is 0 / eps).
    ref._optimizer_step(config, params, np.zeros_like(params), state, 0.1)
    coefs, intercepts = _layout.unpack(config, params)
    old_coefs, old_intercepts = _layout.unpack(config, before)
    for W, W0 in zip(coefs, old_coefs):
        assert np.allclose(W, W0 * 0.95, rtol=1e-15)
    for b, b0 in zip(intercepts, old_intercepts):
        assert np.array_equal(b, b0)


def test_train_loss_stopping_and_adaptive_schedule():
    # A huge tol means no epoch after the first counts as an improvement.
    kw = dict(stopping="train_loss", tol=1e9, n_iter_no_change=2, max_epochs=7)
    _, _, state, log = fit(make_config(**kw), XOR_X[:, [0, 1, 1]], XOR_Y)
    assert len(log.loss) == 4 and log.converged
    config = make_config(schedule="adaptive", learning_rate_init=0.01, **kw)
    _, _, state, log = fit(config, XOR_X[:, [0, 1, 1]], XOR_Y)
    assert len(log.loss) == 7 and not log.converged
    assert state.lr_base == pytest.approx(0.01 / 25)
    assert state.no_improve == 0


def test_val_score_restores_best_snapshot():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4))
    labels = (X[:, 0] + rng.normal(scale=1.0, size=60) > 0).astype(int)
    Y = np.eye(2)[labels]
    config = TrainConfig(
        layer_sizes=(4, 16, 2), activations=("relu",), stopping="val_score",
        n_iter_no_change=1000, max_epochs=40, batch_size=8, learning_rate_init=0.05,
    )  # fmt: skip
    engine, params, state, log = fit(config, X[:30], Y[:30], validation=(X[30:], Y[30:], None))
    accuracy = np.mean(engine.predict(config, params, X[30:]).argmax(axis=1) == labels[30:])
    assert accuracy == max(log.val_score) == state.best_score


def test_validation_scores_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, 3))
    Y = X @ rng.normal(size=(3, 2))
    w = rng.uniform(0.5, 2.0, size=20)
    config = make_config(
        layer_sizes=(3, 5, 2), loss="squared_error", output="identity", score="r2",
        stopping="none", max_epochs=1,
    )  # fmt: skip
    engine, params, _, log = fit(config, X, Y, validation=(X, Y, w))
    Z = engine.logits(config, params, X)
    assert log.val_score[0] == pytest.approx(metrics.r2_score(Y, Z, sample_weight=w), rel=1e-12)
    expected_loss = np.sum(w * 0.5 * ((Z - Y) ** 2).sum(axis=1)) / w.sum()
    assert log.val_loss[0] == pytest.approx(expected_loss, rel=1e-12)

    labels = rng.integers(3, size=20)
    config = make_config(layer_sizes=(3, 5, 3), stopping="none", max_epochs=1)
    engine, params, _, log = fit(config, X, np.eye(3)[labels], validation=(X, np.eye(3)[labels], w))
    predicted = engine.predict(config, params, X).argmax(axis=1)
    expected = metrics.accuracy_score(labels, predicted, sample_weight=w)
    assert log.val_score[0] == pytest.approx(expected, rel=1e-12)


def test_r2_of_constant_target():
    Y = np.ones((3, 1))
    w = np.ones(3)
    assert ref._r2(Y.copy(), Y, w) == 1.0
    assert ref._r2(Y + 0.1, Y, w) == 0.0


def test_callback_stops_and_sees_epochs():
    seen = []

    def callback(epoch, loss, val_loss, val_score):
        seen.append((epoch, loss, math.isnan(val_loss), math.isnan(val_score)))
        return epoch == 3

    config = make_config(stopping="none", max_epochs=10)
    _, _, _, log = fit(config, XOR_X[:, [0, 1, 1]], XOR_Y, callback=callback)
    assert [s[0] for s in seen] == [1, 2, 3]
    assert [s[1] for s in seen] == log.loss
    assert all(s[2] and s[3] for s in seen) and not log.converged


def test_divergence_raises():
    config = make_config(
        layer_sizes=(1, 1), activations=(), loss="squared_error", output="identity",
        solver="sgd", learning_rate_init=10.0, stopping="none", max_epochs=500,
    )  # fmt: skip
    X = np.array([[10.0], [-10.0]])
    with pytest.raises(
        ValueError, match=r"^training diverged: the loss is not finite at epoch \d+"
    ):
        fit(config, X, np.array([[1.0], [2.0]]))
