"""The speed-ups of the training step keep the numbers: fused batch-norm backward (all backends;
torch: one ATen call), torch's copy-free channels-last conv / pooling under TimeFold, and the
neurons' first step charged from rest. Each is checked against the generic path it replaces and
against an independent float64 numpy reference where it computes something new."""
import keras
import numpy as np
import pytest

import snnzoo.backend as backend
from snnzoo.layers import IF, LIF, PLIF, TEBN, TDBatchNorm, TimeFold
from snnzoo.layers.neurons import BaseNeuron

BACKEND = keras.backend.backend()
torch_only = pytest.mark.skipif(BACKEND != "torch", reason="torch fast path")


def _train_value_and_grads(layer, x, w):
    """y = layer(x, training=True), and d sum(y·w) / d (x, trainable weights), on the backend."""
    if BACKEND == "torch":
        import torch

        xt = torch.tensor(x, requires_grad=True)
        for v in layer.trainable_variables:
            v.value.grad = None
        y = layer(xt, training=True)
        (y * torch.tensor(w)).sum().backward()
        return y.detach().numpy(), xt.grad.numpy(), [v.value.grad.numpy() for v in layer.trainable_variables]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt, training=True)
            loss = tf.reduce_sum(y * w)
        g = tape.gradient(loss, [xt] + [v.value for v in layer.trainable_variables])
        return y.numpy(), g[0].numpy(), [a.numpy() for a in g[1:]]
    import jax

    ntv = [v.value for v in layer.non_trainable_variables]

    def f(xv, tv):
        y, _ = layer.stateless_call(tv, ntv, xv, training=True)
        return (y * w).sum(), y

    (_, y), (gx, gw) = jax.value_and_grad(f, argnums=(0, 1), has_aux=True)(
        x, [v.value for v in layer.trainable_variables])
    return np.asarray(y), np.asarray(gx), [np.asarray(a) for a in gw]


def _numpy_bn_train(x, w, gamma, beta, eps):
    """Batch norm over all axes but the last and its gradients, in float64 (Ioffe & Szegedy 2015)."""
    x = x.astype(np.float64)
    axes = tuple(range(x.ndim - 1))
    mu, var = x.mean(axes), x.var(axes)
    xhat = (x - mu) / np.sqrt(var + eps)
    g = w.astype(np.float64)
    dgamma, dbeta = (g * xhat).sum(axes), g.sum(axes)
    dxhat = g * gamma
    dx = (dxhat - dxhat.mean(axes) - xhat * (dxhat * xhat).mean(axes)) / np.sqrt(var + eps)
    return gamma * xhat + beta, dx, dgamma, dbeta, var


def _bn_data(shape=(3, 4, 5, 6, 7)):
    rng = np.random.RandomState(0)
    x = (rng.randn(*shape) * rng.uniform(0.5, 3.0, shape[-1]) + rng.uniform(-2, 2, shape[-1])).astype("float32")
    return x, rng.randn(*shape).astype("float32")


@pytest.mark.parity
@pytest.mark.parametrize("affine", [True, False])
def test_tdbatchnorm_training_equals_keras_batchnorm(affine):
    """Forward and moving statistics bit-identical to keras BatchNormalization; gradients equal to
    Keras' autodiff to float32 rounding and to the float64 formula."""
    x, w = _bn_data()
    kw = dict(momentum=0.9, epsilon=1e-5, center=affine, scale=affine)
    ours = TDBatchNorm(alpha=0.5, v_threshold=1.5, **kw)
    ref = keras.layers.BatchNormalization(gamma_initializer=keras.initializers.Constant(0.75), **kw)
    for layer in (ours, ref):
        layer.build(x.shape)
        if affine:
            layer.beta.assign(np.linspace(-0.3, 0.4, x.shape[-1]).astype("float32"))
    y, gx, gw = _train_value_and_grads(ours, x, w)
    y_ref, gx_ref, gw_ref = _train_value_and_grads(ref, x, w)
    np.testing.assert_array_equal(y, y_ref)
    gamma = 0.75 if affine else 1.0
    beta = np.linspace(-0.3, 0.4, x.shape[-1]) if affine else 0.0
    y64, dx64, dgamma64, dbeta64, var64 = _numpy_bn_train(x, w, gamma, beta, 1e-5)
    np.testing.assert_allclose(y, y64, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-5, atol=2e-6 * np.abs(gx_ref).max())
    np.testing.assert_allclose(gx, dx64, rtol=1e-4, atol=2e-6 * np.abs(dx64).max())
    assert len(gw) == (2 if affine else 0)
    if affine:
        for got, want, exact in zip(gw, gw_ref, (dgamma64, dbeta64)):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
            np.testing.assert_allclose(got, exact, rtol=1e-4, atol=1e-5 * np.abs(exact).max())
    if BACKEND != "jax":  # JAX: stateless_call returns the statistics instead of assigning them
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours.moving_variance),
                                      keras.ops.convert_to_numpy(ref.moving_variance))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(ours.moving_variance), 0.9 + 0.1 * var64, rtol=1e-5)


@pytest.mark.parity
def test_tebn_training_gradient_matches_formula():
    """TEBN = BN × p[t] takes the fused path too: d/dx and d/dp against float64."""
    x, w = _bn_data((2, 3, 4, 4, 5))
    layer = TEBN(time_steps=3)
    layer.build(x.shape)
    p = np.array([0.5, 1.0, 2.0], dtype="float32")
    layer.p.assign(p)
    y, gx, gw = _train_value_and_grads(layer, x, w)
    pw = p.reshape(1, 3, 1, 1, 1)
    bn64, dx64, _, _, _ = _numpy_bn_train(x, w * pw, 1.0, 0.0, 1e-5)
    np.testing.assert_allclose(y, bn64 * pw, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx, dx64, rtol=1e-4, atol=2e-6 * np.abs(dx64).max())
    names = [v.name for v in layer.trainable_variables]
    np.testing.assert_allclose(gw[names.index("p")], (bn64 * w).sum((0, 2, 3, 4)), rtol=1e-4, atol=1e-4)


@torch_only
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("with_gamma", [True, False])
def test_batch_norm_grad_torch_native_equals_generic(dtype, with_gamma):
    import torch

    rng = np.random.RandomState(1)
    x = torch.tensor(rng.randn(6, 5, 4, 8) * 2 + 1, dtype=getattr(torch, dtype))
    g = torch.tensor(rng.randn(6, 5, 4, 8), dtype=x.dtype)
    mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2), unbiased=False)
    gamma = torch.tensor(rng.uniform(0.5, 2, 8), dtype=x.dtype) if with_gamma else None
    from snnzoo.backend import torch as backend_torch
    from snnzoo.backend.batch_norm import generic_batch_norm_grad

    assert backend_torch._bn_backward_ok(g, x, mean, var, gamma)
    assert backend.fast_path("batch_norm_grad") is backend_torch.batch_norm_grad
    fast = backend_torch.batch_norm_grad(g, x, mean, var, gamma, 1e-5)
    assert fast is not None  # taken, not declined
    generic = generic_batch_norm_grad(g, x, mean, var, gamma, 1e-5)
    rtol = 1e-12 if dtype == "float64" else 2e-5
    for a, b in zip(fast, generic):
        if b is None:
            assert a is None
            continue
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, atol=rtol * float(b.abs().max()))
    assert fast[0].shape == x.shape


FRAME_LAYERS = {
    "conv_same_nobias": lambda: keras.layers.Conv2D(8, 3, padding="same", use_bias=False),
    "conv_bias_relu": lambda: keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
    "conv_stride2_valid_rect": lambda: keras.layers.Conv2D(8, (3, 5), strides=2),
    "conv_even_kernel_same": lambda: keras.layers.Conv2D(8, 4, strides=2, padding="same"),
    "conv_dilated": lambda: keras.layers.Conv2D(8, 3, dilation_rate=2, padding="same"),
    "conv_groups": lambda: keras.layers.Conv2D(6, 3, groups=2, padding="same"),
    "maxpool": lambda: keras.layers.MaxPooling2D(2),
    "maxpool_same": lambda: keras.layers.MaxPooling2D(3, strides=2, padding="same"),
    "avgpool": lambda: keras.layers.AveragePooling2D(2),
    "avgpool_same": lambda: keras.layers.AveragePooling2D(3, strides=1, padding="same"),
}


@torch_only
@pytest.mark.parametrize("name", sorted(FRAME_LAYERS))
def test_timefold_torch_fast_path_is_bit_identical(name, monkeypatch):
    import torch

    shape = (2, 3, 11, 9, 6)
    keras.utils.set_random_seed(0)
    layer = FRAME_LAYERS[name]()
    fold = TimeFold(layer)
    fold.build(shape)
    from snnzoo.backend import torch as backend_torch

    assert backend_torch._frames_ok(layer, torch.zeros((6,) + shape[2:]))
    rng = np.random.RandomState(2)
    x_np = rng.randn(*shape).astype("float32")
    results = []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(backend_torch, "_frames_ok", lambda *a: False)
        x = torch.tensor(x_np, requires_grad=True)
        for v in layer.trainable_variables:
            v.value.grad = None
        y = fold(x)
        if fast:
            assert y.is_contiguous()
            w = torch.tensor(rng.randn(*y.shape).astype("float32"))
        (y * w).sum().backward()
        results.append([y.detach().numpy(), x.grad.numpy()] + [v.value.grad.numpy() for v in layer.trainable_variables])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


class _MyConv(keras.layers.Conv2D):
    def call(self, inputs):
        return super().call(inputs) * 2.0


@torch_only
@pytest.mark.parametrize("make,shape", [
    (lambda: _MyConv(4, 3, padding="same"), (5, 6, 6, 3)),  # subclass: its own call() must run
    (lambda: keras.layers.Conv2D(4, 3, data_format="channels_first"), (5, 3, 6, 6)),
    (lambda: keras.layers.Conv2D(4, 3, activity_regularizer="l2"), (5, 6, 6, 3)),
    (lambda: keras.layers.Conv2D(4, 3, dtype="mixed_bfloat16"), (5, 6, 6, 3)),
    (lambda: keras.layers.Dense(4), (5, 6, 6, 3)),
])
def test_timefold_fast_path_leaves_other_layers_to_keras(make, shape):
    import torch

    from snnzoo.backend import torch as backend_torch

    layer = make()
    layer.build(shape)
    assert not backend_torch._frames_ok(layer, torch.zeros(shape))
    assert backend_torch.call_on_frames(layer, torch.zeros(shape)) is None  # declined


@pytest.mark.parity
@pytest.mark.parametrize("v_reset", [0.0, None, -0.5])
@pytest.mark.parametrize("make", [
    lambda r: IF(v_reset=r),
    lambda r: LIF(tau=3.0, v_reset=r),
    lambda r: LIF(tau=1.5, v_reset=r, decay_input=False),
    lambda r: PLIF(init_tau=2.5, v_reset=r),
    lambda r: PLIF(init_tau=2.5, v_reset=r, decay_input=False),
])
def test_charge_from_rest_equals_charge_of_resting_state(make, v_reset):
    """The reduced first-step charge equals the generic charge from V = V_reset, and the formula."""
    neuron = make(v_reset)
    neuron.build((2, 3, 7))
    x = np.random.RandomState(3).randn(2, 7).astype("float32") * 2
    params = neuron.dynamics_params()
    got = keras.ops.convert_to_numpy(neuron.charge_from_rest(keras.ops.convert_to_tensor(x), params))
    generic = keras.ops.convert_to_numpy(BaseNeuron.charge_from_rest(neuron, keras.ops.convert_to_tensor(x), params))
    np.testing.assert_array_equal(got, generic)
    k = 0.0 if isinstance(neuron, IF) else float(keras.ops.convert_to_numpy(params))
    rest = v_reset or 0.0
    want = rest + (x * k if getattr(neuron, "decay_input", False) else x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parity
@pytest.mark.parametrize("steps", [3, 11])  # unrolled, and scan / while_loop on JAX / TF
def test_time_loop_first_step(steps):
    """first_step replaces step at t = 0 in the unrolled loop (lazy state never built); the compiled
    loops start from the state. Both give the same sequence."""
    x = keras.ops.convert_to_tensor(np.random.RandomState(4).randn(2, steps, 3).astype("float32"))

    def step(state, x_t):
        v = state[0] * 0.5 + x_t
        return (v,), v * 2.0

    def first(x_t):
        return (x_t + 1.0,), (x_t + 1.0) * 2.0

    built = []

    def rest():
        built.append(True)
        return (keras.ops.ones_like(x[:, 0]) * 2.0,)

    _, with_first = backend.time_loop(step, rest, x, first_step=first)
    _, plain = backend.time_loop(step, (keras.ops.ones_like(x[:, 0]) * 2.0,), x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(with_first), keras.ops.convert_to_numpy(plain), rtol=1e-6)
    unrolled = steps <= backend.UNROLL_MAX or BACKEND == "torch"
    assert built == ([] if unrolled else [True])


@pytest.mark.parity
@pytest.mark.parametrize("steps", [3, 11])  # unrolled, and scan / while_loop on JAX / TF
def test_time_loop_by_length_without_inputs(steps):
    """``inputs=None, length=T``: T steps with x_t = None (a constant input read by the step);
    the state equals a hand-written loop, outputs are None when the step returns none, and
    stacked when it returns some."""
    c = np.random.RandomState(5).randn(2, 3).astype("float32")
    const = keras.ops.convert_to_tensor(c)

    def step(state, x_t):
        assert x_t is None
        v = state[0] * 0.5 + const
        return (v, state[1] + 1.0), None

    (v, n), out = backend.time_loop(step, (keras.ops.zeros((2, 3)), keras.ops.zeros(())), None,
                                    length=steps)
    ref = np.zeros((2, 3), "float32")
    for _ in range(steps):
        ref = ref * 0.5 + c
    np.testing.assert_allclose(keras.ops.convert_to_numpy(v), ref, rtol=1e-6)
    assert out is None and float(keras.ops.convert_to_numpy(n)) == steps

    def step_out(state, x_t):
        v = state[0] * 0.5 + const
        return (v,), v * 2.0

    _, ys = backend.time_loop(step_out, (keras.ops.zeros((2, 3)),), None, length=steps)
    assert tuple(ys.shape) == (2, steps, 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ys)[:, -1], 2.0 * ref, rtol=1e-6)
    with pytest.raises(ValueError, match="inputs .* or length"):
        backend.time_loop(step, (), None)


@torch_only
@pytest.mark.parametrize("make", [
    lambda: LIF(tau=2.0, detach_reset=True),
    lambda: IF(v_reset=None, return_membrane=True),
    lambda: PLIF(adjust="bpsa"),
    lambda: TDBatchNorm(),
    lambda: TimeFold(keras.layers.Conv2D(3, 3, padding="same")),
    lambda: TimeFold(keras.layers.MaxPooling2D(2)),
])
def test_training_call_leaves_no_tensors_in_reference_cycles(make):
    """Forward + backward must not park tensors in reference cycles (freed only by the cyclic GC,
    which lets memory grow between collections). Keras' ``ops.stack`` used to do this with each
    neuron's per-step spikes and their autograd graph (~32 MB per step of the benchmark net)."""
    import gc

    import torch

    layer = make()
    x = torch.rand(2, 3, 4, 4, 3) * 2.0
    layer.build(x.shape)
    gc.collect()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        xt = x.clone().requires_grad_(True)
        out = layer(xt, training=True) if isinstance(layer, TDBatchNorm) else layer(xt)
        sum(o.sum() for o in (out if isinstance(out, tuple) else (out,))).backward()
        del xt, out
        gc.collect()
        # plain tensors only: earlier torch.compile tests can leave FakeTensors to the collector
        cyclic = [o for o in gc.garbage if type(o) in (torch.Tensor, torch.nn.Parameter)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not cyclic, f"{len(cyclic)} tensors kept alive only by reference cycles"


# -- the dispatch to the fast paths ---------------------------------------------------------------
def test_keras_private_api_is_found():
    """snnzoo.backend._keras_compat found every private Keras name it guards (a silent fallback
    would cost speed or float64 exactness, not correctness)."""
    from snnzoo.backend import _keras_compat

    assert _keras_compat.MISSING == []
    assert _keras_compat.in_stateless_scope() is False
    assert _keras_compat.current_call_context() is None  # outside a layer call


def test_fast_paths_are_asked_at_call_time_and_may_decline(monkeypatch):
    """A fast path returning None declines: the generic path runs (and gives its numbers)."""
    from snnzoo.backend import dispatch
    from snnzoo.backend.batch_norm import generic_batch_norm_grad

    assert backend.fast_path("no_such_fast_path") is None
    expected_module = {"torch": "snnzoo.backend.torch", "jax": "snnzoo.backend.jax",
                       "tensorflow": "snnzoo.backend.tensorflow"}[BACKEND]
    assert dispatch._backend_module(BACKEND).__name__ == expected_module
    asked = []

    def declining(*args):
        asked.append(len(args))
        return None

    module = dispatch._backend_module(BACKEND)
    monkeypatch.setattr(module, "batch_norm_grad", declining, raising=False)
    rng = np.random.RandomState(0)
    x = keras.ops.convert_to_tensor(rng.randn(4, 3, 5).astype("float32"))
    g = keras.ops.convert_to_tensor(rng.randn(4, 3, 5).astype("float32"))
    mean, var = keras.ops.mean(x, axis=(0, 1)), keras.ops.var(x, axis=(0, 1))
    got = backend.batch_norm_grad(g, x, mean, var, None, 1e-5)
    want = generic_batch_norm_grad(g, x, mean, var, None, 1e-5)
    assert asked == [6] and got[1] is None
    for a, b in ((got[0], want[0]), (got[2], want[2])):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_offered_time_slices_serve_one_loop_inside_their_scope():
    x = keras.ops.convert_to_tensor(np.arange(12, dtype="float32").reshape(2, 3, 2))
    slices = [x[:, t] * 1.0 for t in range(3)]
    assert backend.take_time_slices(x, 3) is None
    with backend.offer_time_slices(x, slices):
        assert backend.take_time_slices(keras.ops.copy(x), 3) is None  # another tensor
        assert backend.take_time_slices(x, 3) == tuple(slices)
        assert backend.take_time_slices(x, 3) is None  # served once
    with backend.offer_time_slices(x, slices):
        assert backend.take_time_slices(x, 2) is None  # another length
    assert backend.take_time_slices(x, 3) is None  # withdrawn with the scope


def test_deprecated_time_slice_functions_warn_and_work():
    x = keras.ops.convert_to_tensor(np.ones((2, 2, 1), "float32"))
    slices = [x[:, 0], x[:, 1]]
    with pytest.warns(DeprecationWarning, match="offer_time_slices"):
        backend.set_time_slices(x, slices)
    try:
        assert backend.take_time_slices(x, 2) == tuple(slices)
    finally:
        with pytest.warns(DeprecationWarning, match="offer_time_slices"):
            backend.clear_time_slices(x)
    assert backend.take_time_slices(x, 2) is None


def test_unroll_max_is_read_at_call_time(monkeypatch):
    """``snnzoo.backend.UNROLL_MAX`` set on the package applies to later loops (the compiled loop
    is asked only above it)."""
    calls = []
    monkeypatch.setattr(backend, "_compiled_loop", lambda *a: calls.append(a[3]))
    x = keras.ops.ones((2, 4, 3))

    def step(state, x_t):
        return state, x_t * 2.0

    monkeypatch.setattr(backend, "UNROLL_MAX", 3)
    _, y = backend.time_loop(step, (), x)
    monkeypatch.setattr(backend, "UNROLL_MAX", 4)
    backend.time_loop(step, (), x)
    assert calls == [4]  # declined (None): the unrolled loop ran
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(y), np.full((2, 4, 3), 2.0, "float32"))


def test_the_fast_path_module_is_imported_with_snnzoo():
    """Imported with snnzoo, not at its first lookup, which could happen inside a function
    torch.compile traces (an import there breaks the graph)."""
    import os
    import subprocess
    import sys

    code = f"import snnzoo, sys; print('snnzoo.backend.{BACKEND}' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "KERAS_BACKEND": BACKEND})
    assert out.stdout.strip().splitlines()[-1] == "True"
