"""The one input-normalisation stem of the zoo builders (snnzoo.models._stem.normalize_input) and
the one Kaiming fan-out initialiser (snnzoo.models._torch_init.kaiming_normal_fan_out)."""
import keras
import numpy as np
import pytest

from snnzoo.models._stem import normalize_input
from snnzoo.models._torch_init import kaiming_normal_fan_out
from snnzoo.models.resnet19 import NORMALIZATIONS, resnet19
from snnzoo.models.sew_resnet import IMAGENET_MEAN, IMAGENET_STD, sew_resnet18_cifar


def _apply(mean, std, x):
    inputs = keras.Input(shape=x.shape[1:])
    model = keras.Model(inputs, normalize_input(inputs, mean, std))
    return model, keras.ops.convert_to_numpy(model(x))


def test_per_channel_normalization():
    x = np.random.default_rng(0).random((2, 4, 4, 3)).astype("float32")
    model, y = _apply(IMAGENET_MEAN, IMAGENET_STD, x)
    layer = model.get_layer("normalize")
    assert isinstance(layer, keras.layers.Normalization)
    expected = (x - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_scalar_normalization_is_a_rescaling():
    x = np.random.default_rng(1).random((2, 5, 5, 1)).astype("float32")
    model, y = _apply(0.1307, 0.3081, x)
    layer = model.get_layer("normalize")
    assert isinstance(layer, keras.layers.Rescaling)
    assert layer.scale == 1.0 / 0.3081 and layer.offset == -0.1307 / 0.3081
    np.testing.assert_allclose(y, (x - 0.1307) / 0.3081, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mean, std", [(None, (0.2, 0.2, 0.2)), ((0.5, 0.5, 0.5), None), (None, None)])
def test_no_normalization(mean, std):
    x = np.ones((1, 2, 2, 3), "float32")
    model, y = _apply(mean, std, x)
    assert "normalize" not in [layer.name for layer in model.layers]
    np.testing.assert_array_equal(y, x)


def test_builders_use_the_stem():
    net = resnet19(time_steps=1, input_shape=(8, 8, 3), normalization="cifar10")
    mean, std = NORMALIZATIONS["cifar10"]
    layer = net.get_layer("normalize")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.mean).ravel(), np.float32(mean))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.variance).ravel(),
                                  np.float32([s ** 2 for s in std]))
    assert "normalize" not in [layer.name for layer in resnet19(time_steps=1, input_shape=(8, 8, 3),
                                                                normalization=None).layers]
    with pytest.raises(ValueError, match="unknown normalization"):
        resnet19(normalization="imagenet")
    sew = sew_resnet18_cifar(time_steps=1, input_shape=(8, 8, 3), mean=None, std=None)
    assert "normalize" not in [layer.name for layer in sew.layers]


def test_kaiming_fan_out_is_torch_kaiming_normal():
    # N(0, 2/fan_out), fan_out = k·k·filters: the empirical variance of a large kernel
    kernel = keras.ops.convert_to_numpy(kaiming_normal_fan_out()((3, 3, 16, 256), dtype="float32"))
    assert abs(kernel.var() / (2.0 / (3 * 3 * 256)) - 1.0) < 0.03 and abs(kernel.mean()) < 1e-3
