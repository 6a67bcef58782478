"""Training on a file several times larger than the memory the process may use.

`fnn.stream.fit_batches` over `fnn.stream.memmap_batches` of a 1 GiB float32
memmap keeps the trainer's peak resident memory within a fixed bound (one
chunk and the model), and the model learns. The smaller tests pin down what
the two helpers promise: the same result as a hand-written partial_fit loop,
epochs, chunk shuffling, classes, and errors.
"""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone

import fnn.stream
from fnn import FNNClassifier, FNNRegressor
from fnn.stream import MemmapBatches, fit_batches, memmap_batches

MIB = 1 << 20
FILE_BYTES = 1 << 30  # the data file: 1 GiB
RSS_BOUND = 128 * MIB  # most the trainer's resident memory may grow while training
N_FEATURES = 64
N_CLASSES = 4
CHUNK_ROWS = 1 << 16  # 16 MiB of X per chunk


def _write_data(x_path, y_path, n_rows, seed=0):
    """Write X (float32) and y (int8) a block at a time, so this process stays small."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(N_FEATURES, N_CLASSES)).astype(np.float32)
    with open(x_path, "wb") as xf, open(y_path, "wb") as yf:
        for start in range(0, n_rows, CHUNK_ROWS):
            rows = min(CHUNK_ROWS, n_rows - start)
            X = rng.standard_normal(size=(rows, N_FEATURES), dtype=np.float32)
            (X @ weights).argmax(axis=1).astype(np.int8).tofile(yf)
            X.tofile(xf)


# Runs in a fresh interpreter, so that its peak RSS (VmHWM) is this job's alone.
TRAINER = r"""
import json, sys
import numpy as np
from fnn import FNNClassifier
from fnn.stream import fit_batches, memmap_batches

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)

def reset_peak():
    try:  # Linux >= 4.0: writing 5 resets VmHWM to the current RSS
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # then VmHWM still bounds the growth from above

x_path, y_path, n_rows, n_features, n_classes, chunk_rows, held_out = sys.argv[1:8]
n_rows, n_features, n_classes = int(n_rows), int(n_features), int(n_classes)
chunk_rows, held_out = int(chunk_rows), int(held_out)
X = np.memmap(x_path, dtype=np.float32, mode="r", shape=(n_rows, n_features))
y = np.memmap(y_path, dtype=np.int8, mode="r", shape=(n_rows,))
n_train = n_rows - held_out
clf = FNNClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0)

baseline = status("VmRSS")
reset_peak()
chunks = memmap_batches(
    X[:n_train], y[:n_train], chunk_rows, shuffle=True, random_state=0
)
fit_batches(clf, chunks, classes=np.arange(n_classes))
train_peak = status("VmHWM")
accuracy = clf.score(np.asarray(X[n_train:]), np.asarray(y[n_train:]))

# The control: reading the whole map without releasing its pages makes the
# resident size grow to the file's size, so the measure above would see it.
total = 0.0
for start in range(0, n_rows, chunk_rows):
    total += float(X[start : start + chunk_rows].sum(dtype=np.float64))
read_peak = status("VmHWM")
print(json.dumps({
    "baseline": baseline, "train_peak": train_peak, "read_peak": read_peak,
    "accuracy": accuracy, "chunks": len(chunks),
}))
"""


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A 1 GiB float32 X and its int8 labels; deleted afterwards (pytest keeps tmp dirs)."""
    folder = tmp_path_factory.mktemp("out_of_core")
    x_path, y_path = folder / "X.f32", folder / "y.i8"
    n_rows = FILE_BYTES // (4 * N_FEATURES)
    try:
        _write_data(x_path, y_path, n_rows)
        yield x_path, y_path, n_rows
    finally:
        x_path.unlink(missing_ok=True)
        y_path.unlink(missing_ok=True)


def test_training_on_a_memmap_8x_the_memory_bound_keeps_peak_rss_under_it(big_file):
    x_path, y_path, n_rows = big_file
    assert x_path.stat().st_size == FILE_BYTES >= 8 * RSS_BOUND
    args = [x_path, y_path, n_rows, N_FEATURES, N_CLASSES, CHUNK_ROWS, CHUNK_ROWS]
    out = subprocess.run(
        [sys.executable, "-c", TRAINER, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.splitlines()[-1])
    growth = report["train_peak"] - report["baseline"]
    print(
        f"\nout-of-core: file {FILE_BYTES / MIB:.0f} MiB in {report['chunks']} chunks; "
        f"peak RSS {report['train_peak'] / MIB:.0f} MiB = baseline "
        f"{report['baseline'] / MIB:.0f} MiB + {growth / MIB:.0f} MiB while training; "
        f"held-out accuracy {report['accuracy']:.3f}"
    )
    assert growth < RSS_BOUND
    # 4 classes: chance is about 0.25; one pass over 4M rows learns the linear rule.
    assert report["accuracy"] > 0.8
    # The measure counts mapped file pages: reading without release grows to the file.
    assert report["read_peak"] - report["baseline"] > 0.8 * FILE_BYTES


# ----------------------------------------------------------------------
# What the helpers promise, on small in-memory data


def _classification(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    return X, y


def test_fit_batches_equals_a_hand_written_partial_fit_loop():
    X, y = _classification()
    clf = FNNClassifier(hidden_layer_sizes=(7,), random_state=0)
    chunks = [(X[i : i + 150], y[i : i + 150]) for i in range(0, len(X), 150)]
    by_hand = clone(clf)
    for _ in range(3):
        for Xc, yc in chunks:
            by_hand.partial_fit(Xc, yc, classes=["no", "yes"])
    by_helper = fit_batches(clone(clf), chunks, classes=["no", "yes"], epochs=3)
    for a, b in zip(by_hand.coefs_ + by_hand.intercepts_, by_helper.coefs_ + by_helper.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert by_helper.t_ == 3 * len(X)
    assert by_helper.classes_.tolist() == ["no", "yes"]


def test_fit_batches_calls_a_generator_function_once_per_epoch_and_passes_weights():
    X, y = _classification()
    calls = []

    def chunks():
        calls.append(1)
        for i in range(0, len(X), 200):
            yield X[i : i + 200], y[i : i + 200], np.ones(len(X[i : i + 200]))

    clf = fit_batches(FNNClassifier(random_state=0), chunks, classes=["no", "yes"], epochs=4)
    assert len(calls) == 4
    assert clf.t_ == 4 * len(X)
    unweighted = [(Xc, yc) for Xc, yc, _ in chunks()]
    same = fit_batches(FNNClassifier(random_state=0), unweighted, classes=["no", "yes"], epochs=4)
    np.testing.assert_array_equal(clf.coefs_[0], same.coefs_[0])


def test_fit_batches_trains_a_regressor_and_continues_from_a_fitted_state():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 3))
    y = X @ [1.0, -2.0, 0.5]
    chunks = memmap_batches(X, y, 200)
    reg = fit_batches(FNNRegressor(learning_rate_init=0.01, random_state=0), chunks, epochs=5)
    first = reg.score(X, y)
    fit_batches(reg, chunks, epochs=5)
    assert reg.t_ == 10 * len(X)
    assert reg.score(X, y) > max(first, 0.95)


def test_fit_batches_rejects_a_spent_iterator_bad_chunks_epochs_and_no_data():
    X, y = _classification()
    clf = FNNClassifier(random_state=0)
    one_shot = ((X[i : i + 100], y[i : i + 100]) for i in range(0, 600, 100))
    with pytest.raises(ValueError, match="one-shot iterator"):
        fit_batches(clf, one_shot, classes=["no", "yes"], epochs=2)
    with pytest.raises(ValueError, match=r"tuple \(X, y\).*got a ndarray"):
        fit_batches(clf, [X], classes=["no", "yes"])
    with pytest.raises(ValueError, match="length 4"):
        fit_batches(clf, [(X, y, None, None)], classes=["no", "yes"])
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit_batches(clf, [(X, y)], epochs=0)
    with pytest.raises(ValueError, match="no chunk in epoch 1"):
        fit_batches(clf, [], classes=["no", "yes"])
    # Without classes, the classifier's own partial_fit error reaches the user.
    with pytest.raises(ValueError, match="classes"):
        fit_batches(FNNClassifier(), [(X, y)])


def test_memmap_batches_covers_every_row_once_per_pass_in_a_seeded_order():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    plain = memmap_batches(X, y, 3)
    assert len(plain) == 4
    assert [c[1].tolist() for c in plain] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]

    def orders(batches, passes=4):
        return [[int(c[1][0]) for c in batches] for _ in range(passes)]

    shuffled = orders(memmap_batches(X, y, 3, shuffle=True, random_state=0))
    assert all(sorted(o) == [0, 3, 6, 9] for o in shuffled)
    assert len({tuple(o) for o in shuffled}) > 1  # a new order on each pass
    assert shuffled == orders(memmap_batches(X, y, 3, shuffle=True, random_state=0))
    chunk = next(iter(memmap_batches(X, y, 4, sample_weight=np.full(10, 2.0))))
    assert [part.shape for part in chunk] == [(4, 2), (4,), (4,)]


def test_memmap_batches_releases_read_only_pages_but_keeps_copy_on_write_edits(tmp_path):
    path = tmp_path / "X.f64"
    np.arange(4096 * 8, dtype=np.float64).reshape(-1, 8).tofile(path)
    shared = np.memmap(path, dtype=np.float64, mode="r", shape=(4096, 8))
    passes = [[c[0].copy() for c in memmap_batches(shared, np.zeros(4096), 1000)] for _ in "ab"]
    np.testing.assert_array_equal(np.concatenate(passes[0]), shared)
    np.testing.assert_array_equal(np.concatenate(passes[1]), shared)
    private = np.memmap(path, dtype=np.float64, mode="c", shape=(4096, 8))
    private[:] = -1.0  # edits that live only in this process's pages
    for _ in memmap_batches(private, np.zeros(4096), 1000):
        pass
    assert (private == -1.0).all()


def test_memmap_batches_checks_its_arguments():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="batch_rows must be a positive integer"):
        memmap_batches(X, np.zeros(10), 0)
    with pytest.raises(ValueError, match="y has 9 rows but X has 10"):
        memmap_batches(X, np.zeros(9), 5)
    with pytest.raises(ValueError, match="sample_weight has 3 rows"):
        MemmapBatches(X, np.zeros(10), 5, sample_weight=np.ones(3))


def test_the_stream_module_examples_run():
    result = doctest.testmod(fnn.stream, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3
    assert result.failed == 0
