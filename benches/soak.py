"""Soak test: continuous fits of varied sizes, solvers and thread counts.

Runs fit / partial_fit / predict on random problems for ``--minutes``, logs
the fit count and the resident memory (VmRSS) every minute, and exits
non-zero on a crash, a non-finite weight or prediction, or memory growth.
Not part of ``make test``; run it in the background, e.g.::

    nohup .venv/bin/python benches/soak.py --minutes 30 > soak.log 2>&1 &

Memory is judged after a warm-up (the first ``--warmup`` minutes fill
allocator pools and thread pools): the end may not exceed the warm-up
figure by more than ``--max-growth-mb``. The figure judged is the live
memory: RSS after glibc's ``malloc_trim(0)`` returns the free heap pages that
fits of ever-changing sizes leave scattered over the allocator's per-thread
arenas (raw RSS creeps up with that retention, and is logged too).
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time
import traceback
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fnn import FNNClassifier, FNNRegressor

SOLVERS = ("sgd", "adam", "adamw", "rmsprop", "lbfgs")


def rss_mb() -> float:
    """Resident set size of this process in MiB, from /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def trimmed_rss_mb() -> float:
    """RSS after handing free heap memory back to the system (glibc only)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return rss_mb()


def one_round(rng: np.random.Generator, last: dict | None = None) -> str:
    """Fit and predict one random problem; raise on anything wrong. ``last``
    receives a description of the problem."""
    n = int(rng.choice([1, 2, 5, 50, 300, 2000]))
    d = int(rng.choice([1, 3, 20, 64, 200]))
    hidden = tuple(int(h) for h in rng.choice([1, 4, 32, 128], size=rng.integers(0, 3)))
    solver = str(rng.choice(SOLVERS))
    dtype = rng.choice([np.float32, np.float64])
    X = rng.normal(size=(n, d)).astype(dtype)
    settings = dict(
        hidden_layer_sizes=hidden,
        solver=solver,
        max_iter=int(rng.integers(1, 6)),
        batch_size=int(rng.choice([1, 16, 256, 512])),
        n_jobs=int(rng.integers(1, 4)),
        random_state=int(rng.integers(0, 2**31)),
        dropout=0.0 if solver == "lbfgs" or not hidden else float(rng.choice([0.0, 0.3])),
        early_stopping=bool(n >= 300 and solver != "lbfgs" and rng.random() < 0.3),
    )
    if last is not None:
        last["round"] = f"{settings} on {X.shape} {np.dtype(dtype).name}"
    if rng.random() < 0.5:
        y = rng.integers(0, int(rng.choice([2, 3, 10])), size=n)
        if len(np.unique(y)) < 2:
            y[: min(n, 2)] = [0, 1][: min(n, 2)]
        if len(np.unique(y)) < 2:
            return "skip"
        est = FNNClassifier(**settings)
    else:
        y = X[:, 0] * 2 + rng.normal(size=n) * 0.1
        est = FNNRegressor(**settings)
    try:
        est.fit(X, y)
    except ValueError as error:
        # A clear divergence error is a correct outcome (e.g. SGD with momentum on
        # single-row batches of wide data) if it leaves the estimator unfitted.
        if "training diverged" in str(error) and not hasattr(est, "_params"):
            return "diverged"
        raise AssertionError(f"{type(est).__name__} {settings} on {X.shape} {dtype}") from error
    if solver != "lbfgs" and not settings["early_stopping"]:
        extra = {"classes": np.unique(y)} if isinstance(est, FNNClassifier) else {}
        before = [c.copy() for c in est.coefs_]
        try:
            est.partial_fit(X, y, **extra)
        except ValueError as error:
            unchanged = all(np.array_equal(a, b) for a, b in zip(before, est.coefs_))
            if "training diverged" in str(error) and unchanged:
                return "diverged"
            raise
    out = est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)
    weights = np.concatenate([c.ravel() for c in est.coefs_ + est.intercepts_])
    if not (np.isfinite(weights).all() and np.isfinite(out).all()):
        raise AssertionError(f"non-finite weights or outputs: {type(est).__name__} {settings}")
    return solver


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0, help="minutes before the baseline")
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", UserWarning)  # batch_size larger than the data

    rng = np.random.default_rng(args.seed)
    start = time.monotonic()
    end = start + args.minutes * 60
    next_report = start + 60
    fits, by_solver = 0, dict.fromkeys((*SOLVERS, "diverged"), 0)
    rss_start = rss_mb()
    rss_max, baseline = rss_start, None
    live_start = trimmed_rss_mb()
    print(f"soak: {args.minutes} min, RSS at start {rss_start:.1f} MiB", flush=True)
    slowest, last = (0.0, ""), {}
    while time.monotonic() < end:
        began = time.monotonic()
        try:
            solver = one_round(rng, last)
        except Exception:
            traceback.print_exc()
            print(f"FAIL after {fits} fits", flush=True)
            return 1
        if solver != "skip":
            fits += 1
            by_solver[solver] += 1
        now = time.monotonic()
        if now - began > slowest[0]:
            slowest = (now - began, last.get("round", ""))
        if now >= next_report:
            rss = rss_mb()
            live = trimmed_rss_mb()
            rss_max = max(rss_max, rss)
            minute = (now - start) / 60
            if baseline is None and minute >= args.warmup:
                baseline = live
            print(
                f"minute {minute:5.1f}: {fits} fits, RSS {rss:.1f} MiB, live {live:.1f} MiB",
                flush=True,
            )
            next_report += 60
    rss_end = rss_mb()
    live_end = trimmed_rss_mb()
    rss_max = max(rss_max, rss_end)
    baseline = live_end if baseline is None else baseline
    growth = live_end - baseline
    print(
        f"done: {fits} fits {by_solver}; RSS start {rss_start:.1f}, end {rss_end:.1f}, "
        f"max {rss_max:.1f} MiB; live start {live_start:.1f}, after warm-up {baseline:.1f}, "
        f"end {live_end:.1f} MiB; growth {growth:+.1f} MiB",
        flush=True,
    )
    print(f"slowest round: {slowest[0]:.1f} s, {slowest[1]}", flush=True)
    if growth > args.max_growth_mb:
        print(f"FAIL: live memory grew by {growth:.1f} MiB after the warm-up", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
