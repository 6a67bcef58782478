"""Small data sets for examples, tests and the lab; nothing is downloaded.

`xor` and `make_moons` are generated here with NumPy. `load_iris` and
`load_digits` return the copies that scikit-learn ships inside its package, so
they need scikit-learn (the ``lab`` extra) but no network.
"""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits", "load_iris", "make_moons", "xor"]


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four points of the XOR problem.

    Returns
    -------
    X : ndarray of shape (4, 2), float64
        The corners of the unit square: ``(0, 0), (0, 1), (1, 0), (1, 1)``.
    y : ndarray of shape (4,), int64
        ``1`` where exactly one coordinate is 1, else ``0``: ``[0, 1, 1, 0]``.

    Examples
    --------
    >>> X, y = xor()
    >>> y.tolist()
    [0, 1, 1, 0]
    """
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return X, y


def make_moons(
    n_samples: int = 200, noise: float = 0.1, random_state: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, a binary problem no line can separate.

    The same construction as scikit-learn's ``make_moons`` (the upper moon
    is class 0, the lower one, shifted right and down, class 1; rows are
    shuffled), though not the same random numbers.

    Parameters
    ----------
    n_samples : int, default=200
        Number of points; class 0 gets ``n_samples // 2`` of them, class 1
        the rest.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to each coordinate.
    random_state : int or None, default=0
        Seed for :func:`numpy.random.default_rng`; the same seed gives the
        same points. ``None`` draws fresh entropy.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
        The points.
    y : ndarray of shape (n_samples,), int64
        Their labels, 0 or 1.

    Examples
    --------
    >>> X, y = make_moons(100, noise=0.05, random_state=1)
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 2), [0, 1])
    """
    n_samples = int(n_samples)
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if not noise >= 0.0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(random_state)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            np.column_stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)]),
        ]
    )
    y = np.concatenate([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    order = rng.permutation(n_samples)
    X, y = X[order], y[order]
    if noise > 0.0:
        X = X + rng.normal(scale=noise, size=X.shape)
    return np.ascontiguousarray(X, dtype=np.float64), y


def _sklearn_datasets(loader: str):
    try:
        from sklearn import datasets
    except ImportError as exc:
        raise ImportError(
            f"fnn.datasets.{loader}() reads the copy bundled with scikit-learn, "
            "which is not installed; install the 'lab' extra "
            "(pip install 'fnn[lab]') or scikit-learn itself"
        ) from exc
    return datasets


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """Fisher's iris flowers: 150 samples, 4 features, 3 classes.

    Read from the copy bundled with scikit-learn (no download).

    Returns
    -------
    X : ndarray of shape (150, 4), float64
        Sepal length and width, petal length and width, in cm.
    y : ndarray of shape (150,), int64
        The species, 0, 1 or 2 (50 samples each).

    Raises
    ------
    ImportError
        If scikit-learn is not installed (install the ``lab`` extra).
    """
    bunch = _sklearn_datasets("load_iris").load_iris()
    return _as_xy(bunch.data, bunch.target)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Handwritten digits: 1797 images of 8x8 pixels, 10 classes.

    Read from the copy bundled with scikit-learn (no download).

    Returns
    -------
    X : ndarray of shape (1797, 64), float64
        Pixel intensities from 0 to 16, one row per image, row-major.
    y : ndarray of shape (1797,), int64
        The digit shown, 0 to 9.

    Raises
    ------
    ImportError
        If scikit-learn is not installed (install the ``lab`` extra).
    """
    bunch = _sklearn_datasets("load_digits").load_digits()
    return _as_xy(bunch.data, bunch.target)


def _as_xy(data, target) -> tuple[np.ndarray, np.ndarray]:
    X = np.ascontiguousarray(data, dtype=np.float64)
    y = np.asarray(target, dtype=np.int64)
    return X, y
