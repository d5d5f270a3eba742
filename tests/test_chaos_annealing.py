"""ChaosAnnealing: the z used inside the compiled train step of each batch is z0·β^k, recovered
from the training loss of a tiny model whose only loss is a chaos term known by hand."""
import numpy as np
import pytest
import keras
from keras import ops

from snnzoo.chaos import ChaosAnnealing, ChaoticRegularizer, attach_chaos, chaotic_regularizers

I0 = 0.65
B, T = 4, 3


def _setup(z0, jit, **reg_kwargs):
    """Dense(3) over [B, T, 2] with fixed weights (lr = 0) and the chaos term on its output as the
    only loss. Returns (model, x, C) with C the unscaled chaos loss computed by hand."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (B, T, 2)).astype("float32")
    kernel = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]], dtype="float32")
    bias = np.array([0.1, -0.2, 0.3], dtype="float32")
    inp = keras.Input((T, 2))
    out = keras.layers.Dense(3, name="fc")(inp)
    model = keras.Model(inp, out)
    model.get_layer("fc").set_weights([kernel, bias])
    attach_chaos(model, ["fc"], z0=z0, **reg_kwargs)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss=None, jit_compile=jit)
    # paper form by hand: h = σ(mean_t u), summed over neurons, mean over batch
    u_bar = (x.astype(np.float64) @ kernel + bias).mean(axis=1)
    c = np.mean(np.sum(I0 * np.logaddexp(0, -u_bar) + (1 - I0) * np.logaddexp(0, u_bar), axis=1))
    return model, x, c


@pytest.mark.parity
@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.slow)])  # torch.compile: ~30-50 s
def test_z_schedule_inside_compiled_step(jit):
    """Per batch, then per epoch, on the same compiled train function."""
    z0, beta, steps = 20.0, 0.8, 6
    model, x, c = _setup(z0, jit)
    hist = model.fit(x, epochs=steps, batch_size=B, verbose=0,  # one batch per epoch
                     callbacks=[ChaosAnnealing(beta=beta, every="batch")]).history
    z_used = np.array(hist["loss"]) / c
    np.testing.assert_allclose(z_used, np.float32(z0 * beta ** np.arange(steps)), rtol=3e-6)
    np.testing.assert_allclose(hist["chaos_z"], z0 * beta ** np.arange(steps), rtol=1e-12)
    np.testing.assert_allclose(hist["chaos_loss"], hist["loss"], rtol=1e-6)
    (reg,) = chaotic_regularizers(model)
    z1 = float(ops.convert_to_numpy(reg.z))
    assert z1 == np.float32(z0 * beta ** steps)  # exact: z0·β^k rounded once, no drift

    epochs, beta = 4, 0.5
    x3 = np.concatenate([x] * 3)  # 3 identical batches per epoch: one z per epoch
    hist = model.fit(x3, epochs=epochs, batch_size=B, shuffle=False, verbose=0,
                     callbacks=[ChaosAnnealing(beta=beta, every="epoch")]).history
    np.testing.assert_allclose(np.array(hist["loss"]) / c, np.float32(z1 * beta ** np.arange(epochs)),
                               rtol=3e-6)
    np.testing.assert_allclose(hist["chaos_z"], z1 * beta ** np.arange(epochs), rtol=1e-12)
    assert float(ops.convert_to_numpy(reg.z)) == np.float32(z1 * beta ** epochs)


def test_long_schedule_has_no_float32_drift():
    """5000 per-batch updates: z is z0·β^k rounded once, not the product of 5000 roundings."""
    model, x, _ = _setup(20.0, False)
    cb = ChaosAnnealing(beta=0.9995)
    cb.set_model(model)
    cb.on_train_begin()
    for k in range(5000):
        cb.on_train_batch_end(k, {})
    reg = cb._regs[0]
    assert float(ops.convert_to_numpy(reg.z)) == np.float32(20.0 * 0.9995 ** 5000)


def test_activity_regularizer_z_is_seen_by_compiled_step():
    """Used as ``activity_regularizer`` (Keras divides by the batch size), z still anneals.
    (jit on torch is left out: Keras' own add_loss recompiles torch.compile'd steps every step.)"""
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (B, 2)).astype("float32")
    reg = ChaoticRegularizer(z0=8.0, time_axis=None)
    inp = keras.Input((2,))
    out = keras.layers.Dense(2, activity_regularizer=reg, kernel_initializer="ones", name="fc")(inp)
    model = keras.Model(inp, out)
    jit = keras.backend.backend() != "torch"
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss=None, jit_compile=jit)
    hist = model.fit(x, epochs=3, batch_size=B, verbose=0, callbacks=[ChaosAnnealing(0.5)]).history
    u = x.astype(np.float64) @ np.ones((2, 2))
    c = np.mean(np.sum(I0 * np.logaddexp(0, -u) + (1 - I0) * np.logaddexp(0, u), axis=1)) / B
    np.testing.assert_allclose(np.array(hist["loss"]) / c, [8.0, 4.0, 2.0], rtol=3e-6)


def test_bad_arguments():
    with pytest.raises(ValueError):
        ChaosAnnealing(beta=1.5)
    with pytest.raises(ValueError):
        ChaosAnnealing(every="step")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="attach_chaos"):
        model.fit(np.zeros((2, 2)), np.zeros((2, 1)), verbose=0, callbacks=[ChaosAnnealing()])
