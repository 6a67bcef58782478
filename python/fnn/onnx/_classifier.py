"""`FNNClassifier` in skl2onnx: parser, shape calculator and converter.

The outputs are those of skl2onnx's ``MLPClassifier``: ``label`` and
``probabilities``, then a ``ZipMap`` into ``output_label`` and
``output_probability`` unless the option ``zipmap`` is False, and the options
``zipmap`` (True, False, 'columns'), ``nocl``, ``output_class_labels`` and
``raw_scores`` mean the same. Losses without probabilities (hinge,
squared_hinge, squared_error) and ``raw_scores=True`` put
``decision_function``'s scores where the probabilities go; for a binary
problem that is two columns, ``[-score, score]``, as skl2onnx gives for
linear classifiers' raw scores.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, numpy_helper
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DictionaryType,
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    SequenceType,
    StringTensorType,
)
from skl2onnx.common.utils import check_input_and_output_numbers, check_input_and_output_types

from .. import _labels
from ._labels import onnx_labels
from ._network import add_logits, constant, model_dtype, node

ALIAS = "FnnFNNClassifier"
OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [True, False],
    "output_class_labels": [False, True],
    "raw_scores": [True, False],
}
_DEFAULTS = {"zipmap": True, "nocl": False, "output_class_labels": False, "raw_scores": False}

_TENSOR_TYPES = {np.dtype(np.float32): FloatTensorType, np.dtype(np.float64): DoubleTensorType}
_INPUT_TYPES = [FloatTensorType, DoubleTensorType, Int64TensorType, BooleanTensorType]


def _options(scope, estimator) -> dict:
    return scope.get_options(estimator, dict(_DEFAULTS))


def _label_type(labels: np.ndarray):
    return StringTensorType if labels.dtype == object else Int64TensorType


def _check_exportable(estimator, options) -> None:
    """Raise for a model or an option the graph cannot serve faithfully."""
    model_dtype(estimator)  # first: it raises NotFittedError for an unfitted model
    if estimator.out_activation_ not in ("softmax", "logistic", "identity"):
        raise ValueError(
            f"Cannot export FNNClassifier with out_activation_={estimator.out_activation_!r} "
            "to ONNX: the converter knows softmax, logistic and identity outputs."
        )
    if options["zipmap"] is True and model_dtype(estimator) == np.float64:
        raise ValueError(
            "Cannot export a float64 FNNClassifier with zipmap=True: ONNX's ZipMap holds "
            "float32 probabilities only, and rounding them would change them. Pass "
            "options={FNNClassifier: {'zipmap': False}} for the float64 'probabilities' "
            "tensor (or zipmap='columns'), or train the model on float32 data."
        )
    if options["zipmap"] is not False and options["output_class_labels"]:
        raise ValueError("Option output_class_labels=True needs zipmap=False.")


def parse(scope, model, inputs, custom_parsers=None):
    """Declare the classifier's outputs, with ZipMap or the class labels as asked."""
    options = _options(scope, model)
    _check_exportable(model, options)
    labels = onnx_labels(model, nocl=options["nocl"])
    operator = scope.declare_local_operator(ALIAS, model)
    operator.inputs = inputs
    label = scope.declare_local_variable("label", _label_type(labels)())
    scores = scope.declare_local_variable("probabilities", _TENSOR_TYPES[model_dtype(model)]())
    operator.outputs.extend([label, scores])
    zipmap = options["zipmap"]
    if zipmap is False:
        if not options["output_class_labels"]:
            return list(operator.outputs)
        class_labels = scope.declare_local_operator("SklearnClassLabels")
        class_labels.classes = labels
        variable = scope.declare_local_variable("class_labels", _label_type(labels)())
        class_labels.outputs.append(variable)
        return [*operator.outputs, variable]
    return _declare_zipmap(scope, model, labels, zipmap, operator.outputs)


def _declare_zipmap(scope, model, labels, zipmap, outputs):
    """Return the ZipMap step after the classifier (skl2onnx's converters emit it)."""
    columns = zipmap == "columns"
    zipmap_op = scope.declare_local_operator("SklearnZipMapColumns" if columns else "SklearnZipMap")
    zipmap_op.inputs = list(outputs)
    if labels.dtype == object:
        zipmap_op.classlabels_strings = np.array([s.encode("utf-8") for s in labels])
    else:
        zipmap_op.classlabels_int64s = [int(v) for v in labels]
    label_type = _label_type(labels)
    zipmap_op.outputs.append(scope.declare_local_variable("output_label", label_type([None])))
    score_type = _TENSOR_TYPES[model_dtype(model)]
    if columns:
        # One output per class, named as skl2onnx names them: i<int> or s<str>.
        prefix = "s" if labels.dtype == object else "i"
        for label in labels:
            zipmap_op.outputs.append(scope.declare_local_variable(f"{prefix}{label}", score_type()))
    else:
        probabilities = SequenceType(DictionaryType(label_type([]), score_type([])))
        zipmap_op.outputs.append(scope.declare_local_variable("output_probability", probabilities))
    zipmap_op.init_status(is_evaluated=True)
    return zipmap_op.outputs


def calculate_shapes(operator) -> None:
    """Label (N,) or (N, n_labels) for multi-label; scores (N, n_classes)."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    check_input_and_output_types(operator, good_input_types=_INPUT_TYPES)
    estimator = operator.raw_operator
    options = _options(operator.scope_inst, estimator)
    labels = onnx_labels(estimator, nocl=options["nocl"])
    n_rows = operator.inputs[0].get_first_dimension()
    n_classes = len(estimator.classes_)
    multilabel = estimator._target_kind == _labels.MULTILABEL
    label_shape = [n_rows, n_classes] if multilabel else [n_rows]
    operator.outputs[0].type = _label_type(labels)(label_shape)
    operator.outputs[1].type = _TENSOR_TYPES[model_dtype(estimator)]([n_rows, n_classes])


def _decision(scope, container, estimator, logits) -> str:
    """decision_function's scores: (N, 1) for binary problems, else (N, k)."""
    if estimator._target_kind == _labels.BINARY and estimator._config.loss == "squared_error":
        # Squared error aims at 0/1 targets: the decision threshold is 0.5.
        half = constant(scope, container, "half", model_dtype(estimator).type(0.5))
        return node(scope, container, "Sub", [logits, half], "decision")
    return logits


def _add_scores(scope, container, estimator, options, logits, decision, output) -> None:
    binary = estimator._target_kind == _labels.BINARY
    one_class = estimator._target_kind == _labels.ONE_CLASS
    if one_class and not options["raw_scores"] and estimator.out_activation_ != "identity":
        # The only class is certain, as predict_proba says: a column of ones.
        shape = node(scope, container, "Shape", [logits], "shape")
        one = numpy_helper.from_array(np.ones(1, dtype=model_dtype(estimator)), "one")
        node(scope, container, "ConstantOfShape", [shape], into=output, value=one)
    elif options["raw_scores"] or estimator.out_activation_ == "identity":
        if binary:
            negated = node(scope, container, "Neg", [decision], "negated")
            node(scope, container, "Concat", [negated, decision], into=output, axis=1)
        else:
            node(scope, container, "Identity", [decision], into=output)
    elif estimator.out_activation_ == "softmax":
        node(scope, container, "Softmax", [logits], into=output, axis=1)
    elif binary:
        # Both columns straight from the logit, as predict_proba: no 1 - p.
        negated = node(scope, container, "Neg", [logits], "negated")
        negative = node(scope, container, "Sigmoid", [negated], "negative_class")
        positive = node(scope, container, "Sigmoid", [logits], "positive_class")
        node(scope, container, "Concat", [negative, positive], into=output, axis=1)
    else:
        node(scope, container, "Sigmoid", [logits], into=output)


def _add_label(scope, container, estimator, labels, decision, output) -> None:
    kind = estimator._target_kind
    if kind == _labels.MULTILABEL:
        zero = constant(scope, container, "zero", model_dtype(estimator).type(0))
        positive = node(scope, container, "Greater", [decision, zero], "positive")
        node(scope, container, "Cast", [positive], into=output, to=TensorProto.INT64)
        return
    if kind == _labels.BINARY:
        zero = constant(scope, container, "zero", model_dtype(estimator).type(0))
        positive = node(scope, container, "Greater", [decision, zero], "positive")
        as_int = node(scope, container, "Cast", [positive], "class_index", to=TensorProto.INT64)
        flat = constant(scope, container, "flat", np.array([-1], dtype=np.int64))
        index = node(scope, container, "Reshape", [as_int, flat], "class_index")
    else:
        index = node(scope, container, "ArgMax", [decision], "class_index", axis=1, keepdims=0)
    classes = constant(scope, container, "classes", labels)
    node(scope, container, "Gather", [classes, index], into=output, axis=0)


def convert(scope, operator, container) -> None:
    """Return the classifier's nodes: network, scores, then labels from the scores."""
    estimator = operator.raw_operator
    options = container.get_options(estimator, dict(_DEFAULTS))
    labels = onnx_labels(estimator, nocl=options["nocl"])
    logits = add_logits(scope, operator, container)
    decision = _decision(scope, container, estimator, logits)
    label, scores = (variable.full_name for variable in operator.outputs)
    _add_scores(scope, container, estimator, options, logits, decision, scores)
    # Labels from the scores themselves: softmax or sigmoid rounding could tie
    # two classes that the scores tell apart. (fnn's predict reads the labels
    # off its own probabilities; they differ only where those round to a tie.)
    _add_label(scope, container, estimator, labels, decision, label)
