"""The network's forward pass as ONNX nodes: one ``Gemm`` and one activation per layer.

The graph computes in the estimator's own dtype, as its ``predict`` does: the
input is cast to float32 or float64 first, whatever the step before it gives.
Dropout is a training-time mask, so it has no node here.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, numpy_helper
from sklearn.utils.validation import check_is_fitted

#: ONNX element type of the estimator's dtype.
PROTO_DTYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}

#: Hidden activations that are one ONNX operator in either dtype.
_PLAIN_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}


def model_dtype(estimator) -> np.dtype:
    """Return the dtype the fitted estimator computes in (float32 or float64)."""
    check_is_fitted(estimator)
    return estimator._params.dtype


def hidden_activations(estimator) -> tuple[str, ...]:
    """Return the fitted network's hidden activations, checked to be exportable."""
    names = tuple(estimator._config.activations)
    for name in names:
        if name not in {"identity", "leaky_relu", *_PLAIN_ACTIVATIONS}:
            raise ValueError(
                f"Cannot export {type(estimator).__name__} with activation={name!r} to ONNX: "
                f"the converter knows identity, logistic/sigmoid, tanh, relu and leaky_relu."
            )
    return names


def constant(scope, container, seed, array) -> str:
    """Return an initializer holding ``array`` exactly (its bytes, not a list of floats)."""
    name = scope.get_unique_variable_name(seed)
    array = np.asarray(array)
    if array.dtype.kind in "OU":
        # skl2onnx copies a TensorProto's raw bytes only; strings are not kept there.
        values = [str(s).encode("utf-8") for s in array.ravel()]
        container.add_initializer(name, TensorProto.STRING, list(array.shape), values)
        return name
    tensor = numpy_helper.from_array(array, name)
    container.add_initializer(name, tensor.data_type, list(tensor.dims), tensor)
    return name


def node(scope, container, op_type, inputs, seed=None, *, into=None, **attrs) -> str:
    """Add one node; its output is ``into``, or a fresh name made from ``seed``."""
    output = into or scope.get_unique_variable_name(seed or op_type.lower())
    container.add_node(
        op_type, inputs, output, name=scope.get_unique_operator_name(op_type), **attrs
    )
    return output


def _leaky_relu(scope, container, z, slope, dtype) -> str:
    if dtype == np.float32:
        return node(scope, container, "LeakyRelu", [z], "leaky_relu", alpha=float(slope))
    # ONNX Runtime has no float64 LeakyRelu kernel: the same function,
    # z where z > 0 and slope * z elsewhere, from operators that have one.
    zero = constant(scope, container, "zero", np.zeros((), dtype))
    positive = node(scope, container, "Greater", [z, zero], "positive")
    scaled = node(
        scope, container, "Mul", [z, constant(scope, container, "slope", dtype.type(slope))],
        "scaled",
    )  # fmt: skip
    return node(scope, container, "Where", [positive, z, scaled], "leaky_relu")


def add_logits(scope, operator, container) -> str:
    """Nodes from the operator's input to the output layer's pre-activations.

    Returns the name of the logits tensor, shape (N, n_outputs), in the
    estimator's dtype.
    """
    estimator = operator.raw_operator
    dtype = model_dtype(estimator)
    activations = hidden_activations(estimator)
    slope = estimator._config.negative_slope
    current = operator.inputs[0].full_name
    if operator.inputs[0].type.to_onnx_type().tensor_type.elem_type != PROTO_DTYPES[dtype]:
        current = node(scope, container, "Cast", [current], "cast_input", to=PROTO_DTYPES[dtype])
    n_layers = len(estimator.coefs_)
    for i, (weights, bias) in enumerate(zip(estimator.coefs_, estimator.intercepts_)):
        inputs = [
            current,
            constant(scope, container, "coefficient", weights),
            constant(scope, container, "intercepts", bias),
        ]
        current = node(scope, container, "Gemm", inputs, "layer_output")
        if i == n_layers - 1:
            break
        name = activations[i]
        if name == "leaky_relu":
            current = _leaky_relu(scope, container, current, slope, dtype)
        elif name != "identity":
            current = node(scope, container, _PLAIN_ACTIVATIONS[name], [current], "activation")
    return current
