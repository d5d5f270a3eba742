"""Faults a new user hit with inputs (issue 15, items 5-7), Python side: uint8 images, NaN/inf,
empty event recordings, corrupt idx files, bad ``time_steps``, ``weights="none"``, another
model's weights file, rejected checkpoints and failed downloads."""
import functools
import gzip
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import snnzoo
from snnzoo.config import home_dir
from snnzoo.data.aedat import read_aedat2, read_aedat4, read_aedat4_info
from snnzoo.data.frames import EmptyRecordingError, events_to_frames_cached
from snnzoo.data.mnist import load_fashion_mnist
from snnzoo.data.nmnist import read_nmnist
from snnzoo.evaluate import evaluate
from snnzoo.layers.time import MeanOverTime, TimeFold
from snnzoo.predict import load_inputs, predict
from snnzoo.zoo import weights as W
from snnzoo.zoo.image_model import ZooImageModel

REPO = Path(__file__).resolve().parents[1]
SHIPPED_FMNIST = REPO / "zoo_weights" / "fsnn_fmnist_ide.weights.h5"


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.fixture(scope="module")
def fmnist_subset(shared_data):
    images, labels = load_fashion_mnist("test", data_dir=shared_data)
    idx = (np.arange(300) * 10000) // 300
    return images[idx], labels[idx]


# ------------------------------------------------------------------ item 5: uint8 images, NaN/inf
@pytest.mark.parity
def test_uint8_images_are_scaled_inside_a_loaded_zoo_model(fmnist_subset):
    x_u8, y = fmnist_subset
    assert x_u8.dtype == np.uint8 and x_u8.max() == 255
    model = snnzoo.load("fsnn_fmnist_ide")
    assert isinstance(model, ZooImageModel)
    x_float = x_u8.astype(np.float32) / 255.0  # the contract: float in [0, 1]
    ref = _np(model(x_float, training=False))
    np.testing.assert_allclose(_np(model(x_u8, training=False)), ref, rtol=0, atol=1e-5)
    # model.predict (compiled predict step) and a tf.data pipeline of uint8 images
    pred = model.predict(x_u8, batch_size=100, verbose=0)
    np.testing.assert_allclose(pred, ref, rtol=0, atol=1e-5)
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x_u8).batch(100)
    np.testing.assert_allclose(model.predict(ds, verbose=0), ref, rtol=0, atol=1e-5)
    acc_float = np.mean(ref.argmax(-1) == y)
    assert acc_float > 0.85  # the shipped F400 network (90.1 % on the full test set)
    # before the fix the 0..255 values went straight in, as this graph-only copy still does:
    raw = keras.Model(model.input, model.output)
    acc_unscaled = np.mean(_np(raw(x_u8.astype(np.float32), training=False)).argmax(-1) == y)
    assert acc_unscaled < acc_float - 0.05


@pytest.mark.parity
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint16", "bool"])
def test_other_integer_images_are_refused_with_one_line(dtype):
    model = snnzoo.load("fsnn_fmnist_ide")
    x = np.zeros((2, 28, 28, 1), dtype=dtype)
    for call, seen in ((lambda: model(x, training=False), (dtype,)),
                       # data adapters may convert first: torch uint16 -> int32, JAX without
                       # x64 int64 -> int32
                       (lambda: model.predict(x, verbose=0), (dtype, "int32"))):
        with pytest.raises(ValueError) as err:
            call()
        msg = str(err.value)
        assert len(msg.splitlines()) == 1
        assert "float in [0, 1] or uint8 in 0..255" in msg
        assert any(msg.endswith(f"got dtype {d}; convert them, e.g. x.astype('float32') / 255 "
                                "for values 0..255") for d in seen), msg


def test_zoo_image_model_survives_keras_save_and_load_in_a_fresh_process(tmp_path,
                                                                          fmnist_subset):
    x_u8 = fmnist_subset[0][:8]
    model = snnzoo.load("fsnn_fmnist_ide")
    path = tmp_path / "m.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", x_u8)
    np.save(tmp_path / "ref.npy", _np(model(x_u8.astype(np.float32) / 255.0, training=False)))
    script = (
        "import sys, numpy as np, keras, snnzoo\n"
        f"m = keras.saving.load_model(r'{path}')\n"
        "assert type(m).__name__ == 'ZooImageModel', type(m)\n"
        f"x = np.load(r'{tmp_path / 'x.npy'}'); ref = np.load(r'{tmp_path / 'ref.npy'}')\n"
        "out = keras.ops.convert_to_numpy(m(x, training=False))\n"
        "np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)\n"
        "try:\n    m(x.astype('int64'))\nexcept ValueError as e:\n    print('refused:', e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, env=dict(os.environ), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "refused: model" in proc.stdout and "got dtype int64" in proc.stdout


def test_evaluate_and_predict_refuse_nan_and_inf(tmp_path, fmnist_subset):
    model = snnzoo.load("fsnn_fmnist_ide")
    x = fmnist_subset[0][:20].astype(np.float32) / 255.0
    y = fmnist_subset[1][:20]
    r = evaluate(model, data=(x, y), batch_size=10, progress=False, verbose=False)
    assert r["n"] == 20
    bad = x.copy()
    bad[13, 5, 5, 0] = np.nan
    bad[17, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"input batch 1: 2 sample\(s\) hold NaN/inf values "
                                         r"\(first: sample 3 of the batch\)"):
        evaluate(model, data=(bad, y), batch_size=10, progress=False, verbose=False)
    np.save(tmp_path / "nan.npy", bad[13])
    with pytest.raises(ValueError, match=r"nan\.npy: 1 NaN/inf value\(s\); inputs must be finite"):
        predict(model, [str(tmp_path / "nan.npy")])
    frames = np.zeros((4, 34, 34, 2), np.float32)
    frames[1, 2, 3, 0] = -np.inf
    np.save(tmp_path / "frames.npy", frames)
    with pytest.raises(ValueError, match=r"frames\.npy: 1 NaN/inf"):
        load_inputs([str(tmp_path / "frames.npy")], "event_frames", (4, 34, 34, 2))


# ------------------------------------------------------------------ item 6: empty event files
def _count_model(T=4):
    inputs = keras.Input((T, 34, 34, 2))
    x = TimeFold(keras.layers.Flatten(), name="flat")(inputs)
    return keras.Model(inputs, MeanOverTime()(keras.layers.Dense(10, name="fc")(x)))


def test_empty_event_files_are_refused_naming_the_file(tmp_path, shared_data):
    empty_bin = tmp_path / "00042.bin"
    empty_bin.write_bytes(b"")
    assert len(read_nmnist(empty_bin)) == 0  # the reader decodes it: zero events
    header_only = shared_data / "event_formats" / "sample_aedat_header.aedat"
    assert len(read_aedat2(header_only)) == 0
    full4 = shared_data / "event_formats" / "sample.aedat4"
    info = read_aedat4_info(full4)
    header4 = tmp_path / "header_only.aedat4"
    header4.write_bytes(full4.read_bytes()[:info["packets_offset"]])
    assert len(read_aedat4(header4)) == 0 and len(read_aedat4(full4)) > 0

    model = _count_model()
    for path in (empty_bin, header_only, header4):
        with pytest.raises(EmptyRecordingError) as err:
            predict(model, [str(path)])
        assert isinstance(err.value, ValueError)
        assert str(err.value).startswith(f"{path.name}: the recording holds no events")
    # the data-set path (frame cache) names the file and the reader's window, and caches nothing
    cache = tmp_path / "cache"
    with pytest.raises(EmptyRecordingError, match=rf"{empty_bin}: the recording holds no events"):
        events_to_frames_cached(empty_bin, read_nmnist, (34, 34, 2), 4, cache_dir=cache)
    reader = functools.partial(read_aedat2, layout="cifar10dvs")
    with pytest.raises(EmptyRecordingError,
                       match=rf"{header_only} \(layout='cifar10dvs'\): the recording holds no"):
        events_to_frames_cached(header_only, reader, (128, 128, 2), 4, cache_dir=cache)
    assert not cache.exists() or not any(cache.rglob("*.npz"))
    # uncached data-set frames too
    from snnzoo.data.pipelines import DATASETS, EventSource

    source = EventSource(DATASETS["nmnist"], [(empty_bin, read_nmnist, 0)], time_steps=4)
    with pytest.raises(EmptyRecordingError, match=rf"{empty_bin}: the recording holds no events"):
        source.frames(0, cached=False)
    # a recording with events still goes through
    good = shared_data / "nmnist" / "60001.bs2"
    frames = events_to_frames_cached(good, read_nmnist, (34, 34, 2), 4, cache_dir=cache)
    assert frames.sum() == len(read_nmnist(good))


# ------------------------------------------------------------------ item 7: messages
def test_corrupt_gzip_idx_file_names_the_file(tmp_path, shared_data):
    from snnzoo.data.idx import read_idx

    good = (shared_data / "fashion_mnist" / "t10k-images-idx3-ubyte.gz").read_bytes()
    bad_magic = tmp_path / "bad-images-idx3-ubyte.gz"
    bad_magic.write_bytes(b"\xcck" + good[2:])
    truncated = tmp_path / "cut-images-idx3-ubyte.gz"
    truncated.write_bytes(good[: len(good) // 2])
    for path in (bad_magic, truncated):
        with pytest.raises(ValueError) as err:
            read_idx(path)
        msg = str(err.value)
        assert msg.startswith(f"{path}: not a valid gzip file") and len(msg.splitlines()) == 1
        with pytest.raises(ValueError, match=f"{path.name}: not a valid gzip file"):
            load_inputs([f"{path}:0"], "image", (28, 28, 1))
    # a valid gzip around a payload that is not idx is named too
    not_idx = tmp_path / "text-idx3-ubyte.gz"
    not_idx.write_bytes(gzip.compress(b"hello world, not an idx payload"))
    with pytest.raises(ValueError, match=f"{not_idx}: not an idx file"):
        read_idx(not_idx)


def _time_step_builders():
    import snnzoo.models as pkg

    found = []
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.startswith("_"):
            continue
        module = __import__(f"snnzoo.models.{mod.name}", fromlist=["_"])
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_") \
                    and "time_steps" in inspect.signature(fn).parameters:
                found.append(fn)
    return found


def test_every_builder_validates_time_steps_up_front():
    builders = _time_step_builders()
    names = {fn.__name__ for fn in builders}
    assert {"sew7bnet", "sew_wide7bnet", "sew_resnet18", "resnet19", "tebn_cnn7",
            "bpsta_convnet", "fsnn_fc", "fsnn_nmnist"} <= names
    required = {"stages": [8], "num_classes": 10}
    for fn in builders:
        params = inspect.signature(fn).parameters
        kwargs = {k: v for k, v in required.items()
                  if k in params and params[k].default is inspect.Parameter.empty}
        for bad in (0, -3, 2.5, 4.0, "4", True, None):
            with pytest.raises(ValueError, match=r"time_steps must be an integer >= 1 .*got "
                                                 + repr(bad).replace(".", r"\.")):
                fn(time_steps=bad, **kwargs)
    # through the loader, and a NumPy integer is a valid T
    with pytest.raises(ValueError, match=r"sew7bnet: time_steps must be an integer >= 1"):
        snnzoo.load("sew7bnet", weights=None, time_steps=0)
    model = snnzoo.load("sew7bnet", weights=None, time_steps=np.int64(2))
    assert tuple(model.inputs[0].shape) == (None, 2, 128, 128, 2)


def test_weights_none_string_means_random_init_like_the_cli(tmp_path, monkeypatch):
    shipped = snnzoo.load("fsnn_fmnist_ide")
    kernel = _np(shipped.get_layer("network_x_fc").kernel)
    for value in (None, "none", "None"):
        model = snnzoo.load("fsnn_fmnist_ide", weights=value)
        # random init: U(-1, 1) rows normalised per output filter, not the trained kernel
        assert not np.allclose(_np(model.get_layer("network_x_fc").kernel), kernel)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="weights file not found: none"):
        snnzoo.load("fsnn_fmnist_ide", weights="./none")
    with pytest.raises(FileNotFoundError, match="weights file not found: none"):
        snnzoo.load("fsnn_fmnist_ide", weights=Path("none"))


def test_another_architectures_weights_name_both_layer_structures(tmp_path):
    with pytest.raises(ValueError) as err:
        snnzoo.load("fsnn_mnist_ide", weights=SHIPPED_FMNIST)
    msg = str(err.value)
    assert len(msg.splitlines()) == 1
    # F400 (fully connected, 400 neurons) against 64C5s (64 channels): the first BN layer of
    # each has 400 resp. 64 parameters per vector
    assert f"weights file {SHIPPED_FMNIST} does not fit model 'fsnn_mnist_ide' (fsnn_conv)" in msg
    assert "the file holds the architecture of 'fsnn_fmnist_ide'" in msg
    assert ("first difference: batch_normalization/vars/0 has shape (400,) in the file, (64,) "
            "in the model") in msg
    # the same through a whole saved model (.keras)
    whole = tmp_path / "fmnist.keras"
    snnzoo.load("fsnn_fmnist_ide").save(whole)
    with pytest.raises(ValueError) as err:
        snnzoo.load("fsnn_mnist_ide", weights=whole)
    assert str(err.value).replace(str(whole), str(SHIPPED_FMNIST)) == msg
    # a file of no zoo entry: both structures by their size
    inputs = keras.Input((28, 28, 1))
    other = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    path = tmp_path / "tiny.weights.h5"
    other.save_weights(path)
    with pytest.raises(ValueError) as err:
        snnzoo.load("fsnn_fmnist_ide", weights=path)
    msg = str(err.value)
    assert len(msg.splitlines()) == 1 and "holds another architecture" in msg
    assert f"(1 layers, 2 arrays, {28 * 28 * 3 + 3:,} values)" in msg
    # F400: 784*400+400 (fc) + 4*400 (BN) + 400*400 + 1 + 400 + 400 (equilibrium) + 400*10+10
    values = 784 * 400 + 400 + 4 * 400 + 400 * 400 + 1 + 400 + 400 + 400 * 10 + 10
    assert f"the model has 4 layers, 12 arrays, {values:,} values" in msg


def _spec(tmp_path, data):
    import hashlib

    origin = tmp_path / "origin"
    origin.mkdir(exist_ok=True)
    (origin / "ckpt.pth").write_bytes(data)
    return {"origin": (origin / "ckpt.pth").as_uri(), "filename": "ckpt.pth",
            "sha256": hashlib.sha256(data).hexdigest(), "converter": "x:y"}


def test_hand_placed_checkpoint_failing_its_hash_is_kept_as_rejected(tmp_path):
    spec = _spec(tmp_path, b"the published checkpoint")
    placed = W.checkpoint_cache_path("fake", spec)
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"someone else's checkpoint")
    with pytest.raises(W.WeightsIntegrityError) as err:
        W.fetch_checkpoint("fake", spec, progress=False)
    rejected = placed.with_name("ckpt.pth.rejected")
    assert not placed.exists() and rejected.read_bytes() == b"someone else's checkpoint"
    msg = str(err.value)
    assert f"renamed to {rejected}" in msg and spec["sha256"] in msg and spec["origin"] in msg
    # the next call downloads the published file; the rejected copy stays for inspection
    assert W.fetch_checkpoint("fake", spec, progress=False).read_bytes() == \
        b"the published checkpoint"
    assert rejected.is_file()


def test_failed_download_and_failed_save_leave_no_folder(tmp_path):
    assert not home_dir().exists()
    spec = {"origin": (tmp_path / "nowhere" / "x.pth").as_uri(), "filename": "x.pth",
            "sha256": "00" * 32}
    with pytest.raises(W.WeightsUnavailableError):
        W.fetch_checkpoint("offline_net", spec, progress=False)
    assert not home_dir().exists()  # no checkpoints/, no checkpoints/offline_net/

    class Interrupted:
        def save_weights(self, path):
            Path(path).write_bytes(b"half")
            raise KeyboardInterrupt

    target = tmp_path / "out" / "deep" / "m.weights.h5"
    with pytest.raises(KeyboardInterrupt):
        W.save_weights_atomic(Interrupted(), target)
    assert not (tmp_path / "out").exists()
