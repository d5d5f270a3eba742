"""Training with plain ``model.fit`` on the active backend, jit_compile off and on, through every
layer; and the long-sequence loop (scan / bounded while_loop) against the unrolled loop."""
import keras
import numpy as np
import pytest

import snnzoo.backend
from snnzoo.layers import IF, LIF, PLIF, TEBN, MeanOverTime, RepeatTime, TDBatchNorm, TimeFold

pytestmark = pytest.mark.parity
T = 3


def every_layer_model(time_steps=T):
    inp = keras.Input((8, 8, 2))
    x = RepeatTime(time_steps)(inp)
    x = TimeFold(keras.layers.Conv2D(4, 3, padding="same", use_bias=False))(x)
    x = TDBatchNorm()(x)
    x = LIF(tau=2.0, surrogate="sigmoid")(x)
    x = TimeFold(keras.layers.Conv2D(4, 3, padding="same", use_bias=False))(x)
    x = TEBN(time_steps)(x)
    x = PLIF(init_tau=2.0, detach_reset=True, name="plif")(x)
    x = TimeFold(keras.layers.Flatten())(x)
    x = TimeFold(keras.layers.Dense(6))(x)
    x = IF(v_reset=None, surrogate="triangle")(x)
    x = MeanOverTime()(x)
    return keras.Model(inp, keras.layers.Dense(3)(x))


def _data(n=32):
    rng = np.random.RandomState(0)
    x = rng.rand(n, 8, 8, 2).astype("float32") * 2
    y = (x[:, :4].mean((1, 2, 3)) > x[:, 4:].mean((1, 2, 3))).astype("int32") + (x.mean((1, 2, 3)) > 1)
    return x, y


@pytest.mark.parametrize("jit", [False, True])
def test_fit_updates_every_trainable_weight(jit):
    if jit and keras.backend.backend() == "torch":
        pytest.skip("torch.compile: test_fit_torch_compile and tests/test_torch_compile_paths.py (this model compiles for minutes)")
    keras.utils.set_random_seed(1)
    model = every_layer_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
    x, y = _data()
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]
    hist = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    after = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    for v, b, a in zip(model.trainable_variables, before, after):
        assert not np.allclose(a, b), f"{v.path} received no update"
    assert np.isfinite(hist.history["loss"]).all()
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_fit_torch_compile():
    if keras.backend.backend() != "torch":
        pytest.skip("torch only")
    keras.utils.set_random_seed(1)
    inp = keras.Input((4,))
    x = RepeatTime(2)(inp)
    x = TimeFold(keras.layers.Dense(8))(x)
    x = PLIF()(x)
    model = keras.Model(inp, keras.layers.Dense(2)(MeanOverTime()(x)))
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    w0 = keras.ops.convert_to_numpy(model.trainable_variables[0]).copy()
    model.fit(np.random.rand(16, 4).astype("float32") * 3, np.random.rand(16, 2).astype("float32"),
              epochs=1, batch_size=16, verbose=0)
    assert not np.allclose(keras.ops.convert_to_numpy(model.trainable_variables[0]), w0)


@pytest.mark.parametrize("jit", [False, True])
def test_long_sequence_loop_matches_unrolled(jit, monkeypatch):
    """T = 12 > UNROLL_MAX runs through scan (JAX) / bounded while_loop (TF); one SGD step must
    give the same weights as the fully unrolled loop."""
    if keras.backend.backend() == "torch":
        pytest.skip("torch always unrolls: there is no second loop to compare with")
    steps = 12
    loops = []
    compiled_loop = snnzoo.backend._compiled_loop

    def counting_loop(*args):
        loops.append(args[3])  # the number of steps
        return compiled_loop(*args)

    monkeypatch.setattr(snnzoo.backend, "_compiled_loop", counting_loop)

    def one_step(unroll_max):
        monkeypatch.setattr(snnzoo.backend, "UNROLL_MAX", unroll_max)
        keras.utils.set_random_seed(3)
        inp = keras.Input((steps, 5))
        x = TimeFold(keras.layers.Dense(7))(inp)
        x = LIF(tau=2.0, v_reset=None)(x)
        x = TimeFold(keras.layers.Dense(7))(x)
        x = PLIF(return_membrane=False)(x)
        model = keras.Model(inp, keras.layers.Dense(2)(MeanOverTime()(x)))
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse", jit_compile=jit)
        rng = np.random.RandomState(0)
        model.fit(rng.rand(8, steps, 5).astype("float32") * 2, rng.rand(8, 2).astype("float32"),
                  batch_size=8, epochs=1, verbose=0)
        return [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]

    unrolled = one_step(100)
    assert not loops, "T <= UNROLL_MAX must unroll"
    looped = one_step(4)
    assert loops and set(loops) == {steps}, "T > UNROLL_MAX must run the scan / while loop"
    for a, b in zip(unrolled, looped):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, b0) for a, b0 in zip(unrolled, one_step_init(steps)))


def one_step_init(steps):
    keras.utils.set_random_seed(3)
    inp = keras.Input((steps, 5))
    x = TimeFold(keras.layers.Dense(7))(inp)
    x = LIF(tau=2.0, v_reset=None)(x)
    x = TimeFold(keras.layers.Dense(7))(x)
    x = PLIF()(x)
    model = keras.Model(inp, keras.layers.Dense(2)(MeanOverTime()(x)))
    return [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
