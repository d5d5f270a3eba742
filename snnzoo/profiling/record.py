"""Record what the layers of a model compute, without changing the model.

:func:`record_outputs` runs ``model`` once on ``x`` (inference: ``training=False``) and returns
the outputs of the named layers as NumPy arrays — the spike tensors ``[B, T, ...]`` of neuron
layers, a convolution's currents, anything. :func:`record_calls` also gives each call's inputs
(what :mod:`snnzoo.profiling.counts` counts operations from).

How: every requested layer's ``call`` is wrapped by an instance attribute for the duration of one
eager forward pass and restored afterwards (also on error), the same technique as
:class:`snnzoo.metrics.FiringRateProbe`'s eager path. It therefore works for functional models,
``keras.Sequential``, nested sub-models and layers nested in other layers, on every backend (a
layer wrapped by ``TimeFold`` is recorded as its wrapper's ``[B, T, ...]`` output); the model's weights, graph and config are untouched. A layer called
several times (shared) is recorded once per call: :func:`record_outputs` returns its last
call's output, :func:`record_calls` every call.

Zoo image models (:class:`snnzoo.zoo.image_model.ZooImageModel`) take uint8 images; they run
through ``model(x)`` as usual, so the recorded tensors are those the model really computes.
"""
from __future__ import annotations

import keras
import numpy as np

from snnzoo.layers.time import TimeFold

__all__ = ["record_calls", "record_outputs", "resolve_layers"]


def _all_layers(model):
    return list(model._flatten_layers(include_self=False, recursive=True))


def resolve_layers(model, layers):
    """``layers`` (names, ``"outer/inner"`` paths, layer objects, or one of them) as a list of
    ``(key, layer)``: the key is the item as given (a name, or the layer object itself); a name
    not in ``model`` raises one ``ValueError`` listing the names."""
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    everything = _all_layers(model)
    # a layer wrapped by TimeFold is recorded through its wrapper: [B, T, ...] (the torch fast
    # path of TimeFold runs the inner layer's ops without calling it)
    wrapper = {id(lay.layer): lay for lay in everything
               if isinstance(lay, TimeFold) and isinstance(getattr(lay, "layer", None), keras.layers.Layer)}
    by_name = {}
    for layer in everything:
        by_name.setdefault(layer.name, layer)
    out = []
    for item in layers:
        if isinstance(item, keras.layers.Layer):
            key, layer = item, item
        else:
            name = str(item).rsplit("/", 1)[-1]
            if name not in by_name:
                raise ValueError(f"record: model '{model.name}' has no layer {item!r}; its "
                                 f"layers: {sorted(by_name)}")
            key, layer = str(item), by_name[name]
        out.append((key, wrapper.get(id(layer), layer)))
    return out


def _to_numpy(value):
    if isinstance(value, (list, tuple)):
        return [_to_numpy(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return np.asarray(keras.ops.convert_to_numpy(value))


def record_calls(model, x, layers, inputs=True, training=False, on_call=None):
    """Run ``model(x, training=training)`` once and record each call of ``layers``.

    Args:
        model: a Keras model (functional, Sequential, subclassed; zoo models included).
        x: one batch of inputs, as ``model`` takes it.
        layers: layer names / paths / objects (:func:`resolve_layers`).
        inputs: also record each call's first positional argument (a tensor, or a list of
            tensors for merge layers such as ``Add``).
        training: passed to the model (default inference).
        on_call: ``f(key, inputs, output)`` called with the NumPy arrays of each call as it
            happens, instead of keeping them (constant memory over a large model).

    Returns:
        ``(output, calls)``: the model's output (as returned by the model) and
        ``{key: [(inputs or None, output), ...]}`` with NumPy arrays, one entry per call in call
        order.
    """
    targets = resolve_layers(model, layers)
    calls = {key: [] for key, _ in targets}
    saved = []
    for key, layer in targets:
        if any(layer is other for other, _, _ in saved):
            continue
        original = layer.call
        keys = [k for k, lay in targets if lay is layer]

        def call(*args, _orig=original, _keys=keys, **kwargs):
            out = _orig(*args, **kwargs)
            arg = _to_numpy(args[0]) if (inputs and args) else None
            rec = (arg, _to_numpy(out))
            for k in _keys:
                if on_call is not None:
                    on_call(k, *rec)
                else:
                    calls[k].append(rec)
            return out

        saved.append((layer, "call" in layer.__dict__, layer.__dict__.get("call")))
        layer.call = call
    try:
        output = model(x, training=training)
    finally:
        for layer, had, previous in saved:
            if had:
                layer.call = previous
            else:
                del layer.__dict__["call"]
    return output, calls


def record_outputs(model, x, layers, training=False):
    """The outputs of ``layers`` when ``model`` runs on ``x``, without changing the model.

    >>> spikes = record_outputs(model, x, ["lif1", "lif2"])     # doctest: +SKIP
    >>> spikes["lif1"].shape                                     # [B, T, ...]  # doctest: +SKIP

    Args:
        model: a Keras model (functional, Sequential, nested, zoo ``ZooImageModel``).
        x: one batch of inputs as ``model`` takes them.
        layers: layer names (or ``"outer/inner"`` paths, or layer objects), or one of them.
        training: passed to the model (default: inference, as ``model.predict``).

    Returns:
        ``{name: numpy array}`` in the order given (keyed by the layer object where one was
        given); a neuron layer with ``return_membrane=True``
        gives its ``(spikes, membrane)`` as a list of two arrays. A layer the forward pass never
        called raises ``ValueError``; a shared layer gives its last call's output.
    """
    _, calls = record_calls(model, x, layers, inputs=False, training=training)
    out = {}
    for key, recs in calls.items():
        if not recs:
            raise ValueError(f"record_outputs: layer {key!r} was not called by model "
                             f"'{model.name}' on this input")
        out[key] = recs[-1][1]
    return out
