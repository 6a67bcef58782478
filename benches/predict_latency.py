"""One-row and 10,000-row prediction latency of fnn, beside ONNX Runtime (issue 12).

An mnist-sized classifier (784 float32 features, (256, 128) ReLU units, 10
classes) and regressor, and a 4-16-3 float64 classifier, each fitted for two
epochs on random data (the weights do not change the arithmetic's cost). The
one-row figures interleave every call rep by rep and are medians of
``--reps`` calls after a warm-up; "forward only" is `fnn._core.forward`
itself (which parses the network and makes a workspace on each call). ONNX
Runtime runs the mnist-sized classifier exported with ``fnn.to_onnx``
(``zipmap=False``; labels and probabilities in one call).

Usage (from the repository root)::

    python benches/predict_latency.py --reps 3000
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
import onnxruntime as ort
from _alternate import interleaved_medians

import fnn
from fnn import FNNClassifier, FNNRegressor, _core


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3000, help="one-row calls per figure")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # two epochs do not converge
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 784)).astype(np.float32)
    wide = FNNClassifier(hidden_layer_sizes=(256, 128), max_iter=2, random_state=0)
    wide.fit(X, np.arange(2000) % 10)
    regressor = FNNRegressor(hidden_layer_sizes=(256, 128), max_iter=2, random_state=0)
    regressor.fit(X, X[:, 0])
    X_small = rng.normal(size=(150, 4))
    small = FNNClassifier(hidden_layer_sizes=(16,), max_iter=2, random_state=0)
    small.fit(X_small, np.arange(150) % 3)
    row, small_row = X[:1].copy(), X_small[:1].copy()
    batch = np.ascontiguousarray(np.resize(X, (10_000, 784)))
    onx = fnn.to_onnx(wide, row, options={FNNClassifier: {"zipmap": False}})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    one_row = {
        "784-256-128-10 float32, 1 row: forward only": lambda: _core.forward(
            wide._config, wide._params, row.reshape(-1), True, 1
        ),
        "784-256-128-10 float32, 1 row: predict_proba": lambda: wide.predict_proba(row),
        "784-256-128-10 float32, 1 row: predict": lambda: wide.predict(row),
        "784-256-128-10 float32, 1 row: ONNX Runtime": lambda: session.run(None, {"X": row}),
        "784-256-128-1 float32 regressor, 1 row: predict": lambda: regressor.predict(row),
        "4-16-3 float64, 1 row: forward only": lambda: _core.forward(
            small._config, small._params, small_row.reshape(-1), True, 1
        ),
        "4-16-3 float64, 1 row: predict_proba": lambda: small.predict_proba(small_row),
        "4-16-3 float64, 1 row: predict": lambda: small.predict(small_row),
    }
    many_rows = {
        "784-256-128-10 float32, 10,000 rows: predict_proba": lambda: wide.predict_proba(batch),
        "784-256-128-10 float32, 10,000 rows: ONNX Runtime": lambda: session.run(
            None, {"X": batch}
        ),
    }
    results = {
        **interleaved_medians(one_row, args.reps),
        **interleaved_medians(many_rows, max(args.reps // 30, 21)),
    }
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()}, fnn at {fnn.__file__}\n")
    print("| what | median |\n|---|---:|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds * 1e6:,.1f} µs |")


if __name__ == "__main__":
    main()
