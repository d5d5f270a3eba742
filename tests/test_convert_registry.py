"""The converter registry (snnzoo.convert.registry): every converter is a module with
``convert(state_dict, model)``, registered by name; manifests name theirs in
``architecture.converter``; the former entry points still work with a DeprecationWarning."""
import importlib
import inspect
from pathlib import Path

import numpy as np
import pytest

from snnzoo.convert.registry import CONVERTERS, converter_spec
from snnzoo.convert.torch_checkpoint import ConversionError, StateDict
from snnzoo.zoo import registry
from snnzoo.zoo.loader import torch_converter

REPO = Path(__file__).resolve().parents[1]


def test_every_registered_converter_is_a_module_convert_function():
    assert sorted(CONVERTERS) == ["ide_fsnn", "sew7bnet", "sew_resnet", "tet_resnet19"]
    for name, spec in CONVERTERS.items():
        assert spec == f"snnzoo.convert.{name}:convert"
        fn = importlib.import_module(f"snnzoo.convert.{name}").convert
        assert list(inspect.signature(fn).parameters) == ["state_dict", "model"]
        assert converter_spec(name) == spec
    assert converter_spec("my_pkg.conv:convert") == "my_pkg.conv:convert"  # converters outside snnzoo
    with pytest.raises(ValueError, match="unknown converter 'nope'.*sew7bnet"):
        converter_spec("nope")


def test_manifests_name_registered_converters_for_their_builders():
    expected = {"snnzoo.models.fsnn": "ide_fsnn", "snnzoo.models.resnet19": "tet_resnet19",
                "snnzoo.models.sew7bnet": "sew7bnet", "snnzoo.models.sew_resnet": "sew_resnet"}
    entries = registry.entries()
    assert entries
    for name, entry in entries.items():
        module = entry["architecture"]["builder"].partition(":")[0]
        assert entry["architecture"]["converter"] == expected.get(module), name
        assert "converter" not in (entry["weights"] or {}), name  # one field, in one place
        if entry["architecture"]["converter"]:
            fn = torch_converter(entry)
            assert fn is importlib.import_module(f"snnzoo.convert.{expected[module]}").convert
        else:
            with pytest.raises(ValueError, match="no PyTorch checkpoint converter"):
                torch_converter(entry)


def _sew7bnet_state_dict(rng):
    """SEW ``smodels.py`` layout: a conv-BN-PLIF unit 2->32 (1x1), 7 SEW blocks 32->32, out."""
    sd = {}
    units = [("conv.0", 2, 1)] + [(f"conv.{i}.conv.{j}", 32, 3) for i in range(2, 16, 2) for j in (0, 1)]
    for prefix, c_in, k in units:
        sd.update({f"{prefix}.0.0.weight": rng.normal(size=(32, c_in, k, k)).astype("float32"),
                   f"{prefix}.0.1.weight": rng.random(32).astype("float32"),
                   f"{prefix}.0.1.bias": rng.normal(size=32).astype("float32"),
                   f"{prefix}.0.1.running_mean": rng.normal(size=32).astype("float32"),
                   f"{prefix}.0.1.running_var": rng.random(32).astype("float32") + 0.5,
                   f"{prefix}.1.w": np.array(rng.normal(), "float32")})
    sd.update({"out.weight": rng.normal(size=(11, 32)).astype("float32"),
               "out.bias": rng.normal(size=11).astype("float32")})
    return sd


def test_deprecated_sew_entry_points_warn_and_convert_identically():
    import keras

    from snnzoo.convert import sew, sew7bnet, sew_resnet
    from snnzoo.models.sew7bnet import sew7bnet as build

    sd = _sew7bnet_state_dict(np.random.default_rng(0))
    new, old = build(time_steps=1), build(time_steps=1)
    sew7bnet.convert(sd, new)
    with pytest.warns(DeprecationWarning, match="convert_7bnet is deprecated; use snnzoo.convert.sew7bnet.convert"):
        sew.convert_7bnet(sd, old)
    for a, b in zip(new.weights, old.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert float(keras.ops.convert_to_numpy(new.get_layer("sn0").w)) == float(sd["conv.0.1.w"])
    with pytest.warns(DeprecationWarning, match="convert_sew_resnet is deprecated; use snnzoo.convert.sew_resnet"):
        with pytest.raises(ConversionError, match="model 'sew7bnet' has no layer 'conv1'"):  # the new one ran
            sew.convert_sew_resnet({"conv1.weight": sd["conv.0.0.0.weight"]}, new)
    with pytest.raises(ConversionError, match="model 'sew7bnet' has no layer 'conv1'"):
        sew_resnet.convert({"conv1.weight": sd["conv.0.0.0.weight"]}, new)


def test_state_dict_reads_wrapped_checkpoints_and_aliases():
    torch = pytest.importorskip("torch")
    w = np.arange(6, dtype="float32").reshape(2, 3)
    sd = StateDict({"model": {"module.a.module.weight": torch.from_numpy(w), "a_s.weight": torch.from_numpy(w)},
                    "epoch": 3})
    assert sorted(sd.keys()) == ["a.weight", "a_s.weight"]
    np.testing.assert_array_equal(sd.take_alias(["a.weight", "a_s.module.weight"]), w)
    assert sd.unused() == [] and sd.take_alias(["b.weight"]) is None
    bad = StateDict({"a.weight": w, "a_s.weight": w + 1})
    with pytest.raises(ConversionError, match="different tensors for the aliases 'a.weight' and 'a_s.weight'"):
        bad.take_alias(["a.weight", "a_s.weight"])
    with pytest.raises(ConversionError, match="expected a state dict"):
        StateDict([w])
    assert issubclass(ConversionError, ValueError)
