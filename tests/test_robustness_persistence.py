"""fnn.load against hostile files, beyond test_persistence.py's cases.

Deeply nested JSON, oversized headers, values that pass a type check but not
the engine (counters past 64 bits, float layer sizes, a NaN learning rate),
random corruption of every kind (hypothesis), and exact round trips of
extreme weight values.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import pickle
import struct
import tempfile
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fnn
from fnn import FNNClassifier, FNNRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

HYPOTHESIS = settings(
    max_examples=int(os.environ.get("FNN_PERSISTENCE_EXAMPLES", 150)),
    deadline=None,
    database=None,
    derandomize=os.environ.get("FNN_HYPOTHESIS") != "fuzz",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 4))
Y = np.arange(30) % 3


@pytest.fixture(scope="module")
def saved_bytes():
    clf = FNNClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0).fit(X, Y)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.safetensors")
        fnn.save(clf, path)
        with open(path, "rb") as file:
            return file.read()


def split(data):
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def joined(header, body, raw_header=None):
    header_bytes = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(header_bytes)) + header_bytes + body


def load_bytes(tmp_path, data, name="x.safetensors"):
    path = tmp_path / name
    path.write_bytes(data)
    return fnn.load(path)


def edit_json_field(data, field, edit):
    header, body = split(data)
    value = json.loads(header["__metadata__"][field])
    value = edit(value) or value
    header["__metadata__"][field] = json.dumps(value)
    return joined(header, body)


@contextlib.contextmanager
def no_code_runs():
    """Within: unpickling, eval and exec fail the test (hypothesis uses exec
    itself, so this wraps only the load)."""

    def forbidden(*args, **kwargs):
        raise AssertionError("fnn.load must not run code from the file")

    targets = [(pickle, "loads"), (pickle, "load"), (builtins, "eval"), (builtins, "exec")]
    with contextlib.ExitStack() as stack:
        for module, name in targets:
            stack.enter_context(mock.patch.object(module, name, forbidden))
        yield


# ---------------------------------------------------------------------------
# Hand-crafted files


DEEP = 100_000


def nested_header(data):
    return joined(None, b"", raw_header=b"[" * DEEP + b"]" * DEEP)


def nested_metadata(field):
    def make(data):
        header, body = split(data)
        header["__metadata__"][field] = "[" * DEEP + "]" * DEEP
        return joined(header, body)

    return make


def set_config(name, value):
    return lambda data: edit_json_field(data, "config", lambda c: c.__setitem__(name, value))


def set_state(name, value):
    return lambda data: edit_json_field(data, "state", lambda s: s.__setitem__(name, value))


def set_param(name, value):
    def edit(pairs):
        return [[k, value if k == name else v] for k, v in pairs]

    return lambda data: edit_json_field(data, "params", edit)


MALICIOUS = {
    "header nested 100k deep": nested_header,
    "params nested 100k deep": nested_metadata("params"),
    "fitted nested 100k deep": nested_metadata("fitted"),
    "header length 2**64-1": lambda data: struct.pack("<Q", 2**64 - 1) + data[8:],
    "header length just past the limit": lambda data: struct.pack("<Q", 100_000_001) + data[8:],
    "counter past 64 bits": set_state("step", 2**70),
    "NaN learning rate in the state": set_state("lr_base", float("nan")),
    "zero learning rate in the state": set_state("lr_base", 0.0),
    "float layer sizes": set_config("layer_sizes", [4.0, 5.0, 3.0]),
    "bool layer size": set_config("layer_sizes", [4, True, 3]),
    "thread count past 64 bits": set_config("threads", 10**30),
    "integer too large for a float": lambda data: edit_json_field(
        data, "fitted", lambda f: f.__setitem__("loss_", 10**400)
    ),
    "hidden_layer_sizes unlike the network": set_param("hidden_layer_sizes", {"tuple": [7]}),
    "a list as a dict key": set_param("class_weight", {"dict": [[[1, 2], 1.0]]}),
}


@pytest.mark.parametrize("make", MALICIOUS.values(), ids=MALICIOUS.keys())
def test_hand_crafted_files_raise_value_error(saved_bytes, tmp_path, make):
    with no_code_runs(), pytest.raises(ValueError, match="not a valid fnn model file"):
        load_bytes(tmp_path, make(saved_bytes))


def test_the_unedited_file_loads_and_predicts_like_the_original(saved_bytes, tmp_path):
    loaded = load_bytes(tmp_path, saved_bytes)
    original = FNNClassifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))


# ---------------------------------------------------------------------------
# Random corruption


@st.composite
def corruptions(draw, size):
    kind = draw(st.sampled_from(["flip", "overwrite", "truncate", "insert", "delete"]))
    # Aim at the header (where the structure is) three times out of four.
    where = draw(st.one_of(st.integers(0, min(size, 2000) - 1), st.integers(0, size - 1)))
    byte = draw(st.integers(0, 255))
    length = draw(st.integers(1, 64))
    return kind, where, byte, length


def corrupt(data, kind, where, byte, length):
    data = bytearray(data)
    where = min(where, len(data) - 1)  # an earlier change may have shortened the file
    if kind == "flip":
        data[where] ^= 1 << (byte % 8)
    elif kind == "overwrite":
        data[where : where + length] = bytes([byte]) * len(data[where : where + length])
    elif kind == "truncate":
        del data[where:]
    elif kind == "insert":
        data[where:where] = bytes([byte]) * length
    else:
        del data[where : where + length]
    return bytes(data)


@HYPOTHESIS
@given(data=st.data())
def test_a_corrupted_file_raises_value_error_or_loads_a_finite_model(saved_bytes, data):
    changes = data.draw(st.lists(corruptions(len(saved_bytes)), min_size=1, max_size=3))
    corrupted = saved_bytes
    for change in changes:
        corrupted = corrupt(corrupted, *change) if corrupted else corrupted
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "c.safetensors")
        with open(path, "wb") as file:
            file.write(corrupted)
        try:
            with no_code_runs():
                loaded = fnn.load(path)
        except ValueError as error:
            assert "not a valid fnn model file" in str(error)
            return
    # A change that kept the file well formed (e.g. inside the weights):
    # a working, finite model.
    assert isinstance(loaded, (FNNClassifier, FNNRegressor))
    assert all(np.isfinite(a).all() for a in loaded.coefs_ + loaded.intercepts_)
    out = loaded.predict(X[:, : loaded.n_features_in_]) if loaded.n_features_in_ <= 4 else None
    assert out is None or len(out) == len(X)


# ---------------------------------------------------------------------------
# Exact round trips

EXTREMES = [0.0, -0.0, 5e-324, -2.2e-308, 1e-300, 1.7976931348623157e308, -1e308, 1.0, np.pi]


@HYPOTHESIS
@given(
    values=st.lists(
        st.sampled_from(EXTREMES) | st.floats(allow_nan=False, allow_infinity=False), min_size=1
    ),
    dtype=st.sampled_from([np.float64, np.float32]),
    regressor=st.booleans(),
)
def test_save_load_round_trip_is_bit_exact_for_any_finite_weights(values, dtype, regressor):
    est = (FNNRegressor if regressor else FNNClassifier)(hidden_layer_sizes=(3,), max_iter=1)
    est.set_params(random_state=0).fit(X.astype(dtype), X[:, 0] if regressor else Y)
    with np.errstate(over="ignore"):
        pool = np.asarray(values, dtype=np.float64).astype(dtype)
    pool = pool[np.isfinite(pool)]
    if pool.size:
        for array in est.coefs_ + est.intercepts_:
            array[...] = np.resize(pool, array.shape)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "r.safetensors")
        fnn.save(est, path)
        loaded = fnn.load(path)
    for a, b in zip(est.coefs_ + est.intercepts_, loaded.coefs_ + loaded.intercepts_):
        assert a.dtype == b.dtype == dtype
        assert a.tobytes() == b.tobytes()
    assert loaded._train_state.slots.tobytes() == est._train_state.slots.tobytes()
    assert loaded.get_params() == est.get_params()
