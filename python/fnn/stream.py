"""Training on data that does not fit in memory, one chunk at a time.

`fit_batches` feeds ``(X, y)`` chunks to an estimator's ``partial_fit``, for
as many passes over the data as you ask. The chunks come from any iterable,
or from a function that returns a fresh iterable for every pass (a generator
function that reads a file, a database cursor...). `memmap_batches` cuts
arrays that live on disk (`numpy.memmap`, ``np.load(..., mmap_mode="r")``)
into such chunks, in a shuffled order if you like, and hands each chunk's
pages back to the operating system once the estimator is done with it, so
the process's resident memory stays at about one chunk however large the
file is.

>>> import numpy as np
>>> from fnn import FNNClassifier
>>> from fnn.stream import fit_batches, memmap_batches
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(1000, 4)).astype(np.float32)
>>> y = (X[:, 0] > 0).astype(int)
>>> clf = FNNClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0)
>>> chunks = memmap_batches(X, y, batch_rows=250, shuffle=True, random_state=0)
>>> fit_batches(clf, chunks, classes=[0, 1], epochs=5).score(X, y) > 0.9
True
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["MemmapBatches", "fit_batches", "memmap_batches"]


def fit_batches(estimator, batches, *, classes=None, epochs=1):
    """Train ``estimator`` with ``partial_fit`` over chunks of data.

    Each pass (epoch) calls ``estimator.partial_fit`` once per chunk, in the
    order the chunks come; one call is one epoch over that chunk, with the
    estimator's own ``batch_size``, ``shuffle`` and ``random_state`` inside
    it. Training continues from the estimator's current state, as
    ``partial_fit`` does: pass a fresh estimator (``sklearn.base.clone``) to
    start over.

    Parameters
    ----------
    estimator : FNNClassifier or FNNRegressor
        Any estimator with ``partial_fit`` (and a stochastic solver, for fnn's).
    batches : iterable or callable
        The chunks: tuples ``(X, y)`` or ``(X, y, sample_weight)``. An
        iterable that can be iterated again (a list, a `MemmapBatches`) is
        iterated once per epoch; a callable is called once per epoch and must
        return a fresh iterable of chunks. A one-shot iterator (such as a
        generator object) serves for ``epochs=1`` only.
    classes : array-like of shape (n_classes,), default=None
        Every class any chunk holds, e.g. ``np.arange(10)``; classifiers need
        it unless already fitted (or for multi-label targets), since the first
        chunk may not show them all. Passed to every ``partial_fit`` call,
        which checks that it does not change. Leave None for regressors.
    epochs : int, default=1
        Passes over all the chunks.

    Returns
    -------
    estimator : object
        The same estimator, trained.

    Raises
    ------
    ValueError
        If ``epochs`` is not a positive integer, ``batches`` is a one-shot
        iterator and ``epochs > 1``, a pass yields no chunk, or a chunk is not
        a pair or triple.

    See Also
    --------
    memmap_batches : Chunks of arrays on disk, optionally in shuffled order.

    Examples
    --------
    A generator function, called once per epoch:

    >>> import numpy as np
    >>> from fnn import FNNRegressor
    >>> def chunks():
    ...     rng = np.random.default_rng(0)
    ...     for _ in range(8):
    ...         X = rng.normal(size=(100, 3))
    ...         yield X, X @ [1.0, -2.0, 0.5]
    >>> reg = FNNRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    >>> reg = fit_batches(reg, chunks, epochs=10)
    >>> X_test = np.random.default_rng(1).normal(size=(200, 3))
    >>> reg.score(X_test, X_test @ [1.0, -2.0, 0.5]) > 0.9
    True
    """
    if not isinstance(epochs, Integral) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer; got {epochs!r}.")
    if not callable(batches) and iter(batches) is batches and epochs > 1:
        raise ValueError(
            "batches is a one-shot iterator (e.g. a generator object), which would be "
            "exhausted after the first epoch; pass a list, a MemmapBatches, or a "
            "function that returns a fresh iterable (e.g. the generator function itself)."
        )
    extra = {} if classes is None else {"classes": classes}
    for epoch in range(int(epochs)):
        chunks = batches() if callable(batches) else batches
        seen = 0
        for chunk in chunks:
            X, y, sample_weight = _unpack(chunk)
            if sample_weight is None:
                estimator.partial_fit(X, y, **extra)
            else:
                estimator.partial_fit(X, y, sample_weight=sample_weight, **extra)
            seen += 1
        if seen == 0:
            raise ValueError(f"batches yielded no chunk in epoch {epoch + 1}.")
    return estimator


def _unpack(chunk):
    if isinstance(chunk, (tuple, list)) and len(chunk) in (2, 3):
        return tuple(chunk) if len(chunk) == 3 else (*chunk, None)
    length = f" of length {len(chunk)}" if isinstance(chunk, (tuple, list)) else ""
    raise ValueError(
        "each chunk must be a tuple (X, y) or (X, y, sample_weight); "
        f"got a {type(chunk).__name__}{length}."
    )


def memmap_batches(X, y, batch_rows, *, sample_weight=None, shuffle=False, random_state=None):
    """Chunks of consecutive rows of arrays on disk (or in memory).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Anything that slices along its first axis into NumPy arrays: a
        `numpy.memmap`, an array from ``np.load(path, mmap_mode="r")``, an
        in-memory array, an h5py dataset.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets, sliced like ``X`` (a memmap too, if it is large).
    batch_rows : int
        Rows per chunk; the last chunk holds the rest. One chunk is what the
        process holds of the file at a time: at 100 float32 features, 65536
        rows are 26 MB.
    sample_weight : array-like of shape (n_samples,), default=None
        Per-sample weights; chunks become ``(X, y, sample_weight)``.
    shuffle : bool, default=False
        Visit the chunks in a new random order on every pass. The rows inside
        a chunk stay contiguous (reading them stays sequential); the
        estimator's own ``shuffle`` mixes them within the chunk.
    random_state : int, RandomState instance or None, default=None
        Seeds the chunk orders: with an int, the sequence of orders over the
        passes is the same on every run.

    Returns
    -------
    MemmapBatches
        A re-iterable of chunks ``(X_chunk, y_chunk)`` (or with weights) for
        `fit_batches`; ``len()`` is the number of chunks.

    Raises
    ------
    ValueError
        If ``batch_rows`` is not a positive integer, or ``y`` or
        ``sample_weight`` has another number of rows than ``X``.

    Notes
    -----
    Pages of a memory map that a process has read count towards its resident
    memory until the kernel needs them back, so reading a whole file through
    a memmap makes the resident size grow to the file's size even though the
    data could be dropped. After the estimator has used a chunk, the pages
    under it are released with ``madvise(MADV_DONTNEED)``. The file and the
    operating system's page cache are untouched, and a later read of the same
    rows (the next epoch) maps them again. Only read-only maps are released
    (``np.memmap(path, mode="r")``, ``np.load(path, mmap_mode="r")``);
    writable and copy-on-write maps keep their pages.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(10.0).reshape(5, 2)
    >>> chunks = memmap_batches(X, np.arange(5), batch_rows=2)
    >>> len(chunks), [c[1].tolist() for c in chunks]
    (3, [[0, 1], [2, 3], [4]])
    """
    return MemmapBatches(
        X,
        y,
        batch_rows,
        sample_weight=sample_weight,
        shuffle=shuffle,
        random_state=random_state,
    )


class MemmapBatches:
    """Re-iterable chunks of rows of ``X``, ``y`` (and sample weights).

    Made by `memmap_batches`, which documents the parameters. Iterating
    yields one tuple per chunk; each pass over it draws a new order when
    ``shuffle=True``.
    """

    def __init__(self, X, y, batch_rows, *, sample_weight=None, shuffle=False, random_state=None):
        if not isinstance(batch_rows, Integral) or isinstance(batch_rows, bool) or batch_rows < 1:
            raise ValueError(f"batch_rows must be a positive integer; got {batch_rows!r}.")
        n_rows = len(X)
        for name, values in (("y", y), ("sample_weight", sample_weight)):
            if values is not None and len(values) != n_rows:
                raise ValueError(f"{name} has {len(values)} rows but X has {n_rows}.")
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.batch_rows = int(batch_rows)
        self.shuffle = bool(shuffle)
        self._rng = check_random_state(random_state)
        self._starts = np.arange(0, n_rows, self.batch_rows)

    def __len__(self) -> int:
        """Return the number of chunks in one pass."""
        return len(self._starts)

    def __iter__(self) -> Iterator[tuple]:
        """Yield the chunks of one pass, in a new random order if ``shuffle``."""
        starts = self._rng.permutation(self._starts) if self.shuffle else self._starts
        arrays = [a for a in (self.X, self.y, self.sample_weight) if a is not None]
        for start in starts:
            rows = slice(int(start), int(start) + self.batch_rows)
            chunk = tuple(a[rows] for a in arrays)
            yield chunk
            # The consumer asked for the next chunk, so it is done with this one.
            for part in chunk:
                _release_pages(part)


def _release_pages(array) -> None:
    """Drop the pages of a read-only `numpy.memmap` chunk from the resident set."""
    # Read-only maps only: their pages always equal the file. In a
    # copy-on-write map ("c") they may hold edits that exist nowhere else.
    if not isinstance(array, np.memmap) or array.mode != "r" or array.size == 0:
        return
    if not hasattr(mmap, "MADV_DONTNEED"):  # Windows
        return
    mapping = array.base
    while isinstance(mapping, np.ndarray):
        mapping = mapping.base
    if not isinstance(mapping, mmap.mmap) or mapping.closed:
        return
    map_start = np.frombuffer(mapping, dtype=np.uint8, count=1).ctypes.data
    low = high = array.ctypes.data
    for extent, stride in zip(array.shape, array.strides):
        reach = (extent - 1) * stride
        low, high = (low + reach, high) if stride < 0 else (low, high + reach)
    first = (low - map_start) // mmap.PAGESIZE * mmap.PAGESIZE
    end = high + array.itemsize - map_start
    try:
        mapping.madvise(mmap.MADV_DONTNEED, first, end - first)
    except (OSError, ValueError):
        pass  # only a memory hint: training is right without it
