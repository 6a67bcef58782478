"""What scikit-learn's callbacks cost fnn per epoch.

Fits the tiny and small workloads of ``compare.py`` (iris with (16,) at batch
16, digits with (64,) at batch 64; float32, Adam, every epoch run) without
callbacks and with each of: a callback with empty hooks (the task
bookkeeping alone), one that asks for each epoch's ``fitted_estimator``,
``ProgressBar`` and ``ScoringMonitor(scoring="accuracy")`` (which scores the
training data every epoch). Configurations alternate within each repetition;
the table gives medians and the added time per epoch against no callback::

    .venv/bin/python benches/callback_cost.py --reps 7
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.exceptions import ConvergenceWarning

from fnn import FNNClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import digits, iris_scaled  # noqa: E402


class EmptyHooks:
    """Hooks that ask for nothing and do nothing: the task bookkeeping alone."""

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        pass


class FittedEstimatorHooks(EmptyHooks):
    """Asks for the model after every epoch, and keeps the last one."""

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.last = fitted_estimator


CALLBACKS = {
    "none": lambda: (),
    "empty hooks": lambda: (EmptyHooks(),),
    "fitted_estimator": lambda: (FittedEstimatorHooks(),),
    "ProgressBar": lambda: (ProgressBar(),),
    "ScoringMonitor": lambda: (ScoringMonitor(scoring="accuracy"),),
}
WORKLOADS = {
    "tiny": (iris_scaled, (16,), 16, 200),
    "small": (digits, (64,), 64, 30),
}


def fit_seconds(X, y, hidden, batch_size, epochs, callbacks) -> float:
    clf = FNNClassifier(hidden_layer_sizes=hidden, batch_size=batch_size, max_iter=epochs,
                        n_iter_no_change=epochs, random_state=0, n_jobs=2)  # fmt: skip
    if callbacks:
        clf.set_callbacks(*callbacks)
    start = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - start
    assert clf.n_iter_ == epochs
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    print("| workload | epochs | callbacks | fit (median) | added per epoch |")
    print("|---|---|---|---|---|")
    for name, (load, hidden, batch_size, epochs) in WORKLOADS.items():
        X, y = load()
        fit_seconds(X, y, hidden, batch_size, 2, ())  # warm-up: pools, imports
        times = {label: [] for label in CALLBACKS}
        for rep in range(args.reps):
            labels = list(CALLBACKS)
            for label in labels[rep % len(labels) :] + labels[: rep % len(labels)]:
                callbacks = CALLBACKS[label]()
                times[label].append(fit_seconds(X, y, hidden, batch_size, epochs, callbacks))
        base = statistics.median(times["none"])
        for label, seconds in times.items():
            median = statistics.median(seconds)
            added = "" if label == "none" else f"{(median - base) / epochs * 1e6:.0f} µs"
            print(f"| {name} | {epochs} | {label} | {median * 1e3:.2f} ms | {added} |")


if __name__ == "__main__":
    main()
