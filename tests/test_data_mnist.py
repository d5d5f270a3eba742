"""MNIST / Fashion-MNIST readers on the real files, checked with independent gzip+numpy code."""
import gzip
import hashlib
import pickle
import shutil
import struct

import numpy as np
import pytest

from snnzoo.data import ChecksumError, DataNotFoundError, load_fashion_mnist, load_mnist, read_idx
from snnzoo.data import mnist as mnist_module
from snnzoo.data.idx import parse_idx

TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _raw_payload(path):
    with gzip.open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def mnist_train():
    return load_mnist("train")


@pytest.fixture(scope="module")
def mnist_test():
    return load_mnist("test")


def test_train_shapes_and_first_sample(mnist_train, shared_data):
    images, labels = mnist_train
    assert images.shape == (60000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (60000,) and np.issubdtype(labels.dtype, np.integer)
    assert labels[0] == 5  # the famous first MNIST digit
    # independent decode: skip the 16-byte image header / 8-byte label header
    raw_images = _raw_payload(shared_data / "mnist" / "train-images-idx3-ubyte.gz")
    raw_labels = _raw_payload(shared_data / "mnist" / "train-labels-idx1-ubyte.gz")
    first = np.frombuffer(raw_images, dtype=np.uint8, count=784, offset=16)
    assert int(images[0].sum()) == int(first.astype(np.int64).sum())
    np.testing.assert_array_equal(images[0, :, :, 0], first.reshape(28, 28))
    last = np.frombuffer(raw_images, dtype=np.uint8, offset=16 + 59999 * 784)
    np.testing.assert_array_equal(images[-1].reshape(-1), last)
    np.testing.assert_array_equal(labels, np.frombuffer(raw_labels, dtype=np.uint8, offset=8))


def test_test_label_histogram(mnist_test, shared_data):
    images, labels = mnist_test
    assert images.shape == (10000, 28, 28, 1)
    # published class counts of the MNIST test set
    expected = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(labels, minlength=10).tolist() == expected
    raw = _raw_payload(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")
    assert struct.unpack(">II", raw[:8]) == (0x801, 10000)
    np.testing.assert_array_equal(labels, np.frombuffer(raw, dtype=np.uint8, offset=8))


def test_fashion_mnist_test_split(shared_data):
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8
    raw = _raw_payload(shared_data / "fashion_mnist" / "t10k-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(labels, np.frombuffer(raw, dtype=np.uint8, offset=8))
    assert np.bincount(labels).tolist() == [1000] * 10  # Fashion-MNIST test set is balanced


def test_data_dir_argument_overrides_env(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("SNNZOO_DATA", str(tmp_path / "nowhere"))
    images, labels = load_mnist("test", data_dir=shared_data)
    assert images.shape[0] == 10000
    with pytest.raises(DataNotFoundError):
        load_mnist("test")


def test_missing_files_single_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        load_mnist("test", data_dir=tmp_path)
    err = info.value
    assert isinstance(err, FileNotFoundError)
    msg = str(err)
    for name in TEST_FILES:
        assert name in msg
        assert mnist_module.MNIST_FILES[name]["sha256"] in msg
    assert str(tmp_path / "mnist") in msg
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in msg
    assert str(pickle.loads(pickle.dumps(err))) == msg  # survives data-loader worker processes


def test_partially_missing_names_only_missing(tmp_path, shared_data):
    (tmp_path / "mnist").mkdir()
    shutil.copy(shared_data / "mnist" / TEST_FILES[1], tmp_path / "mnist")
    with pytest.raises(DataNotFoundError) as info:
        load_mnist("test", data_dir=tmp_path)
    msg = str(info.value)
    assert TEST_FILES[0] in msg and TEST_FILES[1] not in msg


def test_corrupt_file_checksum_error(tmp_path, shared_data):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in TEST_FILES:
        shutil.copy(shared_data / "mnist" / name, folder)
    target = folder / TEST_FILES[1]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(ChecksumError) as info:
        load_mnist("test", data_dir=tmp_path)
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert str(target) in msg
    assert mnist_module.MNIST_FILES[TEST_FILES[1]]["sha256"] in msg
    assert actual in msg


def test_recompressed_and_uncompressed_files_accepted(tmp_path, shared_data, mnist_test):
    """Debian-style re-gzipped files (other header, same payload) and plain idx files pass."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    images_payload = _raw_payload(shared_data / "mnist" / TEST_FILES[0])
    recompressed = gzip.compress(images_payload, compresslevel=1, mtime=123456)
    assert hashlib.sha256(recompressed).hexdigest() != \
        mnist_module.MNIST_FILES[TEST_FILES[0]]["sha256"]
    (folder / TEST_FILES[0]).write_bytes(recompressed)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(
        _raw_payload(shared_data / "mnist" / TEST_FILES[1]))
    images, labels = load_mnist("test", data_dir=tmp_path)
    np.testing.assert_array_equal(images, mnist_test[0])
    np.testing.assert_array_equal(labels, mnist_test[1])
    # a re-compressed file with a different payload is still rejected
    bad = bytearray(images_payload)
    bad[-1] ^= 1
    (folder / TEST_FILES[0]).write_bytes(gzip.compress(bytes(bad), compresslevel=1, mtime=1))
    with pytest.raises(ChecksumError, match="payload"):
        load_mnist("test", data_dir=tmp_path)


def test_download_offline_gives_one_clear_error(tmp_path, monkeypatch):
    # An unroutable origin (port 9 on localhost: connection refused at once) stands for "offline"
    # and keeps the test independent of the machine's network.
    title, sub, _url, files = mnist_module._DATASETS["mnist"]
    monkeypatch.setitem(mnist_module._DATASETS, "mnist", (title, sub, "http://127.0.0.1:9/", files))
    with pytest.raises(DataNotFoundError) as info:
        load_mnist("test", data_dir=tmp_path, download=True)
    msg = str(info.value)
    assert "Download failed" in msg and TEST_FILES[0] in msg and TEST_FILES[1] in msg
    assert not any((tmp_path / "mnist").glob("*.gz"))


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")


def test_idx_reader_from_spec(tmp_path):
    # hand-packed 2x3 big-endian int16 idx file (type code 0x0B)
    values = [[1, -2, 300], [-32768, 32767, 0]]
    body = struct.pack(">HBB", 0, 0x0B, 2) + struct.pack(">II", 2, 3)
    body += b"".join(struct.pack(">h", v) for row in values for v in row)
    path = tmp_path / "x.idx"
    path.write_bytes(body)
    arr = read_idx(path)
    assert arr.shape == (2, 3)
    assert arr.tolist() == values
    gz = tmp_path / "x.idx.gz"
    gz.write_bytes(gzip.compress(body))
    assert read_idx(gz).tolist() == values
    with pytest.raises(ValueError, match="not an idx"):
        parse_idx(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="announces shape"):
        parse_idx(body[:-1])
