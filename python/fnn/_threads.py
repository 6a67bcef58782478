"""How many threads fnn trains with, and fnn's place in threadpoolctl.

``n_jobs`` wins when given. Otherwise the order is: a threadpoolctl limit
(``with threadpool_limits(1): ...``), ``RAYON_NUM_THREADS``,
``OMP_NUM_THREADS`` (what joblib sets in its worker processes, so a
``GridSearchCV(n_jobs=2)`` does not oversubscribe the cores; dask's nanny and
Ray set it to 1 in theirs), then the core count.

The two variables count as they are when fnn is imported (a forked child reads
them again), as OpenMP reads its own at start-up: starting a dask
``LocalCluster`` sets ``OMP_NUM_THREADS=1`` in the calling process too, for the
workers it spawns, and that must not put the caller's own fits on one thread.
"""

from __future__ import annotations

import os

from . import _core


def resolve_threads(n_jobs: int | None) -> int:
    """Return the number of threads fnn trains and predicts with for ``n_jobs``.

    Parameters
    ----------
    n_jobs : int or None
        A positive count; None for the default order above; a negative
        value counts back from the cores, as in joblib (-1: all of them).

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    ValueError
        If ``n_jobs`` is 0.
    """
    if n_jobs is None:
        return max(1, _core.default_threads())
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, a positive count or -1")
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return n_jobs


def _register_with_threadpoolctl() -> None:
    try:
        import threadpoolctl
    except ImportError:
        return

    class FnnController(threadpoolctl.LibController):
        """threadpoolctl's handle on fnn's Rust thread pool."""

        user_api = "fnn"
        internal_api = "fnn"
        filename_prefixes = ("_core.",)
        check_symbols = ("fnn_get_num_threads", "fnn_set_num_threads")

        def get_num_threads(self):
            return self.dynlib.fnn_get_num_threads()

        def set_num_threads(self, num_threads):
            return self.dynlib.fnn_set_num_threads(num_threads)

        def get_version(self):
            from . import __version__

            return __version__

    if not any(c.internal_api == "fnn" for c in getattr(threadpoolctl, "_ALL_CONTROLLERS", [])):
        threadpoolctl.register(FnnController)


_register_with_threadpoolctl()
