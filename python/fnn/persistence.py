"""Saving and loading fitted estimators in the safetensors format.

A safetensors file is an 8-byte little-endian header length ``N``, ``N`` bytes
of JSON header, then the raw little-endian tensor bytes. The header maps each
tensor name to its ``dtype``, ``shape`` and ``data_offsets`` (begin and end in
the byte buffer), and ``__metadata__`` to a dict of strings. An fnn file holds:

- tensors ``coefs.<i>`` and ``intercepts.<i>`` per layer, and
  ``optimizer_slots`` (so that a loaded model can continue training);
- metadata ``format`` (``"fnn"``), ``format_version``, ``estimator`` (the class
  name), and JSON strings ``params`` (``get_params()``), ``config`` (the
  `TrainConfig`), ``state`` (the `TrainState` counters), ``fitted`` (fitted
  scalars and curves) and, for classifiers, ``classes``.

The container is parsed by the ``safetensors`` package, the format's
reference implementation (Rust, fuzzed): it checks the header, the offsets
and the sizes. fnn writes it itself (the package's writer orders the metadata
at random, so equal models would give different bytes) and checks everything
the metadata says. Loading parses
JSON and copies bytes, nothing else: no pickle, no eval, and only the fnn
estimator classes can be named. Anything malformed, truncated or inconsistent
raises ValueError.

Saving to a path replaces the file atomically (`fnn._atomic`): a failed save
leaves the previous file whole.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import struct
from numbers import Integral, Real

import numpy as np
import safetensors
import sklearn
from sklearn.utils.validation import check_is_fitted

from ._atomic import write_atomically
from ._base import OUT_ACTIVATION_NAMES
from ._classifier import FNNClassifier
from ._config import TrainConfig, TrainState
from ._layout import pack
from ._regressor import FNNRegressor
from ._settings import hidden_layer_sizes
from ._version import __version__

__all__ = ["load", "save"]

FORMAT = "fnn"
FORMAT_VERSION = "1"

#: The only classes a file may name.
ESTIMATORS = {"FNNClassifier": FNNClassifier, "FNNRegressor": FNNRegressor}

#: The tensor dtypes an fnn file holds, by their safetensors names.
_DTYPE_NAMES = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64"}
_DTYPES = tuple(_DTYPE_NAMES)

#: Bytes per write: a save interrupted (e.g. by Ctrl-C) between two writes
#: still leaves the previous file whole.
_CHUNK_BYTES = 1 << 20

_STATE_COUNTERS = ("step", "epoch", "samples_seen", "no_improve")
_STATE_FLOATS = ("lr_base", "best_loss", "best_score")
_FITTED_FIELDS = (
    "n_iter_",
    "t_",
    "loss_",
    "best_loss_",
    "loss_curve_",
    "validation_scores_",
    "validation_loss_curve_",
    "best_validation_score_",
)


# ---------------------------------------------------------------------------
# JSON for get_params(): tuples and dicts with non-string keys are tagged, so
# the round trip gives back equal values.


def _encode_param(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, np.random.RandomState):
        # A generator's state is not a setting; the fitted weights are saved exactly.
        return None
    if isinstance(value, tuple):
        return {"tuple": [_encode_param(v) for v in value]}
    if isinstance(value, (list, np.ndarray)):
        return [_encode_param(v) for v in list(value)]
    if isinstance(value, dict):
        return {"dict": [[_encode_param(k), _encode_param(v)] for k, v in value.items()]}
    raise TypeError(f"cannot save a parameter of type {type(value).__name__}")


def _decode_param(value):
    if isinstance(value, list):
        return [_decode_param(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"tuple"} and isinstance(value["tuple"], list):
            return tuple(_decode_param(v) for v in value["tuple"])
        if set(value) == {"dict"} and isinstance(value["dict"], list):
            pairs = value["dict"]
            if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise ValueError("malformed dict parameter")
            return {_decode_param(k): _decode_param(v) for k, v in pairs}
        raise ValueError(f"unknown tagged parameter value {value!r}")
    return value


# ---------------------------------------------------------------------------
# Class labels keep their type: str, int, float or bool.


def _encode_classes(classes: np.ndarray) -> dict:
    values = classes.tolist()
    if all(isinstance(v, str) for v in values):
        kind = "str"
    elif all(isinstance(v, bool) for v in values):
        kind = "bool"
    elif all(isinstance(v, int) for v in values):
        kind = "int"
    elif all(isinstance(v, float) for v in values):
        kind = "float"
    else:
        raise TypeError("class labels must all be str, int, float or bool to be saved")
    return {"type": kind, "dtype": classes.dtype.str, "values": values}


_LABEL_TYPES = {"str": (str,), "bool": (bool,), "int": (int,), "float": (float, int)}
_LABEL_DTYPE_KINDS = {"str": "UO", "bool": "b", "int": "iu", "float": "f"}


def _decode_classes(encoded) -> np.ndarray:
    kind, values = encoded["type"], encoded["values"]
    if kind not in _LABEL_TYPES or not isinstance(values, list):
        raise ValueError("malformed classes")
    if kind != "bool" and any(isinstance(v, bool) for v in values):
        raise ValueError("malformed classes")
    if not all(isinstance(v, _LABEL_TYPES[kind]) for v in values):
        raise ValueError(f"class labels are not all of type {kind}")
    dtype = np.dtype(str(encoded["dtype"]))
    if dtype.kind not in _LABEL_DTYPE_KINDS[kind]:
        raise ValueError(f"class label dtype {dtype} does not hold {kind} labels")
    if dtype.kind == "O":
        # np.asarray would guess a str dtype; labels that came in as objects stay objects.
        classes = np.empty(len(values), dtype=object)
        classes[:] = values
        return classes
    return np.asarray(values, dtype=str if dtype.kind == "U" else dtype)


# ---------------------------------------------------------------------------
# Saving


def save(estimator, path) -> None:
    """Write a fitted fnn estimator in the safetensors format.

    Parameters
    ----------
    estimator : FNNClassifier or FNNRegressor
        A fitted estimator.
    path : str, path-like or writable binary file object
        Where to write. A path's existing file is replaced atomically: the
        bytes go to a temporary file in the same directory, are synced to
        disk, and only then take the file's place, so a save that fails (a
        full disk, a missing permission, an exception, the process killed)
        leaves the previous file as it was. A new file gets the permission
        bits a plain ``open`` would give; a replaced one keeps its own. A
        file object (e.g. ``io.BytesIO`` or a socket's ``makefile("wb")``)
        is written from its current position and not closed; that is not
        atomic.

    Raises
    ------
    TypeError
        If ``estimator`` is not an fnn estimator, or a parameter or class
        label has a type the format cannot hold.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    OSError
        If the file cannot be written (the previous file is kept).

    Notes
    -----
    A ``random_state`` that is a ``RandomState`` instance is saved as None:
    its state is not a setting, and the fitted weights are saved exactly.
    """
    chunks = _encoded_chunks(*_tensors_and_metadata(estimator))
    if hasattr(path, "write"):
        for chunk in chunks:
            path.write(chunk)
    else:
        write_atomically(path, chunks)


def _tensors_and_metadata(estimator) -> tuple[dict, dict]:
    if type(estimator).__name__ not in ESTIMATORS or not isinstance(
        estimator, tuple(ESTIMATORS.values())
    ):
        raise TypeError(f"fnn.save saves fnn estimators, not {type(estimator).__name__}")
    check_is_fitted(estimator)
    config: TrainConfig = estimator._config
    state: TrainState = estimator._train_state

    tensors = {}
    for i, (W, b) in enumerate(zip(estimator.coefs_, estimator.intercepts_)):
        tensors[f"coefs.{i}"] = W
        tensors[f"intercepts.{i}"] = b
    tensors["optimizer_slots"] = state.slots

    fitted = {name: getattr(estimator, name) for name in _FITTED_FIELDS}
    fitted["n_features_in_"] = int(estimator.n_features_in_)
    names = getattr(estimator, "feature_names_in_", None)
    fitted["feature_names_in_"] = None if names is None else [str(n) for n in names]
    fitted["seed"] = int(estimator._seed)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "fnn_version": __version__,
        "sklearn_version": sklearn.__version__,
        "params": json.dumps(_encode_param(estimator.get_params(deep=False))["dict"]),
        "config": json.dumps(dataclasses.asdict(config)),
        "state": json.dumps(
            {name: getattr(state, name) for name in _STATE_COUNTERS + _STATE_FLOATS}
        ),
        "fitted": json.dumps(fitted),
    }
    if isinstance(estimator, FNNClassifier):
        metadata["classes"] = json.dumps(
            {"kind": estimator._target_kind, "labels": _encode_classes(estimator.classes_)}
        )
    return tensors, metadata


def _encoded_chunks(tensors: dict, metadata: dict):
    """Return the file's bytes: length, header, then each tensor, in pieces of `_CHUNK_BYTES`.

    Written here rather than by ``safetensors.numpy.save``, which orders the
    metadata differently on every call (a hash map), so that the same model
    always gives the same bytes, and with no copy of the weights in memory.
    """
    header, arrays, offset = {"__metadata__": metadata}, [], 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        header[name] = {
            "dtype": _DTYPE_NAMES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        arrays.append(array)
        offset += array.nbytes
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # Padding with spaces to a multiple of 8 keeps the tensors aligned, as safetensors does.
    header_bytes += b" " * (-len(header_bytes) % 8)
    yield struct.pack("<Q", len(header_bytes)) + header_bytes
    for array in arrays:
        data = memoryview(array.reshape(-1)).cast("B")
        for start in range(0, len(data), _CHUNK_BYTES):
            yield data[start : start + _CHUNK_BYTES]


# ---------------------------------------------------------------------------
# Loading: every structural fact is checked before it is used.


class _Malformed(ValueError):
    pass


def _require(condition, message) -> None:
    if not condition:
        raise _Malformed(message)


def _read_container(path) -> tuple[dict, dict]:
    """Metadata and tensors of a safetensors file, parsed by the safetensors package."""
    try:
        with safetensors.safe_open(os.fspath(path), framework="numpy") as file:
            metadata = file.metadata()
            tensors = {name: file.get_tensor(name) for name in file.keys()}
    except safetensors.SafetensorError as error:
        raise _Malformed(f"it is not a safetensors file ({error})") from None
    _require(isinstance(metadata, dict), "the header has no __metadata__ object")
    for name, tensor in tensors.items():
        _require(tensor.dtype in _DTYPES, f"tensor {name!r} has unsupported dtype {tensor.dtype}")
    return metadata, tensors


def _json_field(metadata: dict, name: str):
    _require(name in metadata, f"__metadata__ has no {name!r}")
    try:
        return json.loads(metadata[name])
    except json.JSONDecodeError as error:
        raise _Malformed(f"__metadata__[{name!r}] is not valid JSON") from error


def _train_config(encoded) -> TrainConfig:
    _require(isinstance(encoded, dict), "config is not an object")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    _require(set(encoded) == fields, "config does not have TrainConfig's fields")
    for name in ("layer_sizes", "activations", "dropout"):
        _require(isinstance(encoded[name], list), f"config.{name} is not a list")
        encoded[name] = tuple(encoded[name])
    _require(
        all(isinstance(s, int) and not isinstance(s, bool) for s in encoded["layer_sizes"]),
        "config.layer_sizes must be integers",
    )
    return TrainConfig(**encoded)


def _number(value, what, *, integer=False) -> float | int:
    kinds = (int,) if integer else (int, float)
    _require(
        isinstance(value, kinds) and not isinstance(value, bool),
        f"{what} is not a number",
    )
    return value


def _float_list(value, what):
    if value is None:
        return None
    _require(isinstance(value, list), f"{what} is not a list")
    return [float(_number(v, what)) for v in value]


def _restore_fitted(estimator, config, tensors, metadata) -> None:
    sizes = config.layer_sizes
    dtypes = {t.dtype for t in tensors.values()}
    _require(len(dtypes) == 1, "tensors have different dtypes")
    n_layers = len(sizes) - 1
    expected = {f"coefs.{i}": (sizes[i], sizes[i + 1]) for i in range(n_layers)}
    expected.update({f"intercepts.{i}": (sizes[i + 1],) for i in range(n_layers)})
    expected["optimizer_slots"] = (3, config.n_params)
    _require(set(tensors) == set(expected), "the file does not hold the expected tensors")
    for name, shape in expected.items():
        _require(tensors[name].shape == shape, f"tensor {name!r} should have shape {shape}")
    params = pack(
        [tensors[f"coefs.{i}"] for i in range(n_layers)],
        [tensors[f"intercepts.{i}"] for i in range(n_layers)],
    )
    _require(np.isfinite(params).all(), "the weights are not all finite")

    counters = _json_field(metadata, "state")
    _require(isinstance(counters, dict), "state is not an object")
    _require(set(counters) == {*_STATE_COUNTERS, *_STATE_FLOATS}, "state has unexpected fields")
    for name in _STATE_COUNTERS:
        count = _number(counters[name], f"state.{name}", integer=True)
        _require(0 <= count < 2**64, f"state.{name} is out of range")
    for name in _STATE_FLOATS:
        counters[name] = float(_number(counters[name], f"state.{name}"))
        _require(not math.isnan(counters[name]), f"state.{name} is NaN")
    _require(0 < counters["lr_base"] < math.inf, "state.lr_base is not a positive number")
    state = TrainState(slots=np.ascontiguousarray(tensors["optimizer_slots"]), **counters)

    fitted = _json_field(metadata, "fitted")
    _require(isinstance(fitted, dict), "fitted is not an object")
    _require(
        set(fitted) == {*_FITTED_FIELDS, "n_features_in_", "feature_names_in_", "seed"},
        "fitted has unexpected fields",
    )
    n_features = _number(fitted["n_features_in_"], "n_features_in_", integer=True)
    _require(n_features == sizes[0], "n_features_in_ does not match the first layer")
    names = fitted["feature_names_in_"]
    if names is not None:
        _require(
            isinstance(names, list)
            and len(names) == n_features
            and all(isinstance(n, str) for n in names),
            "feature_names_in_ is malformed",
        )
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    seed = _number(fitted["seed"], "seed", integer=True)
    _require(0 <= seed < 2**64, "seed is out of range")

    estimator._params = params
    estimator._train_state = state
    estimator._config = config
    estimator._seed = seed
    estimator.n_features_in_ = n_features
    estimator.n_layers_ = len(sizes)
    estimator.n_outputs_ = sizes[-1]
    estimator.out_activation_ = OUT_ACTIVATION_NAMES[config.output]
    estimator.n_iter_ = _number(fitted["n_iter_"], "n_iter_", integer=True)
    estimator.t_ = _number(fitted["t_"], "t_", integer=True)
    estimator.loss_ = float(_number(fitted["loss_"], "loss_"))
    for name in ("best_loss_", "best_validation_score_"):
        value = fitted[name]
        setattr(estimator, name, None if value is None else float(_number(value, name)))
    estimator.loss_curve_ = _float_list(fitted["loss_curve_"], "loss_curve_") or []
    for name in ("validation_scores_", "validation_loss_curve_"):
        setattr(estimator, name, _float_list(fitted[name], name))


def _restore_classes(estimator, config, metadata) -> None:
    encoded = _json_field(metadata, "classes")
    _require(isinstance(encoded, dict) and set(encoded) == {"kind", "labels"}, "bad classes")
    _require(isinstance(encoded["labels"], dict), "bad classes")
    kind = encoded["kind"]
    classes = _decode_classes(encoded["labels"])
    n_outputs = config.layer_sizes[-1]
    consistent = {
        "one_class": len(classes) == 1 and n_outputs == 1,
        "binary": len(classes) == 2 and n_outputs == 1,
        "multiclass": len(classes) > 2 and n_outputs == len(classes),
        "multilabel": n_outputs == len(classes) and np.array_equal(classes, np.arange(n_outputs)),
    }
    _require(consistent.get(kind, False), "classes do not match the network's outputs")
    _require(
        np.all(classes[:-1] < classes[1:]) if len(classes) > 1 else True,
        "classes must be sorted and unique",
    )
    estimator.classes_ = classes
    estimator._target_kind = kind


def load(path):
    """Read an estimator written by `fnn.save`.

    Parameters
    ----------
    path : str or path-like
        A file written by `fnn.save`.

    Returns
    -------
    FNNClassifier or FNNRegressor
        The fitted estimator, ready to predict or to continue training.

    Raises
    ------
    ValueError
        If the file is not a well-formed fnn safetensors file: truncated,
        malformed header or metadata, tensors out of range, overlapping or of
        the wrong size, unknown dtype, an estimator class other than fnn's,
        invalid parameters, or weights inconsistent with the architecture.
    """
    with open(os.fspath(path), "rb"):
        pass  # a missing file, a directory or no permission: the errors a plain open gives
    try:
        metadata, tensors = _read_container(path)
        _require(metadata.get("format") == FORMAT, "this is not an fnn model file")
        _require(
            metadata.get("format_version") == FORMAT_VERSION,
            f"unsupported format_version {metadata.get('format_version')!r}",
        )
        name = metadata.get("estimator")
        _require(name in ESTIMATORS, f"unknown estimator class {name!r}")
        cls = ESTIMATORS[name]

        pairs = _json_field(metadata, "params")
        params = _decode_param({"dict": pairs})
        _require(
            isinstance(params, dict) and set(params) == set(cls().get_params(deep=False)),
            f"params are not those of {name}",
        )
        estimator = cls(**params)
        estimator._validate_params()
        config = _train_config(_json_field(metadata, "config"))
        _require(
            hidden_layer_sizes(estimator) == config.layer_sizes[1:-1],
            "hidden_layer_sizes does not match the saved network",
        )
        _restore_fitted(estimator, config, tensors, metadata)
        if cls is FNNClassifier:
            _restore_classes(estimator, config, metadata)
    except _Malformed as error:
        raise ValueError(f"{os.fspath(path)!s} is not a valid fnn model file: {error}") from None
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as error:
        # RecursionError: JSON nested too deeply to parse; OverflowError: an
        # integer too large for a float. Both are malformed files, nothing more.
        raise ValueError(f"{os.fspath(path)!s} is not a valid fnn model file: {error}") from error
    return estimator
