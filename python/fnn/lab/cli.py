"""Command line of the lab.

``python -m fnn.lab [EXERCISE ...] [--quick] [--out DIR] [--seed N]
[--mnist DIR] [--engine rust|numpy] [--set EXERCISE.KEY=VALUE ...]``

A thin layer over `fnn.lab`: runs the chosen exercises (all by default) with
a progress bar each, prints their tables and findings, and writes the report
(`fnn.lab.report.write_report`).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import textwrap
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from . import EXERCISES, OUTPUT_DIR, SETTINGS
from ._common import DEFAULT_ENGINE, MAX_SEED, parse_setting
from .multiclass import MNIST_ENV
from .report import format_table, write_report


class _Bar:
    """A `fnn.lab.Progress` drawn as one tqdm bar per exercise (on stderr)."""

    def __init__(self, name: str, enabled: bool):
        self._name = name
        self._enabled = enabled
        self._bar = None

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self._enabled:
            return
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total, desc=f"{self._name:>14}", unit="run", leave=True, file=sys.stderr
            )
        self._bar.total = total
        self._bar.n = done
        self._bar.set_postfix_str(label, refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _print_result(result) -> None:
    print()
    print(result.title)
    print("=" * len(result.title))
    for table in result.tables:
        if table.terminal:
            print(f"\n{table.caption}")
            print(format_table(table.rows))
    print()
    for paragraph in (result.prediction, " ".join(result.findings)):
        print(textwrap.fill(paragraph, width=100))
    print(f"({result.seconds:.1f} s)")
    sys.stdout.flush()


def _exercise_name(text: str) -> str:
    """Return the exercise named by its name or its number in the lesson (1-6)."""
    names = list(EXERCISES)
    if text.isdigit() and 1 <= int(text) <= len(names):
        return names[int(text) - 1]
    return text


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m fnn.lab``."""
    names = list(EXERCISES)
    parser = argparse.ArgumentParser(
        prog="python -m fnn.lab",
        description=(
            "Run the lesson's lab: train, measure and draw; print each exercise's table "
            "and write a report (index.html, report.md, PNG figures)."
        ),
        epilog=(
            "examples:\n"
            "  python -m fnn.lab                       # all six exercises (a few minutes)\n"
            "  python -m fnn.lab --quick               # all six, smaller (under 30 s)\n"
            "  python -m fnn.lab activations 4 --seed 3\n"
            "  python -m fnn.lab regularization --set regularization.alpha=1.0\n"
            f"  python -m fnn.lab multiclass --mnist ~/data/mnist   (or ${MNIST_ENV})\n\n"
            "settings for --set, per exercise (full-run defaults):\n"
            + "\n".join(
                textwrap.fill(
                    # Tuples without inner spaces, so that lines break between settings.
                    ", ".join(f"{k}={v!r}".replace(", ", ",") for k, v in SETTINGS[n].items()),
                    width=96,
                    initial_indent=f"  {n}: ",
                    subsequent_indent="      ",
                )
                for n in names
            )
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "exercises",
        nargs="*",
        metavar="EXERCISE",
        help=f"exercises to run, by name or number: {', '.join(names)} (default: all)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller settings: all six in under 30 s"
    )
    parser.add_argument(
        "--out",
        default=OUTPUT_DIR,
        metavar="DIR",
        help=f"where to write the report and figures (default: {OUTPUT_DIR})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for data and training (default: 0)"
    )
    parser.add_argument(
        "--mnist",
        metavar="DIR",
        default=None,
        help=f"directory with MNIST's IDX files for exercise 3 (default: ${MNIST_ENV})",
    )
    parser.add_argument(
        "--engine",
        choices=("rust", "numpy"),
        default=DEFAULT_ENGINE,
        help=f"training engine (default: {DEFAULT_ENGINE})",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="EXERCISE.KEY=VALUE",
        help="change one setting, e.g. activations.seeds=10 (repeatable; see below)",
    )
    parser.add_argument("--no-progress", action="store_true", help="draw no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the lab from the command line.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        The arguments (``--help`` lists them); None reads ``sys.argv``.

    Returns
    -------
    int
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    names = [_exercise_name(n) for n in args.exercises] or list(EXERCISES)
    unknown = [n for n in names if n not in EXERCISES]
    if unknown:
        parser.error(
            f"unknown exercise(s) {', '.join(unknown)}; choose from {', '.join(EXERCISES)}"
        )
    names = list(dict.fromkeys(names))
    if not 0 <= args.seed <= MAX_SEED:
        parser.error(f"--seed must be in [0, {MAX_SEED}]")
    overrides: dict[str, dict] = {n: {} for n in EXERCISES}
    for text in args.set:
        try:
            exercise, key, value = parse_setting(text)
        except ValueError as exc:
            parser.error(f"--set: {exc}")
        exercise = _exercise_name(exercise)
        if exercise not in EXERCISES:
            parser.error(f"--set {text}: unknown exercise {exercise!r}")
        if key not in SETTINGS[exercise]:
            parser.error(
                f"--set {text}: {exercise} has no setting {key!r}; "
                f"its settings are {', '.join(SETTINGS[exercise])}"
            )
        overrides[exercise][key] = value
    mnist = args.mnist or os.environ.get(MNIST_ENV) or None
    if mnist is not None and not Path(mnist).expanduser().is_dir():
        parser.error(f"MNIST directory {mnist} does not exist")

    mode = "quick" if args.quick else "full"
    print(f"fnn lab: {len(names)} exercise(s), {mode} mode, engine {args.engine}, seed {args.seed}")
    started = time.perf_counter()
    results = []
    for name in names:
        kwargs = dict(quick=args.quick, seed=args.seed, engine=args.engine, **overrides[name])
        if name == "multiclass":
            kwargs["mnist_dir"] = mnist
        bar = _Bar(name, enabled=not args.no_progress)
        kwargs["progress"] = bar
        try:
            result = EXERCISES[name](**kwargs)
        except ImportError as exc:
            bar.close()
            if args.engine != "rust" or "_core" not in str(exc):
                raise
            print(
                f"error: the rust engine is not available ({exc}).\n"
                "Build it with `make build-dev`, or run with --engine numpy.",
                file=sys.stderr,
            )
            return 1
        except (OSError, ValueError) as exc:
            bar.close()
            if name != "multiclass" or mnist is None:
                raise
            # Most likely the MNIST files; load_mnist's message names the file.
            print(f"error: cannot read MNIST from {mnist}: {exc}", file=sys.stderr)
            return 1
        bar.close()
        results.append(result)
        _print_result(result)

    total = time.perf_counter() - started
    meta = {
        "exercises": ", ".join(names),
        "mode": mode,
        "seed": args.seed,
        "engine": args.engine,
        "fnn": __version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "total": f"{total:.1f} s",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    paths = write_report(results, args.out, meta)
    print(
        f"\nAll {len(results)} exercise(s) in {total:.1f} s. Report: {paths['html']} "
        f"(open it in a browser), {paths['markdown']}, {len(paths['figures'])} PNG figures "
        f"in {args.out}/."
    )
    return 0
