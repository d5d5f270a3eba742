"""What a spiking model computes: synaptic operations (AC / MAC), energy, firing and latency.

``snnzoo.profile(model, x)`` returns a :class:`~snnzoo.profiling.report.Profile` (rows per layer,
totals per sample); see :mod:`snnzoo.profiling.report`.
"""

__all__ = ["profile"]


def profile(model, x, batch_size=None, **kwargs):
    """Profile ``model`` on inputs ``x`` (see :func:`snnzoo.profiling.report.profile`)."""
    from snnzoo.profiling.report import profile as _profile

    return _profile(model, x, batch_size=batch_size, **kwargs)
