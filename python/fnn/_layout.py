"""The flat parameter buffer (docs/engine-spec.md, section 1).

All of a network's parameters live in one 1-D array: for each layer ``l`` in
order, the weights ``W_l`` of shape ``(d_l, d_{l+1})`` row by row, then the
biases ``b_l`` of shape ``(d_{l+1},)``. The engines, the optimizer state, the
estimators' ``coefs_`` and ``intercepts_`` and the saved files all use this
layout; this module is the one place that knows it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def layer_sizes(network) -> tuple[int, ...]:
    """Return the layer sizes ``(d0, ..., dL)`` of ``network``.

    Parameters
    ----------
    network : object with ``layer_sizes``, or sequence of int
        A `TrainConfig` (or anything with a ``layer_sizes`` attribute), or the
        sizes themselves.

    Returns
    -------
    tuple of int
    """
    sizes = getattr(network, "layer_sizes", network)
    return tuple(int(s) for s in sizes)


def n_params(network) -> int:
    """Return the length of the flat buffer of ``network`` (see `layer_sizes`)."""
    sizes = layer_sizes(network)
    return sum(d_in * d_out + d_out for d_in, d_out in zip(sizes[:-1], sizes[1:]))


def unpack(network, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split the flat buffer into per-layer weights and biases, as views.

    Parameters
    ----------
    network : object with ``layer_sizes``, or sequence of int
        The layer sizes ``(d0, ..., dL)`` (see `layer_sizes`).
    flat : ndarray of shape (n_params,)
        The flat buffer (C-contiguous).

    Returns
    -------
    coefs : list of ndarray
        ``coefs[l]`` of shape ``(d_l, d_{l+1})``, a view of ``flat``.
    intercepts : list of ndarray
        ``intercepts[l]`` of shape ``(d_{l+1},)``, a view of ``flat``.

    Raises
    ------
    ValueError
        If ``flat`` is not 1-D of the network's length.
    """
    sizes = layer_sizes(network)
    expected = n_params(sizes)
    if flat.ndim != 1 or flat.shape[0] != expected:
        raise ValueError(f"expected a flat buffer of {expected} parameters, got {flat.shape}")
    coefs, intercepts = [], []
    start = 0
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        coefs.append(flat[start : start + d_in * d_out].reshape(d_in, d_out))
        start += d_in * d_out
        intercepts.append(flat[start : start + d_out])
        start += d_out
    return coefs, intercepts


def pack(coefs: Sequence[np.ndarray], intercepts: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate per-layer weights and biases into a new flat buffer.

    Parameters
    ----------
    coefs, intercepts : sequences of ndarray
        Weights ``(d_l, d_{l+1})`` and biases ``(d_{l+1},)`` per layer.

    Returns
    -------
    ndarray of shape (n_params,)
        A copy, in the dtype NumPy's concatenation gives the parts.
    """
    parts = []
    for W, b in zip(coefs, intercepts):
        parts.append(np.ravel(W))
        parts.append(np.ravel(b))
    return np.concatenate(parts)


def weight_mask(network) -> np.ndarray:
    """Return a boolean buffer: True where a weight sits (penalised), False for biases."""
    mask = np.zeros(n_params(network), dtype=bool)
    for W in unpack(network, mask)[0]:
        W[...] = True
    return mask
