"""fnn's thread count: n_jobs, threadpoolctl, environment, cores, in that order."""

import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import fnn


def _fresh_default(**env):
    """resolve_threads(None) in a new interpreter with ``env`` set."""
    clean = {
        k: v for k, v in os.environ.items() if k not in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS")
    }
    clean.update(env)
    code = "import fnn; print(fnn.resolve_threads(None))"
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True)
    return int(out.stdout)


def test_n_jobs_wins_and_negative_counts_back_from_the_cores():
    assert fnn.resolve_threads(3) == 3
    assert fnn.resolve_threads(-1) == os.cpu_count()
    with pytest.raises(ValueError, match="n_jobs == 0"):
        fnn.resolve_threads(0)


def test_threadpoolctl_lists_and_limits_fnn():
    (info,) = [i for i in threadpool_info() if i["internal_api"] == "fnn"]
    assert info["num_threads"] == fnn.resolve_threads(None)
    before = fnn.resolve_threads(None)
    with threadpool_limits(limits=1, user_api="fnn"):
        assert fnn.resolve_threads(None) == 1
        assert fnn.resolve_threads(2) == 2  # an explicit n_jobs still wins
    assert fnn.resolve_threads(None) == before


def test_rayon_then_omp_environment_then_cores():
    assert _fresh_default(RAYON_NUM_THREADS="3", OMP_NUM_THREADS="1") == 3
    assert _fresh_default(OMP_NUM_THREADS="1") == 1
    assert _fresh_default() == os.cpu_count()
    assert _fresh_default(OMP_NUM_THREADS="not a number") == os.cpu_count()
