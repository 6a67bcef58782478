"""The output functions and per-sample losses of docs/engine-spec.md, sections 3 and 4, in NumPy.

The NumPy engine trains with these; the estimators use them where a result
must not depend on the engine: probabilities (`softmax`) and the divergence
check's loss of a network that outputs zeros (`per_sample_loss`). Each loss
takes logits ``Z`` and targets ``Y``, both ``(n, k)``, and returns the
per-sample losses ``(n,)`` and their gradients ``dl/dZ`` ``(n, k)``.
"""

from __future__ import annotations

import numpy as np


def sigmoid(Z):
    """Return the logistic function of ``Z``, elementwise, without overflow."""
    # exp of a non-positive number cannot overflow, so each branch uses -|z|.
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E))


def softmax(Z):
    """Return the softmax of ``Z`` along its last axis (rows that sum to 1)."""
    # Subtracting the row maximum leaves softmax unchanged and keeps exp finite.
    # (initial=-inf: empty rows have no maximum, and need none.)
    E = np.exp(Z - Z.max(axis=-1, keepdims=True, initial=-np.inf))
    return E / E.sum(axis=-1, keepdims=True)


def softplus(Z):
    """Return ``log(1 + exp(Z))``, elementwise, without overflow or ``log(0)``."""
    return np.maximum(Z, 0) + np.log1p(np.exp(-np.abs(Z)))


def _squared_error(Z, Y, delta):
    R = Z - Y
    return 0.5 * (R * R).sum(axis=1), R


def _huber(Z, Y, delta):
    R = Z - Y
    absolute = np.abs(R)
    per_output = np.where(absolute <= delta, 0.5 * R * R, delta * (absolute - 0.5 * delta))
    return per_output.sum(axis=1), np.clip(R, -delta, delta)


def _log_loss_softmax(Z, Y, delta):
    top = Z.max(axis=1, keepdims=True)
    lse = top + np.log(np.exp(Z - top).sum(axis=1, keepdims=True))
    # Targets need not sum to one (soft labels), hence the factor sum(y).
    grad = softmax(Z) * Y.sum(axis=1, keepdims=True) - Y
    return (Y * (lse - Z)).sum(axis=1), grad


def _log_loss_sigmoid(Z, Y, delta):
    return (softplus(Z) - Y * Z).sum(axis=1), sigmoid(Z) - Y


def _poisson(Z, Y, delta):
    # Half the Poisson deviance of mu = e^z: y log(y / mu) - y + mu. The part
    # without z, y log y - y, makes a perfect fit cost 0 (scikit-learn's value).
    mu = np.exp(Z)
    y_log_y = Y * np.log(np.where(Y > 0, Y, 1))
    return (mu - Y * Z + y_log_y - Y).sum(axis=1), mu - Y


def _binary_hinge(Z, Y, squared):
    T = 2 * Y - 1  # targets in {0, 1} become signs in {-1, +1}
    M = np.maximum(1 - T * Z, 0)
    if squared:
        return (M * M).sum(axis=1), -2 * T * M
    return M.sum(axis=1), np.where(M > 0, -T, 0 * T)


def _multiclass_hinge(Z, Y, squared):
    # Weston-Watkins: every wrong class j should trail the true class c by 1.
    n, k = Z.shape
    rows = np.arange(n)
    c = np.argmax(Y, axis=1)
    margins = 1 - Z[rows, c][:, None] + Z
    margins[rows, c] = 0  # the true class is not compared with itself
    M = np.maximum(margins, 0)
    if squared:
        losses = (M * M).sum(axis=1) / k
        grad = 2 * M / k
    else:
        losses = M.sum(axis=1) / k
        grad = (M > 0).astype(Z.dtype) / k
    # Raising z_c lowers every active margin at once.
    grad[rows, c] = -grad.sum(axis=1)
    return losses, grad


def _hinge(Z, Y, delta):
    if Z.shape[1] == 1:
        return _binary_hinge(Z, Y, squared=False)
    return _multiclass_hinge(Z, Y, squared=False)


def _squared_hinge(Z, Y, delta):
    if Z.shape[1] == 1:
        return _binary_hinge(Z, Y, squared=True)
    return _multiclass_hinge(Z, Y, squared=True)


#: (loss, output function) -> per-sample loss and its gradient w.r.t. the logits.
LOSSES = {
    ("squared_error", "identity"): _squared_error,
    ("huber", "identity"): _huber,
    ("log_loss", "softmax"): _log_loss_softmax,
    ("log_loss", "sigmoid"): _log_loss_sigmoid,
    ("hinge", "identity"): _hinge,
    ("squared_hinge", "identity"): _squared_hinge,
    ("poisson", "exp"): _poisson,
}


def resolve_output(loss, output, n_outputs):
    """Return the output function for ``loss``: ``output``, or the usual one when None.

    None picks softmax for log loss with several outputs, sigmoid for log
    loss with one, exp for poisson, identity otherwise.

    Raises
    ------
    ValueError
        If ``loss`` does not go with ``output``.
    """
    if output is None:
        if loss == "log_loss":
            output = "softmax" if n_outputs > 1 else "sigmoid"
        elif loss == "poisson":
            output = "exp"
        else:
            output = "identity"
    if (loss, output) not in LOSSES:
        raise ValueError(f"loss {loss!r} does not go with output {output!r}")
    return output


def per_sample_loss(loss, output, Z, Y, huber_delta):
    """Return the per-sample losses of logits ``Z`` for targets ``Y``, and ``dl/dZ``.

    Parameters
    ----------
    loss : {'squared_error', 'huber', 'log_loss', 'hinge', 'squared_hinge', 'poisson'}
        The loss.
    output : {'identity', 'sigmoid', 'softmax', 'exp'}
        The output function it goes with (see `resolve_output`).
    Z, Y : ndarray of shape (n, k)
        Logits and targets.
    huber_delta : float
        Where the Huber loss turns from quadratic to linear.

    Returns
    -------
    losses : ndarray of shape (n,)
    gradient : ndarray of shape (n, k)
    """
    return LOSSES[loss, output](Z, Y, huber_delta)
