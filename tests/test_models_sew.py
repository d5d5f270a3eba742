"""SEW architectures (ResNets, 7B-Nets) and their PyTorch-checkpoint converters.

The references are plain-torch re-implementations of the authors' networks written here from
docs/methods.md#facts-sew (original SEW module layout: ``SeqToANNContainer`` with a ``module`` attribute,
multi-step IF with a detached hard reset), with random weights and BN statistics.
"""
import numpy as np
import pytest

import keras

from snnzoo.convert.sew7bnet import convert as convert_7bnet
from snnzoo.convert.sew_resnet import convert as convert_sew_resnet
from snnzoo.convert.torch_checkpoint import ConversionError
from snnzoo.layers import SEWConnect
from snnzoo.models.sew7bnet import sew7bnet, sew_wide7bnet
from snnzoo.models.sew_resnet import sew_resnet, sew_resnet18, sew_resnet18_cifar, sew_resnet34, sew_resnet50

torch = pytest.importorskip("torch")
nn = torch.nn


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


# -- architecture facts ------------------------------------------------------------------------
@pytest.mark.parametrize("builder, expected", [(sew_resnet18, 11_689_512), (sew_resnet34, 21_797_672),
                                               (sew_resnet50, 25_557_032)])
def test_sew_resnet_parameter_count_equals_torchvision(builder, expected):
    # torchvision's ANN ResNet counts (spiking neurons add no parameters)
    model = builder()
    assert _trainable(model) == expected
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)
    assert model.get_layer("maxpool").output.shape[1:] == (4, 56, 56, 64)  # (224+6-7)//2+1 -> 112 -> 56


@pytest.mark.slow
@pytest.mark.parametrize("depth, expected", [(101, 44_549_160), (152, 60_192_808)])
def test_deep_sew_resnets_through_the_generic_builder(depth, expected):
    # ResNet-101/152 have no builder of their own (no manifest): sew_resnet(depth) builds them
    model = sew_resnet(depth, time_steps=1, input_shape=(64, 64, 3))
    assert _trainable(model) == expected  # torchvision's resnet101 / resnet152
    assert model.name == f"sew_resnet{depth}" and model.output_shape == (None, 1000)


def test_sew_resnet18_cifar_stem():
    model = sew_resnet18_cifar()
    assert model.output_shape == (None, 10)
    assert model.get_layer("sn1").output.shape[1:] == (4, 32, 32, 64)  # stride 1, no max-pool
    assert "maxpool" not in [l.name for l in model.layers]
    assert _trainable(model) == 11_689_512 - 64 * 3 * (49 - 9) - 513 * 990  # 3x3 stem, 10 classes


@pytest.mark.parity
def test_sew_connect_functions_by_hand():
    out = np.array([[0.0, 1.0, 0.0, 1.0]], "float32")
    identity = np.array([[0.0, 0.0, 1.0, 1.0]], "float32")
    got = {m: keras.ops.convert_to_numpy(SEWConnect(m)([out, identity])) for m in ("ADD", "AND", "IAND")}
    np.testing.assert_array_equal(got["ADD"], [[0, 1, 1, 2]])
    np.testing.assert_array_equal(got["AND"], [[0, 0, 0, 1]])
    np.testing.assert_array_equal(got["IAND"], [[0, 0, 1, 0]])  # identity * (1 - out)
    with pytest.raises(ValueError, match="connect_f"):
        SEWConnect("XOR")


def test_7bnet_layers_and_parameter_count(shared_data):
    model = sew7bnet(time_steps=4)
    names = [l.name for l in model.layers]
    for n in ("conv0", "bn0", "sn0", "block1_conv1", "block1_bn1", "block1_sn1", "block7_sn2", "pool7", "fc"):
        assert n in names
    assert model.output_shape == (None, 11)
    assert model.get_layer("pool7").output.shape[1:] == (4, 1, 1, 32)  # 128 / 2^7
    # trainable tensors of the authors' model, counted from the real checkpoint (the conv0_ copy once)
    import argparse

    with torch.serialization.safe_globals([argparse.Namespace]):
        sd = torch.load(shared_data / "checkpoints/csbp_sew7bnet_dvsgesture/checkpoint_max_test_acc1.pth",
                        map_location="cpu", weights_only=True)["model"]
    n = sum(v.numel() for k, v in sd.items()
            if not k.startswith("conv0_") and "running" not in k and "num_batches" not in k)
    assert _trainable(model) == n == 131_386 - 2 * 32 * 15  # Keras also counts BN moving stats
    wide = sew_wide7bnet(time_steps=2)
    assert [l.name for l in wide.layers if l.name.startswith("conv")] == ["conv0", "conv1"]
    assert wide.get_layer("conv1").output.shape[1:] == (2, 8, 8, 128)


# -- independent torch reference of the original SEW ImageNet code -----------------------------
class TorchIF(nn.Module):
    def __init__(self, record):
        super().__init__()
        self.record = record

    def forward(self, x_seq):
        v, out = torch.zeros_like(x_seq[0]), []
        for x in x_seq:
            h = v + x
            s = (h >= 1.0).to(h)
            v = h * (1.0 - s.detach())
            out.append(s)
        out = torch.stack(out)
        self.record.append(out.mean().item())
        return out


class SeqToANN(nn.Module):
    def __init__(self, *mods):
        super().__init__()
        self.module = nn.Sequential(*mods)

    def forward(self, x):
        y = self.module(x.flatten(0, 1))
        return y.reshape(x.shape[0], x.shape[1], *y.shape[1:])


class TorchBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride, connect_f, record):
        super().__init__()
        self.conv1 = SeqToANN(nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes))
        self.sn1 = TorchIF(record)
        self.conv2 = SeqToANN(nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes))
        self.sn2 = TorchIF(record)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                SeqToANN(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)),
                TorchIF(record))
        self.connect_f = connect_f

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.sn2(self.conv2(self.sn1(self.conv1(x))))
        if self.connect_f == "ADD":
            return out + identity
        if self.connect_f == "AND":
            return out * identity
        return identity * (1.0 - out)


class TorchSEWResNet18(nn.Module):
    def __init__(self, T, connect_f, num_classes=1000):
        super().__init__()
        self.T, self.record = T, []
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.sn1 = TorchIF(self.record)
        self.maxpool = SeqToANN(nn.MaxPool2d(3, 2, 1))
        inplanes = 64
        for i, planes in enumerate((64, 128, 256, 512), start=1):
            blocks = [TorchBasicBlock(inplanes, planes, 1 if i == 1 else 2, connect_f, self.record),
                      TorchBasicBlock(planes, planes, 1, connect_f, self.record)]
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
            inplanes = planes
        self.fc = nn.Linear(512, num_classes)

    def forward(self, img):  # img: [N, 3, H, W] in [0, 1]
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        x = self.bn1(self.conv1((img - mean) / std))
        x = self.sn1(x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1))
        x = self.maxpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = x.mean(dim=(3, 4))  # adaptive avg pool -> [T, N, 512]
        return self.fc(x.mean(0))


def _randomise(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=g)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.3 + 0.2)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.05)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
    return module.eval()


def _activation_based_names(sd):
    """SpikingJelly activation_based naming: conv1.weight / bn1.* / downsample.{0,1}.*"""
    out = {}
    for k, v in sd.items():
        parts = k.split(".")
        if parts[0].startswith("layer") and "module" in parts:
            i = parts.index("module")
            slot, which = parts[i - 1], parts[i + 1]
            if slot.startswith("conv"):
                head = slot if which == "0" else "bn" + slot[4:]
            else:  # downsample.0.module.{0,1}
                head = f"{parts[i - 2]}.{which}"
                parts = parts[:i - 2] + [head] + parts[i + 2:]
                out[".".join(parts)] = v
                continue
            parts = parts[:i - 1] + [head] + parts[i + 2:]
        out[".".join(parts)] = v
    return out


@pytest.mark.parametrize("layout, connect_f", [pytest.param("original", "ADD", marks=pytest.mark.parity),
                                               ("activation_based", "IAND")])
def test_sew_resnet18_converter_matches_torch_reference(layout, connect_f):
    T = 2
    ref = _randomise(TorchSEWResNet18(T, connect_f), seed=7)
    sd = {k: v.numpy() for k, v in ref.state_dict().items()}
    assert "layer2.0.conv1.module.0.weight" in sd and "layer2.0.downsample.0.module.1.running_var" in sd
    if layout == "activation_based":
        sd = _activation_based_names(sd)
        assert {"layer2.0.conv1.weight", "layer2.0.bn1.weight", "layer2.0.downsample.0.weight",
                "layer2.0.downsample.1.running_var"} <= set(sd)
        sd = {"module." + k: v for k, v in sd.items()}  # DataParallel prefix (removed by the reader)
        from snnzoo.convert.torch_checkpoint import extract_state_dict

        sd = extract_state_dict({"model": {k: torch.from_numpy(v) for k, v in sd.items()}})

    model = sew_resnet18(time_steps=T, input_shape=(64, 64, 3), connect_f=connect_f)
    convert_sew_resnet(sd, model)
    img = np.random.default_rng(3).random((1, 64, 64, 3), dtype=np.float32)
    ours = model.predict(img, verbose=0)
    ref.record.clear()
    with torch.no_grad():
        theirs = ref(torch.from_numpy(img).permute(0, 3, 1, 2)).numpy()
    rates = ref.record
    assert len(rates) == 1 + 16 + 3 and min(rates[-4:]) > 0.0 and max(rates) < 0.9  # deep layers fire
    assert np.abs(theirs).max() > 1e-2
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)


def test_sew_resnet_converter_rejects_foreign_keys():
    ref = _randomise(TorchSEWResNet18(1, "ADD"), seed=1)
    sd = {k: v.numpy() for k, v in ref.state_dict().items()}
    model = sew_resnet18(time_steps=1, input_shape=(32, 32, 3))
    with pytest.raises(ConversionError, match="unexpected keys.*extra_head.weight"):
        convert_sew_resnet({**sd, "extra_head.weight": np.zeros((3, 3), "float32")}, model)
    del sd["layer3.1.conv2.module.1.running_mean"]
    with pytest.raises(ConversionError, match="layer3.1.conv2.1.running_mean"):
        convert_sew_resnet(sd, model)
    full = {k: v.numpy() for k, v in ref.state_dict().items()}
    with pytest.raises(ConversionError, match="missing keys.*layer1.2.conv1"):  # ResNet-18 weights, 34 model
        convert_sew_resnet(full, sew_resnet34(time_steps=1, input_shape=(32, 32, 3)))
    with pytest.raises(ConversionError, match="fc.*different architecture"):  # 1000 vs 10 classes
        convert_sew_resnet(full, sew_resnet18(time_steps=1, input_shape=(32, 32, 3), num_classes=10))


# -- 7B-Net layouts ----------------------------------------------------------------------------
def _unit_sd(rng, prefix, c_in, c_out, k, old_sj=False):
    mid = ".0.module." if old_sj else ".0."
    return {f"{prefix}{mid}0.weight": rng.normal(size=(c_out, c_in, k, k)).astype("float32"),
            f"{prefix}{mid}1.weight": rng.random(c_out).astype("float32"),
            f"{prefix}{mid}1.bias": rng.normal(size=c_out).astype("float32"),
            f"{prefix}{mid}1.running_mean": rng.normal(size=c_out).astype("float32"),
            f"{prefix}{mid}1.running_var": rng.random(c_out).astype("float32") + 0.5,
            f"{prefix}{mid}1.num_batches_tracked": np.array(3),
            f"{prefix}.1.w": np.array(rng.normal(), "float32")}


def _sew_sd(rng, prefix, c, old_sj=False):
    return {**_unit_sd(rng, f"{prefix}.conv.0", c, c, 3, old_sj), **_unit_sd(rng, f"{prefix}.conv.1", c, c, 3, old_sj)}


def _check_unit(model, sd, layers, prefix, old_sj=False):
    conv, bn, sn = (model.get_layer(n) for n in layers)
    mid = ".0.module." if old_sj else ".0."
    w = keras.ops.convert_to_numpy(conv.layer.kernel)
    np.testing.assert_array_equal(w, sd[f"{prefix}{mid}0.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bn.moving_variance), sd[f"{prefix}{mid}1.running_var"])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bn.gamma), sd[f"{prefix}{mid}1.weight"])
    assert float(keras.ops.convert_to_numpy(sn.w)) == float(sd[f"{prefix}.1.w"])


@pytest.mark.parametrize("layout", ["sew", "csbp"])
def test_wide7bnet_both_checkpoint_layouts(layout):
    rng = np.random.default_rng(0)
    sd, units = {}, []
    if layout == "sew":  # SEW smodels.py: conv.0 c1x1, conv.{1,3,5,7} SEW(64), conv.9 c1x1, conv.{10,12,14} SEW(128)
        sd.update(_unit_sd(rng, "conv.0", 2, 64, 1, old_sj=True))
        units.append((("conv0", "bn0", "sn0"), "conv.0", True))
        seq = [("sew", 1, 64), ("sew", 3, 64), ("sew", 5, 64), ("sew", 7, 64), ("unit", 9, 128),
               ("sew", 10, 128), ("sew", 12, 128), ("sew", 14, 128)]
    else:  # CSBP style: conv0/bn0/act0 (+ the conv0_ copy), then conv.{0,2,4,6} SEW, conv.8 c1x1, ...
        stem = _unit_sd(rng, "x", 2, 64, 1)
        sd.update({"conv0.weight": stem["x.0.0.weight"], "act0.w": stem["x.1.w"]})
        sd.update({f"bn0.{n}": stem[f"x.0.1.{n}"] for n in ("weight", "bias", "running_mean", "running_var")})
        sd.update({f"conv0_.0.0.weight": stem["x.0.0.weight"]})
        sd.update({f"conv0_.0.1.{n}": stem[f"x.0.1.{n}"] for n in ("weight", "bias", "running_mean", "running_var")})
        seq = [("sew", 0, 64), ("sew", 2, 64), ("sew", 4, 64), ("sew", 6, 64), ("unit", 8, 128),
               ("sew", 9, 128), ("sew", 11, 128), ("sew", 13, 128)]
    old = layout == "sew"
    block = 0
    for kind, i, c in seq:
        if kind == "unit":
            sd.update(_unit_sd(rng, f"conv.{i}", 64, c, 1, old))
            units.append((("conv1", "bn1", "sn1"), f"conv.{i}", old))
        else:
            block += 1
            sd.update(_sew_sd(rng, f"conv.{i}", c, old))
            for k in (1, 2):
                units.append(((f"block{block}_conv{k}", f"block{block}_bn{k}", f"block{block}_sn{k}"),
                              f"conv.{i}.conv.{k - 1}", old))
    sd["out.weight"] = rng.normal(size=(10, 128)).astype("float32")
    sd["out.bias"] = rng.normal(size=10).astype("float32")

    model = sew_wide7bnet(time_steps=2)
    convert_7bnet(sd, model)
    for layers, prefix, old_sj in units:
        if layout == "csbp" and layers[0] == "conv0":
            continue
        _check_unit(model, sd, layers, prefix, old_sj)
    if layout == "csbp":
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.get_layer("conv0").layer.kernel),
                                      sd["conv0.weight"].transpose(2, 3, 1, 0))
        assert float(keras.ops.convert_to_numpy(model.get_layer("sn0").w)) == float(sd["act0.w"])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.get_layer("fc").kernel), sd["out.weight"].T)

    # a CSBP chaos copy that is NOT a copy, an unknown key and a wrong net are refused clearly
    if layout == "csbp":
        bad = dict(sd, **{"conv0_.0.1.bias": sd["bn0.bias"] + 1.0})
        with pytest.raises(ConversionError, match="conv0_.0.1.bias"):
            convert_7bnet(bad, sew_wide7bnet(time_steps=2))
    with pytest.raises(ConversionError, match="unexpected keys.*head.weight"):
        convert_7bnet(dict(sd, **{"head.weight": np.zeros(3, "float32")}), sew_wide7bnet(time_steps=2))
    with pytest.raises(ConversionError, match="module sequence"):
        convert_7bnet(sd, sew7bnet(time_steps=2))


def test_7bnet_fc_uses_pytorch_flatten_order():
    # at 256x256 input the last map is 2x2x32: PyTorch flattens (C, H, W), Keras (H, W, C)
    rng = np.random.default_rng(1)
    sd = _unit_sd(rng, "conv.0", 2, 32, 1)
    for b in range(7):
        sd.update(_sew_sd(rng, f"conv.{2 * b + 1}", 32))
    sd["out.weight"] = rng.normal(size=(11, 128)).astype("float32")
    sd["out.bias"] = np.zeros(11, "float32")
    model = sew7bnet(time_steps=1, input_shape=(256, 256, 2))
    convert_7bnet(sd, model)
    kernel = keras.ops.convert_to_numpy(model.get_layer("fc").kernel)
    for c, h, w in [(0, 0, 1), (5, 1, 0), (31, 1, 1)]:
        np.testing.assert_array_equal(kernel[(h * 2 + w) * 32 + c], sd["out.weight"][:, c * 4 + h * 2 + w])


def test_small_sew_dvs_net_trains_with_plain_fit():
    from snnzoo.models.sew7bnet import sew_dvs_net

    model = sew_dvs_net([4, 8], num_classes=3, time_steps=3, input_shape=(8, 8, 2), connect_f="ADD")
    rng = np.random.default_rng(0)
    x = rng.poisson(1.0, size=(16, 3, 8, 8, 2)).astype("float32")
    y = rng.integers(0, 3, size=16)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]
    names = [w.path for w in model.trainable_weights]
    moved = {n for n, a, b in zip(names, before, after) if not np.allclose(a, b)}
    assert any(n.endswith("sn0/w") for n in moved) and any("block1_conv1" in n for n in moved)
