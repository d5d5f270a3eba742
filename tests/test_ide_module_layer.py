"""The IDE modules as Keras sub-layers (:class:`snnzoo.ide.IDEModule`): their forwards against a
numpy re-implementation (PyTorch's conv geometry and BN), their weight paths, and files in the
older single-layer layout (every module variable stored under ``FeedbackEquilibrium``), written
by snnzoo at commit 107a184 (tests/fixtures/ide_single_layer_layout), loading to the same model."""
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from keras import ops

from snnzoo.ide import FeedbackEquilibrium, IDEModule

pytestmark = pytest.mark.parity

FIXTURE = Path(__file__).parent / "fixtures" / "ide_single_layer_layout"


def _np(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def _conv_reference(x, kernel, stride, pad):
    """Cross-correlation with symmetric zero padding, channels last, kernel (k, k, in, out)."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    k = kernel.shape[0]
    h = (x.shape[1] - k) // stride + 1
    w = (x.shape[2] - k) // stride + 1
    y = np.zeros((x.shape[0], h, w, kernel.shape[-1]))
    for i in range(h):
        for j in range(w):
            patch = x[:, i * stride:i * stride + k, j * stride:j * stride + k, :]
            y[:, i, j, :] = np.einsum("bhwc,hwco->bo", patch, kernel)
    return y


def _module(seed=0):
    spec = {"kind": "conv", "filters": 3, "kernel_size": 3, "strides": 2, "padding": 1,
            "use_bias": True, "batch_norm": True}
    module = IDEModule(spec, seed=seed, bn_momentum=0.9, bn_epsilon=1e-5, name="chain0")
    module.build((None, 5, 5, 2))
    rng = np.random.default_rng(seed)
    for v, value in ((module.bias, rng.normal(0, 0.3, 3)), (module.gamma, rng.uniform(0.5, 1.5, 3)),
                     (module.beta, rng.normal(0, 0.3, 3)), (module.moving_mean, rng.normal(0, 0.3, 3)),
                     (module.moving_variance, rng.uniform(0.5, 2.0, 3))):
        v.assign(value.astype("float32"))
    return module


def test_module_inference_is_conv_bias_and_running_statistics_bn():
    module = _module()
    x = np.random.default_rng(1).uniform(-1, 1, (4, 5, 5, 2)).astype("float32")
    y = _np(module(x, training=False))
    ref = _conv_reference(x.astype("float64"), _np(module.kernel), 2, 1) + _np(module.bias)
    ref = (ref - _np(module.moving_mean)) / np.sqrt(_np(module.moving_variance) + 1e-5)
    ref = ref * _np(module.gamma) + _np(module.beta)
    assert y.shape == (4, 3, 3, 3)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    # every filter of the initial kernel has unit L2 norm (the authors' initialisation)
    np.testing.assert_allclose(np.sqrt((_np(module.kernel) ** 2).sum(axis=(0, 1, 2))), 1.0, rtol=1e-5)


def test_module_training_uses_batch_statistics_and_updates_running_ones_like_torch_bn():
    module = _module()
    x = np.random.default_rng(2).uniform(-1, 1, (4, 5, 5, 2)).astype("float32")
    mean0, var0 = _np(module.moving_mean), _np(module.moving_variance)
    y = _np(module(x, training=True))
    lin = _conv_reference(x.astype("float64"), _np(module.kernel), 2, 1) + _np(module.bias)
    mu, var = lin.mean(axis=(0, 1, 2)), lin.var(axis=(0, 1, 2))
    ref = (lin - mu) / np.sqrt(var + 1e-5) * _np(module.gamma) + _np(module.beta)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)
    n = lin.shape[0] * lin.shape[1] * lin.shape[2]  # torch: momentum 0.1, unbiased running var
    np.testing.assert_allclose(_np(module.moving_mean), 0.9 * mean0 + 0.1 * mu, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(module.moving_variance), 0.9 * var0 + 0.1 * var * n / (n - 1),
                               rtol=1e-5, atol=1e-6)


def test_module_config_round_trip():
    module = _module()
    clone = IDEModule.from_config(module.get_config())
    assert clone.spec == module.spec and clone.seed == module.seed and clone.name == "chain0"


def test_the_modules_are_sub_layers_with_their_own_weight_paths():
    layer = FeedbackEquilibrium({"kind": "dense", "filters": 6, "use_bias": True},
                                chain=[{"kind": "dense", "filters": 4, "batch_norm": True}],
                                time_steps=3, name="eq")
    layer(np.ones((2, 6), "float32"))
    assert layer.chain_modules[0] in layer._layers and layer.feedback_module in layer._layers
    paths = sorted(v.path for v in layer.weights)
    assert paths == sorted(["eq/feedback_g", "eq/feedback_u", "eq/feedback_v", "eq/chain0/kernel",
                            "eq/chain0/gamma", "eq/chain0/beta", "eq/chain0/moving_mean",
                            "eq/chain0/moving_variance", "eq/feedback/kernel", "eq/feedback/bias"])


def _legacy_values():
    """The single-layer layout's datasets of the fixture, read with h5py (index → array)."""
    with h5py.File(FIXTURE / "model.weights.h5") as f:
        group = f["layers/feedback_equilibrium/vars"]
        return {int(k): np.array(group[k]) for k in group}


@pytest.mark.parametrize("kind", ["keras", "weights"])
def test_files_in_the_single_layer_layout_load_into_the_sub_layers(kind, tmp_path):
    io = np.load(FIXTURE / "io.npz")
    if kind == "keras":
        model = keras.saving.load_model(FIXTURE / "model.keras")
    else:
        model = keras.models.clone_model(keras.saving.load_model(FIXTURE / "model.keras"))
        model.load_weights(FIXTURE / "model.weights.h5")
    np.testing.assert_allclose(_np(model(io["x"], training=False)), io["y"], rtol=1e-5, atol=1e-5)
    eq = model.get_layer("feedback_equilibrium")
    chain, fb = eq.chain_modules[0], eq.feedback_module
    # the old order: trainable in creation order, then non-trainable (written out by hand)
    order = [chain.kernel, chain.bias, chain.gamma, chain.beta, fb.kernel, fb.bias, eq.fb_g,
             chain.moving_mean, chain.moving_variance, eq.fb_u, eq.fb_v]
    values = _legacy_values()
    assert sorted(values) == list(range(len(order)))
    for i, variable in enumerate(order):
        np.testing.assert_array_equal(_np(variable), values[i].astype("float64"))
    # saved again, the file has the sub-layer layout and loads back to the same outputs
    model.save(tmp_path / "again.keras")
    model.save_weights(tmp_path / "again.weights.h5")
    with h5py.File(tmp_path / "again.weights.h5") as f:
        assert len(f["layers/feedback_equilibrium/vars"]) == 3  # g, u, v
        names = []
        f["layers/feedback_equilibrium"].visit(names.append)
        assert any(n.startswith("feedback_module/vars") for n in names), names
    again = keras.saving.load_model(tmp_path / "again.keras")
    np.testing.assert_array_equal(_np(again(io["x"], training=False)),
                                  _np(model(io["x"], training=False)))


def test_a_file_with_another_variable_count_still_gives_keras_error(tmp_path):
    layer = FeedbackEquilibrium({"kind": "dense", "filters": 4}, time_steps=2, name="feedback_equilibrium")
    model = keras.Sequential([keras.Input((4,)), layer])
    with pytest.raises(ValueError, match="expected|variables"):
        model.load_weights(FIXTURE / "model.weights.h5")
