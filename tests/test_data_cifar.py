"""CIFAR-10/100 readers on small synthetic batches written in the official pickle format."""
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from snnzoo.data import (
    ChecksumError,
    DataNotFoundError,
    UnsafePickleError,
    load_cifar10,
    load_cifar100,
)


def _rows(n, seed):
    """n rows of 3072 bytes: red plane, green plane, blue plane (each 32x32 row-major)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=2))


def _cifar10_folder(root):
    """Five train batches of 2 images and a test batch of 3, like cifar-10-batches-py/."""
    folder = root / "cifar10" / "cifar-10-batches-py"
    train_rows, train_labels = [], []
    for i in range(1, 6):
        rows = _rows(2, i)
        labels = [(2 * i) % 10, (2 * i + 1) % 10]
        _write(folder / f"data_batch_{i}", {b"batch_label": b"training batch %d of 5" % i,
                                            b"labels": labels, b"data": rows,
                                            b"filenames": [b"a.png", b"b.png"]})
        train_rows.append(rows)
        train_labels += labels
    test_rows = _rows(3, 99)
    _write(folder / "test_batch", {b"labels": [3, 1, 4], b"data": test_rows})
    _write(folder / "batches.meta", {b"label_names": [b"airplane"] * 10})
    return folder, np.concatenate(train_rows), train_labels, test_rows


def _pixel(row, r, c, ch):
    return row[ch * 1024 + r * 32 + c]


def test_cifar10_from_folder(tmp_path):
    _, train_rows, train_labels, test_rows = _cifar10_folder(tmp_path)
    images, labels = load_cifar10("train", data_dir=tmp_path)
    assert images.shape == (10, 32, 32, 3) and images.dtype == np.uint8
    assert labels.tolist() == train_labels
    for k, (r, c) in enumerate([(0, 0), (31, 31), (5, 17), (17, 5)]):
        for ch in range(3):
            assert images[k, r, c, ch] == _pixel(train_rows[k], r, c, ch)
    images, labels = load_cifar10("test", data_dir=tmp_path)
    assert images.shape == (3, 32, 32, 3) and labels.tolist() == [3, 1, 4]
    assert images[2, 1, 2].tolist() == [_pixel(test_rows[2], 1, 2, ch) for ch in range(3)]


def test_cifar10_from_archive_checks_md5(tmp_path):
    folder, train_rows, _, _ = _cifar10_folder(tmp_path / "src")
    archive_dir = tmp_path / "data" / "cifar10"
    archive_dir.mkdir(parents=True)
    archive = archive_dir / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    with pytest.raises(ChecksumError) as info:
        load_cifar10("train", data_dir=tmp_path / "data")
    msg = str(info.value)
    assert "c58f30108f718f92721af3b95e74349a" in msg
    assert hashlib.md5(archive.read_bytes()).hexdigest() in msg and str(archive) in msg
    images, labels = load_cifar10("train", data_dir=tmp_path / "data", verify=False)
    assert images.shape == (10, 32, 32, 3)
    assert images[3, 7, 9, 2] == _pixel(train_rows[3], 7, 9, 2)
    assert not (archive_dir / "cifar-10-batches-py").exists()  # read in place, not extracted


def test_cifar100_labels(tmp_path):
    folder = tmp_path / "cifar100" / "cifar-100-python"
    rows = _rows(4, 7)
    _write(folder / "train", {b"data": rows, b"fine_labels": [99, 0, 42, 7],
                              b"coarse_labels": [19, 0, 5, 1]})
    _write(folder / "test", {b"data": rows[:1], b"fine_labels": [3], b"coarse_labels": [2]})
    images, fine = load_cifar100("train", data_dir=tmp_path)
    assert images.shape == (4, 32, 32, 3) and fine.tolist() == [99, 0, 42, 7]
    assert images[1, 31, 0, 1] == _pixel(rows[1], 31, 0, 1)
    _, coarse = load_cifar100("train", data_dir=tmp_path, label_mode="coarse")
    assert coarse.tolist() == [19, 0, 5, 1]
    _, (f2, c2) = load_cifar100("test", data_dir=tmp_path, label_mode="both")
    assert f2.tolist() == [3] and c2.tolist() == [2]
    with pytest.raises(ValueError, match="label_mode"):
        load_cifar100("train", data_dir=tmp_path, label_mode="medium")


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_restricted_unpickler_refuses_code(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    _write(folder / "test_batch", {b"data": _rows(1, 0), b"labels": [0], b"x": _Evil()})
    with pytest.raises(UnsafePickleError, match="getcwd"):
        load_cifar10("test", data_dir=tmp_path)


def test_missing_and_malformed(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        load_cifar10("train", data_dir=tmp_path)
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "cifar-10-python.tar.gz" in msg and "c58f30108f718f92721af3b95e74349a" in msg
    assert "data_batch_5" in msg and "https://www.cs.toronto.edu/~kriz/" in msg
    assert str(tmp_path / "cifar10") in msg
    with pytest.raises(DataNotFoundError, match="eb9058c3a382ffc7106e4002c42a8d85"):
        load_cifar100("test", data_dir=tmp_path)

    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    _write(folder / "test_batch", {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    with pytest.raises(ValueError, match="3072"):
        load_cifar10("test", data_dir=tmp_path)
    _write(folder / "test_batch", {b"data": _rows(2, 1), b"labels": [0]})
    with pytest.raises(ValueError, match="labels"):
        load_cifar10("test", data_dir=tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_cifar10("val", data_dir=tmp_path)


def test_python2_style_pickle(tmp_path):
    """The official files are Python-2 pickles: bytes keys, str payload decoded as bytes."""
    rows = _rows(1, 3)
    buf = io.BytesIO()
    pickle.dump({b"data": rows, b"labels": [9]}, buf, protocol=2)
    folder = tmp_path / "cifar10"
    folder.mkdir()
    (folder / "test_batch").write_bytes(buf.getvalue())  # batch files directly in cifar10/
    images, labels = load_cifar10("test", data_dir=tmp_path)
    assert labels.tolist() == [9] and images[0, 0, 1, 0] == rows[0][1]
