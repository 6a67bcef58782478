"""What one training call costs beyond its arithmetic, beside scikit-learn's (issue 12).

A call's fixed cost (validation, the configuration, the hand-off to the core
and back, the commit) is paid once per `fit` and once per `partial_fit`.
It is most of a small fit, and most of a streamed `partial_fit` chunk
(`fnn.stream.fit_batches`). Three calls, every default except the sizes,
float64 as users pass it, each against the same call of scikit-learn's
`MLPClassifier`:

- ``fit, 1 epoch``: iris-sized data (150 x 4), ``(16,)`` units, batch 16,
  ``max_iter=1``: ten tiny steps, so nearly all of it is fixed cost;
- ``partial_fit, 200 rows``: a warm (100,) classifier, 100 features, 5
  classes, one 200-row chunk (one step);
- ``partial_fit, 2,000 rows``: the same, ten steps.

Each library runs in a process of its own, so that one library's idle
threads (OpenBLAS's spin after every product) never slow the other's
calls. ``--rounds`` rounds alternate the two processes; in each, the three
calls are interleaved rep by rep after a warm-up. The figures are the
medians over the rounds of each round's median.

Usage (from the repository root)::

    python benches/call_overhead.py --rounds 3 --reps 300
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import warnings

import numpy as np
from _alternate import interleaved_medians
from sklearn.datasets import make_classification
from sklearn.neural_network import MLPClassifier

from fnn import FNNClassifier


def _calls(cls, X_iris, y_iris, X, y):
    """The three calls of one library's classifier."""

    def fit_one_epoch():
        cls(hidden_layer_sizes=(16,), batch_size=16, max_iter=1, random_state=0).fit(X_iris, y_iris)

    warm = cls(hidden_layer_sizes=(100,), random_state=0)
    warm.partial_fit(X[:200], y[:200], classes=np.arange(5))
    return {
        "fit, 1 epoch": fit_one_epoch,
        "partial_fit, 200 rows": lambda: warm.partial_fit(X[:200], y[:200]),
        "partial_fit, 2,000 rows": lambda: warm.partial_fit(X, y),
    }


def _measure(system, reps):
    """This process's medians of ``system``'s three calls, in seconds."""
    warnings.simplefilter("ignore")  # one epoch does not converge
    rng = np.random.default_rng(0)
    X_iris = rng.normal(size=(150, 4))
    y_iris = np.arange(150) % 3
    X, y = make_classification(2000, 100, n_informative=40, n_classes=5, random_state=0)
    cls = FNNClassifier if system == "fnn" else MLPClassifier
    return interleaved_medians(_calls(cls, X_iris, y_iris, X, y), reps, warm_up=20)


SYSTEMS = ("fnn", "MLPClassifier")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="processes per library")
    parser.add_argument("--reps", type=int, default=300, help="calls per figure and round")
    parser.add_argument("--system", choices=SYSTEMS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.system:
        print(json.dumps(_measure(args.system, args.reps)))
        return
    rounds = {system: [] for system in SYSTEMS}
    for _ in range(args.rounds):
        for system in SYSTEMS:
            command = [sys.executable, __file__, "--system", system, "--reps", str(args.reps)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rounds[system].append(json.loads(out))
    print("| call | fnn | MLPClassifier | fnn is faster by |")
    print("|---|---|---|---|")
    for name in rounds["fnn"][0]:
        ours, theirs = (statistics.median(r[name] for r in rounds[s]) for s in SYSTEMS)
        print(f"| {name} | {ours * 1e6:,.0f} µs | {theirs * 1e6:,.0f} µs | {theirs / ours:.2f}× |")


if __name__ == "__main__":
    main()
