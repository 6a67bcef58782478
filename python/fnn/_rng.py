"""The counter-based random numbers of docs/engine-spec.md, section 2.

The ``i``-th number of a stream is a pure function of ``(seed, stream, a, b,
i)``: nothing is carried from one draw to the next, so any draw can be made
without replaying the ones before it, in any order, on any thread. The Rust
engine (rust/rng.rs) computes the same numbers; the NumPy engine, the
validation split and the tests take theirs from here.
"""

from __future__ import annotations

import numpy as np

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15

#: Stream numbers: initialisation, shuffling, dropout, validation split.
INIT = 1
SHUFFLE = 2
DROPOUT = 3
SPLIT = 4


def _wrapping_mul(z, factor):
    # Python ints grow without bound, so they are cut back to 64 bits by hand;
    # uint64 arrays wrap on their own.
    if isinstance(z, np.ndarray):
        return z * np.uint64(factor)
    return (z * factor) & MASK64


def mix(z):
    """Scramble 64 bits into 64 bits (the SplitMix64 finaliser).

    Parameters
    ----------
    z : int or ndarray of uint64
        A Python int in ``[0, 2**64)`` or an array of ``np.uint64``.

    Returns
    -------
    int or ndarray of uint64
        Same kind as ``z``.
    """
    z = _wrapping_mul(z ^ (z >> 30), 0xBF58476D1CE4E5B9)
    z = _wrapping_mul(z ^ (z >> 27), 0x94D049BB133111EB)
    return z ^ (z >> 31)


def fold(k, w):
    """Derive a new 64-bit key from key ``k`` and the word ``w`` (Python ints)."""
    return mix((k + GAMMA * (w + 1)) & MASK64)


def key(seed, stream, a, b):
    """Return the key of the random stream ``(seed, stream, a, b)``, a Python int."""
    return fold(fold(fold(seed & MASK64, stream), a), b)


def bits(key, idx):
    """Return 64 random bits for each counter in ``idx``.

    Parameters
    ----------
    key : int
        A stream key from `key`.
    idx : array_like of int
        Non-negative counters ``i``.

    Returns
    -------
    ndarray of uint64
        ``mix(key + GAMMA * (i + 1))`` elementwise, the shape of ``idx``.
    """
    i = np.asarray(idx, dtype=np.uint64)
    # Wrapping is the intended arithmetic; NumPy only warns about it for 0-d input.
    with np.errstate(over="ignore"):
        return mix(np.uint64(key) + np.uint64(GAMMA) * (i + np.uint64(1)))


def uniform(key, idx):
    """Return uniform floats in ``[0, 1)``, one per counter in ``idx`` (float64).

    The top 53 bits of `bits` are exactly representable in float64, so every
    value is a multiple of ``2**-53``.
    """
    return (bits(key, idx) >> np.uint64(11)).astype(np.float64) * 2.0**-53
