"""Spike raster of one layer: which neurons fire at which time step, for one sample.

The spikes come as an array ``[batch, time, ...]`` (or ``[time, neurons]`` for one sample), or
are recorded from ``(model, x, layer)`` in one inference pass without changing the model
(:func:`snnzoo.profiling.record.record_calls`, nested layers included). An IDE
:class:`~snnzoo.layers.FeedbackEquilibrium` outputs its equilibrium firing rate, not spikes: its
input current is recorded and its T-step simulation re-run
(:func:`snnzoo.profiling.counts.feedback_equilibrium_spikes`, the same steps as the layer's, whose
rate it reproduces); the raster shows the spikes of its last (output) layer.
"""
import numpy as np

from snnzoo.plot._style import figure, find_layer, finish, record_layer, suptitle, to_numpy

__all__ = ["raster"]


def _spikes_of(spikes, x, layer):
    import keras

    if isinstance(spikes, keras.Model):
        if x is None or layer is None:
            raise ValueError("raster(model, x, layer): pass the inputs x and the layer (name or "
                             "object) whose spikes to show, or pass a spike array [batch, time, ...]")
        from snnzoo.layers import BaseNeuron, FeedbackEquilibrium

        found = find_layer(spikes, layer, (BaseNeuron, FeedbackEquilibrium),
                           "spiking layer (BaseNeuron or FeedbackEquilibrium)")
        if isinstance(found, FeedbackEquilibrium):  # its output is a rate: re-run its T steps
            from snnzoo.profiling.counts import feedback_equilibrium_spikes

            x1 = record_layer(spikes, x, found, "input").astype(keras.backend.standardize_dtype(found.compute_dtype))
            per_step, _ = feedback_equilibrium_spikes(found, x1)
            return np.stack([step[-1] for step in per_step], axis=1).astype(np.float64), found.name
        return record_layer(spikes, x, found, "output"), found.name
    if x is not None or layer is not None:
        raise ValueError("raster: x and layer are only for raster(model, x, layer); with a spike "
                         "array pass it alone")
    return to_numpy(spikes, "spikes"), None


def raster(spikes, x=None, layer=None, sample=0, neurons=None, max_neurons=400, path=None, title=None):
    """Plot a spike raster (neurons × time steps) and the fraction of neurons firing per step.

    Args:
        spikes: spike array ``[batch, time, ...features]`` (values 0/1), ``[time, neurons]`` for
            one sample, or a Keras model (then pass ``x`` and ``layer``).
        x: inputs of the model (with a model).
        layer: a :class:`~snnzoo.layers.BaseNeuron` or IDE
            :class:`~snnzoo.layers.FeedbackEquilibrium` layer of the model, its name or path.
        sample: index of the sample in the batch (ignored for a 2-D array).
        neurons: indices into the flattened (channels-last) neurons to show; default: all, or
            ``max_neurons`` evenly spaced ones when the layer has more.
        max_neurons: most neurons drawn by default.
        path: write the figure as a PNG there.
        title: figure title.

    Returns:
        matplotlib Figure: the raster (a dark cell = a spike of that neuron at that step) on top,
        the fraction of all the layer's neurons firing at each step below.

    Example:

    ```python
    import numpy as np
    from snnzoo.plot import raster

    s = (np.random.rand(1, 20, 64) < 0.1).astype("float32")   # [batch, T, neurons]
    fig = raster(s, path="raster.png")
    ```
    """
    arr, name = _spikes_of(spikes, x, layer)
    if arr.ndim == 2:
        one = arr
    elif arr.ndim >= 3:
        n = arr.shape[0]
        if not isinstance(sample, (int, np.integer)) or not -n <= int(sample) < n:
            raise ValueError(f"sample must be an integer index into the batch of {n}, got {sample!r}")
        one = arr[int(sample)].reshape(arr.shape[1], -1)
    else:
        raise ValueError(f"spikes must be [batch, time, ...] or [time, neurons], got shape {arr.shape}")
    if one.size == 0:
        raise ValueError(f"spikes are empty (shape {arr.shape})")
    if not np.all((one == 0) | (one == 1)):
        raise ValueError("spikes must be 0/1 values (a spiking layer's output); got other values "
                         f"(range {one.min():.3g} .. {one.max():.3g}); for rates use snnzoo.plot.rates")
    steps, total = one.shape
    if neurons is None:
        idx = np.arange(total) if total <= max_neurons else np.unique(
            np.linspace(0, total - 1, int(max_neurons)).round().astype(int))
    else:
        idx = np.atleast_1d(np.asarray(neurons))
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 \
                or idx.max() >= total:
            raise ValueError(f"neurons must be integer indices in [0, {total}), got {neurons!r}")
    shown = one[:, idx].T  # [neurons shown, T]

    fig, (ax, ax_rate) = figure(2, 1, figsize=(6.4, 5.0), sharex=True, height_ratios=(3, 1))
    ax.imshow(shown, aspect="auto", interpolation="nearest", cmap="Greys", vmin=0, vmax=1,
              extent=(-0.5, steps - 0.5, len(idx) - 0.5, -0.5))
    every = "" if len(idx) == total else f" ({len(idx)} of {total})"
    ax.set_ylabel(f"neuron{every}")
    if len(idx) != total and len(idx) <= 12:
        ax.set_yticks(range(len(idx)), [str(i) for i in idx])
    rate = one.mean(axis=1)
    ax_rate.bar(np.arange(steps), rate, width=0.8, color="C0")
    ax_rate.set_ylabel("fraction\nfiring")
    ax_rate.set_xlabel("time step t")
    ax_rate.set_ylim(0, max(rate.max() * 1.15, 1e-3))
    if steps <= 20:
        ax_rate.set_xticks(range(steps))
    ax_rate.grid(axis="y", alpha=0.3)
    label = f"'{name}'" if name else "spikes"
    where = f", sample {sample}" if arr.ndim >= 3 else ""
    suptitle(fig, title or f"spike raster of {label}{where}: {int(one.sum())} spikes, rate {one.mean():.3f}")
    return finish(fig, path)
