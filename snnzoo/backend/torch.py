"""Torch fast paths (see :mod:`snnzoo.backend.dispatch`): each returns None to decline, and is
equal to the generic ``keras.ops`` path it replaces (tests/test_fast_paths.py,
tests/test_chaos_fused_torch.py)."""
import keras
import torch
from keras import ops

from snnzoo.backend import torch_chaos
from snnzoo.backend._keras_compat import in_stateless_scope

__all__ = ["batch_norm_grad", "call_on_frames", "stack_time", "chaotic_loss_entry",
           "chaotic_loss_batch", "accumulate", "accumulate_statistics"]


# -- batch norm ------------------------------------------------------------------------------------
def batch_norm_grad(upstream, x, mean, variance, gamma, epsilon):
    """:func:`snnzoo.backend.batch_norm_grad` as ATen's fused ``native_batch_norm_backward`` on
    the [N, C] view (one call instead of eight element-wise passes); declines mixed or non-float
    dtypes."""
    if not _bn_backward_ok(upstream, x, mean, variance, gamma):
        return None
    channels = x.shape[-1]
    invstd = torch.rsqrt(variance + epsilon)
    dx, dgamma, dbeta = torch.ops.aten.native_batch_norm_backward(
        upstream.reshape(-1, channels), x.reshape(-1, channels), gamma, None, None, mean, invstd,
        True, epsilon, [True, gamma is not None, True],
    )
    return dx.reshape(x.shape), dgamma, dbeta


def _bn_backward_ok(*tensors):
    dtypes = {t.dtype for t in tensors if t is not None}
    return len(dtypes) == 1 and dtypes <= {torch.float32, torch.float64}


# -- per-frame layers ------------------------------------------------------------------------------
def call_on_frames(layer, frames):
    """:func:`snnzoo.backend.call_on_frames` for plain float32 channels-last ``Conv2D`` /
    ``MaxPooling2D`` / ``AveragePooling2D``: the same ``keras.ops`` calls on the NCHW *view* of
    the NHWC frames (no layout copies); declines any other layer."""
    if not _frames_ok(layer, frames):
        return None
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


def _frames_ok(layer, frames):
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


# -- time loop -------------------------------------------------------------------------------------
def stack_time(tensors):
    """``torch.stack(tensors, dim=1)``: Keras' ``ops.stack`` flattens its list argument through
    recursive closures (Keras 3.15 ``tree``), a reference cycle that keeps every step's spikes and
    their autograd graph alive until the next garbage collection."""
    return torch.stack(tensors, dim=1)


# -- the CSBP chaotic loss (snnzoo.chaos.ChaoticRegularizer) ---------------------------------------
def chaotic_loss_entry(x, *, time_axis, reduction, z, i0, clamp, temperature, linear_from,
                       split_time=False):
    """What :func:`chaotic_loss_batch` needs of tensor ``x`` (its time sum and factors; on CPU, for
    a large x, its loss already computed by one compiled kernel: a
    :class:`~snnzoo.backend.torch_chaos.Precomputed`, carrying x's time slices where
    ``split_time`` is asked), or None for anything but a float32/float64 torch tensor. Every
    entry has ``.key`` (what entries batched together share) and ``.time_slices``."""
    if not torch_chaos.fused_ok(x):
        return None
    if time_axis is not None and time_axis < 0:
        time_axis += x.dim()
    done = torch_chaos.compiled_chaotic_loss(x, time_axis, reduction, z, i0, clamp, temperature,
                                             linear_from, split_time)
    return done if done is not None else torch_chaos.chaos_entry(x, time_axis, reduction)


def chaotic_loss_batch(entries, *, z, i0, clamp, temperature, linear_from):
    """``(Σ_k L_k, [L_k])`` of several :func:`chaotic_loss_entry` results (same ``key``) in one
    fused call: the sum is differentiable, the per-entry values (a tensor) are not."""
    eager = [e for e in entries if not isinstance(e, torch_chaos.Precomputed)]
    if eager:
        total, per_eager = torch_chaos.fused_chaotic_loss_batch(eager, z, i0, clamp, temperature,
                                                                linear_from)
        if len(eager) == len(entries):
            return total, per_eager
        per_eager = iter(per_eager.unbind())
    done = [e[0] for e in entries if isinstance(e, torch_chaos.Precomputed)]
    total = sum(done[1:], done[0]) + (total if eager else 0.0)
    per_entry = torch.stack([e[0].detach() if isinstance(e, torch_chaos.Precomputed)
                             else next(per_eager) for e in entries])
    return total, per_entry


# -- statistics (non-trainable variables, no gradient) ---------------------------------------------
def accumulate(variable, value):
    """``variable += value`` as one in-place add on the variable's tensor (Keras' ``assign(v + x)``
    converts, casts and copies: several ops and ~30 µs per call, which add up in a launch-bound
    step). Declines in a stateless scope."""
    if in_stateless_scope():
        return None
    variable.value.add_(value.detach() if hasattr(value, "detach") else value)
    return True


def accumulate_statistics(sums, counts, values):
    """``sums[k] += values[k]``, ``counts[k] += 1`` for variables ``sums``, ``counts`` and a 1-D
    tensor ``values``: one multi-tensor add each (torch ``_foreach_add_``)."""
    sums = [v.value for v in sums]
    counts = [v.value for v in counts]
    values = list(values.detach().to(sums[0].dtype).unbind())
    if len({id(s) for s in sums}) == len(sums):
        torch._foreach_add_(sums, values)
        torch._foreach_add_(counts, 1.0)
    else:  # a probe called more than once in the pass (a shared layer)
        for total, count, value in zip(sums, counts, values):
            total.add_(value)
            count.add_(1.0)
    return True
