"""The batch-norm backward with batch statistics, fused where the backend has a kernel for it."""
from keras import ops

from snnzoo.backend.dispatch import run_fast_path

__all__ = ["batch_norm_grad"]


def batch_norm_grad(upstream, x, mean, variance, gamma, epsilon, across_replicas=False):
    """Input and affine gradients of channels-last batch norm with batch statistics
    (Ioffe & Szegedy, ICML 2015, Sec. 3), statistics over every axis but the last::

        x̂ = (x − μ)/√(σ² + ε)
        ∂L/∂x = γ/√(σ² + ε) · (g − mean(g) − x̂·mean(g·x̂)),   ∂L/∂γ = Σ g·x̂,   ∂L/∂β = Σ g

    ``across_replicas``: (μ, σ²) are global-batch statistics of data-parallel training
    (synchronised BN): the means of g and g·x̂ in ∂L/∂x are taken over the global batch too (the
    two sums all-reduced, :func:`snnzoo.backend.data_parallel.cross_replica_sum`), while ∂L/∂γ
    and ∂L/∂β stay this replica's (the engine reduces parameter gradients).

    Returns ``(dx, dgamma, dbeta)`` (``dgamma`` is None if ``gamma`` is None). Generic path: 8
    element-wise passes in ``keras.ops``. Torch fast path: ATen's fused
    ``native_batch_norm_backward`` on the [N, C] view (one call; equal to the generic path up to
    float rounding, tested).
    """
    if not across_replicas:
        fast = run_fast_path("batch_norm_grad", upstream, x, mean, variance, gamma, epsilon)
        if fast is not None:
            return fast
    return generic_batch_norm_grad(upstream, x, mean, variance, gamma, epsilon, across_replicas)


def generic_batch_norm_grad(upstream, x, mean, variance, gamma, epsilon, across_replicas=False):
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
    if across_replicas:
        from snnzoo.backend.data_parallel import cross_replica_sum

        total_g, total_gc = cross_replica_sum(sum_g), cross_replica_sum(sum_gc)
        count = cross_replica_sum(ops.cast(count, x.dtype))
    else:
        total_g, total_gc = sum_g, sum_gc
    dx = (upstream - total_g / count) * scale - centred * (scale * inv * inv * total_gc / count)
    return dx, (None if gamma is None else sum_gc * inv), sum_g
