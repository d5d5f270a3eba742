"""The CSBP chaotic loss as one fused torch autograd function (torch backend fast path).

Same value and gradient as the generic ``keras.ops`` path of
:class:`snnzoo.chaos.ChaoticRegularizer` (tested in tests/test_chaos_fused_torch.py), without
the Python work of Keras' torch ops (every Python scalar made a tensor, a host-to-device copy on
a GPU; casts in ``mean``; a Python autograd function for the custom gradient) and with 3 large
temporaries instead of 9+ (on CPU each fresh large tensor costs its page faults). Measured with
benchmarks/chaos_overhead.py on ResNet-19 (T=2, B=32, torch eager): H100, whole step with the
loss on all 18 spiking layers 1.27× → 1.12× of the plain step; 2-core CPU, the loss alone
(forward + backward) 0.26 → 0.20 s, 3.1 % of a 6.6 s step.

Forward, for x of shape [B, T, ...] (Wang, Tao & Chen, NSR 2024, Eq. 2–5; see regularizer.py)::

    v  = mean_t x            (paper form; the code form skips it)
    v  = clamp(v, lo, hi)    (code form: zero gradient outside, the authors' ``where``)
    v  = v / temperature,    v = clip(v, ±LINEAR_FROM)
    L  = z · reduce(softplus(v) − I0·v)

Backward: ∂L/∂x = z · s · (σ(v) − I0) · 1[lo < v < hi] / (temperature · T), broadcast over t,
with s the reduction's factor (1/B, 1/N or 1).
"""
import torch

_FLOATS = (torch.float32, torch.float64)


def fused_ok(x):
    """True when the fused path applies: a floating torch tensor (float32/float64)."""
    return isinstance(x, torch.Tensor) and x.dtype in _FLOATS


class _ChaoticLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, z, i0, time_axis, clamp, temperature, reduction, linear_from):
        v = _time_mean(x, time_axis) if time_axis is not None else x
        mask = None
        if clamp is not None:  # the authors' where(x < hi, x, hi), where(x > lo, x, lo)
            low, high = clamp
            mask = (v > low) & (v < high)
            v = torch.where(v < high, v, high)
            v = torch.where(v > low, v, low)
        if temperature != 1.0:
            v = v / temperature
        v = v.clamp_(-linear_from, linear_from) if v is not x else v.clamp(-linear_from, linear_from)
        if reduction == "mean":
            factor = 1.0 / max(v.numel(), 1)
        elif reduction == "sum" or v.dim() == 0:
            factor = 1.0
        else:  # batch_mean: sum over the non-batch axes, mean over the batch
            factor = 1.0 / max(v.shape[0], 1)
        # Σ ℓ = Σ softplus(v) − I0·Σ v: one full-size temporary instead of two
        reduced = (torch.nn.functional.softplus(v).sum() - i0 * v.sum()) * factor
        ctx.save_for_backward(v, z, reduced, mask)
        ctx.config = (i0, factor / temperature, time_axis, tuple(x.shape),
                      x.shape[time_axis] if time_axis is not None else 1)
        return reduced * z

    @staticmethod
    def backward(ctx, upstream):
        v, z, reduced, mask = ctx.saved_tensors
        i0, scale, time_axis, x_shape, steps = ctx.config
        grad_x = grad_z = None
        if ctx.needs_input_grad[0]:
            # three passes over v (sigmoid, subtract, scale); the scalar factor is a 0-d tensor
            grad = torch.sigmoid(v).sub_(i0).mul_(upstream * z * (scale / steps))
            if mask is not None:
                grad = grad.mul_(mask)
            if time_axis is not None:
                grad = grad.unsqueeze(time_axis).expand(x_shape)
            grad_x = grad
        if ctx.needs_input_grad[1]:
            grad_z = upstream * reduced
        return grad_x, grad_z, None, None, None, None, None, None


def _time_mean(x, axis):
    """mean over ``axis``: for short sequences as T−1 adds of slices and one in-place scale
    (torch's ``mean`` over a middle axis is ~2× slower on CPU)."""
    steps = x.shape[axis]
    if not 1 < steps <= 8:
        return x.mean(dim=axis)
    total = torch.add(x.select(axis, 0), x.select(axis, 1))
    for t in range(2, steps):
        total.add_(x.select(axis, t))
    return total.mul_(1.0 / steps)


def fused_chaotic_loss(x, z, i0, time_axis, clamp, temperature, reduction, linear_from):
    """``z · reduce(ℓ(v))`` for a torch tensor x (see the module docstring); z a 0-d tensor."""
    if time_axis is not None and time_axis < 0:
        time_axis += x.dim()
    if not isinstance(z, torch.Tensor):
        z = torch.as_tensor(z, device=x.device)
    return _ChaoticLoss.apply(x, z.to(device=x.device, dtype=x.dtype), float(i0), time_axis, clamp,
                              float(temperature), reduction, float(linear_from))
