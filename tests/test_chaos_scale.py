"""chaos_scale: the chaotic loss against the BP loss on one batch, checked against a numpy
re-implementation of the whole forward pass (LIF, BatchNorm in training mode, cross-entropy) and
of the chaotic loss (paper Eq. 2-5; the authors' code form), for the three reductions."""
import numpy as np
import pytest
import keras
from keras import ops

from snnzoo.chaos import attach_chaos, chaos_scale, chaotic_regularizers, detach_chaos
from snnzoo.layers.neurons import LIF
from snnzoo.layers.time import MeanOverTime, RepeatTime, TimeFold

T, B, I0 = 3, 6, 0.65


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((4,))
    x = RepeatTime(T)(inp)
    x = TimeFold(keras.layers.Dense(5), name="fc1")(x)
    x = LIF(tau=2.0, name="lif1")(x)
    x = MeanOverTime()(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    model = keras.Model(inp, keras.layers.Dense(3, name="out")(x))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _data():
    rng = np.random.default_rng(3)
    return (rng.random((B, 4)) * 3.0).astype("float32"), rng.integers(0, 3, B)


def _np(v):
    return np.asarray(ops.convert_to_numpy(v), dtype=np.float64)


def _reference(model, x, y):
    """(pre-activation u [B, 5] (constant over T), cross-entropy) in numpy."""
    w1, b1 = (_np(v) for v in model.get_layer("fc1").weights)
    w2, b2 = (_np(v) for v in model.get_layer("out").weights)
    bn = model.get_layer("bn")
    u = x.astype(np.float64) @ w1 + b1
    v, count = np.zeros_like(u), np.zeros_like(u)
    for _ in range(T):  # LIF, decay_input, tau 2, threshold 1, hard reset to 0
        h = v + (u - v) / 2.0
        s = (h >= 1.0).astype(np.float64)
        count += s
        v = h * (1.0 - s)
    rate = count / T
    mean, var = rate.mean(0), rate.var(0)  # training-mode BatchNorm: batch statistics
    normed = (rate - mean) / np.sqrt(var + bn.epsilon) * _np(bn.gamma) + _np(bn.beta)
    logits = normed @ w2 + b2
    top = logits.max(1, keepdims=True)
    logsumexp = top[:, 0] + np.log(np.exp(logits - top).sum(1))
    ce = np.mean(logsumexp - logits[np.arange(B), y])
    return u, ce


def _ell(a):
    return np.logaddexp(0.0, a) - I0 * a  # -[I0 ln σ(a) + (1 - I0) ln(1 - σ(a))]


CASES = {
    # paper form: h = σ(mean_t u), summed over the 5 neurons, mean over the batch
    "paper": ({}, lambda u: _ell(u).sum(1).mean()),
    # normalised: mean over batch and neurons
    "paper-mean": ({"reduction": "mean"}, lambda u: _ell(u).mean()),
    "paper-sum": ({"reduction": "sum"}, lambda u: _ell(u).sum()),
    # the authors' code: clamp to [-10, 9.9], /10, elementwise over [B, T, 5], mean of everything
    "code": ({"form": "code"}, lambda u: _ell(np.clip(u, -10.0, 9.9) / 10.0).mean()),
}


@pytest.mark.parity
@pytest.mark.parametrize("case", sorted(CASES))
def test_chaos_scale_matches_numpy(case):
    kwargs, reference = CASES[case]
    model = _model()
    x, y = _data()
    attach_chaos(model, ["lif1"], z0=7.0, **kwargs)
    scale = chaos_scale(model, x, y)
    u, ce = _reference(model, x, y)
    unscaled = reference(u)
    np.testing.assert_allclose(scale.unscaled, unscaled, rtol=2e-5)
    np.testing.assert_allclose(scale.chaos, 7.0 * unscaled, rtol=2e-5)
    np.testing.assert_allclose(scale.bp, ce, rtol=2e-5)
    np.testing.assert_allclose(scale.ratio, 7.0 * unscaled / ce, rtol=5e-5)
    assert list(scale.per_layer) == ["lif1_chaos"]
    np.testing.assert_allclose(scale.per_layer["lif1_chaos"], 7.0 * unscaled, rtol=2e-5)
    # z_for: the z whose chaotic loss is r x the BP loss on this batch
    np.testing.assert_allclose(scale.z_for(4.0) * unscaled / ce, 4.0, rtol=5e-5)


def test_chaos_scale_leaves_the_model_unchanged_and_fit_sees_the_measured_loss():
    model = _model()
    x, y = _data()
    attach_chaos(model, ["lif1"], z0=3.0)
    before = [_np(v).copy() for v in model.variables]
    logits_before = _np(model(x))
    scale = chaos_scale(model, x, y)
    assert all(np.array_equal(a, _np(v)) for a, v in zip(before, model.variables))
    np.testing.assert_array_equal(_np(model(x)), logits_before)
    assert float(_np(chaotic_regularizers(model)[0].z)) == 3.0
    # the first training step's total loss is the measured BP + chaos (lr 0: nothing moves)
    model.compile(keras.optimizers.SGD(0.0), model.loss)
    total = model.train_on_batch(x, y)
    total = float(total[0] if isinstance(total, (list, tuple)) else total)
    np.testing.assert_allclose(total, scale.bp + scale.chaos, rtol=1e-4)


def test_z_for_rescales_to_the_asked_ratio():
    model = _model()
    x, y = _data()
    attach_chaos(model, ["lif1"], z0=10.0)
    z = chaos_scale(model, x, y).z_for(2.5)
    chaotic_regularizers(model)[0].z.assign(z)
    np.testing.assert_allclose(chaos_scale(model, x, y).ratio, 2.5, rtol=1e-4)


def test_chaos_scale_errors_name_the_fix():
    x, y = _data()
    model = _model()
    with pytest.raises(ValueError, match="attach_chaos"):
        chaos_scale(model, x, y)
    attach_chaos(model, ["lif1"], z0=1.0)
    with pytest.raises(ValueError, match="ratio must be >= 0"):
        chaos_scale(model, x, y).z_for(-1.0)
    # an explicit loss replaces the compiled one; an uncompiled model without loss= is refused
    mse = chaos_scale(model, x, np.ones((B, 3), "float32"), loss="mse")
    logits = _np(model(x, training=True))  # BN in training mode, as in chaos_scale
    np.testing.assert_allclose(mse.bp, np.mean((logits - 1.0) ** 2), rtol=1e-5)
    detach_chaos(model)
    plain = _model()
    bare = keras.Model(plain.inputs, plain.outputs)
    attach_chaos(bare, ["lif1"])
    with pytest.raises(ValueError, match="compile the model with a loss or pass loss="):
        chaos_scale(bare, x, y)
