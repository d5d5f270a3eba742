"""The registry (zoo_weights/*.json), model_info and snnzoo.load without network access."""
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

import keras
import snnzoo
from snnzoo.zoo import ModelUnavailableError, registry

REPO = Path(__file__).resolve().parents[1]
CKPT = "checkpoints/csbp_sew7bnet_dvsgesture/checkpoint_max_test_acc1.pth"
MINE = ["sew_resnet18", "sew_resnet34", "sew_resnet50", "sew_resnet18_csbp", "sew_resnet34_csbp", "sew7bnet",
        "sew7bnet_csbp_dvsgesture", "sew_wide7bnet", "sew_wide7bnet_csbp_cifar10dvs_t4",
        "sew_wide7bnet_csbp_cifar10dvs_t8", "sew_resnet18_cifar"]


def _manifest(name, builder="snnzoo.models.sew7bnet:sew7bnet", weights=None, **extra):
    entry = {"name": name, "description": "test entry", "architecture": {"builder": builder, "config": {}},
             "input": {"kind": "event_frames", "shape": [128, 128, 2], "preprocessing": "none"},
             "time_steps": 2, "num_classes": 11, "method": None, "dataset": None,
             "accuracy": {"claimed": None, "measured": None, "measured_by": None},
             "source": {}, "license": "unstated", "weights": weights}
    entry.update(extra)
    return entry


@pytest.fixture
def zoo_dir(tmp_path, monkeypatch):
    d = tmp_path / "zoo"
    d.mkdir()
    monkeypatch.setenv("SNNZOO_ZOO_DIR", str(d))
    return d


def _write(d, entry):
    (d / f"{entry['name']}.json").write_text(json.dumps(entry))


def test_every_manifest_in_the_repo_is_valid_and_listed():
    files = sorted((REPO / "zoo_weights").glob("*.json"))
    names = snnzoo.list_models()
    assert names == sorted(names)
    assert set(MINE) <= set(names)
    assert {f.stem for f in files} <= set(names)
    for f in files:  # parses against the schema (name = file name, builder / converter strings, hashes)
        entry = registry._read(f)
        assert entry["name"] == f.stem


def test_manifest_facts_match_the_published_origins():
    info = snnzoo.model_info("sew7bnet_csbp_dvsgesture")
    assert info["input_shape"] == [16, 128, 128, 2] and info["time_steps"] == 16 and info["num_classes"] == 11
    assert info["method"] == "CSBP" and info["accuracy"] == {"claimed": 98.26, "measured": None, "measured_by": None}
    w = info["weights"]
    assert w["sha256"] == "e0e3c6b80523ee20ceead9b67894f3bdb15c9d583d5bdf2c41153d7459e0389c"
    assert w["git_blob_sha1"] == "5f78639de95d85561d51e6f962e1cf5c6f6e0f6f" and w["size"] == 1108768
    assert w["origin"].endswith("Wangzj000/CSBP/main/DVS-Gesture/model/checkpoint_max_test_acc1.pth")
    assert w["checkpoint_cache"].endswith("checkpoints/sew7bnet_csbp_dvsgesture/checkpoint_max_test_acc1.pth")
    assert Path(w["converted_cache"]).name == "sew7bnet_csbp_dvsgesture-e0e3c6b80523.weights.h5"
    r18 = snnzoo.model_info("sew_resnet18_csbp")
    assert r18["accuracy"]["claimed"] == 63.40 and r18["time_steps"] == 4 and r18["input_shape"] == [224, 224, 3]
    assert r18["weights"]["size"] == 93_620_199
    assert snnzoo.model_info("sew_resnet34_csbp")["accuracy"]["claimed"] == 67.62
    t4, t8 = (snnzoo.model_info(f"sew_wide7bnet_csbp_cifar10dvs_t{t}") for t in (4, 8))
    assert (t4["time_steps"], t4["accuracy"]["claimed"], t4["weights"]["git_blob_sha1"]) == (
        4, 73.5, "24d41d28d2ef81c88d4a78b5496e8272184c57a6")
    assert (t8["time_steps"], t8["accuracy"]["claimed"]) == (8, 74.9)
    untrained = snnzoo.model_info("sew_resnet50")
    assert untrained["weights"] is None and untrained["pretrained"] is False and untrained["available"]
    for key in ("architecture", "dataset", "input_shape", "time_steps", "method", "accuracy", "source", "license"):
        assert key in untrained


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="sew_resnet18") as err:
        snnzoo.load("sew_resnt18")
    assert "did you mean" in str(err.value)
    with pytest.raises(ValueError, match="unknown model"):
        snnzoo.model_info("zzzzzz")


def test_missing_builder_module_is_listed_but_not_loadable(zoo_dir):
    _write(zoo_dir, _manifest("future_net", builder="snnzoo.models.not_written_yet:build"))
    assert "future_net" in snnzoo.list_models()
    assert snnzoo.model_info("future_net")["available"] is False
    with pytest.raises(ModelUnavailableError, match="snnzoo.models.not_written_yet:build"):
        snnzoo.load("future_net")


def test_invalid_manifest_is_reported_with_its_path(zoo_dir):
    bad = _manifest("broken")
    bad["weights"] = {"origin": "file:///x.pth", "filename": "x.pth"}  # no hash, no converter
    _write(zoo_dir, bad)
    with pytest.raises(ValueError, match=r"broken\.json.*sha256"):
        snnzoo.list_models()
    (zoo_dir / "broken.json").write_text(json.dumps(_manifest("other_name")))
    with pytest.raises(ValueError, match="differs from the file name"):
        snnzoo.list_models()


def test_load_random_init_and_overrides():
    model = snnzoo.load("sew7bnet", weights=None, time_steps=3)
    assert model.input_shape == (None, 3, 128, 128, 2) and model.output_shape == (None, 11)
    with pytest.warns(UserWarning, match="untrained"):
        snnzoo.load("sew7bnet", time_steps=2)
    with pytest.raises(ValueError, match="unknown option.*bogus"):
        snnzoo.load("sew7bnet", weights=None, bogus=1)


def test_load_from_keras_files_and_original_checkpoint(tmp_path, shared_data):
    ckpt = shared_data / CKPT
    # a .pth for an untrained entry: its manifest names the converter (architecture.converter)
    model = snnzoo.load("sew7bnet", weights=ckpt, time_steps=2)
    assert float(keras.ops.convert_to_numpy(model.get_layer("sn0").w)) == pytest.approx(-0.02047973871231079)
    h5 = tmp_path / "m.weights.h5"
    model.save_weights(str(h5))
    keras_file = tmp_path / "m.keras"
    model.save(str(keras_file))
    for path in (str(h5), keras_file):
        other = snnzoo.load("sew7bnet", weights=path, time_steps=2)
        for a, b in zip(model.weights, other.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        snnzoo.load("sew7bnet", weights=tmp_path / "nope.pth")
    (tmp_path / "w.npz").write_bytes(b"x")
    with pytest.raises(ValueError, match="unsupported weights file"):
        snnzoo.load("sew7bnet", weights=tmp_path / "w.npz")


def test_shipped_weights_file_is_hash_checked(zoo_dir):
    model = snnzoo.load("sew7bnet", weights=None, time_steps=2)
    model.save_weights(str(zoo_dir / "tiny.weights.h5"))
    import hashlib

    digest = hashlib.sha256((zoo_dir / "tiny.weights.h5").read_bytes()).hexdigest()
    _write(zoo_dir, _manifest("tiny", weights={"file": "tiny.weights.h5", "sha256": digest}))
    loaded = snnzoo.load("tiny")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded.get_layer("fc").kernel),
                                  keras.ops.convert_to_numpy(model.get_layer("fc").kernel))
    _write(zoo_dir, _manifest("tiny", weights={"file": "tiny.weights.h5", "sha256": "0" * 64}))
    with pytest.raises(snnzoo.zoo.WeightsIntegrityError, match="sha256"):
        snnzoo.load("tiny")
    assert (zoo_dir / "tiny.weights.h5").is_file()  # a shipped file is refused, never deleted


def _settle(d):
    """Date the manifests in ``d`` back, as if written a minute ago."""
    for f in d.glob("*.json"):
        os.utime(f, ns=(f.stat().st_atime_ns, time.time_ns() - 60 * 10**9))


def test_second_lookup_does_not_reread_the_manifests(zoo_dir, monkeypatch):
    _write(zoo_dir, _manifest("cached_net"))
    _settle(zoo_dir)
    registry.clear_cache()
    reads = []
    real_read = registry._read
    monkeypatch.setattr(registry, "_read", lambda path: reads.append(path.name) or real_read(path))
    first = registry.get("cached_net")
    n = len(reads)
    assert n == len(registry.names()) and "cached_net.json" in reads  # the first lookup parses all
    second = registry.get("cached_net")
    snnzoo.list_models(), registry.entries(), snnzoo.model_info("sew7bnet")
    assert len(reads) == n  # ... later ones none
    assert first == second and first is not second  # copies: a caller may modify its own
    first["time_steps"] = 99
    assert registry.get("cached_net")["time_steps"] == 2
    # an edited, added or removed manifest is seen at once
    _write(zoo_dir, _manifest("cached_net", time_steps=12))
    _settle(zoo_dir)
    assert registry.get("cached_net")["time_steps"] == 12 and len(reads) == 2 * n
    registry.get("cached_net")
    assert len(reads) == 2 * n
    # a manifest edited a moment ago is re-read on every lookup until it has settled: a second
    # edit in the same time-stamp tick, of the same size, is seen too
    _write(zoo_dir, _manifest("cached_net", time_steps=13))
    assert registry.get("cached_net")["time_steps"] == 13
    _write(zoo_dir, _manifest("cached_net", time_steps=14))
    assert registry.get("cached_net")["time_steps"] == 14
    _write(zoo_dir, _manifest("cached_net_2"))
    assert "cached_net_2" in snnzoo.list_models()
    (zoo_dir / "cached_net_2.json").unlink()
    assert "cached_net_2" not in snnzoo.list_models()
    monkeypatch.delenv("SNNZOO_ZOO_DIR")  # another registry folder set
    assert "cached_net" not in snnzoo.list_models()
    n = len(reads)
    registry.clear_cache()
    registry.names()
    assert len(reads) > n


def test_converter_field_in_architecture_and_legacy_place(zoo_dir):
    from snnzoo.convert import sew7bnet
    from snnzoo.zoo.loader import torch_converter

    _write(zoo_dir, _manifest("new_style", architecture={"builder": "snnzoo.models.sew7bnet:sew7bnet",
                                                          "converter": "sew7bnet"}))
    legacy = {"origin": "file:///x.pth", "filename": "x.pth", "sha256": "0" * 64,
              "converter": "snnzoo.convert.sew7bnet:convert"}  # manifests written before the field moved
    _write(zoo_dir, _manifest("old_style", weights=legacy))
    for name in ("new_style", "old_style"):
        assert torch_converter(registry.get(name)) is sew7bnet.convert
    info = snnzoo.model_info("old_style")
    assert info["weights"]["converter"] == info["architecture"]["converter"] == "snnzoo.convert.sew7bnet:convert"
    assert torch_converter(registry.get("sew7bnet")) is sew7bnet.convert
    _write(zoo_dir, _manifest("bad_converter", architecture={"builder": "snnzoo.models.sew7bnet:sew7bnet",
                                                              "converter": "sew_7bnet"}))
    with pytest.raises(ValueError, match=r"bad_converter\.json: unknown converter 'sew_7bnet'"):
        snnzoo.list_models()
    (zoo_dir / "bad_converter.json").unlink()
    no_converter = dict(legacy)
    del no_converter["converter"]
    _write(zoo_dir, _manifest("no_converter", weights=no_converter))
    with pytest.raises(ValueError, match=r"no_converter\.json: external weights need a converter"):
        snnzoo.list_models()
