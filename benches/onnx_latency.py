"""Latency of an exported fnn model in ONNX Runtime next to fnn's own predict.

A digits classifier (64 inputs, 100 hidden ReLU units, 10 classes), trained
once per dtype, is exported with ``fnn.to_onnx`` (``zipmap=False``) and scored
on one row and on 10,000 rows. ONNX Runtime's ``session.run`` returns the
labels and the probabilities in one call; fnn's figures are ``predict_proba``
and ``predict`` (each a call of its own). Calls alternate between the systems
and every figure is the median of ``--reps`` calls, after a warm-up.

Usage (from the repository root, with the ``onnx`` extra installed)::

    python benches/onnx_latency.py              # prints a Markdown table
    python benches/onnx_latency.py --reps 2001
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import fnn
from fnn import FNNClassifier


def _median_seconds(calls, reps):
    """Median time of each call, the calls interleaved rep by rep."""
    times = [[] for _ in calls]
    for call in calls:  # warm-up: first-call allocations, thread pools
        for _ in range(5):
            call()
    for _ in range(reps):
        for i, call in enumerate(calls):
            start = time.perf_counter()
            call()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def measure(dtype, rows, reps):
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 30 epochs are enough to time
        clf = FNNClassifier(hidden_layer_sizes=(100,), max_iter=30, random_state=0).fit(X, y)
    onx = fnn.to_onnx(clf, X[:1], options={FNNClassifier: {"zipmap": False}})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    batch = np.ascontiguousarray(np.resize(X, (rows, X.shape[1])))
    feed = {"X": batch}
    labels, _ = session.run(None, feed)
    assert (labels == clf.predict(batch)).all()
    return _median_seconds(
        [
            lambda: session.run(None, feed),
            lambda: clf.predict_proba(batch),
            lambda: clf.predict(batch),
        ],
        reps,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1001, help="calls per figure (median)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, onnxruntime {ort.__version__}, fnn {fnn.__version__}\n")
    print("| dtype | rows | ORT run (labels + probabilities) | fnn predict_proba | fnn predict |")
    print("|---|---:|---:|---:|---:|")
    for dtype in (np.float32, np.float64):
        for rows in (1, 10_000):
            reps = args.reps if rows == 1 else max(args.reps // 20, 21)
            ort_s, proba_s, predict_s = measure(dtype, rows, reps)
            print(
                f"| {np.dtype(dtype).name} | {rows:,} | {ort_s * 1e6:,.1f} µs | "
                f"{proba_s * 1e6:,.1f} µs | {predict_s * 1e6:,.1f} µs |"
            )


if __name__ == "__main__":
    main()
