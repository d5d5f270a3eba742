"""The batch-norm backward with batch statistics, fused where the backend has a kernel for it."""
from keras import ops

from snnzoo.backend.dispatch import run_fast_path

__all__ = ["batch_norm_grad"]


def batch_norm_grad(upstream, x, mean, variance, gamma, epsilon):
    """Input and affine gradients of channels-last batch norm with batch statistics
    (Ioffe & Szegedy, ICML 2015, Sec. 3), statistics over every axis but the last::

        x̂ = (x − μ)/√(σ² + ε)
        ∂L/∂x = γ/√(σ² + ε) · (g − mean(g) − x̂·mean(g·x̂)),   ∂L/∂γ = Σ g·x̂,   ∂L/∂β = Σ g

    Returns ``(dx, dgamma, dbeta)`` (``dgamma`` is None if ``gamma`` is None). Generic path: 8
    element-wise passes in ``keras.ops``. Torch fast path: ATen's fused
    ``native_batch_norm_backward`` on the [N, C] view (one call; equal to the generic path up to
    float rounding, tested).
    """
    fast = run_fast_path("batch_norm_grad", upstream, x, mean, variance, gamma, epsilon)
    if fast is not None:
        return fast
    return generic_batch_norm_grad(upstream, x, mean, variance, gamma, epsilon)


def generic_batch_norm_grad(upstream, x, mean, variance, gamma, epsilon):
    """:func:`batch_norm_grad` in ``keras.ops`` (every backend)."""
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
