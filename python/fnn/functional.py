"""The Rust kernels on NumPy arrays, one call at a time.

Every function here has a twin of the same name and signature in
`fnn.reference` (plain NumPy): the tests hold them to each other. The math is
in docs/engine-spec.md; in short, with sample weights ``w`` (all 1 when
None) and ``S = sum(w)``::

    loss = (sum_i w_i * l_i + 0.5 * alpha * sum ||W||^2 + l1 * sum |W|) / S

so ``alpha`` has scikit-learn's ``MLPClassifier`` scaling, penalties touch
weights but not biases, and the gradients are exactly those of ``loss``.
``coefs[i]`` has shape ``(n_in, n_out)`` as in scikit-learn.

Inputs are checked before Rust sees them: NaN or infinity in the weights,
``X``, ``Y``, ``sample_weight`` or a gradient raise ValueError (in
scikit-learn's wording), as do complex numbers; sparse matrices raise
TypeError. Elementwise activations compute NaN in, NaN out, like NumPy.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp

from . import _core, _layout

__all__ = [
    "activate",
    "activation_derivative",
    "adam_step",
    "forward",
    "loss_and_gradients",
    "rmsprop_step",
    "rng_bits",
    "sgd_step",
]


def _array(a, what) -> np.ndarray:
    """Return ``a`` as a NumPy array, refusing sparse matrices and complex numbers.

    The errors use scikit-learn's wording; nothing is densified or truncated
    silently.
    """
    if sp.issparse(a):
        raise TypeError(
            f"Sparse data was passed for {what}, but dense data is required. Use '.toarray()' "
            "to convert to a dense numpy array."
        )
    a = np.asarray(a)
    if a.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {what} has dtype {a.dtype}")
    return a


def _finite(a: np.ndarray, what: str) -> np.ndarray:
    """Return ``a``; raise ValueError (scikit-learn's wording) if it holds NaN or infinity."""
    if not np.isfinite(a).all():
        if np.isnan(a).any():
            raise ValueError(f"Input {what} contains NaN.")
        raise ValueError(f"Input {what} contains infinity or a value too large for {a.dtype!r}.")
    return a


def _u64(value, what) -> int:
    """Return ``value`` as an int in [0, 2**64); raise TypeError or ValueError naming ``what``."""
    value = operator.index(value)  # TypeError for floats and strings
    if not 0 <= value < 2**64:
        raise ValueError(f"{what} must be in [0, 2**64), got {value}")
    return value


def _dtype(coefs) -> np.dtype:
    if len(coefs) == 0:
        raise ValueError("coefs and intercepts need one entry per layer")
    dtype = np.result_type(*[_array(c, "coefs").dtype for c in coefs])
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _pack(coefs, intercepts, dtype) -> np.ndarray:
    if len(coefs) != len(intercepts) or not coefs:
        raise ValueError("coefs and intercepts need one entry per layer")
    Ws, bs = [], []
    for W, b in zip(coefs, intercepts):
        W = _array(W, "coefs").astype(dtype, copy=False)
        b = _array(b, "intercepts").astype(dtype, copy=False)
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"layer shapes do not fit: coef {W.shape}, intercept {b.shape}")
        Ws.append(W)
        bs.append(b)
    return _finite(_layout.pack(Ws, bs), "coefs and intercepts")


def _spec(coefs, activation, loss, output, negative_slope, huber_delta, n_outputs):
    sizes = [np.shape(coefs[0])[0]] + [np.shape(W)[1] for W in coefs]
    for W, n_in in zip(coefs[1:], sizes[1:-1]):
        if np.shape(W)[0] != n_in:
            raise ValueError(
                "consecutive coefs must chain: coefs[i].shape[1] == coefs[i+1].shape[0]"
            )
    n_hidden = len(coefs) - 1
    names = (activation,) * n_hidden if isinstance(activation, str) else tuple(activation)
    if len(names) != n_hidden:
        raise ValueError(f"{n_hidden} hidden layers need {n_hidden} activations, got {len(names)}")
    if output is None:
        output = "identity"
        if loss == "log_loss":
            output = "softmax" if n_outputs > 1 else "sigmoid"
        elif loss == "poisson":
            output = "exp"
    return SimpleNamespace(
        layer_sizes=sizes,
        activations=list(names),
        negative_slope=float(negative_slope),
        loss=loss,
        output=output,
        huber_delta=float(huber_delta),
    )


def _rows(X, dtype, width, what) -> np.ndarray:
    X = _array(X, what).astype(dtype, copy=False)
    if X.ndim == 1:
        X = X.reshape(-1, 1) if width == 1 else X.reshape(1, -1)
    if X.ndim != 2 or X.shape[1] != width:
        raise ValueError(f"{what} must have {width} columns, got shape {X.shape}")
    return _finite(np.ascontiguousarray(X), what)


def forward(
    coefs: Sequence[np.ndarray],
    intercepts: Sequence[np.ndarray],
    X: np.ndarray,
    *,
    activation: str | Sequence[str],
    output: str | None = None,
    negative_slope: float = 0.01,
) -> np.ndarray:
    """Output-layer activations of the network on ``X`` (no dropout).

    Parameters
    ----------
    coefs, intercepts : sequences of ndarray
        Per layer, weights ``(n_in, n_out)`` and biases ``(n_out,)``.
    X : ndarray of shape (n_samples, n_features)
    activation : str or sequence of str
        Hidden activation, one for all hidden layers or one per layer.
    output : {"identity", "sigmoid", "softmax", "exp"}, default=None (identity)
    negative_slope : float, default=0.01
        Slope of ``leaky_relu`` for negative inputs.

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)
    """
    dtype = _dtype(coefs)
    k = np.shape(coefs[-1])[1]
    output = output or "identity"
    # The core pairs every network with a loss; any loss matching the output will do.
    loss = {"identity": "squared_error", "exp": "poisson"}.get(output, "log_loss")
    spec = _spec(coefs, activation, loss, output, negative_slope, 1.0, k)
    X = _rows(X, dtype, spec.layer_sizes[0], "X")
    out = _core.forward(spec, _pack(coefs, intercepts, dtype), X.reshape(-1), True, 1)
    return out.reshape(X.shape[0], k)


def loss_and_gradients(
    coefs: Sequence[np.ndarray],
    intercepts: Sequence[np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    *,
    activation: str | Sequence[str],
    loss: str,
    output: str | None = None,
    alpha: float = 0.0,
    l1: float = 0.0,
    sample_weight: np.ndarray | None = None,
    negative_slope: float = 0.01,
    huber_delta: float = 1.0,
) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    """Return the objective on ``(X, Y)`` and its gradients, computed in Rust.

    Parameters
    ----------
    coefs, intercepts : sequences of ndarray
        Per layer, weights ``(n_in, n_out)`` and biases ``(n_out,)``.
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Targets: one-hot for softmax log loss and multi-class hinge, 0/1 for
        sigmoid log loss and binary hinge, values for regression.
    activation : str or sequence of str
        Hidden activation(s).
    loss : {"squared_error", "huber", "log_loss", "hinge", "squared_hinge", "poisson"}
    output : {"identity", "sigmoid", "softmax", "exp"}, default=None
        None picks softmax for log loss with several outputs, sigmoid for log
        loss with one, exp for poisson, identity otherwise.
    alpha, l1 : float, default=0.0
        L2 and L1 penalty strengths (scaled by ``1/S`` as above).
    sample_weight : ndarray of shape (n_samples,), default=None
    negative_slope : float, default=0.01
    huber_delta : float, default=1.0

    Returns
    -------
    loss : float
    coef_grads, intercept_grads : lists of ndarray
        Shaped like ``coefs`` and ``intercepts``.
    """
    dtype = _dtype(coefs)
    k = np.shape(coefs[-1])[1]
    spec = _spec(coefs, activation, loss, output, negative_slope, huber_delta, k)
    X = _rows(X, dtype, spec.layer_sizes[0], "X")
    Y = _rows(Y, dtype, k, "Y")
    w = None
    if sample_weight is not None:
        w = _array(sample_weight, "sample_weight").astype(dtype, copy=False)
        w = _finite(np.ascontiguousarray(w).reshape(-1), "sample_weight")
        if (w < 0).any():
            raise ValueError("Negative values in data passed to `sample_weight`.")
    value, grad = _core.loss_and_gradients(
        spec,
        _pack(coefs, intercepts, dtype),
        X.reshape(-1),
        Y.reshape(-1),
        w,
        float(alpha),
        float(l1),
    )
    coef_grads, intercept_grads = _layout.unpack(spec.layer_sizes, grad)
    return value, coef_grads, intercept_grads


def activate(name: str, Z: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """Apply the activation ``name`` to ``Z``, in Rust.

    Parameters
    ----------
    name : {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"}
        The function; ``"softmax"`` works along the last axis.
    Z : array_like
        Pre-activations (float32 stays float32; anything else becomes float64).
    negative_slope : float, default=0.01
        Slope of ``leaky_relu`` for negative inputs.

    Returns
    -------
    ndarray
        A new array of ``Z``'s shape.
    """
    Z = _array(Z, "Z")
    dtype = Z.dtype if Z.dtype in (np.float32, np.float64) else np.float64
    flat = np.ascontiguousarray(Z, dtype=dtype).reshape(-1)
    width = Z.shape[-1] if Z.ndim else 1
    if flat.size == 0 and width == 0:
        # Rows of zero width: nothing to compute; the name is still checked.
        _core.activate(name, flat, 1, float(negative_slope))
        return flat.reshape(Z.shape)
    return _core.activate(name, flat, width, float(negative_slope)).reshape(Z.shape)


def activation_derivative(name: str, A: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """Return the derivative of activation ``name`` at the points where it outputs ``A``.

    Parameters
    ----------
    name : {"identity", "sigmoid", "tanh", "relu", "leaky_relu"}
        The function.
    A : array_like
        Activations (outputs of `activate`).
    negative_slope : float, default=0.01
        Slope of ``leaky_relu`` for negative inputs.

    Returns
    -------
    ndarray
        A new array of ``A``'s shape.
    """
    A = _array(A, "A")
    dtype = A.dtype if A.dtype in (np.float32, np.float64) else np.float64
    flat = np.ascontiguousarray(A, dtype=dtype).reshape(-1)
    return _core.activation_derivative(name, flat, float(negative_slope)).reshape(A.shape)


def _gradient(grad, dtype) -> np.ndarray:
    g = _array(grad, "grad").astype(dtype, copy=False)
    return _finite(np.ascontiguousarray(g).reshape(-1), "grad")


def _inplace(*arrays: np.ndarray) -> list[np.ndarray]:
    """Return 1-D views of arrays that must be updated in place."""
    views = []
    for a in arrays:
        if not isinstance(a, np.ndarray) or not a.flags.c_contiguous or not a.flags.writeable:
            raise ValueError("optimizer steps update C-contiguous writable NumPy arrays in place")
        views.append(a.reshape(-1))
    return views


def sgd_step(params, grad, buf, *, lr, momentum=0.0, nesterov=False) -> None:
    """Take one SGD step in place (spec section 6).

    ``buf = momentum*buf + g``, then ``params -= lr*d`` with
    ``d = g + momentum*buf`` (Nesterov), ``buf``, or ``g`` (no momentum).

    Parameters
    ----------
    params, buf : ndarray
        C-contiguous and writable, updated in place: the parameters and the
        momentum buffer.
    grad : array_like
        The gradient, of ``params``'s size.
    lr : float
        Learning rate.
    momentum : float, default=0.0
        Momentum factor; 0 leaves ``buf`` untouched.
    nesterov : bool, default=False
        Look ahead along the momentum direction.
    """
    p, b = _inplace(params, buf)
    g = _gradient(grad, params.dtype)
    _core.sgd_step(p, g, b, float(lr), float(momentum), bool(nesterov))


def rmsprop_step(
    params, grad, sq, avg, buf, *, lr, rho=0.99, eps=1e-8, momentum=0.0, centered=False
) -> None:
    """Take one RMSprop step in place (PyTorch's rule; spec section 6).

    Parameters
    ----------
    params, sq, avg, buf : ndarray
        C-contiguous and writable, updated in place: the parameters, the
        running mean of ``g**2``, the running mean of ``g`` (used when
        ``centered``) and the momentum buffer (used when ``momentum > 0``).
    grad : array_like
        The gradient, of ``params``'s size.
    lr : float
        Learning rate.
    rho : float, default=0.99
        Decay of the running means.
    eps : float, default=1e-8
        Added to the denominator.
    momentum : float, default=0.0
        Momentum factor.
    centered : bool, default=False
        Divide by an estimate of the gradient's standard deviation.
    """
    p, s, a, b = _inplace(params, sq, avg, buf)
    g = _gradient(grad, params.dtype)
    _core.rmsprop_step(
        p, g, s, a, b, float(lr), float(rho), float(eps), float(momentum), bool(centered)
    )


def adam_step(
    params,
    grad,
    m,
    v,
    vmax,
    *,
    lr,
    step,
    beta_1=0.9,
    beta_2=0.999,
    eps=1e-8,
    amsgrad=False,
    weight_decay=0.0,
) -> None:
    """Take one Adam (or AdamW) step in place (spec section 6).

    Parameters
    ----------
    params, m, v, vmax : ndarray
        C-contiguous and writable, updated in place: the parameters, the
        first and second moments, and the running maximum of ``v`` (used
        with ``amsgrad``).
    grad : array_like
        The gradient, of ``params``'s size.
    lr : float
        Learning rate.
    step : int
        The 1-based number of this step (for bias correction).
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay of the moment estimates.
    eps : float, default=1e-8
        Added to the denominator.
    amsgrad : bool, default=False
        Use the largest second moment seen so far.
    weight_decay : float, default=0.0
        When positive, every entry of ``params`` first shrinks by
        ``lr*weight_decay`` (AdamW's decoupled decay).
    """
    p, m1, v1, vm = _inplace(params, m, v, vmax)
    g = _gradient(grad, params.dtype)
    _core.adam_step(
        p,
        g,
        m1,
        v1,
        vm,
        float(lr),
        _u64(step, "step"),
        float(beta_1),
        float(beta_2),
        float(eps),
        bool(amsgrad),
        float(weight_decay),
    )


def rng_bits(seed: int, stream: int, a: int, b: int, n: int) -> np.ndarray:
    """Return the first ``n`` 64-bit draws of the random stream ``(seed, stream, a, b)``.

    Parameters
    ----------
    seed, stream, a, b : int
        The stream's key words (spec section 2), each in ``[0, 2**64)``.
    n : int
        How many draws.

    Returns
    -------
    ndarray of uint64 of shape (n,)
    """
    return _core.rng_bits(
        _u64(seed, "seed"), _u64(stream, "stream"), _u64(a, "a"), _u64(b, "b"), _u64(n, "n")
    )
