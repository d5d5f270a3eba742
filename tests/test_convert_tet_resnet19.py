"""Converter for TET ResNet-19 state dicts (snnzoo.convert.tet_resnet19) against an independent
PyTorch re-implementation with the authors' module layout (tests/torch_ref_baselines.py): the
converted Keras model must reproduce the PyTorch logits."""
import keras
import numpy as np
import pytest
import torch

from snnzoo.convert.tet_resnet19 import convert, unwrap_state_dict
from snnzoo.convert.torch_checkpoint import ConversionError
from snnzoo.models.resnet19 import NORMALIZATIONS, resnet19
from tests.torch_ref_baselines import TorchTETResNet19

H = 8
T = 2


@pytest.fixture(scope="module")
def reference():
    """A TET ResNet-19 with non-trivial BN statistics and affine parameters, in eval mode."""
    torch.manual_seed(0)
    net = TorchTETResNet19(num_classes=10, T=T, stem=64)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(torch.randn(4, 3, H, H))
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.6, 1.6)
                m.bias.uniform_(-0.1, 0.4)
        net.fc1.weight.mul_(6.0)  # make the head fire so the logits depend on the input
    net.eval()
    images = np.random.default_rng(1).uniform(0, 1, (3, H, H, 3)).astype("float32")
    mean, std = (np.array(v, "float32") for v in NORMALIZATIONS["cifar100"])
    x = torch.tensor(((images - mean) / std).transpose(0, 3, 1, 2))
    with torch.no_grad():
        logits = net(x).numpy()  # [N, T, C]
    sd = {k: v for k, v in net.state_dict().items()}
    return sd, images, logits


def test_reference_has_the_tet_key_layout(reference):
    sd = reference[0]
    for key in ("conv1.weight", "conv1_s.layer.module.weight", "bn1.bn.running_var",
                "bn1.seqbn.module.weight", "conv1_s.bn.bn.bias", "layer1.0.downsample.layer.module.weight",
                "layer1.0.downsample.bn.seqbn.module.running_mean", "layer2.2.conv2_s.bn.bn.weight",
                "fc1_s.layer.module.bias", "fc2.weight"):
        assert key in sd, key


@pytest.mark.parity
def test_converted_model_reproduces_torch_logits(reference):
    sd, images, logits = reference
    model = resnet19(num_classes=10, time_steps=T, input_shape=(H, H, 3), per_step_logits=True)
    convert({k: v.numpy() for k, v in sd.items()}, model)
    out = model.predict(images, verbose=0)
    assert logits.std(axis=0).mean() > 0.05  # the reference output depends on the input
    np.testing.assert_allclose(out, logits, atol=2e-4, rtol=1e-4)
    spikes = keras.Model(model.input, model.get_layer("layer1_0_sn2").output).predict(images, verbose=0)
    assert 0.02 < spikes.mean() < 0.9


def _zero(model):
    for v in model.weights:
        v.assign(np.zeros(v.shape, "float32"))


def test_accepted_layouts_and_mean_output(reference):
    sd, images, logits = reference
    model = resnet19(num_classes=10, time_steps=T, input_shape=(H, H, 3), per_step_logits=True)
    layouts = {
        "bare_torch": sd,
        "model_key": {"model": {k: v.numpy() for k, v in sd.items()}, "epoch": 299, "acc": 75.2},
        "state_dict_module_prefix": {"state_dict": {"module." + k: v for k, v in sd.items()}, "optimizer": {}},
        "canonical_only": {k: v for k, v in sd.items() if "_s." not in k and ".seqbn." not in k},
    }
    assert len(layouts["canonical_only"]) < len(sd)  # a checkpoint without TET's aliases
    for name, obj in layouts.items():
        _zero(model)
        convert(obj, model)
        np.testing.assert_allclose(model.predict(images, verbose=0), logits, atol=2e-4, rtol=1e-4, err_msg=name)
    mean_model = resnet19(num_classes=10, time_steps=T, input_shape=(H, H, 3))
    convert(sd, mean_model)
    np.testing.assert_allclose(mean_model.predict(images, verbose=0), logits.mean(1), atol=2e-4, rtol=1e-4)


def test_errors(reference):
    sd = {k: v.numpy() for k, v in reference[0].items()}
    model = resnet19(num_classes=10, time_steps=T, input_shape=(H, H, 3))
    missing = {k: v for k, v in sd.items() if not k.startswith("layer3.1.conv2") and "layer3.1.bn2" not in k}
    with pytest.raises(ValueError, match="missing .*layer3_1_conv2"):
        convert(missing, model)
    with pytest.raises(ValueError, match="unexpected 1: extra.weight"):
        convert({**sd, "extra.weight": np.zeros(3, "float32")}, model)
    bad = dict(sd)
    bad["conv1_s.layer.module.weight"] = sd["conv1.weight"] + 1.0
    with pytest.raises(ValueError, match="different tensors"):
        convert(bad, model)
    with pytest.raises(ValueError, match="num_classes"):
        convert(sd, resnet19(num_classes=100, time_steps=T, input_shape=(H, H, 3)))
    with pytest.raises(ValueError, match="variant='tet'"):
        convert(sd, resnet19(num_classes=10, variant="tdbn", time_steps=T, input_shape=(H, H, 3)))
    with pytest.raises(ConversionError, match="state dict"):
        convert([1, 2], model)
    with pytest.warns(DeprecationWarning, match="unwrap_state_dict"), pytest.raises(ValueError, match="state dict"):
        unwrap_state_dict([1, 2])


def test_deprecated_unwrap_state_dict_still_unwraps(reference):
    sd = reference[0]
    with pytest.warns(DeprecationWarning, match="extract_state_dict"):
        flat = unwrap_state_dict({"model": {"module." + k: v for k, v in sd.items()}, "epoch": 3})
    assert set(flat) == {k for k in sd if not k.endswith("num_batches_tracked")}  # no module. prefix
    np.testing.assert_array_equal(flat["fc2.weight"], sd["fc2.weight"].numpy())
