"""Small data sets for examples, tests and the lab; nothing is downloaded.

`xor` and `make_moons` are generated here with NumPy. `load_iris` and
`load_digits` return the copies that scikit-learn ships inside its package, so
they need no network. `load_mnist` reads
MNIST from IDX files you already have (`read_idx` reads any one IDX file).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["load_digits", "load_iris", "load_mnist", "make_moons", "read_idx", "xor"]


def xor() -> tuple[np.ndarray, np.ndarray]:
    """Return the four points of the XOR problem.

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


# IDX type codes (the third byte of the magic number) -> big-endian dtypes.
_IDX_DTYPES = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_maybe_gzipped(path: Path) -> bytes:
    raw = path.read_bytes()
    # Decide by content, not by name: MNIST mirrors ship both with and
    # without ".gz", and renamed files are common.
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt gzip data ({exc})") from exc


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file, the format MNIST is distributed in.

    Parameters
    ----------
    path : str or path-like
        The file, gzip-compressed or not (detected from its first bytes,
        whatever its name).

    Returns
    -------
    ndarray
        The array the header describes, in native byte order; ``uint8`` for
        MNIST's images ``(n, 28, 28)`` and labels ``(n,)``.

    Raises
    ------
    ValueError
        If the file is not valid IDX: a bad magic number, an unknown type
        code, a truncated header, or a data section whose length differs
        from what the header promises (truncated or trailing bytes); or if
        its gzip data is corrupt.
    FileNotFoundError
        If the file does not exist.

    Notes
    -----
    An IDX file starts with two zero bytes, a type code (``0x08`` unsigned
    byte, ``0x09`` signed byte, ``0x0B`` int16, ``0x0C`` int32, ``0x0D``
    float32, ``0x0E`` float64) and the number of dimensions; then one
    big-endian uint32 per dimension, then the data, big-endian, row-major.
    """
    path = Path(path)
    raw = _read_maybe_gzipped(path)
    if len(raw) < 4:
        raise ValueError(
            f"{path}: not an IDX file: {len(raw)} bytes, shorter than the 4-byte magic number"
        )
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: the magic number must start with two zero bytes, "
            f"got {raw[:4].hex(' ')}"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{path}: the IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header} bytes, "
            f"the file has {len(raw)}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        problem = "truncated" if found < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: {problem}: the header promises shape {shape} ({expected} bytes of "
            f"data), the file has {found}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


#: File names tried for each MNIST part, in order; each also with ".gz".
_MNIST_NAMES = {
    ("train", "images"): ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    ("train", "labels"): ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    ("test", "images"): ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def _mnist_file(directory: Path, kind: str, part: str) -> Path:
    names = [n + ext for n in _MNIST_NAMES[kind, part] for ext in ("", ".gz")]
    for name in names:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no MNIST {kind} {part} in {directory}: looked for {', '.join(names)}")


def load_mnist(
    path: str | os.PathLike, kind: str = "train", dtype=np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST handwritten digits, read from the four IDX files you downloaded.

    Parameters
    ----------
    path : str or path-like
        Directory holding ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``) or not; the
        variant names with a dot (``train-images.idx3-ubyte``) work too.
    kind : {"train", "test"}, default="train"
        Which part: the 60,000 training images or the 10,000 test images.
    dtype : dtype, default=np.float64
        dtype of ``X``; ``np.float32`` halves the memory (188 MB instead of
        376 MB for the training part).

    Returns
    -------
    X : ndarray of shape (n, 784)
        Pixel intensities from 0 to 255, one row per image, row-major.
    y : ndarray of shape (n,), int64
        The digit shown, 0 to 9.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a directory or a file is missing.
    ValueError
        If a file is not valid IDX (see `read_idx`), the images are not
        a ``(n, rows, cols)`` array of bytes, the labels not ``n`` bytes
        from 0 to 9, or ``kind`` is unknown.

    Examples
    --------
    >>> X, y = load_mnist("~/data/mnist", kind="test")  # doctest: +SKIP
    >>> X.shape, y.shape
    ((10000, 784), (10000,))
    """
    if kind not in ("train", "test"):
        raise ValueError(f"kind must be 'train' or 'test', got {kind!r}")
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST directory {directory} does not exist")
    images_file = _mnist_file(directory, kind, "images")
    labels_file = _mnist_file(directory, kind, "labels")
    images = read_idx(images_file)
    labels = read_idx(labels_file)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"{images_file}: MNIST images must be a 3-D array of unsigned bytes "
            f"(n, rows, cols), got {images.ndim}-D {images.dtype}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{labels_file}: MNIST labels must be a 1-D array of unsigned bytes, "
            f"got {labels.ndim}-D {labels.dtype}"
        )
    if labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"{images_file} holds {images.shape[0]} images but {labels_file} "
            f"{labels.shape[0]} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_file}: labels must be digits 0-9, found {labels.max()}")
    X = np.ascontiguousarray(images.reshape(images.shape[0], -1), dtype=dtype)
    return X, labels.astype(np.int64)
