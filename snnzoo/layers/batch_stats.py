"""Batch statistics and moving averages of batch normalisation, channels last — the one
implementation behind :class:`~snnzoo.layers.normalization.TDBatchNorm`,
:class:`~snnzoo.layers.normalization.TEBN`, :class:`~snnzoo.ide.batch_norm.RateBatchNorm` and the
chain BN of :class:`~snnzoo.ide.equilibrium.FeedbackEquilibrium`.

Ioffe & Szegedy, "Batch Normalization", ICML 2015, Alg. 1, per channel c over every other axis::

    μ_c = mean(x),   σ²_c = mean((x − μ_c)²)               (biased, used to normalise)
    σ̂²_c = σ²_c · n / (n − 1)                             (unbiased; n samples per channel)
    running ← momentum · running + (1 − momentum) · value  (Keras momentum; PyTorch's is 1 − momentum)

Keras updates the running variance with σ² (biased), PyTorch with σ̂² (unbiased); each caller
passes what its reference uses. Momentum and ε are always explicit arguments of the callers
(Keras 0.9 ≡ PyTorch 0.1, ε = 1e-5 are the PyTorch defaults).
"""
from keras import ops

__all__ = ["channel_moments", "unbiased_variance", "update_moving_average"]


def channel_moments(x):
    """``(μ, σ²)`` per channel (last axis) over every other axis; σ² biased (``ops.moments``)."""
    return ops.moments(x, axes=tuple(range(len(x.shape) - 1)))


def unbiased_variance(variance, x):
    """Bessel's correction σ̂² = σ²·n/(n − 1) for the statistics of ``x`` per channel (n = the
    number of values per channel; n = 1 is left as σ²·1)."""
    n = 1
    for d in ops.shape(x)[:-1]:
        n = n * d
    n = ops.cast(n, variance.dtype)
    return variance * n / ops.maximum(n - 1.0, 1.0)


def update_moving_average(variable, value, momentum, dtype=None):
    """``variable ← momentum·variable + (1 − momentum)·value`` (no gradient), computed in
    ``dtype`` (default: the variable's)."""
    dtype = variable.dtype if dtype is None else dtype
    moving = ops.cast(variable.value, dtype)
    value = ops.cast(ops.stop_gradient(value), dtype)
    variable.assign(moving * momentum + value * (1.0 - momentum))
