"""N-MNIST reader and index, checked against an independent decoder and the label files."""
import shutil

import numpy as np
import pytest

from snnzoo.data import DataNotFoundError, load_nmnist_index, read_nmnist


def _decode_reference(path):
    """Independent decoder: one event at a time with plain Python integers."""
    raw = path.read_bytes()
    out = []
    for i in range(0, len(raw), 5):
        b0, b1, b2, b3, b4 = raw[i:i + 5]
        ts = int.from_bytes(bytes([b2 & 0x7F, b3, b4]), "big")
        out.append((ts, b0, b1, 1 if b2 >= 128 else 0))
    return out


def _label_file(path):
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#")
    return [(int(a), int(b)) for a, b in (ln.split("\t") for ln in lines[1:] if ln.strip())]


def test_read_first_sample_matches_reference(shared_data):
    path = shared_data / "nmnist" / "1.bs2"
    events = read_nmnist(path)
    ref = _decode_reference(path)
    assert len(events) == len(ref) == path.stat().st_size // 5
    assert set(events.dtype.names) >= {"t", "x", "y", "p"}
    got = list(zip(events["t"].tolist(), events["x"].tolist(), events["y"].tolist(),
                   events["p"].tolist()))
    assert got == ref
    assert events["x"].min() >= 0 and events["x"].max() <= 33
    assert events["y"].min() >= 0 and events["y"].max() <= 33
    assert np.all(np.diff(events["t"]) >= 0)
    assert set(np.unique(events["p"]).tolist()) == {0, 1}
    assert 200_000 < events["t"][-1] < 400_000  # ~300 ms recordings


def test_flat_index_train_and_test(shared_data):
    train = load_nmnist_index("train")
    expected = _label_file(shared_data / "nmnist" / "train1K.txt")
    assert len(train) == len(expected) == 1000
    assert [(p.name, lab) for p, lab in train] == [(f"{s}.bs2", c) for s, c in expected]
    assert train[0][1] == 5  # sample 1 is the MNIST digit 5
    test = load_nmnist_index("test", data_dir=shared_data)
    assert len(test) == 100
    assert test[0][0].name == "60001.bs2"
    assert test[0][1] == _label_file(shared_data / "nmnist" / "test100.txt")[0][1]


def test_full_layout(tmp_path, shared_data):
    src = shared_data / "nmnist"
    train = tmp_path / "nmnist" / "Train"
    for digit, name, sample in [(3, "00010.bin", "2.bs2"), (3, "00002.bin", "3.bs2"),
                                (7, "00001.bin", "4.bs2")]:
        (train / str(digit)).mkdir(parents=True, exist_ok=True)
        shutil.copy(src / sample, train / str(digit) / name)
    index = load_nmnist_index("train", data_dir=tmp_path)
    assert [(p.parent.name, p.name, lab) for p, lab in index] == [
        ("3", "00002.bin", 3), ("3", "00010.bin", 3), ("7", "00001.bin", 7)]
    assert len(read_nmnist(index[0][0])) == (src / "3.bs2").stat().st_size // 5
    with pytest.raises(DataNotFoundError, match="Test"):
        load_nmnist_index("test", data_dir=tmp_path)


def test_missing_data_errors(tmp_path):
    with pytest.raises(DataNotFoundError) as info:
        load_nmnist_index("train", data_dir=tmp_path)
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "Train/<digit>" in msg and str(tmp_path / "nmnist") in msg and "n-mnist" in msg
    folder = tmp_path / "nmnist"
    folder.mkdir()
    (folder / "train2.txt").write_text("#sample #class\n1\t5\n2\t0\n")
    (folder / "1.bs2").write_bytes(b"\x01\x02\x80\x00\x05")
    with pytest.raises(DataNotFoundError) as info:
        load_nmnist_index("train", data_dir=tmp_path)
    assert "2.bs2" in str(info.value) and "1.bs2" not in str(info.value)


def test_bad_file_size(tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match="multiple of 5"):
        read_nmnist(path)
    with pytest.raises(ValueError, match="split"):
        load_nmnist_index("valid")
