"""``snnzoo.streaming.Streamer``: a model run one time step at a time gives the multi-step model's
numbers.

* Every zoo architecture (random weights drawn in float64 so that every layer spikes, small
  inputs): after T steps the streamed outputs equal ``model(x)`` to 1e-9 in float64; after k < T
  steps they equal the readout of the same network built for k steps (same weights), i.e. the
  running readout; per-step logits equal the model's logits of that step.
* The real CSBP SEW 7B-Net checkpoint (DVS128 Gesture) streams to its multi-step logits.
* ``step`` compiled (``jax.jit``, ``tf.function``, ``torch.compile``) equals eager.
* Bad input gives one clear error each: a whole sequence or a wrong shape as ``x_t``, a state
  from another batch size or another Streamer, a model that cannot stream (a layer that sees the
  whole time axis), a subclassed model.

float64 on JAX: with x64 on, Keras still computes ``ops.mean`` (MeanOverTime) through its
float64→float32 demotion rule (``keras.backend.result_type``), so the *multi-step* reference
would be float32-accurate there; the fixture lifts that rule for the test's duration, as
``snnzoo.backend.keep_float64_on_torch`` does on torch.
"""
import numpy as np
import pytest

import keras
from keras import ops

import snnzoo
from snnzoo.layers import LIF, TEBN, MeanOverTime, RepeatTime, TimeFold
from snnzoo.streaming import Streamer

BACKEND = keras.backend.backend()

# every zoo architecture (builder and variant of zoo_weights/*.json), with small inputs
CASES = {
    "fsnn_fmnist_ide": dict(hidden=16, input_shape=(8, 8, 1), time_steps=5),        # IDE, dense feedback
    "fsnn_mnist_ide": dict(filters=4, input_shape=(12, 12, 1), time_steps=4),       # IDE, conv feedback
    "fsnn_nmnist_ide": dict(filters=4, sensor_size=(10, 10), time_steps=4),         # IDE, event sequence
    "alexnet_f_ide": dict(input_shape=(8, 8, 3), time_steps=3, v_threshold=0.5),    # IDE chain + BN
    "cifarnet_f_ide": dict(input_shape=(8, 8, 3), time_steps=3, v_threshold=0.5),
    "resnet19": dict(input_shape=(8, 8, 3), time_steps=2, num_classes=10),          # LIF, tdBN, Add
    "resnet19_tdbn": dict(input_shape=(8, 8, 3), time_steps=3),
    "sew7bnet": dict(channels=4, time_steps=4),                                      # PLIF, SEW ADD
    "sew_wide7bnet": dict(time_steps=2),
    "sew_resnet18": dict(input_shape=(32, 32, 3), num_classes=10, time_steps=3),     # IF, static stem
    "sew_resnet34": dict(input_shape=(32, 32, 3), num_classes=10, time_steps=2),
    "sew_resnet50": dict(input_shape=(32, 32, 3), num_classes=10, time_steps=2),
    "sew_resnet18_cifar": dict(input_shape=(8, 8, 3), time_steps=3),
    "tebn_cnn7": dict(input_shape=(16, 16, 2), time_steps=3),                        # TEBN p[t]
    "bpsta_convnet_nmnist": dict(widths=(8, 8, 8, 8), input_shape=(32, 32, 2), time_steps=3),  # BPSA+BPTA, voting
}
# issue 18: streamed == multi-step for every zoo architecture on all three backends (JAX/TF
# run every case too)
PARITY = tuple(CASES)


def assign_weights(model, seed=0):
    """Float64 weights from a fixed seed, scaled so that the neurons of every layer spike
    (He-normal kernels, BN statistics near the identity, TEBN scales near 1)."""
    rng = np.random.RandomState(seed)
    for v in model.weights:
        shape, path = tuple(v.shape), v.path
        if path.endswith("kernel"):
            value = rng.normal(0.0, np.sqrt(2.0 / max(1, int(np.prod(shape[:-1])))), shape)
        elif path.endswith("gamma"):
            value = rng.uniform(0.8, 1.6, shape)
        elif path.endswith("beta"):
            value = rng.uniform(-0.1, 0.4, shape)
        elif path.endswith("moving_mean"):
            value = rng.uniform(-0.1, 0.1, shape)
        elif path.endswith(("moving_variance", "moving_var")):
            value = rng.uniform(0.5, 1.5, shape)
        elif path.endswith("bias"):
            value = rng.uniform(-0.1, 0.1, shape)
        elif path.endswith("/p"):  # TEBN
            value = rng.uniform(0.8, 1.2, shape)
        else:  # PLIF w, spectral-norm g/u/v, warm-up flag: as built
            continue
        v.assign(value.astype(v.dtype))


def model_input(model, batch=2, seed=1):
    shape = tuple(model.inputs[0].shape[1:])
    rng = np.random.RandomState(seed)
    if len(shape) == 4:  # event frames [T, H, W, 2]: counts per pixel and frame
        return rng.poisson(1.0, size=(batch,) + shape).astype("float64")
    return rng.rand(batch, *shape)


def step_input(streamer, x, t):
    return x[:, t] if len(streamer.step_input_shape) + 2 == x.ndim else x


def compiled(fn):
    """``fn`` compiled by the backend's own compiler (torch: eager here; torch.compile is
    tested on its own below, its compile time grows with the model)."""
    if BACKEND == "jax":
        import jax

        return jax.jit(fn)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    return fn


def stream(streamer, x, steps=None, step=None):
    step = step or streamer.step
    state = streamer.initial_state(x.shape[0])
    outs = []
    for t in range(steps or streamer.time_steps):
        out, state = step(step_input(streamer, x, t), state)
        outs.append(keras.tree.map_structure(ops.convert_to_numpy, out))
    return outs, state


def numpy(x):
    return ops.convert_to_numpy(x)


def reference(model, x):
    """The multi-step model's output ``model(x)`` (JAX: under ``jax.jit``; eager JAX dispatches
    op by op, several times slower)."""
    if BACKEND == "jax":
        import jax

        return numpy(jax.jit(lambda v: model(v))(x))
    return numpy(model(x))


_BUILT = {}


def zoo_model(name, **overrides):
    """``snnzoo.load(name, weights=None, **CASES[name], **overrides)`` with the seeded float64
    weights, built once per module (a JAX build compiles every initialiser: seconds per model)."""
    config = dict(CASES[name], **overrides)
    key = (name, tuple(sorted(config.items())), BACKEND)
    if key not in _BUILT:
        model = snnzoo.load(name, weights=None, **config)
        assign_weights(model)
        _BUILT[key] = model
    return _BUILT[key]


def _case(name):
    marks = [pytest.mark.parity] if name in PARITY else []
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_case(n) for n in CASES])
def test_streamed_equals_multistep_for_every_zoo_architecture(name, float64):
    model = zoo_model(name)
    s = Streamer(model)
    assert s.time_steps == CASES[name]["time_steps"]
    x = model_input(model)
    ref = reference(model, x)
    outs, state = stream(s, x, step=compiled(s.step))
    assert outs[-1].dtype == np.float64 and outs[-1].shape == ref.shape
    scale = np.abs(ref).max()
    assert scale > 1e-3 and np.abs(ref[0] - ref[1]).max() > 1e-6  # a non-trivial output
    np.testing.assert_allclose(outs[-1], ref, rtol=1e-9, atol=1e-9 * scale)
    assert int(numpy(state[0])) == s.time_steps
    # the readout moves over time (the running form is not the final value from step 1)
    assert np.abs(outs[0] - outs[-1]).max() > 1e-6


@pytest.mark.parametrize("name,k", [("sew7bnet", 2), pytest.param("fsnn_fmnist_ide", 3, marks=pytest.mark.parity)])
def test_after_k_steps_outputs_are_the_readout_of_the_first_k_steps(name, k, float64):
    """After k < T steps: the same network built for k steps (same weights) on x[:, :k]
    (running mean of the 7B-Net's spikes; the IDE running weighted rate)."""
    model = zoo_model(name)
    short = snnzoo.load(name, weights=None, **dict(CASES[name], time_steps=k))
    short.set_weights(model.get_weights())
    x = model_input(model)
    s = Streamer(model)
    outs, _ = stream(s, x, steps=k, step=compiled(s.step))
    x_k = x[:, :k] if x.ndim == 5 else x
    np.testing.assert_allclose(outs[-1], reference(short, x_k), rtol=1e-9, atol=1e-12)
    assert np.abs(outs[-1] - reference(model, x)).max() > 1e-6  # k steps differ from T steps


def test_per_step_logits_stream_as_they_are(float64):
    model = snnzoo.load("resnet19", weights=None, **dict(CASES["resnet19"], per_step_logits=True))
    assign_weights(model)
    x = model_input(model)
    ref = numpy(model(x))  # [B, T, C]
    outs, _ = stream(Streamer(model), x)
    np.testing.assert_allclose(np.stack(outs, axis=1), ref, rtol=1e-9, atol=1e-12)
    assert np.abs(ref[:, 0] - ref[:, 1]).max() > 1e-6


def test_bpsta_image_variant_with_warmup_switch_in_snn_mode(float64):
    """RepeatTime (the image every step), BPSA+BPTA LIF, WarmupSwitch (SNN mode), NDropout."""
    model = snnzoo.load("bpsta_convnet_nmnist", weights=None, dataset="mnist", widths=(4, 4, 8),
                        input_shape=(28, 28, 1), time_steps=3, ann_warmup=True)
    assign_weights(model)
    s = Streamer(model)
    assert s.step_input_shape == (28, 28, 1) and s.time_steps == 3
    x = model_input(model)
    outs, _ = stream(s, x)
    np.testing.assert_allclose(outs[-1], numpy(model(x)), rtol=1e-9, atol=1e-12)


def _checkpoint_frames(shape, seed=2024):
    rng = np.random.default_rng(seed)
    # event counts per pixel and frame, bursty like real DVS frames (as the converter test)
    return rng.poisson(rng.gamma(0.5, 3.0, size=shape)).astype("float64")


@pytest.mark.parity
def test_real_csbp_sew7bnet_checkpoint_streams_to_its_multistep_logits(shared_data, float64):
    path = shared_data / "checkpoints/csbp_sew7bnet_dvsgesture/checkpoint_max_test_acc1.pth"
    steps = 4
    model = snnzoo.load("sew7bnet_csbp_dvsgesture", weights=str(path), time_steps=steps)
    assert model.get_layer("block1_conv1").layer.kernel.dtype == "float64"
    s = Streamer(model)
    assert s.time_steps == steps and s.step_input_shape == (128, 128, 2)
    x = _checkpoint_frames((1, steps, 128, 128, 2))
    ref = reference(model, x)
    outs, _ = stream(s, x, step=compiled(s.step))
    np.testing.assert_allclose(outs[-1], ref, rtol=1e-9, atol=1e-9)
    assert np.abs(ref).max() > 1.0  # a confident, non-trivial output
    assert np.abs(outs[0] - outs[-1]).max() > 0.1


# -- compiled step ----------------------------------------------------------------------------
def _compile_model(T=3):
    """RepeatTime → Dense → TEBN → LIF → MeanOverTime → Dense: small, so torch.compile is quick."""
    keras.utils.set_random_seed(3)
    inp = keras.Input((4,))
    x = keras.layers.Dense(5)(RepeatTime(T)(inp))
    x = LIF(tau=2.0, v_reset=None)(TEBN(T)(x))
    return keras.Model(inp, keras.layers.Dense(3)(MeanOverTime()(x)))


def _tiny_model(T=3):
    """RepeatTime → TimeFold(Conv2D) → TEBN → LIF → TimeFold(Flatten) → MeanOverTime → Dense."""
    keras.utils.set_random_seed(3)
    inp = keras.Input((6, 6, 2))
    x = RepeatTime(T)(inp)
    x = TimeFold(keras.layers.Conv2D(4, 3, padding="same"))(x)
    x = TEBN(T)(x)
    x = LIF(tau=2.0, v_reset=None, name="lif")(x)
    x = TimeFold(keras.layers.Flatten())(x)
    return keras.Model(inp, keras.layers.Dense(3)(MeanOverTime()(x)))


@pytest.mark.parity
def test_compiled_step_equals_eager_step():
    model = _compile_model()
    for v in model.weights:  # TEBN's p[t] distinct per step, so the step counter matters
        if v.path.endswith("/p"):
            v.assign(np.array([0.5, 1.5, 2.5], "float32"))
    s = Streamer(model)
    x = (np.random.RandomState(0).rand(2, 4) * 3).astype("float32")
    if BACKEND == "torch":
        import torch

        torch._dynamo.reset()
        step = torch.compile(s.step, dynamic=False, backend="eager")  # dynamo capture; inductor: benchmark
    else:
        step = compiled(s.step)
    fast, state = stream(s, x, step=step)
    if BACKEND == "torch":  # (eager JAX dispatches op by op: slow; its jit is held to model(x))
        eager, _ = stream(s, x)
        for a, b in zip(eager, fast):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fast[-1], reference(model, x), rtol=1e-5, atol=1e-6)
    assert int(numpy(state[0])) == 3


def test_state_spec_initial_state_and_purity():
    model = _tiny_model()
    s = Streamer(model)
    spec = s.state_spec(5)
    state = s.initial_state(5)
    assert [(tuple(t.shape), keras.backend.standardize_dtype(t.dtype)) for t in state] == spec
    assert spec[0] == ((), "int32") and spec[1] == ((5, 6, 6, 4), "float32")  # counter, LIF membrane
    assert [d for _, d in Streamer(model).state_spec(1)] == [d for _, d in spec]
    assert keras.backend.standardize_dtype(s.initial_state(2, dtype="float16")[1].dtype) == "float16"
    x = np.random.RandomState(0).rand(5, 6, 6, 2).astype("float32") * 3
    a, s1 = s.step(x, state)
    if BACKEND == "torch":  # no autograd graph carried from step to step (memory over long streams)
        assert not a.requires_grad and not any(t.requires_grad for t in s1)
    b, s2 = s.step(x, state)  # the same state again: the same result (nothing hidden)
    np.testing.assert_array_equal(numpy(a), numpy(b))
    assert int(numpy(state[0])) == 0 and int(numpy(s1[0])) == 1
    for u, w in zip(s1, s2):
        np.testing.assert_array_equal(numpy(u), numpy(w))
    c, _ = s.step(x, s1)
    assert np.abs(numpy(c) - numpy(a)).max() > 0  # the state carries the dynamics


def test_uint8_images_of_zoo_models_are_scaled_as_the_model_does():
    model = snnzoo.load("fsnn_fmnist_ide", weights=None, hidden=8, input_shape=(6, 6, 1), time_steps=3)
    s = Streamer(model)
    img = np.random.RandomState(0).randint(0, 256, (2, 6, 6, 1)).astype("uint8")
    outs, _ = stream(s, img)
    np.testing.assert_allclose(outs[-1], numpy(model(img)), rtol=1e-5, atol=1e-6)
    scaled, _ = stream(s, img.astype("float32") / 255)
    np.testing.assert_allclose(outs[-1], scaled[-1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        s.step(img.astype("int32"), s.initial_state(2))


def test_nested_functional_model_and_return_membrane():
    keras.utils.set_random_seed(4)
    inner_in = keras.Input((3, 5))
    spikes, membrane = LIF(tau=2.0, return_membrane=True)(inner_in)
    inner = keras.Model(inner_in, [spikes, membrane], name="inner")
    inp = keras.Input((3, 4))
    x = keras.layers.Dense(5)(inp)
    s_out, v_out = inner(x)
    outer = keras.Model(inp, [MeanOverTime()(s_out), v_out])
    s = Streamer(outer)
    assert s.time_steps == 3 and s.step_input_shape == (4,)
    x = np.random.RandomState(0).rand(2, 3, 4).astype("float32") * 4
    rate, v = outer(x)
    outs, _ = stream(s, x)
    assert isinstance(outs[-1], list) and len(outs[-1]) == 2
    np.testing.assert_allclose(outs[-1][0], numpy(rate), atol=1e-6)
    np.testing.assert_allclose(np.stack([o[1] for o in outs], axis=1), numpy(v), atol=1e-6)
    assert 0 < numpy(rate).mean() < 1
    # a Sequential, streamed itself and nested in a functional model
    seq = keras.Sequential([keras.Input((3, 4)), LIF(), MeanOverTime(), keras.layers.Dense(2)])
    wrapped = keras.Model(inp, seq(inp))
    for m in (seq, wrapped):
        outs, _ = stream(Streamer(m), x)
        np.testing.assert_allclose(outs[-1], numpy(m(x)), atol=1e-6)


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parity
def test_wrong_step_shape_gives_one_clear_error():
    model = keras.Model(inp := keras.Input((4, 6)), MeanOverTime()(LIF()(inp)))
    s = Streamer(model)
    state = s.initial_state(2)
    with pytest.raises(ValueError, match=r"one time step x\[:, t\], not the whole sequence"):
        s.step(np.zeros((2, 4, 6), "float32"), state)
    with pytest.raises(ValueError, match=r"expected one step of shape \[batch, 6\]"):
        s.step(np.zeros((2, 7), "float32"), state)
    image_model = _tiny_model()
    with pytest.raises(ValueError, match="pass the image at every step"):
        Streamer(image_model).step(np.zeros((2, 3, 6, 6, 2), "float32"), Streamer(image_model).initial_state(2))


@pytest.mark.parity
def test_state_from_another_batch_size_or_streamer_gives_one_clear_error():
    model = keras.Model(inp := keras.Input((4, 6)), MeanOverTime()(LIF()(inp)))
    s = Streamer(model)
    x = np.zeros((3, 6), "float32")
    with pytest.raises(ValueError, match=r"batch size 2 but x_t has batch size 3.*initial_state\(3\)"):
        s.step(x, s.initial_state(2))
    with pytest.raises(ValueError, match="not from this Streamer"):
        s.step(x, Streamer(_tiny_model()).initial_state(3)[:3])
    with pytest.raises(ValueError, match="expected 3"):
        s.step(x, s.initial_state(3)[:2])


@pytest.mark.parametrize("bad", ["flatten_time", "conv1d_time", "lstm"])
def test_a_layer_that_sees_future_steps_cannot_stream(bad):
    inp = keras.Input((4, 6))
    x = LIF(name="lif")(inp)
    if bad == "flatten_time":  # mixes all T steps into one vector
        layer = keras.layers.Flatten(name="flat_over_time")
    elif bad == "conv1d_time":  # a convolution along the time axis (non-causal padding)
        layer = keras.layers.Conv1D(3, 3, padding="same", name="conv_over_time")
    else:
        layer = keras.layers.Bidirectional(keras.layers.LSTM(3), name="bi_lstm")
    model = keras.Model(inp, layer(x))
    with pytest.raises(ValueError, match=f"layer '{layer.name}' .*cannot stream") as err:
        Streamer(model)
    assert "TimeFold" in str(err.value)


def test_not_a_functional_model_gives_one_clear_error():
    class Sub(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="not a functional Keras model"):
        Streamer(Sub())
    with pytest.raises(ValueError, match="keras.Model"):
        Streamer(LIF())


def test_tebn_beyond_t_keeps_the_last_scale():
    """TEBN has T scales p[t]; streaming past T keeps p[T − 1] (documented)."""
    keras.utils.set_random_seed(5)
    inp = keras.Input((2, 3))
    bn = TEBN(2)
    model = keras.Model(inp, bn(inp))
    bn.p.assign(np.array([2.0, 3.0], "float32"))
    s = Streamer(model)
    x = np.ones((1, 3), "float32")
    state = s.initial_state(1)
    values = []
    for _ in range(4):
        y, state = s.step(x, state)
        values.append(numpy(y)[0, 0])
    assert values[2] == values[3] == values[1] != values[0]
    np.testing.assert_allclose(values[1] / values[0], 1.5, rtol=1e-6)
