"""The counter-based generator (fnn._rng) against an independent pure-Python
implementation of spec section 2, and SplitMix64's published outputs."""

import numpy as np
import pytest

from fnn import _rng

# ---------------------------------------------------------------------------
# Random numbers: an independent pure-Python implementation of spec section 2
# ---------------------------------------------------------------------------

M64 = 2**64 - 1
G = 0x9E3779B97F4A7C15


def py_mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def py_key(seed, stream, a, b):
    k = seed
    for word in (stream, a, b):
        k = py_mix((k + G * (word + 1)) & M64)
    return k


def py_uniform(k, i):
    return (py_mix((k + G * (i + 1)) & M64) >> 11) / 2.0**53


def test_bits_match_splitmix64_reference_outputs():
    # With key 0, bits(0, i) is the i-th output of SplitMix64 seeded with 0.
    got = _rng.bits(0, np.arange(3))
    assert got.dtype == np.uint64
    assert [int(v) for v in got] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@pytest.mark.parametrize("seed", [0, 42, 2**64 - 1])
def test_bits_and_uniform_match_pure_python(seed):
    k = py_key(seed, _rng.DROPOUT, 7, 3)
    assert _rng.key(seed, _rng.DROPOUT, 7, 3) == k
    idx = np.array([0, 1, 2, 1000, 2**40])
    expected_bits = [py_mix((k + G * (int(i) + 1)) & M64) for i in idx]
    assert [int(v) for v in _rng.bits(k, idx)] == expected_bits
    assert _rng.uniform(k, idx).tolist() == [py_uniform(k, int(i)) for i in idx]


def test_uniform_in_unit_interval():
    u = _rng.uniform(_rng.key(3, _rng.INIT, 0, 0), np.arange(10_000))
    assert u.dtype == np.float64
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.02


def test_python_ints_and_uint64_arrays_mix_alike():
    values = [0, 1, 2**63, 2**64 - 1]
    mixed = _rng.mix(np.array(values, dtype=np.uint64))
    assert [int(v) for v in mixed] == [_rng.mix(v) for v in values] == [py_mix(v) for v in values]


def test_streams_and_counters_give_different_draws():
    streams = (_rng.INIT, _rng.SHUFFLE, _rng.DROPOUT, _rng.SPLIT)
    assert len({_rng.key(1, stream, 0, 0) for stream in streams}) == 4
    draws = _rng.bits(_rng.key(1, _rng.SPLIT, 0, 0), np.arange(1000))
    assert len(set(draws.tolist())) == 1000
