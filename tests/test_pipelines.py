"""Input pipelines (snnzoo.data.pipelines / augment / tfds_builders) on the real MNIST,
Fashion-MNIST and N-MNIST files of ../shared/data, and on synthetic files in the real DVS Gesture
(AEDAT 3.1), CIFAR10-DVS (AEDAT 2.0) and CIFAR (pickle) formats.

References are independent of the code under test: idx labels/images from the readers, N-MNIST
event counts decoded here from the raw 5-byte records, and augmentations checked by brute force
over every crop offset / roll shift / flip.
"""
import math
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from snnzoo.data import load_fashion_mnist, load_mnist
from snnzoo.data.pipelines import (DATASETS, class_names, dataset_for, make_dataset,
                                   make_source, resize_frames)


def _nmnist_raw(path):
    """(x, y, p) decoded by hand from an N-MNIST file (5 bytes per event)."""
    raw = np.frombuffer(Path(path).read_bytes(), np.uint8).reshape(-1, 5).astype(np.int64)
    return raw[:, 0], raw[:, 1], raw[:, 2] >> 7


def _nmnist_labels(shared, listing):
    pairs = []
    for line in (shared / "nmnist" / listing).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            s, c = line.split()[:2]
            pairs.append((s, int(c)))
    return pairs


# ----------------------------------------------------------------------------- images
def test_mnist_py_batches_match_reader(shared_data):
    images, labels = load_mnist("test", data_dir=shared_data)
    ds = make_dataset("mnist", "test", 50, format="py", data_dir=shared_data, limit=200)
    assert len(ds) == 4
    expected_idx = (np.arange(200) * 10000) // 200   # evenly spread, documented
    xs, ys = zip(*(ds[i] for i in range(len(ds))))
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (200, 28, 28, 1) and x.dtype == np.float32
    assert y.dtype == np.int32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() == 1.0
    np.testing.assert_array_equal(y, labels[expected_idx])
    np.testing.assert_array_equal(x, images[expected_idx].astype(np.float32) / 255.0)


def test_shuffled_fashion_mnist_keeps_labels_aligned(shared_data):
    images, labels = load_fashion_mnist("train", data_dir=shared_data)
    ds = make_dataset("fashion_mnist", "train", 32, format="py", data_dir=shared_data, limit=320,
                      seed=5)
    idx = (np.arange(320) * 60000) // 320
    lookup = {images[i].tobytes(): labels[i] for i in idx}
    x, y = ds[3]
    seen = [lookup[np.round(s * 255).astype(np.uint8).tobytes()] for s in x]
    np.testing.assert_array_equal(y, seen)
    order_epoch0 = np.concatenate([ds[i][1] for i in range(len(ds))])
    assert not np.array_equal(order_epoch0, labels[idx])  # really shuffled
    np.testing.assert_array_equal(np.sort(order_epoch0), np.sort(labels[idx]))
    ds.on_epoch_end()
    order_epoch1 = np.concatenate([ds[i][1] for i in range(len(ds))])
    assert not np.array_equal(order_epoch0, order_epoch1)


def test_tf_and_py_yield_the_same_unaugmented_batches(shared_data):
    for name, kw in (("fashion_mnist", {}), ("nmnist", {"time_steps": 3})):
        py = make_dataset(name, "test", 8, format="py", data_dir=shared_data, limit=16, **kw)
        tf_ds = make_dataset(name, "test", 8, format="tf", data_dir=shared_data, limit=16, **kw)
        for (xt, yt), i in zip(tf_ds, range(2)):
            xp, yp = py[i]
            np.testing.assert_array_equal(xt.numpy(), xp)
            np.testing.assert_array_equal(yt.numpy(), yp)


# ----------------------------------------------------------------------------- N-MNIST
def test_nmnist_frames_count_the_raw_events(shared_data):
    T = 3
    ds = make_dataset("nmnist", "test", 4, time_steps=T, format="py", data_dir=shared_data, limit=8)
    pairs = _nmnist_labels(shared_data, "test100.txt")
    idx = (np.arange(8) * 100) // 8
    x, y = ds[1]
    assert x.shape == (4, T, 34, 34, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [pairs[i][1] for i in idx[4:]])
    for frames, i in zip(x, idx[4:]):
        ex, ey, ep = _nmnist_raw(shared_data / "nmnist" / f"{pairs[i][0]}.bs2")
        counts = np.zeros((34, 34, 2))
        np.add.at(counts, (ey, ex, ep), 1)
        np.testing.assert_array_equal(frames.sum(axis=0), counts)   # every event once
        n = ex.size                                                 # split_by="number"
        assert frames[0].sum() == n // T and frames[-1].sum() == n - (T - 1) * (n // T)


def test_nmnist_needs_time_steps(shared_data):
    with pytest.raises(ValueError, match="time_steps"):
        make_dataset("nmnist", "test", 4, format="py", data_dir=shared_data)


# ----------------------------------------------------------------------------- augmentation
def _is_crop_flip_of(aug, orig, pad=4):
    h, w = orig.shape[-3], orig.shape[-2]
    padded = np.pad(orig, [(0, 0)] * (orig.ndim - 3) + [(pad, pad), (pad, pad), (0, 0)])
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[..., dy:dy + h, dx:dx + w, :]
            if np.array_equal(aug, crop) or np.array_equal(aug, crop[..., ::-1, :]):
                return True
    return False


def _is_flip_roll_of(aug, orig, r=5):
    for src in (orig, orig[..., ::-1, :]):
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                if np.array_equal(aug, np.roll(src, (dy, dx), axis=(-3, -2))):
                    return True
    return False


@pytest.mark.parametrize("fmt", ["py", "tf"])
def test_crop_flip_is_seeded_and_really_crops(shared_data, fmt):
    def first(seed, augment):
        ds = make_dataset("fashion_mnist", "test", 16, format=fmt, data_dir=shared_data, limit=16,
                          augment=augment, seed=seed, shuffle=False)
        x, _ = ds[0] if fmt == "py" else next(iter(ds))
        return np.asarray(x)

    plain, a, b, c = first(0, False), first(3, "crop_flip"), first(3, "crop_flip"), first(4, "crop_flip")
    np.testing.assert_array_equal(a, b)            # deterministic under a seed
    assert not np.array_equal(a, c)                # the seed matters
    assert np.mean([not np.array_equal(s, p) for s, p in zip(a, plain)]) > 0.5   # pixels change
    for s, p in zip(a, plain):
        assert _is_crop_flip_of(s, p)


@pytest.mark.parametrize("fmt", ["py", "tf"])
def test_flip_roll_on_event_frames(shared_data, fmt):
    def first(seed, augment):
        ds = make_dataset("nmnist", "test", 6, time_steps=2, format=fmt, data_dir=shared_data,
                          limit=6, augment=augment, seed=seed, shuffle=False)
        x, _ = ds[0] if fmt == "py" else next(iter(ds))
        return np.asarray(x)

    plain, a, b = first(0, False), first(7, "flip_roll"), first(7, "flip_roll")
    np.testing.assert_array_equal(a, b)
    assert np.mean([not np.array_equal(s, p) for s, p in zip(a, plain)]) > 0.5
    for s, p in zip(a, plain):
        assert _is_flip_roll_of(s, p)              # one shift/flip for all T frames of a sample


def test_frame_sampling_keeps_order(shared_data):
    ds = make_dataset("nmnist", "test", 4, time_steps=6, format="py", data_dir=shared_data,
                      limit=4, sample_frames=3, shuffle=False, seed=1)
    full = make_dataset("nmnist", "test", 4, time_steps=6, format="py", data_dir=shared_data,
                        limit=4, shuffle=False)
    x, _ = ds[0]
    xf, _ = full[0]
    assert x.shape == (4, 3, 34, 34, 2)
    for s, f in zip(x, xf):
        hits = [next(t for t in range(6) if np.array_equal(frame, f[t])) for frame in s]
        assert hits == sorted(hits) and len(set(hits)) == 3


# ----------------------------------------------------------------------------- synthetic formats
def _write_aedat31(path, events):
    """AEDAT 3.1 file with one polarity packet (x, y, p, t rows)."""
    words = []
    for x, y, p, t in events:
        words += [(x << 17) | (y << 2) | (p << 1) | 1, t]
    n = len(events)
    head = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#!END-HEADER\r\n"
    packet = struct.pack("<hhiiiiii", 1, 1, 8, 4, 0, n, n, n)
    path.write_bytes(head + packet + struct.pack(f"<{2 * n}I", *words))


def test_dvs_gesture_segments_from_synthetic_recording(tmp_path):
    root = tmp_path / "dvs_gesture" / "DvsGesture"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    ev = [(int(rng.integers(128)), int(rng.integers(128)), int(rng.integers(2)), t)
          for t in range(0, 3000, 10)]
    _write_aedat31(root / "user01_led.aedat", ev)
    (root / "user01_led_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n3,0,1000\n11,1000,2500\n")
    (root / "trials_to_test.txt").write_text("user01_led.aedat\n")
    ds = make_dataset("dvs_gesture", "test", 2, time_steps=2, format="py", data_dir=tmp_path)
    x, y = ds[0]
    np.testing.assert_array_equal(y, [2, 10])
    assert x.shape == (2, 2, 128, 128, 2)
    for k, (lo, hi) in enumerate(((0, 1000), (1000, 2500))):
        sel = [e for e in ev if lo <= e[3] < hi]
        counts = np.zeros((128, 128, 2))
        for ex, ey, ep, _ in sel:
            counts[ey, ex, ep] += 1
        np.testing.assert_array_equal(x[k].sum(axis=0), counts)
    with pytest.raises(FileNotFoundError, match="trials_to_train.txt"):
        make_dataset("dvs_gesture", "train", 2, time_steps=2, format="py", data_dir=tmp_path)


def _write_aedat2(path, events):
    """AEDAT 2.0 with CIFAR10-DVS addresses: x = 127 - ((a >> 8) & 127), y = 127 - ((a >> 1) & 127),
    p = 1 - (a & 1)."""
    recs = b"".join(struct.pack(">II", ((127 - x) << 8) | ((127 - y) << 1) | (1 - p), t)
                    for x, y, p, t in events)
    path.write_bytes(b"#!AER-DAT2.0\r\n# This is a raw AE data file\r\n" + recs)


def test_cifar10dvs_split_and_frames(tmp_path):
    classes = class_names("cifar10dvs")
    per_class = 12
    for c, cls in enumerate(classes):
        folder = tmp_path / "cifar10dvs" / cls
        folder.mkdir(parents=True)
        for i in range(per_class):
            _write_aedat2(folder / f"cifar10_{cls}_{i}.aedat", [(c, i, 1, 5), (100, 3, 0, 9)])
    train = make_source("cifar10dvs", "train", tmp_path, time_steps=1)
    test = make_source("cifar10dvs", "test", tmp_path, time_steps=1, frame_size=(48, 48))
    n_train = math.ceil(per_class * 0.9)
    assert len(train) == 10 * n_train and len(test) == 10 * (per_class - n_train)
    # string order of file names: _0, _1, _10, _11, _2, ..., _9: the test file is _9
    assert [Path(p).name for p, _, _ in test.items] == [f"cifar10_{c}_9.aedat" for c in classes]
    np.testing.assert_array_equal(test.labels, np.arange(10))
    x, _ = make_source("cifar10dvs", "test", tmp_path, time_steps=1).get([3])
    assert x[0, 0, 9, 3, 1] == 1 and x[0, 0, 3, 100, 0] == 1 and x.sum() == 2
    xs, _ = test.get([3])
    assert xs.shape == (1, 1, 48, 48, 2)


def test_resize_frames_bilinear_matches_half_pixel_formula():
    src = np.arange(4 * 6, dtype=np.float32).reshape(1, 4, 6, 1)
    out = resize_frames(src, (2, 3))
    # scale 2 in both axes: output pixel (i, j) samples source (2i + 0.5, 2j + 0.5)
    expected = np.array([[src[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 0].mean() for j in range(3)]
                         for i in range(2)])
    np.testing.assert_allclose(out[0, :, :, 0], expected)


def test_cifar10_pipeline_from_pickle_batches(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    data = rng.integers(0, 256, size=(5, 3072), dtype=np.uint8)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": data, b"labels": [4, 0, 9, 1, 2]}, f, protocol=2)
    x, y = make_dataset("cifar10", "test", 5, format="py", data_dir=tmp_path)[0]
    np.testing.assert_array_equal(y, [4, 0, 9, 1, 2])
    # the row is R plane, G plane, B plane (32x32 each): pixel (r, c) channel k = data[k*1024 + 32r + c]
    assert x[2, 5, 7, 1] == data[2, 1024 + 32 * 5 + 7] / np.float32(255)
    assert DATASETS["cifar10"].augment == "crop_flip"


def test_manifest_names_map_to_pipelines():
    assert dataset_for("Fashion-MNIST") == "fashion_mnist"
    assert dataset_for("DVS128 Gesture") == "dvs_gesture"
    assert dataset_for("CIFAR10-DVS") == "cifar10dvs"
    assert dataset_for("N-MNIST") == "nmnist"
    assert len(class_names("cifar100")) == 100 and len(set(class_names("cifar100"))) == 100
    with pytest.raises(ValueError, match="ImageNet"):
        dataset_for("ImageNet")


def test_missing_data_names_files_and_checksums(tmp_path):
    from snnzoo.data.checksums import DataNotFoundError

    with pytest.raises(DataNotFoundError) as err:
        make_dataset("mnist", "test", 8, format="py", data_dir=tmp_path)
    assert "t10k-images-idx3-ubyte.gz" in str(err.value) and "8d422c7b" in str(err.value)


# ----------------------------------------------------------------------------- TFDS
@pytest.mark.slow
def test_tfds_builder_builds_the_real_nmnist_subset(shared_data, tmp_path):
    from snnzoo.data.tfds_builders import build

    b = build("nmnist", data_dir=tmp_path / "tfds", manual_dir=shared_data / "nmnist", time_steps=2)
    assert b.info.splits["train"].num_examples == 1000
    assert b.info.splits["test"].num_examples == 100
    expected = {f"{s}.bs2": c for s, c in _nmnist_labels(shared_data, "test100.txt")}
    got = {}
    for ex in b.as_dataset(split="test"):
        got[ex["file"].numpy().decode()] = int(ex["label"])
        if ex["file"].numpy().decode() == "60007.bs2":
            ex_x, ex_y, ex_p = _nmnist_raw(shared_data / "nmnist" / "60007.bs2")
            counts = np.zeros((34, 34, 2))
            np.add.at(counts, (ex_y, ex_x, ex_p), 1)
            np.testing.assert_array_equal(ex["frames"].numpy().sum(axis=0), counts)
    assert got == expected
    train_labels = [int(ex["label"]) for ex in b.as_dataset(split="train")]
    np.testing.assert_array_equal(np.bincount(train_labels, minlength=10),
                                  np.bincount([c for _, c in _nmnist_labels(shared_data, "train1K.txt")],
                                              minlength=10))
