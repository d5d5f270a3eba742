"""Batch statistics and moving averages of batch normalisation, channels last — the one
implementation behind :class:`~snnzoo.layers.normalization.TDBatchNorm`,
:class:`~snnzoo.layers.normalization.TEBN`, :class:`~snnzoo.ide.batch_norm.RateBatchNorm` and the
chain BN of :class:`~snnzoo.ide.equilibrium.FeedbackEquilibrium`.

Ioffe & Szegedy, "Batch Normalization", ICML 2015, Alg. 1, per channel c over every other axis::

    μ_c = mean(x),   σ²_c = mean((x − μ_c)²)               (biased, used to normalise)
    σ̂²_c = σ²_c · n / (n − 1)                             (unbiased; n samples per channel)
    running ← momentum · running + (1 − momentum) · value  (Keras momentum; PyTorch's is 1 − momentum)

Keras updates the running variance with σ² (biased), PyTorch with σ̂² (unbiased); each caller
passes what its reference uses.

Data-parallel training (:mod:`snnzoo.backend.data_parallel`) with synchronised batch norm: the
sums behind μ and σ² run over the global batch (Σ over replicas of each replica's sums, two
passes: μ first, then the centred squares), so every replica normalises with the statistics a
single device would take over the whole batch. Momentum and ε are always explicit arguments of the callers
(Keras 0.9 ≡ PyTorch 0.1, ε = 1e-5 are the PyTorch defaults).
"""
from keras import ops

from snnzoo.backend.data_parallel import cross_replica_sum, syncing_batch_statistics

__all__ = ["channel_count", "channel_moments", "unbiased_variance", "update_moving_average"]


def channel_count(x):
    """Values per channel of ``x`` (every axis but the last), over the global batch while batch
    statistics are synchronised across replicas."""
    n = 1
    for d in ops.shape(x)[:-1]:
        n = n * d
    if syncing_batch_statistics():
        return cross_replica_sum(ops.convert_to_tensor(n, "float32"))
    return n


def channel_moments(x):
    """``(μ, σ²)`` per channel (last axis) over every other axis; σ² biased (``ops.moments``);
    over the global batch while batch statistics are synchronised (differentiable either way)."""
    axes = tuple(range(len(x.shape) - 1))
    if not syncing_batch_statistics():
        return ops.moments(x, axes=axes)
    n = ops.cast(channel_count(x), x.dtype)
    mean = cross_replica_sum(ops.sum(x, axis=axes)) / n
    variance = cross_replica_sum(ops.sum(ops.square(x - mean), axis=axes)) / n
    return mean, variance


def unbiased_variance(variance, x):
    """Bessel's correction σ̂² = σ²·n/(n − 1) for the statistics of ``x`` per channel (n = the
    number of values per channel; n = 1 is left as σ²·1)."""
    n = ops.cast(channel_count(x), variance.dtype)
    return variance * n / ops.maximum(n - 1.0, 1.0)


def update_moving_average(variable, value, momentum, dtype=None):
    """``variable ← momentum·variable + (1 − momentum)·value`` (no gradient), computed in
    ``dtype`` (default: the variable's)."""
    dtype = variable.dtype if dtype is None else dtype
    moving = ops.cast(variable.value, dtype)
    value = ops.cast(ops.stop_gradient(value), dtype)
    variable.assign(moving * momentum + value * (1.0 - momentum))
