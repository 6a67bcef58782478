"""`fnn.to_onnx`: the ONNX export, importing skl2onnx only when called."""

from __future__ import annotations


def to_onnx(model, X_sample, **options):
    """Convert a fitted fnn estimator, or a pipeline holding one, to ONNX.

    The first call imports `fnn.onnx`, which registers fnn's converters with
    skl2onnx; see `fnn.onnx.to_onnx` for the parameters, outputs and errors.
    Needs the ``onnx`` extra: ``pip install "fnn[onnx]"``.

    Parameters
    ----------
    model : estimator
        A fitted `FNNClassifier` or `FNNRegressor`, or a scikit-learn
        pipeline or meta-estimator holding one.
    X_sample : array-like or DataFrame
        A few input rows; they fix the graph input's type and width.
    **options
        Passed on to ``skl2onnx.to_onnx`` (``options``, ``target_opset``, ...).

    Returns
    -------
    onnx.ModelProto
        The graph.
    """
    from .onnx import to_onnx as export

    return export(model, X_sample, **options)
