"""The Rust kernel's gradients against float64 central finite differences, and
its loss value against the spec's objective (docs/engine-spec.md, sections 3-5)
computed here in a few lines of NumPy, independently of both engines.

Points are drawn away from every kink (relu at 0, hinge margins at 0, huber at
+-delta, weights at 0 under l1) by reject-and-resample, so central differences
are accurate to far better than the 1e-5 relative tolerance.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from fnn import functional as F

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")

#: Finite-difference step and the distance every kink must keep from the point.
H = 1e-6
MARGIN = 1e-3
RTOL = 1e-5

# (id, loss, output given to the kernel, number of outputs, kind of target)
LOSS_CASES = [
    ("squared_error", "squared_error", None, 2, "real"),
    ("huber", "huber", None, 2, "real"),
    ("log_loss-softmax", "log_loss", None, 3, "onehot"),
    ("log_loss-softmax-soft-targets", "log_loss", "softmax", 3, "soft"),
    ("log_loss-sigmoid-multilabel", "log_loss", "sigmoid", 3, "binary"),
    ("log_loss-sigmoid-binary", "log_loss", None, 1, "binary"),
    ("hinge-1", "hinge", None, 1, "binary"),
    ("hinge-k", "hinge", None, 3, "onehot"),
    ("squared_hinge-1", "squared_hinge", None, 1, "binary"),
    ("squared_hinge-k", "squared_hinge", None, 3, "onehot"),
    ("poisson", "poisson", None, 2, "counts"),
    ("poisson-exp", "poisson", "exp", 1, "counts"),
]
LOSS_IDS = [case[0] for case in LOSS_CASES]

# (alpha, l1, sample weights?)
REGS = {
    "plain": (0.0, 0.0, False),
    "alpha": (0.3, 0.0, False),
    "l1": (0.0, 0.05, False),
    "weights": (0.0, 0.0, True),
    "all": (0.3, 0.05, True),
}


# --------------------------------------------------------------------------
# The spec's objective, independently of both engines.


def act_np(name, z, slope):
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    raise ValueError(name)


def default_output(loss, k):
    if loss == "log_loss":
        return "softmax" if k > 1 else "sigmoid"
    return "exp" if loss == "poisson" else "identity"


def spec_forward(coefs, intercepts, X, acts, slope):
    """Hidden pre-activations (for the kink checks) and the output logits."""
    pre = []
    A = X
    for W, b, act in zip(coefs[:-1], intercepts[:-1], acts):
        Z = A @ W + b
        pre.append(Z)
        A = act_np(act, Z, slope)
    return pre, A @ coefs[-1] + intercepts[-1]


def hinge_margins(Z, Y):
    """1 - t z for one output; 1 - z_c + z_j (j != c) for several."""
    k = Z.shape[1]
    if k == 1:
        t = 2.0 * Y - 1.0
        return (1.0 - t * Z).ravel()
    rows = np.arange(Z.shape[0])
    c = np.argmax(Y, axis=1)
    M = 1.0 - Z[rows, c][:, None] + Z
    keep = np.ones_like(M, dtype=bool)
    keep[rows, c] = False
    return M[keep]


def spec_sample_losses(loss, output, Z, Y, delta):
    k = Z.shape[1]
    if loss == "squared_error":
        return 0.5 * ((Z - Y) ** 2).sum(axis=1)
    if loss == "huber":
        r = np.abs(Z - Y)
        return np.where(r <= delta, 0.5 * r**2, delta * (r - delta / 2)).sum(axis=1)
    if loss == "log_loss" and output == "softmax":
        m = Z.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True))
        return (Y * (lse - Z)).sum(axis=1)
    if loss == "log_loss" and output == "sigmoid":
        softplus = np.maximum(Z, 0.0) + np.log1p(np.exp(-np.abs(Z)))
        return (softplus - Y * Z).sum(axis=1)
    if loss in ("hinge", "squared_hinge"):
        p = 1 if loss == "hinge" else 2
        if k == 1:
            return np.maximum(0.0, hinge_margins(Z, Y)) ** p
        rows = np.arange(Z.shape[0])
        c = np.argmax(Y, axis=1)
        M = np.maximum(0.0, 1.0 - Z[rows, c][:, None] + Z)
        M[rows, c] = 0.0
        return (M**p).sum(axis=1) / k
    if loss == "poisson" and output == "exp":
        # Half the Poisson deviance, y log(y / mu) - y + mu with mu = e^z.
        mu = np.exp(Z)
        y_log_y_over_mu = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1) / mu), 0.0)
        return (y_log_y_over_mu - Y + mu).sum(axis=1)
    raise ValueError((loss, output))


def spec_objective(coefs, intercepts, X, Y, acts, loss, output, alpha, l1, sw, slope, delta):
    _, Z = spec_forward(coefs, intercepts, X, acts, slope)
    w = np.ones(X.shape[0]) if sw is None else sw
    ell = spec_sample_losses(loss, output, Z, Y, delta)
    l2 = sum((W**2).sum() for W in coefs)
    l1n = sum(np.abs(W).sum() for W in coefs)
    return ((w * ell).sum() + 0.5 * alpha * l2 + l1 * l1n) / w.sum()


# --------------------------------------------------------------------------
# Drawing a problem away from the kinks.


def make_targets(rng, kind, n, k):
    if kind == "real":
        return rng.normal(size=(n, k))
    if kind == "onehot":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if kind == "soft":
        return rng.uniform(0.0, 1.0, size=(n, k))  # rows need not sum to 1
    if kind == "binary":
        return rng.integers(0, 2, size=(n, k)).astype(np.float64)
    if kind == "counts":
        return rng.poisson(1.5, size=(n, k)).astype(np.float64)  # zeros included
    raise ValueError(kind)


def draw_problem(seed, sizes, acts, loss, output, kind, alpha, l1, weighted, slope, delta):
    """A random net, data and targets with every kink at least MARGIN away."""
    rng = np.random.default_rng(seed)
    n, k = 7, sizes[-1]
    for _ in range(2000):
        coefs = [rng.normal(0.0, 0.9, size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
        intercepts = [rng.normal(0.0, 0.5, size=b) for b in sizes[1:]]
        X = rng.normal(size=(n, sizes[0]))
        Y = make_targets(rng, kind, n, k)
        sw = rng.uniform(0.2, 2.0, size=n) if weighted else None
        if weighted:
            sw[rng.integers(n)] = 0.0  # a zero weight must simply drop the sample
        pre, Z = spec_forward(coefs, intercepts, X, acts, slope)
        if l1 > 0 and min(np.abs(W).min() for W in coefs) < MARGIN:
            continue
        if any(
            act in ("relu", "leaky_relu") and np.abs(P).min() < MARGIN for act, P in zip(acts, pre)
        ):
            continue
        if loss == "huber":
            r = np.abs(Z - Y)
            # both pieces of h must be exercised, and neither edge approached
            if np.abs(r - delta).min() < MARGIN or r.min() > delta or r.max() < delta:
                continue
        if loss in ("hinge", "squared_hinge"):
            m = hinge_margins(Z, Y)
            if np.abs(m).min() < MARGIN or m.min() > 0 or m.max() < 0:
                continue
        return coefs, intercepts, X, Y, sw
    raise AssertionError("could not draw a point away from the kinks")


def numeric_gradients(coefs, intercepts, f):
    """Central differences of f() over every entry of coefs and intercepts."""
    result = []
    for group in (coefs, intercepts):
        grads = []
        for P in group:
            G = np.empty_like(P)
            for idx in np.ndindex(P.shape):
                old = P[idx]
                P[idx] = old + H
                up = f()
                P[idx] = old - H
                down = f()
                P[idx] = old
                G[idx] = (up - down) / (2 * H)
            grads.append(G)
        result.append(grads)
    return result


def assert_gradients_close(analytic, numeric):
    scale = max(np.abs(g).max() for g in numeric)
    assert scale > 0
    for a, g in zip(analytic, numeric):
        assert a.shape == g.shape
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, g, rtol=RTOL, atol=RTOL * 0.1 * scale)


def check(seed, sizes, acts, loss, output, kind, alpha, l1, weighted, slope=0.01, delta=0.6):
    coefs, intercepts, X, Y, sw = draw_problem(
        seed, sizes, acts, loss, output, kind, alpha, l1, weighted, slope, delta
    )
    if not acts:
        activation = "relu"  # no hidden layer: the name is unused
    elif len(set(acts)) == 1:
        activation = acts[0]
    else:
        activation = list(acts)
    kwargs = dict(
        activation=activation,
        loss=loss,
        output=output,
        alpha=alpha,
        l1=l1,
        sample_weight=sw,
        negative_slope=slope,
        huber_delta=delta,
    )
    saved = [P.copy() for P in coefs + intercepts]
    value, coef_grads, intercept_grads = F.loss_and_gradients(coefs, intercepts, X, Y, **kwargs)
    # the kernel must not touch its inputs
    for P, Q in zip(coefs + intercepts, saved):
        np.testing.assert_array_equal(P, Q)

    out = output or default_output(loss, sizes[-1])
    expected = spec_objective(coefs, intercepts, X, Y, acts, loss, out, alpha, l1, sw, slope, delta)
    assert float(value) == pytest.approx(expected, rel=1e-12, abs=1e-14)

    def f():
        return float(F.loss_and_gradients(coefs, intercepts, X, Y, **kwargs)[0])

    num_coefs, num_intercepts = numeric_gradients(coefs, intercepts, f)
    assert len(coef_grads) == len(coefs) and len(intercept_grads) == len(intercepts)
    assert_gradients_close(list(coef_grads) + list(intercept_grads), num_coefs + num_intercepts)


def seed_of(*parts):
    return zlib.crc32("/".join(map(str, parts)).encode())


# --------------------------------------------------------------------------


@pytest.mark.parametrize("reg", list(REGS))
@pytest.mark.parametrize("case", LOSS_CASES, ids=LOSS_IDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_finite_differences(activation, case, reg):
    _, loss, output, k, kind = case
    alpha, l1, weighted = REGS[reg]
    sizes = (5, 4, 3, k)
    check(
        seed_of(activation, case[0], reg),
        sizes,
        (activation, activation),
        loss,
        output,
        kind,
        alpha,
        l1,
        weighted,
    )


@pytest.mark.parametrize("reg", list(REGS))
@pytest.mark.parametrize("case", LOSS_CASES, ids=LOSS_IDS)
def test_gradients_match_finite_differences_without_hidden_layer(case, reg):
    _, loss, output, k, kind = case
    alpha, l1, weighted = REGS[reg]
    check(seed_of("linear", case[0], reg), (5, k), (), loss, output, kind, alpha, l1, weighted)


@pytest.mark.parametrize("case", LOSS_CASES, ids=LOSS_IDS)
def test_gradients_with_mixed_activations_and_custom_slope_and_delta(case):
    _, loss, output, k, kind = case
    check(
        seed_of("mixed", case[0]),
        (4, 5, 4, 3, k),
        ("leaky_relu", "sigmoid", "relu"),
        loss,
        output,
        kind,
        0.2,
        0.03,
        True,
        slope=0.2,
        delta=0.9,
    )


@pytest.mark.parametrize("k", [1, 3])
def test_default_output_for_log_loss(k):
    """output=None means sigmoid for one column and softmax for several."""
    rng = np.random.default_rng(k)
    sizes = (3, 4, k)
    coefs = [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [rng.normal(size=b) for b in sizes[1:]]
    X = rng.normal(size=(6, 3))
    Y = np.eye(3)[rng.integers(0, 3, 6)] if k == 3 else rng.integers(0, 2, (6, 1)) * 1.0
    explicit = "softmax" if k == 3 else "sigmoid"
    a = F.loss_and_gradients(coefs, intercepts, X, Y, activation="tanh", loss="log_loss")
    b = F.loss_and_gradients(
        coefs, intercepts, X, Y, activation="tanh", loss="log_loss", output=explicit
    )
    assert float(a[0]) == float(b[0])
    for g, h in zip(list(a[1]) + list(a[2]), list(b[1]) + list(b[2])):
        np.testing.assert_array_equal(g, h)
    _, Z = spec_forward(coefs, intercepts, X, ("tanh",), 0.01)
    expected = spec_sample_losses("log_loss", explicit, Z, Y, 1.0).mean()
    assert float(a[0]) == pytest.approx(expected, rel=1e-12)


def test_softmax_log_loss_gradient_is_probabilities_minus_targets():
    """With no hidden layer and one-hot rows, dL/db = mean(softmax(z) - y)."""
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    X = rng.normal(size=(10, 4))
    Y = np.eye(3)[rng.integers(0, 3, 10)]
    _, gW, gb = F.loss_and_gradients([W], [b], X, Y, activation="relu", loss="log_loss")
    Z = X @ W + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(gb[0], (P - Y).mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gW[0], X.T @ (P - Y) / 10, rtol=1e-12, atol=1e-15)
