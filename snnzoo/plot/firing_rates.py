"""Firing rate per spiking layer as a bar chart.

The rate of a layer is the fraction of its (neuron, time step) pairs that spike, averaged over
the samples (:mod:`snnzoo.metrics`): r = Σ s / (B·T·N).
"""
import numpy as np

from snnzoo.plot._style import figure, finish, suptitle

__all__ = ["rates"]


def _rates_of(source, x, batch_size):
    import keras

    if isinstance(source, keras.Model):
        if x is None:
            raise ValueError("rates(model, x): pass the inputs x to measure the firing rates on")
        from snnzoo.metrics import firing_rates

        return firing_rates(source, x, batch_size=batch_size)
    if x is not None:
        raise ValueError("rates: x is only for rates(model, x); a Profile or a rate dict goes alone")
    rows = getattr(source, "rows", None)
    if rows is not None:  # a snnzoo.profile Profile: its layers with neurons
        return {r["layer"]: r["firing_rate"] for r in rows if r.get("neurons") and r.get("firing_rate") is not None}
    if isinstance(source, dict):
        return source
    raise ValueError(f"rates takes a Keras model with inputs, a snnzoo.profile Profile or a dict "
                     f"{{layer: rate}}, got {type(source).__name__}")


def rates(source, x=None, batch_size=None, path=None, title=None):
    """Plot the mean firing rate of every spiking layer (one horizontal bar per layer, in layer
    order, with its value).

    Args:
        source: a Keras model (then pass ``x``), a :func:`snnzoo.profile` ``Profile``, or a dict
            ``{layer: rate}`` such as :func:`snnzoo.metrics.firing_rates` returns.
        x: inputs for the model (array, or an iterable of batches).
        batch_size: batch size for an array ``x``.
        path: write the figure as a PNG there.
        title: figure title.

    Returns:
        matplotlib Figure.

    Example:

    ```python
    from snnzoo.plot import rates

    fig = rates({"lif1": 0.12, "lif2": 0.05}, path="rates.png")
    ```
    """
    values = _rates_of(source, x, batch_size)
    values = {str(k): v for k, v in values.items() if v is not None}
    if not values:
        raise ValueError("rates: no spiking layer to show (the model has no snnzoo neuron layer, "
                         "or the dict is empty)")
    names = list(values)
    r = np.asarray([float(values[k]) for k in names])
    if not np.all(np.isfinite(r)) or np.any(r < 0) or np.any(r > 1):
        raise ValueError(f"firing rates must be finite values in [0, 1], got {dict(zip(names, r.tolist()))}")
    fig, ax = figure(figsize=(6.4, max(2.4, 1.2 + 0.28 * len(names))))
    pos = np.arange(len(names))
    ax.barh(pos, r, color="C0")
    ax.set_yticks(pos, names, fontsize="small" if len(names) > 12 else None)
    ax.invert_yaxis()  # first layer on top
    ax.set_xlim(0, max(r.max() * 1.25, 0.01))
    for p, v in zip(pos, r):
        ax.text(v, p, f" {v:.3f}", va="center", fontsize="x-small")
    ax.set_xlabel("firing rate (spikes per neuron per time step)")
    ax.grid(axis="x", alpha=0.3)
    suptitle(fig, title or f"firing rate per layer (mean {r.mean():.3f})")
    return finish(fig, path)
