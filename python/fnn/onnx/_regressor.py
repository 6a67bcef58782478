"""`FNNRegressor` in skl2onnx: parser, shape calculator and converter.

One output, ``variable``, as skl2onnx's ``MLPRegressor`` has: shape
(N, n_outputs) in the estimator's dtype, ``predict``'s values (a column for
one output). The output function is the fitted ``out_activation_``:
identity, or ``exp`` for the Poisson loss.
"""

from __future__ import annotations

import numpy as np
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
)
from skl2onnx.common.utils import check_input_and_output_numbers, check_input_and_output_types

from ._network import add_logits, model_dtype, node

ALIAS = "FnnFNNRegressor"

_TENSOR_TYPES = {np.dtype(np.float32): FloatTensorType, np.dtype(np.float64): DoubleTensorType}
_INPUT_TYPES = [FloatTensorType, DoubleTensorType, Int64TensorType, BooleanTensorType]

#: ``out_activation_`` -> the ONNX operator that applies it.
_OUTPUT_FUNCTIONS = {"identity": "Identity", "exp": "Exp"}


def _output_function(estimator) -> str:
    name = estimator.out_activation_
    if name not in _OUTPUT_FUNCTIONS:
        raise ValueError(
            f"Cannot export FNNRegressor with out_activation_={name!r} to ONNX: the "
            f"converter knows {sorted(_OUTPUT_FUNCTIONS)}."
        )
    return _OUTPUT_FUNCTIONS[name]


def parse(scope, model, inputs, custom_parsers=None):
    """Declare the one output, ``variable``, in the estimator's dtype."""
    dtype = model_dtype(model)  # first: it raises NotFittedError for an unfitted model
    _output_function(model)
    operator = scope.declare_local_operator(ALIAS, model)
    operator.inputs = inputs
    variable = scope.declare_local_variable("variable", _TENSOR_TYPES[dtype]())
    operator.outputs.append(variable)
    return list(operator.outputs)


def calculate_shapes(operator) -> None:
    """``variable``: (N, n_outputs)."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_input_and_output_types(operator, good_input_types=_INPUT_TYPES)
    estimator = operator.raw_operator
    n_rows = operator.inputs[0].get_first_dimension()
    tensor_type = _TENSOR_TYPES[model_dtype(estimator)]
    operator.outputs[0].type = tensor_type([n_rows, estimator.n_outputs_])


def convert(scope, operator, container) -> None:
    """Return the network, then the output function."""
    estimator = operator.raw_operator
    logits = add_logits(scope, operator, container)
    output = operator.outputs[0].full_name
    node(scope, container, _output_function(estimator), [logits], into=output)
