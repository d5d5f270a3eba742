"""Firing-rate measurement of spiking models.

The firing rate of a neuron layer is the mean of its spike tensor over every element (batch,
time steps and neurons): the fraction of (neuron, step) pairs that emit a spike,

    r = (1 / (B·T·N)) Σ_{b,t,n} s[b, t, n],      s ∈ {0, 1}.

Every :class:`snnzoo.layers.neurons.BaseNeuron` layer (IF, LIF, PLIF, ...) is measured; with
``return_membrane=True`` its first output (the spikes) is used. IDE's
:class:`~snnzoo.layers.feedback_equilibrium.FeedbackEquilibrium` outputs the (λ-weighted) average
rate of its last layer directly, so its rate is the mean of that output.

:class:`FiringRateProbe` wraps a functional model in a ``keras.Model`` whose outputs are the
model's own outputs followed by those of every neuron layer, so one forward pass gives both the
predictions and the spike counts. Layers that a functional graph cannot expose (neurons nested in
a subclassed layer, or shared neurons called several times) are measured by recording their
outputs during an eager call instead.
"""
from __future__ import annotations

import keras
import numpy as np

from snnzoo.layers.find import find_layers
from snnzoo.layers.neurons import BaseNeuron

__all__ = ["FiringRateProbe", "firing_rates", "neuron_layers"]


def _rate_layer_types():
    types = (BaseNeuron,)
    try:
        from snnzoo.layers.feedback_equilibrium import FeedbackEquilibrium
    except ImportError:  # pragma: no cover - optional layer
        return types
    return types + (FeedbackEquilibrium,)


def neuron_layers(model):
    """Every spiking layer of ``model`` (recursively), in the order Keras lists them."""
    return find_layers(model, _rate_layer_types())


def _spikes(output):
    return output[0] if isinstance(output, (tuple, list)) else output


class FiringRateProbe:
    """Run ``model`` and accumulate the firing rate of each neuron layer.

    ``probe(x)`` returns the model's output (as ``model(x, training=False)`` would) and adds the
    batch's spike counts to running sums; :meth:`rates` gives ``{layer name: mean firing rate}``.
    """

    def __init__(self, model):
        self.model = model
        self.layers = neuron_layers(model)
        self._sums = {layer.name: 0.0 for layer in self.layers}
        self._counts = {layer.name: 0 for layer in self.layers}
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

    def _record(self, name, spikes):
        s = keras.ops.convert_to_numpy(spikes)
        self._sums[name] += float(np.sum(s, dtype=np.float64))
        self._counts[name] += int(s.size)

    def __call__(self, x):
        if self._graph is not None:
            out = self._graph(x, training=False)
            n_out = len(self.model.outputs)
            preds = out[0] if n_out == 1 else out[:n_out]
            for layer, spikes in zip(self.layers, out[n_out:]):
                self._record(layer.name, spikes)
            return preds
        return self._eager(x)

    def _eager(self, x):
        recorded = []
        originals = {}
        for layer in self.layers:
            original = layer.call

            def call(*args, _orig=original, _name=layer.name, **kwargs):
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
        """``{layer name: mean firing rate}`` over everything seen so far."""
        return {name: (self._sums[name] / self._counts[name]) if self._counts[name] else None
                for name in self._sums}


def firing_rates(model, x, batch_size=None):
    """Mean firing rate of every neuron layer of ``model`` on inputs ``x``.

    Args:
        model: a Keras model containing snnzoo neuron layers.
        x: a batch of inputs (array / tensor), or an iterable of batches (``(x, y)`` pairs are
            accepted, ``y`` is ignored).
        batch_size: split an array ``x`` into batches of this size (``None``: one batch).

    Returns:
        ``{layer name: rate}`` with ``rate`` = spikes / (batch · time · neurons), in layer order.
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
