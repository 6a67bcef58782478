"""The benchmark data sets, all made in memory (no downloads).

``mnist_like`` stands in for MNIST: the same shape and dtype (rows of 784
float32 pixels in [0, 1], 10 classes), with classes a network can learn but
not trivially, so accuracy means something beside the timings.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits, load_iris
from sklearn.preprocessing import StandardScaler

#: Rows generated per step, so making the data needs no float64 temporaries
#: the size of the result (peak RSS measurements start after it).
_CHUNK = 4096


def mnist_like(n_samples: int = 60_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: ``n_samples × 784`` float32 pixels in [0, 1], labels 0–9.

    Each class has a template image: a few bright blobs on a 28 × 28 grid,
    shared in part with other classes. A sample is its class template,
    shifted in brightness, plus strong pixel noise and a stroke of another
    class's template, clipped to [0, 1]; a linear model reaches about 80–90%
    accuracy, a (256, 128) network after one epoch somewhat more.
    """
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(28), np.arange(28), indexing="ij"), -1).reshape(-1, 2)
    # Blob centres: 6 shared strokes, each class lights 3 of them plus 2 of its own.
    shared = rng.uniform(6, 22, size=(6, 2))
    templates = np.zeros((10, 784), dtype=np.float32)
    for c in range(10):
        centres = np.vstack([shared[rng.choice(6, 3, replace=False)], rng.uniform(6, 22, (2, 2))])
        for cx in centres:
            d2 = ((grid - cx) ** 2).sum(1)
            templates[c] += np.exp(-d2 / (2 * 2.5**2)).astype(np.float32)
    templates /= templates.max(axis=1, keepdims=True)
    y = rng.integers(0, 10, n_samples).astype(np.int64)
    X = np.empty((n_samples, 784), dtype=np.float32)
    for start in range(0, n_samples, _CHUNK):
        rows = slice(start, min(start + _CHUNK, n_samples))
        m = rows.stop - rows.start
        other = rng.integers(0, 10, m)
        gain = rng.uniform(0.4, 1.0, (m, 1)).astype(np.float32)
        block = gain * templates[y[rows]]
        block += np.float32(0.5) * rng.random((m, 1), dtype=np.float32) * templates[other]
        block += np.float32(0.45) * rng.standard_normal((m, 784), dtype=np.float32)
        np.clip(block, 0.0, 1.0, out=block)
        X[rows] = block
    return X, y


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits (1797 × 64, 10 classes), float32, unscaled."""
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


def iris_scaled() -> tuple[np.ndarray, np.ndarray]:
    """Iris (150 × 4, 3 classes), standardized, float32."""
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


def digits_scaled() -> tuple[np.ndarray, np.ndarray]:
    """Digits standardized, float32 (the fit workloads train on these)."""
    X, y = digits()
    return StandardScaler().fit_transform(X).astype(np.float32), y
