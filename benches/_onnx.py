"""ONNX Runtime as a serving peer: scikit-learn's ``MLPClassifier``, converted
by skl2onnx, predicting through an ``onnxruntime.InferenceSession``.

`OnnxRuntimeClassifier.fit` trains the ``MLPClassifier`` and converts it
(float32 input, labels and probabilities as plain tensors: no ZipMap);
`predict` is one ``session.run`` of the label output, what a service would
call. Only the predict workloads use it.
"""

from __future__ import annotations

import numpy as np
import onnxruntime
from skl2onnx import to_onnx
from sklearn.neural_network import MLPClassifier


class OnnxRuntimeClassifier:
    """An ``MLPClassifier`` served by ONNX Runtime.

    Parameters
    ----------
    mlp_params : dict
        Passed to ``MLPClassifier``.
    threads : int, default=1
        ONNX Runtime's intra-op threads.
    """

    def __init__(self, mlp_params: dict, threads: int = 1):
        self.mlp_params = mlp_params
        self.threads = threads

    def fit(self, X, y):
        """Train the ``MLPClassifier`` on float32 ``X``, then convert it."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        self.model_ = MLPClassifier(**self.mlp_params).fit(X, y)
        self.classes_ = self.model_.classes_
        graph = to_onnx(self.model_, X[:1], options={"zipmap": False})
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(self.threads)
        options.inter_op_num_threads = 1
        self.session_ = onnxruntime.InferenceSession(
            graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self.input_name_ = self.session_.get_inputs()[0].name
        self.label_name_ = self.session_.get_outputs()[0].name
        return self

    def predict(self, X):
        """Labels from ONNX Runtime (``X`` as float32 rows)."""
        (labels,) = self.session_.run([self.label_name_], {self.input_name_: X})
        return labels
