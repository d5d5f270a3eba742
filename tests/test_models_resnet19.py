"""Spiking ResNet-19 (TET code and tdBN-paper variants): structure, parameter counts against an
independent PyTorch re-implementation (tests/torch_ref_baselines.py), per-step logits, training."""
import keras
import numpy as np
import pytest

from snnzoo.losses import TETLoss
from snnzoo.models.resnet19 import resnet19
from tests.torch_ref_baselines import TorchTETResNet19, n_params

# Trainable parameter counts (= PyTorch ``sum(p.numel() for p in model.parameters())``)
PARAMS = {
    ("tet", 100): 12_653_988,
    ("tet", 10): 12_630_858,
    ("tdbn", 100): 12_721_124,
    ("tdbn", 10): 12_697_994,
}


def _trainable(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


@pytest.mark.parametrize("variant,num_classes", list(PARAMS))
def test_parameter_count_matches_torch_reference(variant, num_classes):
    model = resnet19(num_classes=num_classes, variant=variant)
    torch_model = TorchTETResNet19(num_classes=num_classes, stem=64 if variant == "tet" else 128)
    assert _trainable(model) == n_params(torch_model) == PARAMS[(variant, num_classes)]
    # non-trainable: BN moving mean/var only
    bn_channels = sum(int(v.shape[0]) for v in model.non_trainable_weights) // 2
    assert bn_channels == sum(int(v.shape[0]) for v in model.trainable_weights if v.path.endswith("gamma"))


def test_structure_and_names():
    tet = resnet19(variant="tet")
    tdbn = resnet19(variant="tdbn")
    names = {layer.name for layer in tet.layers}
    for name in ("normalize", "repeat_time", "conv1", "bn1", "sn1", "layer1_0_conv1", "layer1_0_bn1",
                 "layer1_0_sn1", "layer1_0_conv2", "layer1_0_bn2", "layer1_0_add", "layer1_0_sn2",
                 "layer1_0_downsample_conv", "layer1_0_downsample_bn", "layer2_0_pad", "layer2_0_downsample_conv",
                 "layer3_1_sn2", "avgpool", "fc1", "fc1_sn", "fc2", "mean_over_time"):
        assert name in names, name
    assert "layer1_0_downsample_conv" not in {layer.name for layer in tdbn.layers}
    assert tet.get_layer("conv1").layer.kernel.shape == (3, 3, 3, 64)
    assert tdbn.get_layer("conv1").layer.kernel.shape == (3, 3, 3, 128)
    assert tet.get_layer("layer3_1_conv2").layer.use_bias is False
    # 8 blocks in [3, 3, 2]
    assert sum(1 for n in names if n.endswith("_sn2")) == 8
    lif = tet.get_layer("sn1")
    assert (lif.tau, lif.decay_input, lif.v_threshold, lif.v_reset, lif.detach_reset) == (2.0, False, 1.0, 0.0, False)
    assert type(lif.surrogate).__name__ == "Triangle" and lif.surrogate.gamma == 1.0
    with pytest.raises(ValueError, match="variant"):
        resnet19(variant="resnet18")


def test_outputs_and_spikes():
    keras.utils.set_random_seed(1)
    x = np.random.default_rng(0).uniform(0, 1, (2, 4, 4, 3)).astype("float32")
    model = resnet19(num_classes=10, time_steps=3, input_shape=(4, 4, 3), per_step_logits=True)
    out = keras.ops.convert_to_numpy(model.predict(x, verbose=0))
    assert out.shape == (2, 3, 10)
    mean_model = resnet19(num_classes=10, time_steps=3, input_shape=(4, 4, 3))
    mean_model.set_weights(model.get_weights())
    np.testing.assert_allclose(mean_model.predict(x, verbose=0), out.mean(1), atol=1e-6)
    probe = keras.Model(model.input, [model.get_layer("sn1").output, model.get_layer("layer2_0_sn2").output])
    for s in probe.predict(x, verbose=0):
        assert set(np.unique(s).tolist()) <= {0.0, 1.0}


def test_train_step_with_tet_loss_reaches_every_layer():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 4, 4, 3)).astype("float32")
    y = rng.integers(0, 4, 4)
    model = resnet19(num_classes=4, time_steps=2, input_shape=(4, 4, 3), per_step_logits=True)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=TETLoss(), jit_compile=False)
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_weights]
    loss0 = float(model.train_on_batch(x, y))
    loss1 = float(model.train_on_batch(x, y))
    assert np.isfinite(loss0) and loss1 < loss0
    moved = [v.path for v, b in zip(model.trainable_weights, before)
             if np.abs(keras.ops.convert_to_numpy(v) - b).max() > 0]
    # every layer, including the stem behind all spiking layers, received a gradient
    assert len(moved) == len(before)
