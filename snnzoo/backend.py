"""The only backend-aware code in snnzoo.

Portable primitives that Keras 3 does not provide uniformly (what differs per backend:
docs/backends.md), and the few torch-only fast paths (each equal to its generic
``keras.ops`` path, tested in tests/test_fast_paths.py):

* :func:`custom_gradient` — ``keras.ops.custom_gradient`` calls the gradient function with a
  different signature on each backend (TF/JAX: ``grad(upstream)``; torch:
  ``grad(*saved_inputs, upstream=...)``). The wrapper hides that. Constraints that hold on every
  backend: tensors only as positional arguments (constants go in the closure), and layer weights
  must be passed in as ``variable.value`` (never captured), otherwise torch silently drops
  their gradient.
* :func:`time_loop` — a differentiable loop over the time axis that works under ``jit_compile``
  on every backend: an unrolled Python loop for short sequences (and always on torch), ``scan``
  on JAX and ``while_loop(maximum_iterations=T)`` on TensorFlow for long ones (``ops.scan`` has
  no XLA gradient on TF; ``while_loop`` has no reverse-mode gradient on JAX).
* :func:`batch_norm_grad` — the fused batch-norm backward (torch: one ATen call instead of
  eight element-wise passes).
* :func:`call_on_frames` — per-frame layers under ``TimeFold`` (torch: channels-last conv and
  pooling without Keras' layout copies).
"""
import keras
from keras import ops

#: Sequences up to this length are unrolled (fastest for small T on every backend).
UNROLL_MAX = 8


def backend_name() -> str:
    return keras.backend.backend()


def keep_float64_on_torch():
    """Torch: make Keras' type promotion keep float64 (as it does on TensorFlow).

    Keras 3 (``keras.backend.result_type``) maps every float64 result to float32 on all backends
    but TensorFlow, "to align with JAX's default" (JAX without x64 has no float64). On torch the
    ops that take their output dtype from it then compute in float32 on float64 inputs, among
    them ``ops.matmul`` (so ``Dense``: its bias add casts the float32 product back to float64)
    and ``ops.maximum`` (so ``Normalization``: ``(x − μ)/max(√σ², ε)``), and a float64 model is
    float64 in name only: measured on SEW ResNet-34, logits 2e-6 off TensorFlow's. Keras issues
    keras-team/keras#23223 and #23704 report it. Torch computes float64 natively, so float64
    stays float64 there, which is TensorFlow's rule and torch's own promotion (a float32 ⊕
    float64 operation gives float64 on all three). Float32 and mixed-precision models are
    unaffected: the rule concerns only results whose promoted type is float64. Called once on
    import; does nothing on other backends.
    """
    if backend_name() != "torch":
        return
    from keras.src.backend.common import dtypes

    table = getattr(dtypes, "BIT64_TO_BIT32_DTYPE", None)
    if isinstance(table, dict) and table.get("float64") == "float32":
        table["float64"] = "float64"


keep_float64_on_torch()


def custom_gradient(fwd):
    """Wrap ``fwd(*tensors) -> (out, vjp)`` into a function with a custom gradient.

    ``vjp(upstream)`` returns the gradient for the single input, or a tuple with one gradient per
    input. Single output only (a torch constraint).
    """

    @ops.custom_gradient
    def wrapped(*args):
        out, vjp = fwd(*args)

        def grad(*g, upstream=None):
            if upstream is None:  # TensorFlow / JAX
                upstream = g[0] if len(g) == 1 else g
            return vjp(upstream)  # torch: g are the saved inputs, ignored

        return out, grad

    return wrapped


def batch_norm_grad(upstream, x, mean, variance, gamma, epsilon):
    """Input and affine gradients of channels-last batch norm with batch statistics
    (Ioffe & Szegedy, ICML 2015, Sec. 3), statistics over every axis but the last::

        x̂ = (x − μ)/√(σ² + ε)
        ∂L/∂x = γ/√(σ² + ε) · (g − mean(g) − x̂·mean(g·x̂)),   ∂L/∂γ = Σ g·x̂,   ∂L/∂β = Σ g

    Returns ``(dx, dgamma, dbeta)`` (``dgamma`` is None if ``gamma`` is None). Generic path: 8
    element-wise passes in ``keras.ops``. Torch: ATen's fused ``native_batch_norm_backward`` on
    the [N, C] view (one call; equal to the generic path up to float rounding, tested).
    """
    if backend_name() == "torch" and _torch_bn_backward_ok(x, mean, variance, gamma, upstream):
        return _torch_batch_norm_grad(upstream, x, mean, variance, gamma, epsilon)
    return _generic_batch_norm_grad(upstream, x, mean, variance, gamma, epsilon)


def _generic_batch_norm_grad(upstream, x, mean, variance, gamma, epsilon):
    axes = tuple(range(len(x.shape) - 1))
    count = 1
    for a in axes:
        count = count * ops.shape(x)[a]
    if not isinstance(count, int):  # dynamic batch size (TF graph)
        count = ops.cast(count, x.dtype)
    inv = ops.rsqrt(variance + epsilon)
    scale = inv if gamma is None else gamma * inv
    centred = x - mean
    sum_g = ops.sum(upstream, axis=axes)
    sum_gc = ops.sum(upstream * centred, axis=axes)
    dx = (upstream - sum_g / count) * scale - centred * (scale * inv * inv * sum_gc / count)
    return dx, (None if gamma is None else sum_gc * inv), sum_g


def _torch_bn_backward_ok(*tensors):
    import torch

    dtypes = {t.dtype for t in tensors if t is not None}
    return len(dtypes) == 1 and dtypes <= {torch.float32, torch.float64}


def _torch_batch_norm_grad(upstream, x, mean, variance, gamma, epsilon):
    import torch

    channels = x.shape[-1]
    invstd = torch.rsqrt(variance + epsilon)
    dx, dgamma, dbeta = torch.ops.aten.native_batch_norm_backward(
        upstream.reshape(-1, channels), x.reshape(-1, channels), gamma, None, None, mean, invstd,
        True, epsilon, [True, gamma is not None, True],
    )
    return dx.reshape(x.shape), dgamma, dbeta


def call_on_frames(layer, frames, **kwargs):
    """``layer(frames, **kwargs)`` for a per-frame layer on folded frames [N, ...].

    Torch fast path: Keras' torch backend runs channels-last ``Conv2D`` / ``MaxPooling2D`` /
    ``AveragePooling2D`` by copying NHWC → NCHW → NHWC-strided NCHW (and back in the backward).
    Plain float32 instances of exactly these classes are run here on the NCHW *view* of the
    NHWC tensor (the same channels-last memory layout the Keras path ends up with), through the
    same ``keras.ops`` calls with ``data_format="channels_first"``: identical values, no
    copies. Anything else goes through ``layer.__call__``.
    """
    if backend_name() == "torch" and _torch_frame_fast_path_ok(layer, frames):
        to_nchw = ops.transpose(frames, (0, 3, 1, 2))
        if isinstance(layer, keras.layers.Conv2D):
            out = ops.conv(to_nchw, layer.kernel, strides=list(layer.strides), padding=layer.padding,
                           dilation_rate=layer.dilation_rate, data_format="channels_first")
            out = ops.transpose(out, (0, 2, 3, 1))
            if layer.use_bias:  # as Conv2D.call
                out = ops.add(out, ops.reshape(layer.bias, (1, 1, 1, layer.filters)))
            return layer.activation(out) if layer.activation is not None else out
        pool = ops.max_pool if isinstance(layer, keras.layers.MaxPooling2D) else ops.average_pool
        out = pool(to_nchw, pool_size=layer.pool_size, strides=layer.strides, padding=layer.padding,
                   data_format="channels_first")
        return ops.transpose(out, (0, 2, 3, 1))
    return layer(frames, **kwargs)


def _torch_frame_fast_path_ok(layer, frames):
    # exact Keras classes only: a subclass may override call()
    return (
        type(layer) in (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
        and layer.built
        and len(frames.shape) == 4
        and getattr(layer, "data_format", None) == "channels_last"
        and layer.dtype_policy.name == "float32"
        and keras.backend.standardize_dtype(frames.dtype) == "float32"
        and layer.activity_regularizer is None
        and getattr(layer, "quantization_mode", None) is None
    )


def time_loop(step, state, inputs, unroll_max=None, first_step=None):
    """Run ``step(state, x_t) -> (state, y_t)`` over ``inputs`` [B, T, ...] along axis 1.

    ``state`` is a tuple of tensors, or a zero-argument callable returning it (evaluated only if
    needed). ``first_step(x_0) -> (state, y_0)``, if given, must equal ``step(state, x_0)``; the
    unrolled loop uses it for t = 0 instead (e.g. charging from a constant resting state without
    materialising it), the compiled loops use ``step`` throughout. Returns ``(final_state,
    outputs)`` with outputs stacked to [B, T, ...] — a tuple of such tensors if ``step`` returns a
    tuple ``y_t``.
    """
    unroll_max = UNROLL_MAX if unroll_max is None else unroll_max
    steps = inputs.shape[1]
    if steps is None:
        raise ValueError("the time axis (axis 1) must have a static length")
    backend = backend_name()
    if steps <= unroll_max or backend not in ("jax", "tensorflow"):
        outs = []
        slices = take_time_slices(inputs, steps)
        for t, x_t in enumerate(slices or ops.unstack(inputs, num=steps, axis=1)):
            if t == 0 and first_step is not None:
                state, y = first_step(x_t)
            else:
                state, y = step(state() if callable(state) else state, x_t)
            outs.append(y)
        if isinstance(outs[0], tuple):
            return state, tuple(_stack_time(list(o)) for o in zip(*outs))
        return state, _stack_time(outs)
    return _compiled_loop(step, state() if callable(state) else state, inputs, steps, backend)


#: Time slices offered to the next time loop over a tensor: id(tensor) -> (tensor, slices).
#: Empty except inside a wrapped layer call, so the loop's check costs one dict test.
_OFFERED_SLICES = {}


def set_time_slices(tensor, slices):
    """Offer ``slices`` (tensors equal to ``tensor[:, t]``, whose gradients their producer
    combines itself) to the next :func:`time_loop` over ``tensor``. The CSBP probes use it:
    their compiled loss returns x's time slices, and x's gradient is then written in one pass
    (snnzoo.chaos.fused_torch). Undo with :func:`clear_time_slices`."""
    _OFFERED_SLICES[id(tensor)] = (tensor, tuple(slices))


def clear_time_slices(tensor):
    _OFFERED_SLICES.pop(id(tensor), None)


def take_time_slices(inputs, steps):
    """The slices offered for ``inputs`` by :func:`set_time_slices` (and withdrawn: they serve
    one loop), or None."""
    if not _OFFERED_SLICES:  # nothing offered: the usual case, and always under torch.compile
        return None
    offered = _OFFERED_SLICES.pop(id(inputs), None)
    return offered[1] if offered is not None and len(offered[1]) == steps else None


def _stack_time(tensors):
    """``ops.stack(tensors, axis=1)``. On torch, ``torch.stack`` directly: Keras' ``ops.stack``
    flattens its list argument through recursive closures (Keras 3.15 ``tree``), a reference
    cycle that keeps every step's spikes and their autograd graph alive until the next
    garbage collection."""
    if backend_name() == "torch":
        import torch

        return torch.stack(tensors, dim=1)
    return ops.stack(tensors, axis=1)


def _compiled_loop(step, state, inputs, steps, backend):
    xs = ops.moveaxis(inputs, 1, 0)
    if backend == "jax":
        state, ys = ops.scan(lambda c, x: step(c, x), state, xs)
        if isinstance(ys, (tuple, list)):
            return state, tuple(ops.moveaxis(y, 0, 1) for y in ys)
        return state, ops.moveaxis(ys, 0, 1)

    import tensorflow as tf  # TF: XLA-differentiable bounded while loop

    probe = step(state, xs[0])[1]
    multi = isinstance(probe, tuple)
    probes = probe if multi else (probe,)
    arrays = tuple(tf.TensorArray(p.dtype, size=steps, element_shape=p.shape) for p in probes)

    def body(t, carry, bufs):
        carry, y = step(carry, xs[t])
        ys = y if multi else (y,)
        return t + 1, carry, tuple(b.write(t, v) for b, v in zip(bufs, ys))

    _, state, arrays = tf.while_loop(
        lambda t, c, b: t < steps, body, (tf.constant(0), state, arrays), maximum_iterations=steps
    )
    outs = tuple(tf.transpose(a.stack(), [1, 0] + list(range(2, len(a.element_shape) + 1))) for a in arrays)
    return state, outs if multi else outs[0]
