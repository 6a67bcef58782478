"""fnn.save never loses the previous file: disk full, permission denied, an exception
while encoding, SIGKILL mid-write; and new files get the umask's permission bits.

The writer (fnn._atomic) has three ways to make its temporary file: unnamed
(O_TMPFILE, then linked), unnamed then copied into a named file (where linking
fails), and named from the start (no O_TMPFILE). The tests that can run on
each run on each.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fnn
from fnn import FNNClassifier, FNNRegressor, _atomic, persistence

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 5))
Y = np.arange(40) % 3


@pytest.fixture(scope="module")
def old_model():
    return FNNClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, Y)


@pytest.fixture(scope="module")
def new_model():
    return FNNClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=1).fit(X, Y)


def _no_link(*args, **kwargs):
    raise OSError(errno.EXDEV, "Invalid cross-device link")


WRITERS = {
    "unnamed, linked": lambda patch: None,
    "unnamed, copied": lambda patch: patch.setattr(os, "link", _no_link),
    "named": lambda patch: patch.setattr(_atomic, "_open_unnamed", lambda directory: None),
}


@pytest.fixture(params=WRITERS.values(), ids=WRITERS.keys())
def writer(request, monkeypatch):
    request.param(monkeypatch)


def saved(model, path):
    fnn.save(model, path)
    return path.read_bytes()


def assert_left_alone(path, old_bytes, old_model):
    """The previous file is byte-identical, loads, and is alone in its directory."""
    assert path.read_bytes() == old_bytes
    np.testing.assert_array_equal(fnn.load(path).predict_proba(X), old_model.predict_proba(X))
    assert os.listdir(path.parent) == [path.name]


def _files_open_in(pid, directory) -> list[int]:
    """Sizes of the files process ``pid`` has open in ``directory`` (its temporary
    file: an unnamed one reads as '<dir>/#<inode> (deleted)')."""
    sizes = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        link = f"/proc/{pid}/fd/{fd}"
        try:
            if os.readlink(link).startswith(f"{directory}/"):
                sizes.append(os.stat(link).st_size)
        except FileNotFoundError:
            pass  # closed meanwhile (e.g. listdir's own descriptor)
    return sizes


# ---------------------------------------------------------------------------
# Normal saves


def test_save_replaces_the_file_and_leaves_no_temporary_file(
    tmp_path, writer, old_model, new_model
):
    path = tmp_path / "model.safetensors"
    saved(old_model, path)
    saved(new_model, path)
    assert os.listdir(tmp_path) == ["model.safetensors"]
    np.testing.assert_array_equal(fnn.load(path).predict_proba(X), new_model.predict_proba(X))


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002, 0o000])
def test_a_new_file_gets_the_permission_bits_a_plain_open_gives(tmp_path, writer, old_model, umask):
    previous = os.umask(umask)
    try:
        fnn.save(old_model, tmp_path / "model.safetensors")
        with open(tmp_path / "plain", "wb"):
            pass
    finally:
        os.umask(previous)
    mode = os.stat(tmp_path / "model.safetensors").st_mode & 0o777
    assert mode == 0o666 & ~umask == os.stat(tmp_path / "plain").st_mode & 0o777


def test_a_replaced_file_keeps_its_permission_bits(tmp_path, writer, old_model, new_model):
    path = tmp_path / "model.safetensors"
    saved(old_model, path)
    path.chmod(0o640)
    saved(new_model, path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_save_writes_to_a_binary_file_object_the_bytes_it_writes_to_a_path(tmp_path, old_model):
    buffer = io.BytesIO(b"head:")
    buffer.seek(0, io.SEEK_END)
    fnn.save(old_model, buffer)
    assert buffer.getvalue() == b"head:" + saved(old_model, tmp_path / "m.safetensors")


# ---------------------------------------------------------------------------
# Failures


@pytest.mark.parametrize("error", [RuntimeError("injected encoding error"), KeyboardInterrupt()])
def test_an_exception_while_encoding_after_the_first_bytes_leaves_the_old_file(
    tmp_path, monkeypatch, writer, old_model, new_model, error
):
    path = tmp_path / "model.safetensors"
    old_bytes = saved(old_model, path)
    real_chunks = persistence._encoded_chunks
    written = []

    def failing_chunks(tensors, metadata):
        chunks = real_chunks(tensors, metadata)
        first = next(chunks)
        yield first
        # The writer came back for more: the first bytes are in the temporary file.
        written.append((len(first), _files_open_in(os.getpid(), tmp_path)))
        raise error

    monkeypatch.setattr(persistence, "_encoded_chunks", failing_chunks)
    with pytest.raises(type(error)):
        fnn.save(new_model, path)
    ((first_bytes, open_sizes),) = written
    assert first_bytes > 0 and open_sizes == [first_bytes]
    assert_left_alone(path, old_bytes, old_model)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 256 KiB tmpfs, mounted for the test (skips where mounting is not allowed)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_disk_that_fills_up_mid_write_leaves_the_old_file(small_tmpfs, writer, old_model):
    path = small_tmpfs / "model.safetensors"
    old_bytes = saved(old_model, path)
    free_before = os.statvfs(small_tmpfs).f_bfree
    # ~600 KB of weights and optimizer slots: more than the file system holds.
    big = FNNRegressor(hidden_layer_sizes=(200, 80), max_iter=1, random_state=0)
    big.fit(np.tile(X, (1, 20)), X[:, 0])
    with pytest.raises(OSError) as raised:
        fnn.save(big, path)
    assert raised.value.errno == errno.ENOSPC
    assert_left_alone(path, old_bytes, old_model)
    assert os.statvfs(small_tmpfs).f_bfree == free_before  # the partial file is gone too


def _as_nobody(action) -> int:
    """Run ``action()`` in a child process under uid/gid 65534; its errno, or 0."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.setgid(65534)
            os.setuid(65534)
            action()
        except OSError as error:
            code = error.errno
        except BaseException:
            code = 255
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("what", ["directory", "file"])
def test_permission_denied_leaves_the_old_file(tmp_path, writer, old_model, new_model, what):
    directory = tmp_path / "models"
    directory.mkdir()
    path = directory / "model.safetensors"
    old_bytes = saved(old_model, path)
    # Read-only for the saver: the directory (no new files in it), or the file alone.
    directory.chmod(0o555 if what == "directory" else 0o777)
    path.chmod(0o444)
    try:
        if os.geteuid() == 0:  # root ignores permission bits: save as nobody
            assert _as_nobody(lambda: fnn.save(new_model, path)) == errno.EACCES
        else:
            with pytest.raises(PermissionError):
                fnn.save(new_model, path)
    finally:
        directory.chmod(0o755)
    assert_left_alone(path, old_bytes, old_model)


KILLED_SAVER = """
import sys, time
import numpy as np
import fnn
from fnn import FNNRegressor, persistence

X = np.random.default_rng(0).normal(size=(8, 100))
# 1500 x 1500 hidden weights and their optimizer slots: a 77 MB file.
model = FNNRegressor(hidden_layer_sizes=(1500, 1500), max_iter=1, random_state=0).fit(X, X[:, 0])
real_chunks = persistence._encoded_chunks

def slow_chunks(tensors, metadata):
    written = 0
    for chunk in real_chunks(tensors, metadata):
        yield chunk
        written += len(chunk)
        if written > 8 << 20:  # 8 MiB written: tell the parent, wait to be killed
            print(written, flush=True)
            time.sleep(120)

persistence._encoded_chunks = slow_chunks
fnn.save(model, sys.argv[1])
"""


def test_sigkill_while_saving_a_large_model_leaves_the_old_file(tmp_path, old_model):
    path = tmp_path / "model.safetensors"
    old_bytes = saved(old_model, path)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_SAVER), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        written = int(child.stdout.readline())
        assert written > 8 << 20
        # Mid-write: the child holds its temporary file with those bytes in it.
        assert _files_open_in(child.pid, tmp_path) == [written]
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    time.sleep(0.1)
    assert_left_alone(path, old_bytes, old_model)
