"""Each system of a ``compare.py`` run in a process of its own.

``compare.py`` starts one worker per system (`Worker`); the worker imports
only that system's libraries, sets its threads, warms up, and then times one
repetition per request (`_workloads.Session`). Requests and replies are JSON
lines on the worker's stdin and stdout; a worker waits on its stdin while the
others run, and the parent alternates systems within each repetition,
starting each once the previous worker's threads (OpenBLAS's, PyTorch's
OpenMP pool, ONNX Runtime's) have stopped spinning (`_host.Gate`), so that
they share the cores with nobody's timed code.

``python benches/_worker.py --system fnn --threads 2 [--quick]`` is the
worker's command line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


class WorkerError(RuntimeError):
    """A worker failed: its traceback, or how it ended."""


class Worker:
    """The parent's handle on one system's process.

    Parameters
    ----------
    system : str
        One of ``_systems.ALL_SYSTEMS``.
    threads : int
        Threads the system may use.
    quick : bool
        Sizes of the ``--quick`` run.
    """

    def __init__(self, system: str, threads: int, quick: bool):
        self.system = system
        command = [sys.executable, str(HERE / "_worker.py"), "--system", system]
        command += ["--threads", str(threads)] + (["--quick"] if quick else [])
        # stderr is inherited: the worker's warnings and tracebacks show as they happen.
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.versions: dict[str, str] = {}

    def _receive(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            raise WorkerError(f"the {self.system} worker ended (exit code {code})")
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerError(f"the {self.system} worker failed:\n{reply['error']}")
        return reply

    def wait_ready(self) -> None:
        """Block until the worker has warmed up; keeps the versions it reports."""
        self.versions = self._receive()["versions"]

    def run(self, workload: str, variant: str | None = None) -> dict:
        """One timed repetition of ``workload`` in the worker (see `Session.run`)."""
        self.process.stdin.write(json.dumps({"workload": workload, "variant": variant}) + "\n")
        self.process.stdin.flush()
        return self._receive()

    def end_input(self) -> None:
        """Tell the worker to exit (the end of its input); does not wait."""
        try:
            self.process.stdin.close()
        except OSError:
            pass

    def close(self) -> None:
        """End the worker, killing it if it has not exited within 30 s."""
        self.end_input()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_workers(systems, threads: int, quick: bool) -> dict[str, Worker]:
    """One warmed-up worker per system; the start-ups overlap, before any clock runs."""
    workers = {system: Worker(system, threads, quick) for system in systems}
    try:
        for worker in workers.values():
            worker.wait_ready()
    except BaseException:
        close_workers(workers)
        raise
    return workers


def close_workers(workers: dict[str, Worker]) -> None:
    """End every worker; their interpreters shut down side by side."""
    for worker in workers.values():
        worker.end_input()
    for worker in workers.values():
        worker.close()


def _versions(system: str) -> dict[str, str]:
    import numpy
    import sklearn

    import fnn

    found = {"fnn": fnn.__version__, "numpy": numpy.__version__, "sklearn": sklearn.__version__}
    extra = {
        "torch": ("torch",),
        "jax": ("jax", "jaxlib"),
        "onnxruntime": ("onnxruntime", "skl2onnx"),
    }
    for name in extra.get(system, ()):
        found[name] = __import__(name).__version__
    return found


def serve(system: str, threads: int, quick: bool) -> None:
    """The worker's loop: warm up, say ready, then answer requests until stdin ends."""
    # Replies go to the original stdout; anything a library prints goes to stderr.
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(message: dict) -> None:
        replies.write(json.dumps(message, default=str) + "\n")

    try:
        from _systems import set_threads

        set_threads(system, threads)  # before the system's library is imported
        from _workloads import FULL, QUICK, Session

        session = Session(system, threads, QUICK if quick else FULL)
        session.warm_up()
        send({"ready": True, "versions": _versions(system)})
    except Exception:
        send({"error": traceback.format_exc()})
        return
    for line in sys.stdin:
        try:
            send(session.run(**json.loads(line)))
        except Exception:
            send({"error": traceback.format_exc()})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="one system's worker of benches/compare.py")
    parser.add_argument("--system", required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    serve(args.system, args.threads, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
