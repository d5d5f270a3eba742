"""Firing-rate measurement of spiking models.

The firing rate of a neuron layer is the mean of its spike tensor over every element (batch,
time steps and neurons): the fraction of (neuron, step) pairs that emit a spike,

    r = (1 / (B·T·N)) Σ_{b,t,n} s[b, t, n],      s ∈ {0, 1}.

Every :class:`snnzoo.layers.neurons.BaseNeuron` layer (IF, LIF, PLIF, ...) is measured; with
``return_membrane=True`` its first output (the spikes) is used. IDE's
:class:`~snnzoo.layers.FeedbackEquilibrium` outputs the (decay-weighted) average
rate of its last layer directly, so its rate is the mean of that output.

:class:`FiringRateProbe` wraps a functional model in a ``keras.Model`` whose outputs are the
model's own outputs followed by those of every neuron layer, so one forward pass gives both the
predictions and the spike counts. Layers that a functional graph cannot expose (neurons nested in
a subclassed layer, or shared neurons called several times) are measured by recording their
outputs during an eager call instead.

Rates are keyed by the layer's path inside the model: its name for a layer of the model itself,
``"outer/inner/lif"`` for a layer nested in sub-models or sub-layers, so equally named neurons in
different nested models are measured separately. A shared layer (listed in several places) is
measured once, under the first path Keras lists it at.
"""
from __future__ import annotations

import keras
import numpy as np

from snnzoo.layers.find import find_layers
from snnzoo.layers.neurons import BaseNeuron

__all__ = ["FiringRateProbe", "firing_rates", "layer_paths", "neuron_layers"]


def _rate_layer_types():
    from snnzoo.layers import FeedbackEquilibrium

    return (BaseNeuron, FeedbackEquilibrium)


def neuron_layers(model):
    """Every spiking layer of ``model`` (recursively), in the order Keras lists them."""
    return find_layers(model, _rate_layer_types())


def layer_paths(model, layers):
    """``{id(layer): path}`` for ``layers`` inside ``model``: names joined by ``/`` from the
    model's direct children down (the model's own name is left out). Keras lists a shared layer
    once; it keeps the first path. Should two different layers still meet on one path (equal names
    of sibling sub-layers), the later ones get ``#2``, ``#3``, ... appended."""
    wanted = {id(layer) for layer in layers}
    paths, taken = {}, set()

    def walk(parent, prefix, seen):
        for child in parent._flatten_layers(include_self=False, recursive=False):
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = f"{prefix}{child.name}"
            if id(child) in wanted and id(child) not in paths:
                unique, k = path, 2
                while unique in taken:
                    unique, k = f"{path}#{k}", k + 1
                paths[id(child)] = unique
                taken.add(unique)
            walk(child, path + "/", seen)

    walk(model, "", {id(model)})
    for layer in layers:  # not reachable by the walk (not expected): its bare name, made unique
        if id(layer) not in paths:
            unique, k = layer.name, 2
            while unique in taken:
                unique, k = f"{layer.name}#{k}", k + 1
            paths[id(layer)] = unique
            taken.add(unique)
    return paths


def _spikes(output):
    return output[0] if isinstance(output, (tuple, list)) else output


class FiringRateProbe:
    """Run ``model`` and accumulate the firing rate of each neuron layer.

    ``probe(x)`` returns the model's output (as ``model(x, training=False)`` would) and adds the
    batch's spike counts to running sums; :meth:`rates` gives ``{layer path: mean firing rate}``,
    the path being the layer's name for a layer of the model itself and ``"outer/inner/lif"`` for
    a nested one (:func:`layer_paths`). ``probe.paths`` maps each path to its layer.
    """

    def __init__(self, model):
        self.model = model
        self.layers = neuron_layers(model)
        by_id = layer_paths(model, self.layers)
        self._keys = [by_id[id(layer)] for layer in self.layers]
        self.paths = dict(zip(self._keys, self.layers))
        self._sums = {key: 0.0 for key in self._keys}
        self._counts = {key: 0 for key in self._keys}
        self._graph = self._functional_probe()

    def _functional_probe(self):
        if not self.layers or not isinstance(self.model, keras.Model):
            return None
        try:
            inputs = self.model.inputs
            outputs = list(self.model.outputs)
        except (AttributeError, ValueError):
            return None
        if not inputs or not outputs:
            return None
        top = {id(l) for l in self.model.layers}
        taps = []
        for layer in self.layers:
            if id(layer) not in top:
                return None  # nested inside another layer: use the eager recorder
            try:
                taps.append(_spikes(layer.output))
            except (AttributeError, ValueError):  # shared layer (several nodes) or never called
                return None
        if len(inputs) == 1:  # same input structure as the model (a tensor, not a list)
            inputs = inputs[0]
        return keras.Model(inputs, outputs + taps, name=f"{self.model.name}_firing_rates")

    def _record(self, key, spikes):
        s = keras.ops.convert_to_numpy(spikes)
        self._sums[key] += float(np.sum(s, dtype=np.float64))
        self._counts[key] += int(s.size)

    def __call__(self, x):
        if self._graph is not None:
            out = self._graph(x, training=False)
            n_out = len(self.model.outputs)
            preds = out[0] if n_out == 1 else out[:n_out]
            for key, spikes in zip(self._keys, out[n_out:]):
                self._record(key, spikes)
            return preds
        return self._eager(x)

    def _eager(self, x):
        recorded = []
        originals = {}
        for layer, key in zip(self.layers, self._keys):
            original = layer.call

            def call(*args, _orig=original, _name=key, **kwargs):
                out = _orig(*args, **kwargs)
                recorded.append((_name, _spikes(out)))
                return out

            originals[id(layer)] = (layer, "call" in layer.__dict__, layer.__dict__.get("call"))
            layer.call = call
        try:
            preds = self.model(x, training=False)
        finally:
            for layer, had, previous in originals.values():
                if had:
                    layer.call = previous
                else:
                    del layer.__dict__["call"]
        for name, spikes in recorded:
            self._record(name, spikes)
        return preds

    def rates(self):
        """``{layer path: mean firing rate}`` over everything seen so far, in layer order."""
        return {key: (self._sums[key] / self._counts[key]) if self._counts[key] else None
                for key in self._keys}

    def pooled_rate(self):
        """The firing rate of all measured neurons together, Σ_l spikes_l / Σ_l (B·T·N_l) (each
        neuron-step counts once, so wide layers weigh more than in the mean of :meth:`rates`);
        ``None`` before any spike tensor was seen."""
        total = sum(self._counts.values())
        return sum(self._sums.values()) / total if total else None


def firing_rates(model, x, batch_size=None):
    """Mean firing rate of every neuron layer of ``model`` on inputs ``x``.

    Args:
        model: a Keras model containing snnzoo neuron layers.
        x: a batch of inputs (array / tensor), or an iterable of batches (``(x, y)`` pairs are
            accepted, ``y`` is ignored).
        batch_size: split an array ``x`` into batches of this size (``None``: one batch).

    Returns:
        ``{layer path: rate}`` with ``rate`` = spikes / (batch · time · neurons), in layer order;
        the path is the layer's name, or ``"outer/inner/name"`` for a nested layer.
    """
    probe = FiringRateProbe(model)
    if isinstance(x, (np.ndarray,)) or hasattr(x, "shape"):
        n = int(x.shape[0])
        step = n if not batch_size else int(batch_size)
        batches = (x[i:i + step] for i in range(0, n, step))
    else:
        batches = x
    for batch in batches:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        probe(batch)
    return probe.rates()
