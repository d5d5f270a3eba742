"""Weights resolution: hashes, download from a (fake, file://) origin, verification before use,
offline errors, nothing half-written in the cache, safe checkpoint loading."""
import argparse
import datetime
import hashlib
import json
import shutil
import subprocess
import time

import numpy as np
import pytest

import keras
import snnzoo
from snnzoo.config import home_dir
from snnzoo.convert.torch_checkpoint import CheckpointLoadError, extract_state_dict, read_state_dict
from snnzoo.data.checksums import bytes_hash, file_hash
from snnzoo.zoo import WeightsIntegrityError, WeightsUnavailableError
from snnzoo.zoo import weights as W

torch = pytest.importorskip("torch")
CKPT = "checkpoints/csbp_sew7bnet_dvsgesture/checkpoint_max_test_acc1.pth"


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_hashes_against_git_and_hashlib(tmp_path):
    data = b"spikes\x00\x01" * 1000
    f = tmp_path / "blob.bin"
    f.write_bytes(data)
    assert file_hash(f, "sha256") == hashlib.sha256(data).hexdigest()
    git = shutil.which("git")
    if git:
        want = subprocess.run([git, "hash-object", str(f)], capture_output=True, text=True, check=True).stdout.strip()
    else:  # git's documented blob id
        want = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    assert file_hash(f, "git_blob_sha1") == want
    assert bytes_hash(data, "git_blob_sha1") == want


def test_real_checkpoint_hashes_match_origins(shared_data):
    path = shared_data / CKPT
    assert file_hash(path, "sha256") == "e0e3c6b80523ee20ceead9b67894f3bdb15c9d583d5bdf2c41153d7459e0389c"
    assert file_hash(path, "git_blob_sha1") == "5f78639de95d85561d51e6f962e1cf5c6f6e0f6f"


def test_deprecated_hash_aliases_warn_and_agree(tmp_path):
    f = tmp_path / "blob.bin"
    f.write_bytes(b"spikes" * 100)
    spec = {"sha256": file_hash(f), "size": 600}
    for old, args, want in ((W.sha256_file, (f,), file_hash(f)),
                            (W.git_blob_sha1_file, (f,), file_hash(f, "git_blob_sha1")),
                            (W.file_hash, (f, "git_blob_sha1"), file_hash(f, "git_blob_sha1")),
                            (W.verify_file, (f, spec), f)):
        with pytest.warns(DeprecationWarning, match=old.__name__):
            assert old(*args) == want
    with pytest.warns(DeprecationWarning), pytest.raises(WeightsIntegrityError, match="size 600 bytes, expected 3"):
        W.verify_file(f, dict(spec, size=3), delete=False)
    assert f.is_file()


def _spec(tmp_path, data, kind="sha256", size=True):
    origin = tmp_path / "origin" / "ckpt.pth"
    origin.parent.mkdir(parents=True, exist_ok=True)
    origin.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest() if kind == "sha256" else hashlib.sha1(
        b"blob %d\0" % len(data) + data).hexdigest()
    spec = {"origin": origin.as_uri(), "filename": "ckpt.pth", kind: digest}
    if size:
        spec["size"] = len(data)
    return spec


@pytest.mark.parametrize("kind", ["sha256", "git_blob_sha1"])
def test_download_from_file_origin_is_verified_and_cached(tmp_path, kind):
    data = bytes(range(256)) * 300
    spec = _spec(tmp_path, data, kind, size=False)
    path = W.fetch_checkpoint("fake", spec, progress=False)
    assert path == home_dir() / "checkpoints" / "fake" / "ckpt.pth" and path.read_bytes() == data
    assert _files(home_dir()) == ["checkpoints/fake/ckpt.pth"]  # no temporary file left
    (tmp_path / "origin" / "ckpt.pth").unlink()  # the cached copy is used from now on
    assert W.fetch_checkpoint("fake", spec, progress=False) == path


def test_mismatching_download_is_refused_and_nothing_stays(tmp_path):
    spec = _spec(tmp_path, b"the real file")
    (tmp_path / "origin" / "ckpt.pth").write_bytes(b"a tampered file")  # other size
    with pytest.raises(WeightsIntegrityError, match="size 15 bytes, expected 13"):
        W.fetch_checkpoint("fake", spec, progress=False)
    (tmp_path / "origin" / "ckpt.pth").write_bytes(b"the fake file")  # same size, other bytes
    with pytest.raises(WeightsIntegrityError, match="sha256 .* expected " + spec["sha256"]):
        W.fetch_checkpoint("fake", spec, progress=False)
    assert _files(home_dir()) == []


def test_corrupt_cached_checkpoint_is_renamed_rejected(tmp_path):
    spec = _spec(tmp_path, b"good bytes")
    cached = W.checkpoint_cache_path("fake", spec)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"bad bytes!")
    with pytest.raises(WeightsIntegrityError, match="renamed to .*ckpt.pth.rejected"):
        W.fetch_checkpoint("fake", spec, progress=False)
    assert not cached.exists()
    assert cached.with_name("ckpt.pth.rejected").read_bytes() == b"bad bytes!"


def test_offline_error_names_url_hash_and_cache_path():
    spec = {"origin": "http://127.0.0.1:9/x.pth", "filename": "x.pth", "git_blob_sha1": "ab" * 20}
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as err:
        W.fetch_checkpoint("offline_net", spec, progress=False)
    assert time.monotonic() - start < 20
    assert isinstance(err.value, ConnectionError)
    msg = str(err.value)
    for part in ("http://127.0.0.1:9/x.pth", "ab" * 20, str(home_dir() / "checkpoints" / "offline_net" / "x.pth")):
        assert part in msg
    assert _files(home_dir()) == [] and not (home_dir() / "checkpoints" / "offline_net").exists()


def test_atomic_save_leaves_nothing_on_failure(tmp_path):
    class Exploding:
        def save_weights(self, path):
            with open(path, "wb") as f:
                f.write(b"half")
            raise OSError("disk full")

    target = tmp_path / "cache" / "x.weights.h5"
    with pytest.raises(OSError, match="disk full"):
        W.save_weights_atomic(Exploding(), target)
    assert _files(tmp_path / "cache") == []


# -- end to end through snnzoo.load with a fake registry entry and a file:// origin --------------
def _register(tmp_path, monkeypatch, spec):
    zoo = tmp_path / "zoo"
    zoo.mkdir(exist_ok=True)
    entry = {"name": "fake7b", "description": "", "architecture": {"builder": "snnzoo.models.sew7bnet:sew7bnet",
                                                                     "converter": "sew7bnet",
                                                                     "config": {"num_classes": 11}},
             "input": {"kind": "event_frames", "shape": [128, 128, 2]}, "time_steps": 2, "num_classes": 11,
             "method": "CSBP", "dataset": None, "accuracy": {"claimed": None, "measured": None},
             "source": {}, "license": "unstated", "weights": spec}
    (zoo / "fake7b.json").write_text(json.dumps(entry))
    monkeypatch.setenv("SNNZOO_ZOO_DIR", str(zoo))


def test_load_downloads_converts_and_caches(tmp_path, monkeypatch, shared_data):
    spec = _spec(tmp_path, (shared_data / CKPT).read_bytes())
    _register(tmp_path, monkeypatch, spec)
    model = snnzoo.load("fake7b", progress=False)
    w0 = float(keras.ops.convert_to_numpy(model.get_layer("sn0").w))
    assert w0 == pytest.approx(-0.02047973871231079)
    converted = f"weights/fake7b-{spec['sha256'][:12]}.weights.h5"
    assert _files(home_dir()) == ["checkpoints/fake7b/ckpt.pth", converted]

    # offline + no raw checkpoint: the converted cache alone is enough
    (home_dir() / "checkpoints/fake7b/ckpt.pth").unlink()
    spec["origin"] = "http://127.0.0.1:9/ckpt.pth"
    _register(tmp_path, monkeypatch, spec)
    again = snnzoo.load("fake7b", progress=False)
    assert float(keras.ops.convert_to_numpy(again.get_layer("sn0").w)) == w0

    # a corrupt converted cache is rebuilt from the raw checkpoint; without it, the offline error
    (home_dir() / converted).write_bytes(b"not an h5 file")
    with pytest.warns(UserWarning, match="converting the checkpoint again"):
        with pytest.raises(WeightsUnavailableError, match="127.0.0.1:9"):
            snnzoo.load("fake7b", progress=False)
    shutil.copyfile(shared_data / CKPT, home_dir() / "checkpoints/fake7b/ckpt.pth")  # placed by hand
    with pytest.warns(UserWarning, match="converting the checkpoint again"):
        fixed = snnzoo.load("fake7b", progress=False)
    assert float(keras.ops.convert_to_numpy(fixed.get_layer("sn0").w)) == w0
    assert snnzoo.load("fake7b", progress=False) is not None  # the rebuilt cache reads cleanly
    assert _files(home_dir()) == ["checkpoints/fake7b/ckpt.pth", converted]
    with pytest.raises(ValueError, match="do not fit the model built with {'num_classes': 5}"):
        snnzoo.load("fake7b", progress=False, num_classes=5)


# -- safe checkpoint reading -------------------------------------------------------------------
def test_wrapped_state_dicts_and_prefixes(tmp_path):
    t = {"conv.weight": torch.ones(2, 1, 1, 1), "bn.running_var": torch.full((2,), 2.0)}
    for i, obj in enumerate([t, {"state_dict": t}, {"model": {"module." + k: v for k, v in t.items()},
                                                    "args": argparse.Namespace(T=4), "epoch": 3}]):
        path = tmp_path / f"c{i}.pth"
        torch.save(obj, path)
        sd = read_state_dict(path)
        assert sorted(sd) == ["bn.running_var", "conv.weight"]
        assert isinstance(sd["conv.weight"], np.ndarray) and sd["bn.running_var"].tolist() == [2.0, 2.0]
    with pytest.raises(CheckpointLoadError, match="no state dict"):
        extract_state_dict({"epoch": 3, "lr": 0.1})


def test_unsafe_pickle_needs_explicit_trust(tmp_path):
    path = tmp_path / "unsafe.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "date": datetime.date(2024, 1, 1)}, path)
    with pytest.raises(CheckpointLoadError, match="trust_checkpoint=True"):
        read_state_dict(path)
    assert list(read_state_dict(path, trust_checkpoint=True)) == ["w"]
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(CheckpointLoadError, match="cannot load"):
        read_state_dict(garbage)
