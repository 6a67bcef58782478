"""Command line of the lab: ``python -m fnn.lab [--engine rust|numpy] [--seed N]``.

A thin layer over `fnn.lab`: runs the exercises it names (all by default) and
prints each one's records as tables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import DEFAULT_ENGINE, EXERCISES, MOONS_CHECKPOINTS, Record, format_table


def _print_xor(records: list[Record]) -> None:
    first = records[0]
    print(f"XOR: 4 points, hidden {first['hidden']}, adam, full batch")
    print(
        format_table(
            [
                (
                    r["activation"],
                    r["accuracy"],
                    r["final_loss"],
                    r["epochs"],
                    " ".join(f"{p:.3f}" for p in r["probabilities"]),
                )
                for r in records
            ],
            ("activation", "accuracy", "final loss", "epochs", "P(y=1) for 00 01 10 11"),
        )
    )
    print(f"targets: {' '.join(str(t) for t in first['targets'])}")
    for r in records:
        if r["accuracy"] < 1.0:
            print(f"note: {r['activation']} did not learn XOR in {r['epochs']} epochs")


def _print_moons(records: list[Record]) -> None:
    for r in records:
        print(
            f"Two moons: {r['n_train']} training and {r['n_test']} held-out points "
            f"(noise {r['noise']}), hidden {r['hidden']} {r['activation']}, {r['solver']}"
        )
        rows = [
            (
                e,
                r["loss_curve"][e - 1],
                r["val_loss_curve"][e - 1],
                r["val_score_curve"][e - 1],
            )
            for e in MOONS_CHECKPOINTS
            if e <= len(r["loss_curve"])
        ]
        print(format_table(rows, ("epoch", "train loss", "held-out loss", "held-out accuracy")))
        print(
            f"after {r['epochs']} epochs ({r['seconds']:.2f} s): "
            f"training accuracy {r['train_accuracy']:.1%}, "
            f"held-out accuracy {r['test_accuracy']:.1%}"
        )


_PRINTERS = {"xor": _print_xor, "moons": _print_moons}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the lab from the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m fnn.lab",
        description="Run the lesson's lab exercises and print what the networks learned.",
    )
    parser.add_argument(
        "exercises",
        nargs="*",
        metavar="EXERCISE",
        help=f"exercises to run, from {', '.join(EXERCISES)} (default: all)",
    )
    parser.add_argument(
        "--engine",
        choices=("rust", "numpy"),
        default=DEFAULT_ENGINE,
        help=f"training engine (default: {DEFAULT_ENGINE})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for data and training (default: 0)"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.exercises if name not in EXERCISES]
    if unknown:
        parser.error(
            f"unknown exercise(s) {', '.join(unknown)}; choose from {', '.join(EXERCISES)}"
        )
    if not 0 <= args.seed < 2**64:
        parser.error("--seed must be in [0, 2**64)")
    names = args.exercises or list(EXERCISES)

    print(f"fnn lab: engine {args.engine}, seed {args.seed}")
    for name in names:
        print()
        try:
            records = EXERCISES[name](engine=args.engine, seed=args.seed)
        except ImportError as exc:
            if args.engine != "rust":
                raise
            print(
                f"error: the rust engine is not available ({exc}).\n"
                "Build it with `make build-dev`, or run with --engine numpy.",
                file=sys.stderr,
            )
            return 1
        _PRINTERS[name](records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
