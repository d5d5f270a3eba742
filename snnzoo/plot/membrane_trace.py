"""Membrane traces of chosen neurons of one spiking layer, recorded without changing the model.

How the traces are recorded: one inference pass of the model records the input current X[t] of
the neuron layer (:func:`snnzoo.profiling.record.record_calls`, which restores the layer after the
pass; nested layers work too); a copy of the
neuron, made from its config with ``return_membrane=True`` and given the layer's weights (PLIF's
``w``), runs on X and returns the spikes S[t] and the membrane V[t] after each step's reset
(:class:`snnzoo.layers.BaseNeuron`: charge H[t] from V[t−1] and X[t], S[t] = Θ(H[t] − V_th),
hard reset V[t] = H[t]·(1 − S[t]) + V_reset·S[t] or soft V[t] = H[t] − V_th·S[t]). The model
itself gains no layer and no weight, and its outputs stay the same.
"""
import numpy as np

from snnzoo.plot._style import figure, find_layer, finish, record_layer, suptitle, to_numpy

__all__ = ["membrane", "membrane_traces"]


def _select_sample(arr, sample, name):
    n = arr.shape[0]
    if not isinstance(sample, (int, np.integer)) or not -n <= int(sample) < n:
        raise ValueError(f"sample must be an integer index into the batch of {n}, got {sample!r}")
    return arr[int(sample)].reshape(arr.shape[1], -1)


def membrane_traces(model, x, layer, sample=0):
    """The input current, spikes and membrane of every neuron of ``layer`` for one sample.

    Args:
        model: a Keras model holding ``layer`` (nested layers too).
        x: a batch of inputs for ``model``.
        layer: a :class:`~snnzoo.layers.BaseNeuron` layer of ``model``, its name or path.
        sample: index of the sample in the batch.

    Returns:
        dict with ``current``, ``spikes``, ``membrane`` (each ``[T, neurons]``, neurons in the
        flattened channels-last order of the layer), ``feature_shape``, ``v_threshold`` and
        ``layer`` (the layer's name).
    """
    import keras

    from snnzoo.layers.neurons import BaseNeuron

    layer = find_layer(model, layer, BaseNeuron, "spiking neuron layer (BaseNeuron)")
    current = record_layer(model, x, layer, "input")
    if current.ndim < 3:
        raise ValueError(f"layer '{layer.name}' received an input of shape {current.shape}; "
                         "expected [batch, time, ...]")
    config = dict(layer.get_config(), return_membrane=True, name=f"{layer.name}_membrane_copy")
    copy = type(layer).from_config(config)
    xin = keras.ops.convert_to_tensor(current.astype(keras.backend.standardize_dtype(layer.compute_dtype)))
    copy.build(xin.shape)
    weights = layer.get_weights()
    if weights:
        copy.set_weights(weights)
    spikes, v = copy(xin)
    return {
        "current": _select_sample(current, sample, "current"),
        "spikes": _select_sample(to_numpy(spikes), sample, "spikes"),
        "membrane": _select_sample(to_numpy(v), sample, "membrane"),
        "feature_shape": tuple(current.shape[2:]),
        "v_threshold": float(layer.v_threshold),
        "layer": layer.name,
    }


def membrane(model, x, layer, neurons=None, sample=0, path=None, title=None):
    """Plot the membrane potential V[t] of chosen neurons of a spiking layer, with the threshold
    and the spikes, and their input current X[t] (module docstring: recorded without changing
    the model).

    Args:
        model: a Keras model (e.g. ``snnzoo.load(...)``) holding ``layer``.
        x: a batch of inputs for ``model`` (only ``sample`` is shown).
        layer: a :class:`~snnzoo.layers.BaseNeuron` layer, its name or path.
        neurons: indices into the layer's flattened (channels-last) neurons; default: the 3
            neurons that spike most in the sample (up to 8 are drawn).
        sample: index of the sample in the batch.
        path: write the figure as a PNG there.
        title: figure title (default: the layer's name and the sample).

    Returns:
        matplotlib Figure: the input current on top, then one panel per neuron with V[t]
        (after the step's reset), the threshold V_th (dashed) and the spike steps.

    Example:

    ```python
    import keras
    import numpy as np
    from snnzoo.layers import LIF, RepeatTime, TimeFold
    from snnzoo.plot import membrane

    inp = keras.Input((4,))
    spikes = LIF(tau=2.0, name="lif")(TimeFold(keras.layers.Dense(8))(RepeatTime(10)(inp)))
    model = keras.Model(inp, spikes)
    x = np.random.rand(2, 4).astype("float32")
    fig = membrane(model, x, "lif", neurons=[0, 1], path="membrane.png")   # the model is unchanged
    ```
    """
    traces = membrane_traces(model, x, layer, sample)
    cur, spk, mem = traces["current"], traces["spikes"], traces["membrane"]
    n_neurons = mem.shape[1]
    if neurons is None:
        counts = spk.sum(axis=0)
        order = np.lexsort((-mem.max(axis=0), -counts))
        neurons = order[:min(3, n_neurons)]
    neurons = np.atleast_1d(np.asarray(neurons))
    if neurons.ndim != 1 or neurons.size == 0 or neurons.size > 8 or not np.issubdtype(neurons.dtype, np.integer):
        raise ValueError(f"neurons must be 1 to 8 integer indices, got {neurons!r}")
    if np.any(neurons < 0) or np.any(neurons >= n_neurons):
        raise ValueError(f"neurons must lie in [0, {n_neurons}) (layer '{traces['layer']}' has "
                         f"{n_neurons} neurons per sample), got {neurons.tolist()}")

    steps = np.arange(mem.shape[0])
    shape = traces["feature_shape"]
    vth = traces["v_threshold"]

    def label(i):
        return f"neuron {i}" if len(shape) == 1 else f"neuron {i} {tuple(int(a) for a in np.unravel_index(i, shape))}"

    fig, axes = figure(len(neurons) + 1, 1, figsize=(6.4, 1.5 + 1.25 * len(neurons)), sharex=True)
    top = axes[0]
    for k, i in enumerate(neurons):
        top.plot(steps, cur[:, i], marker=".", color=f"C{k}", label=label(i))
    top.set_ylabel("input X[t]")
    top.legend(fontsize="small", loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=min(3, len(neurons)),
               frameon=False)
    top.grid(alpha=0.3)
    for k, (ax, i) in enumerate(zip(axes[1:], neurons)):
        ax.plot(steps, mem[:, i], marker="o", ms=3, color=f"C{k}", label="V[t] after reset")
        ax.axhline(vth, ls="--", color="0.3", lw=1, label="$V_{th}$")
        fired = np.nonzero(spk[:, i] > 0)[0]
        if fired.size:
            ax.plot(fired, np.full(fired.shape, vth), linestyle="none", marker="^", color="C3",
                    ms=7, label="spike")
        ax.set_ylabel("V")
        ax.set_title(f"{label(i)}: {fired.size} spike{'s' if fired.size != 1 else ''}", fontsize="small", loc="left")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize="small", loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, frameon=False)
    axes[-1].set_xlabel("time step t")
    if len(steps) <= 20:
        axes[-1].set_xticks(steps)
    suptitle(fig, title or f"membrane of '{traces['layer']}' (sample {sample})")
    return finish(fig, path)
