"""fnn.datasets.load_mnist and read_idx, on small IDX files written here."""

import gzip
import struct

import numpy as np
import pytest

from fnn import datasets

# IDX type codes and the big-endian dtypes they stand for.
CODES = {">u1": 0x08, ">i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` encoded as an IDX file."""
    dtype = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    code = CODES[">" + dtype.str[1:]]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def write_mnist(directory, n_train=12, n_test=5, *, gz=False, dotted=False, seed=0):
    """Write the four MNIST files with random pixels and labels; return the arrays."""
    rng = np.random.default_rng(seed)
    parts = {}
    for kind, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for part, array, dims in (("images", images, 3), ("labels", labels, 1)):
            sep = "." if dotted else "-"
            name = f"{kind}-{part}{sep}idx{dims}-ubyte" + (".gz" if gz else "")
            data = idx_bytes(array)
            (directory / name).write_bytes(gzip.compress(data) if gz else data)
        parts[kind] = (images, labels)
    return parts


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dotted", [False, True])
def test_load_mnist_reads_both_parts_plain_or_gzipped(tmp_path, gz, dotted):
    parts = write_mnist(tmp_path, gz=gz, dotted=dotted)
    for kind, key in (("train", "train"), ("test", "t10k")):
        X, y = datasets.load_mnist(tmp_path, kind)
        images, labels = parts[key]
        assert X.shape == (len(labels), 784) and X.dtype == np.float64
        assert y.dtype == np.int64
        np.testing.assert_array_equal(X, images.reshape(len(labels), -1))
        np.testing.assert_array_equal(y, labels)


def test_load_mnist_takes_a_dtype_and_a_str_path(tmp_path):
    parts = write_mnist(tmp_path)
    X, _ = datasets.load_mnist(str(tmp_path), dtype=np.float32)
    assert X.dtype == np.float32 and X.flags.c_contiguous
    assert X.max() == parts["train"][0].max()


def test_gzip_is_detected_by_content_not_by_name(tmp_path):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    path = tmp_path / "no-extension"
    path.write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(datasets.read_idx(path), array)


@pytest.mark.parametrize("dtype", [">i1", ">i2", ">i4", ">f4", ">f8"])
def test_read_idx_decodes_every_type_big_endian(tmp_path, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    path = tmp_path / "a.idx"
    path.write_bytes(idx_bytes(array))
    out = datasets.read_idx(path)
    assert out.dtype.isnative and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, array)


def corrupt_cases():
    good = idx_bytes(np.zeros((2, 2, 2), dtype=np.uint8))
    return {
        "empty": (b"", "shorter than the 4-byte magic"),
        "bad magic": (b"\x01\x00" + good[2:], "two zero bytes"),
        "unknown type": (good[:2] + b"\x07" + good[3:], "unknown IDX type code 0x07"),
        "zero dimensions": (b"\x00\x00\x08\x00", "0 dimensions"),
        "truncated header": (good[:9], "truncated IDX header"),
        "truncated data": (good[:-1], "truncated"),
        "trailing bytes": (good + b"\x00", "trailing bytes"),
        "corrupt gzip": (gzip.compress(good)[:-6] + b"garbage", "corrupt gzip"),
    }


@pytest.mark.parametrize("case", list(corrupt_cases()))
def test_read_idx_rejects_a_corrupt_file_with_a_clear_message(tmp_path, case):
    data, message = corrupt_cases()[case]
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message) as info:
        datasets.read_idx(path)
    assert str(path) in str(info.value)


def test_load_mnist_rejects_a_truncated_images_file(tmp_path):
    write_mnist(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated.*promises shape \\(12, 28, 28\\)"):
        datasets.load_mnist(tmp_path)


def test_load_mnist_rejects_mismatched_counts(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(11, np.uint8)))
    with pytest.raises(ValueError, match="12 images but .* 11 labels"):
        datasets.load_mnist(tmp_path)


def test_load_mnist_rejects_labels_that_are_not_digits(tmp_path):
    write_mnist(tmp_path)
    labels = np.zeros(12, np.uint8)
    labels[3] = 10
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    with pytest.raises(ValueError, match="digits 0-9, found 10"):
        datasets.load_mnist(tmp_path)


def test_load_mnist_rejects_images_of_the_wrong_shape_or_type(tmp_path):
    write_mnist(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(idx_bytes(np.zeros((12, 784), np.uint8)))
    with pytest.raises(ValueError, match="3-D array of unsigned bytes"):
        datasets.load_mnist(tmp_path)
    images.write_bytes(idx_bytes(np.zeros((12, 28, 28), ">f4")))
    with pytest.raises(ValueError, match="got 3-D float32"):
        datasets.load_mnist(tmp_path)


def test_load_mnist_names_the_files_it_looked_for(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        datasets.load_mnist(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.load_mnist(tmp_path / "missing")
    with pytest.raises(ValueError, match="kind must be"):
        datasets.load_mnist(tmp_path, "validation")
