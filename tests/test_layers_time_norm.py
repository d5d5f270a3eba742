"""TimeFold / RepeatTime / MeanOverTime / TDBatchNorm / TEBN against numpy, and bad-input errors."""
import keras
import numpy as np
import pytest

from snnzoo import surrogates
from snnzoo.layers import IF, LIF, PLIF, TEBN, MeanOverTime, RepeatTime, TDBatchNorm, TimeFold

pytestmark = pytest.mark.parity


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_repeat_and_mean_over_time():
    x = np.random.RandomState(0).rand(2, 3, 4).astype("float32")
    y = _np(RepeatTime(5)(x))
    assert y.shape == (2, 5, 3, 4)
    for t in range(5):
        np.testing.assert_array_equal(y[:, t], x)
    np.testing.assert_allclose(_np(MeanOverTime()(y)), x, rtol=1e-6)
    z = np.random.RandomState(1).rand(2, 3, 4).astype("float32")
    np.testing.assert_allclose(_np(MeanOverTime()(z)), z.mean(1), rtol=1e-6)


def test_timefold_applies_layer_per_frame():
    x = np.random.RandomState(0).rand(2, 3, 6, 6, 2).astype("float32")
    conv = keras.layers.Conv2D(4, 3, padding="same")
    y = _np(TimeFold(conv)(x))
    assert y.shape == (2, 3, 6, 6, 4)
    for t in range(3):
        np.testing.assert_allclose(y[:, t], _np(conv(x[:, t])), rtol=1e-5, atol=1e-6)


def _bn_reference(x, gamma, beta, eps=1e-5):
    axes = tuple(range(x.ndim - 1))
    mu, var = x.mean(axes), x.var(axes)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta, mu, var


def test_tdbatchnorm_pools_batch_and_time():
    rng = np.random.RandomState(0)
    x = (rng.randn(4, 3, 5, 5, 2) * [1.0, 3.0] + [0.5, -1.0]).astype("float32")
    bn = TDBatchNorm(alpha=0.5, v_threshold=2.0)
    y = _np(bn(x, training=True))
    want, mu, var = _bn_reference(x, np.float32(1.0), np.float32(0.0))  # gamma init = α·V_th = 1
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(_np(bn.moving_mean), 0.1 * mu, rtol=1e-4, atol=1e-5)  # momentum 0.9
    bn2 = TDBatchNorm(alpha=1.0, v_threshold=0.5)
    bn2.build(x.shape)
    np.testing.assert_allclose(_np(bn2.gamma), 0.5)


def test_tebn_scales_each_step():
    rng = np.random.RandomState(1)
    x = rng.randn(3, 4, 2, 2, 3).astype("float32")
    layer = TEBN(time_steps=4)
    layer.build(x.shape)
    p = np.array([0.5, 1.0, 2.0, -1.0], "float32")
    layer.p.assign(p)
    layer.beta.assign(np.array([0.1, 0.2, 0.3], "float32"))
    y = _np(layer(x, training=True))
    base, _, _ = _bn_reference(x, 1.0, np.array([0.1, 0.2, 0.3], "float32"))
    np.testing.assert_allclose(y, base * p.reshape(1, 4, 1, 1, 1), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="time steps"):
        TEBN(time_steps=3)(x)


@pytest.mark.parametrize("layer", [IF(), LIF(), PLIF(), MeanOverTime(), TDBatchNorm()])
def test_rank_without_time_axis_is_rejected(layer):
    with pytest.raises(ValueError, match=r"\[batch, time"):
        layer(np.zeros((2, 5), "float32"))


def test_non_float_input_is_rejected():
    with pytest.raises(ValueError, match="float"):
        LIF()(np.zeros((2, 3, 4), "int32"))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: LIF(tau=-2.0), "tau"),
        (lambda: LIF(tau=0.5), "tau"),
        (lambda: LIF(v_threshold=-1.0), "v_threshold"),
        (lambda: IF(v_threshold=0.0), "v_threshold"),
        (lambda: PLIF(init_tau=1.0), "init_tau"),
        (lambda: LIF(surrogate="atn"), "unknown surrogate"),
        (lambda: LIF(adjust="bptt"), "adjust"),
        (lambda: surrogates.ATan(alpha=-1.0), "alpha"),
        (lambda: RepeatTime(0), "time_steps"),
    ],
)
def test_bad_parameters_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_surrogate_serialization_roundtrip():
    for name in ["atan", "sigmoid", "triangle", "rectangle", "piecewisequadratic", "superspike", "erf", "zif"]:
        s = surrogates.get(name)
        assert surrogates.get(surrogates.serialize(s)) == s
    lif = LIF(surrogate=surrogates.Triangle(gamma=0.5))
    clone = LIF.from_config(lif.get_config())
    assert clone.surrogate == surrogates.Triangle(gamma=0.5)


def test_batch_stats_helper_is_keras_batch_norm_arithmetic():
    """One batch-statistics helper (snnzoo.layers.batch_stats): per-channel moments, Bessel's
    correction, and the moving average with an explicit momentum — TDBatchNorm's moving
    statistics equal keras.layers.BatchNormalization's bit for bit on the folded batch."""
    from snnzoo.layers.batch_stats import channel_moments, unbiased_variance, update_moving_average

    x = np.random.RandomState(3).randn(4, 3, 5, 2).astype("float32")
    mean, var = channel_moments(keras.ops.convert_to_tensor(x))
    np.testing.assert_allclose(_np(mean), x.reshape(-1, 2).mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(var), x.reshape(-1, 2).var(0), rtol=1e-5)
    np.testing.assert_allclose(_np(unbiased_variance(var, x)), x.reshape(-1, 2).var(0, ddof=1),
                               rtol=1e-5)
    v = keras.Variable(np.array([1.0, 2.0], "float32"))
    update_moving_average(v, keras.ops.convert_to_tensor(np.array([3.0, -2.0], "float32")), 0.75)
    np.testing.assert_allclose(_np(v), [1.5, 1.0], rtol=1e-7)

    seq = np.random.RandomState(4).randn(4, 3, 5, 5, 2).astype("float32")
    ours, ref = TDBatchNorm(momentum=0.8), keras.layers.BatchNormalization(momentum=0.8, epsilon=1e-5)
    ours(seq, training=True)
    ref(seq.reshape(-1, 5, 5, 2), training=True)
    np.testing.assert_array_equal(_np(ours.moving_mean), _np(ref.moving_mean))
    np.testing.assert_array_equal(_np(ours.moving_variance), _np(ref.moving_variance))
