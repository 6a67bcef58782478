"""Export fitted fnn estimators to ONNX, through skl2onnx.

Importing this module registers fnn's parsers, shape calculators and
converters with skl2onnx, so ``skl2onnx.to_onnx`` converts fnn estimators
anywhere in a scikit-learn pipeline or meta-estimator, as it converts
``MLPClassifier`` and ``MLPRegressor``: same output names, same options.
Needs the ``onnx`` extra (``pip install "fnn[onnx]"``); ``import fnn``
works without it.

Graphs compute in the model's dtype. Of the operators they use, ONNX Runtime
has no float64 kernel for ``LeakyRelu`` (a float64 graph builds it from
``Greater``, ``Mul`` and ``Where``), and ONNX's ``ZipMap`` takes float32
only (a float64 classifier is exported with ``zipmap=False`` or
``'columns'``).
"""

from __future__ import annotations

try:
    import skl2onnx
except ImportError as error:  # pragma: no cover - exercised in a bare environment
    raise ImportError(
        "fnn.onnx needs onnx and skl2onnx (and onnxruntime to run the graphs): "
        'pip install "fnn[onnx]"'
    ) from error

from .._classifier import FNNClassifier
from .._regressor import FNNRegressor
from . import _classifier, _regressor

__all__ = ["register", "to_onnx"]


def register() -> None:
    """Register fnn's converters with skl2onnx (done on import; calling again is harmless).

    After this, ``skl2onnx.to_onnx`` and ``skl2onnx.convert_sklearn`` convert
    `FNNClassifier` and `FNNRegressor`, alone or inside pipelines.
    """
    skl2onnx.update_registered_converter(
        FNNClassifier,
        _classifier.ALIAS,
        _classifier.calculate_shapes,
        _classifier.convert,
        parser=_classifier.parse,
        options=_classifier.OPTIONS,
    )
    skl2onnx.update_registered_converter(
        FNNRegressor,
        _regressor.ALIAS,
        _regressor.calculate_shapes,
        _regressor.convert,
        parser=_regressor.parse,
    )


def to_onnx(model, X_sample, **options):
    """Convert a fitted fnn estimator, or a pipeline holding one, to ONNX.

    Parameters
    ----------
    model : estimator
        A fitted `FNNClassifier` or `FNNRegressor`, or any scikit-learn
        pipeline or meta-estimator that skl2onnx converts and that holds one.
    X_sample : array-like or DataFrame
        A few rows of input: they give the graph's input name (``X``), element
        type and width. float32 rows make a float input, float64 rows a
        double input; the network itself computes in its own dtype.
    **options
        Passed on to ``skl2onnx.to_onnx``: e.g. ``options={FNNClassifier:
        {"zipmap": False}}``, ``target_opset``, ``name``.

    Returns
    -------
    onnx.ModelProto
        The graph. Classifiers output ``label`` and ``probabilities`` (or,
        with ZipMap, ``output_label`` and ``output_probability``),
        regressors ``variable``, as skl2onnx's MLP converters do.

    Raises
    ------
    ValueError
        If the model has a setting the graph cannot reproduce; the message
        names it.
    """
    register()
    return skl2onnx.to_onnx(model, X_sample, **options)


register()
