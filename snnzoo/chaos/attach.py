"""Add (and remove) the CSBP chaotic loss on named layers of an existing Keras model.

``attach_chaos(model, ["lif1", "lif2"], z0=10.0)`` makes each named layer call a
:class:`ChaosProbe` on its input (``on="input"``, the default for spiking neuron layers, whose
input is the pre-activation u[t] of the paper) or on its output (``on="output"``, the default
for other layers, e.g. a Dense/Conv whose output feeds a neuron). The probe adds
``z · chaos(tensor)`` with ``self.add_loss`` while training (``training=True``: ``fit``, or a
custom loop calling ``model(x, training=True)``); ``evaluate``/``predict`` are unchanged.

The model is modified in place and returned: the layers, their weights and the compiled state
stay; only the layers' ``call`` is wrapped on the instance and the probe becomes a tracked
sub-layer of the layer (so ``z`` is a variable of the model and JAX's compiled train step sees
the updates made by :class:`snnzoo.chaos.ChaosAnnealing`). The probe is stored under a
``__``-prefixed attribute, which Keras' weight saving skips: weights saved while chaos is
attached load into the plain model. ``detach_chaos(model)`` restores plain BP exactly.
"""
import keras

from snnzoo._deprecation import moved_names
from snnzoo.backend import offer_time_slices
from snnzoo.backend._keras_compat import current_call_context
from snnzoo.chaos.probe import ChaosProbe
from snnzoo.chaos.regularizer import ChaoticRegularizer

__all__ = ["attach_chaos", "detach_chaos", "track_activity_regularizers"]

_PROBE_ATTR = "__snnzoo_chaos_probe"
_ON = ("input", "output")


def _all_layers(model):
    """Every layer reachable from ``model`` (itself excluded), with a '/'-joined name path."""
    out, seen = [], set()

    def walk(layer, prefix):
        for child in getattr(layer, "_layers", []):
            if id(child) in seen or isinstance(child, ChaosProbe):
                continue
            seen.add(id(child))
            path = f"{prefix}{child.name}"
            out.append((path, child))
            walk(child, path + "/")

    walk(model, "")
    return out


def _set_tracked(layer, name, value):
    """``setattr`` that also works on an already-built (state-locked) Keras layer."""
    tracker = getattr(layer, "_tracker", None)
    locked = bool(tracker is not None and tracker.locked)
    if locked:
        tracker.unlock()
    try:
        setattr(layer, name, value)
    finally:
        if locked:
            tracker.lock()


def _del_tracked(layer, name):
    value = getattr(layer, name)
    tracker = getattr(layer, "_tracker", None)
    if tracker is not None:
        tracker.untrack(value)
    delattr(layer, name)


def _reset_compiled(model):
    """Forget cached train/test/predict functions so the next fit traces the new graph."""
    for attr in ("train_function", "test_function", "predict_function"):
        if hasattr(model, attr):
            setattr(model, attr, None)


def _is_neuron(layer):
    from snnzoo.layers.neurons import BaseNeuron

    return isinstance(layer, BaseNeuron)


def _resolve(model, layers):
    entries = _all_layers(model)
    if isinstance(layers, (str, keras.layers.Layer)) or isinstance(layers, type):
        layers = [layers]
    chosen = []
    for item in layers:
        if isinstance(item, type):
            found = [layer for _, layer in entries if isinstance(layer, item)]
            if not found:
                raise ValueError(f"the model has no layer of type {item.__name__}")
        elif isinstance(item, keras.layers.Layer):
            if not any(layer is item for _, layer in entries):
                raise ValueError(f"layer {item.name!r} is not part of the model")
            found = [item]
        elif isinstance(item, str):
            found = [layer for path, layer in entries if path == item]
            if not found:
                found = [layer for _, layer in entries if layer.name == item]
            if not found:
                names = [path for path, _ in entries]
                raise ValueError(f"unknown layer name {item!r}; the model's layers are: {names}")
            if len({id(f) for f in found}) > 1:
                paths = [path for path, layer in entries if layer.name == item]
                raise ValueError(f"layer name {item!r} is ambiguous; use a path: {paths}")
        else:
            raise ValueError(
                f"layers must be names, '/'-joined name paths, Layer objects or a Layer class; "
                f"got {item!r}"
            )
        for layer in found:
            if not any(layer is c for c in chosen):
                chosen.append(layer)
    if not chosen:
        raise ValueError("attach_chaos needs at least one layer")
    return chosen


# -- public API ----------------------------------------------------------------------------------
def attach_chaos(model, layers, z0=10.0, i0=0.65, form="paper", on=None, regularizer=None,
                 **regularizer_kwargs):
    """Add the CSBP chaotic loss to ``layers`` of ``model`` (in place) and return ``model``.

    Args:
        model: any built Keras model (Sequential, functional, subclassed, snnzoo zoo models).
        layers: layer names (a nested layer by name or by its '/'-joined path, e.g.
            ``"block1/lif"``), Layer objects, or a Layer class (every instance, e.g.
            ``snnzoo.layers.BaseNeuron`` for all spiking layers).
        z0: initial chaos strength of the shared :class:`ChaoticRegularizer` built here
            (ignored if ``regularizer`` is given). Mind the scale: the default (paper) reduction
            sums over neurons, ≈ 0.69·z0 per neuron at initialisation; see :func:`chaos_scale`.
        i0: target I0 of that regularizer (0.65 in the paper).
        form: ``"paper"`` or ``"code"`` (see :class:`ChaoticRegularizer`).
        **regularizer_kwargs: further :class:`ChaoticRegularizer` arguments, e.g.
            ``reduction="mean"`` (mean over neurons instead of the sum).
        on: ``"input"`` or ``"output"``; ``None`` picks ``"input"`` for spiking neuron layers
            (their input is the pre-activation) and ``"output"`` otherwise.
        regularizer: an existing :class:`ChaoticRegularizer` to share (e.g. one z for several
            calls of ``attach_chaos``).

    Anneal z with ``model.fit(..., callbacks=[snnzoo.chaos.ChaosAnnealing(beta)])``; undo with
    :func:`detach_chaos` (or set ``z`` to 0). Unknown layer names raise ``ValueError``.

    The attachment wraps the layers' calls at run time and is not part of the saved model: a
    model saved with ``model.save("m.keras")`` while chaos is attached loads as the plain model
    (same weights and outputs); call ``attach_chaos`` again after loading to continue CSBP
    training (with ``z0`` set to the annealed value). For a chaotic loss that is saved with the
    model, insert :class:`ChaosProbe` layers into a functional model instead.
    """
    if on not in (None,) + _ON:
        raise ValueError(f"on must be 'input', 'output' or None, got {on!r}")
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(f"attach_chaos needs a Keras model, got {type(model).__name__}")
    targets = _resolve(model, layers)
    for layer in targets:
        if hasattr(layer, _PROBE_ATTR):
            raise ValueError(
                f"layer {layer.name!r} already has a chaotic loss; call "
                "snnzoo.chaos.detach_chaos(model) first"
            )
    if regularizer is None:
        regularizer = ChaoticRegularizer(z0=z0, i0=i0, form=form, **regularizer_kwargs)
    elif not isinstance(regularizer, ChaoticRegularizer):
        raise ValueError(f"regularizer must be a ChaoticRegularizer, got {type(regularizer).__name__}")

    for layer in targets:
        where = on or ("input" if _is_neuron(layer) else "output")
        probe = ChaosProbe(regularizer, name=f"{layer.name}_chaos")
        _set_tracked(layer, _PROBE_ATTR, probe)
        layer.call = _wrap_call(layer.call, probe, where, neuron=_is_neuron(layer))
    _reset_compiled(model)
    return model


def _run_probe(probe, tensor, split_time=False):
    """Run ``probe`` on ``tensor``; returns the time slices from :meth:`ChaosProbe.observe`."""
    context = current_call_context()
    if context is None:
        probe(tensor)
        return None
    # the training flag Keras resolved for the wrapped layer's call (what probe.__call__ would
    # inherit); calling the probe directly skips ~0.2 ms of Layer.__call__ bookkeeping per probe
    # and step, ~4 % of a launch-bound ResNet-19 step
    return probe.observe(tensor, context.get_value("training"), split_time)


def _wrap_call(original, probe, where, neuron=False):
    def call(*args, **kwargs):
        if where == "input":
            if args:
                tensor = args[0]
            elif "inputs" in kwargs:
                tensor = kwargs["inputs"]
            else:
                tensor = next(iter(kwargs.values()))
            # before the layer's own ops, so torch's autograd runs the chaotic loss's backward
            # after the layer's. Measured on CPU for a [32, 2, 32, 32, 128] input: backward
            # +1.5 ms this way, +10 ms the other way round (both add the two input gradients
            # out of place; the order changes which freed large buffer the sum can reuse)
            slices = _run_probe(probe, tensor, split_time=neuron)
            if slices is None:
                return original(*args, **kwargs)
            # a spiking neuron's time loop takes the slices the loss returned: its input
            # gradient and the loss's are then written in one pass (backend.torch_chaos);
            # measured on the 18 ResNet-19 layers (T=2, B=32, CPU): 0.13-0.15 -> 0.10 s per step
            # for the loss with dynamic-shape kernels (0.072 s with the static-shape ones that
            # replaced them)
            with offer_time_slices(tensor, slices):
                return original(*args, **kwargs)
        outputs = original(*args, **kwargs)
        _run_probe(probe, outputs[0] if isinstance(outputs, (tuple, list)) else outputs)
        return outputs

    call.__wrapped__ = original
    call._snnzoo_chaos = True
    return call


def detach_chaos(model):
    """Remove every chaotic loss added by :func:`attach_chaos`; returns ``model`` (plain BP)."""
    for _, layer in _all_layers(model):
        if not hasattr(layer, _PROBE_ATTR):
            continue
        # drop the probe's last loss tensor: on torch it keeps that step's whole autograd graph
        # (and, through custom-gradient closures, its activations) alive
        getattr(layer, _PROBE_ATTR)._clear_losses()
        _del_tracked(layer, _PROBE_ATTR)
        if getattr(layer.__dict__.get("call"), "_snnzoo_chaos", False):
            del layer.__dict__["call"]
    _reset_compiled(model)
    return model


def track_activity_regularizers(model):
    """Make the ``z`` of every ChaoticRegularizer used as ``activity_regularizer`` a tracked
    variable of its layer (needed for JAX's compiled step to see z changes)."""
    for layer in model._flatten_layers(include_self=True, recursive=True):
        reg = getattr(layer, "activity_regularizer", None)
        if isinstance(reg, ChaoticRegularizer) and not any(v is reg.z for v in layer.variables):
            _set_tracked(layer, "__snnzoo_chaos_z", reg.z)


# -- deprecated: names that moved out of this module --------------------------------------------
__getattr__ = moved_names(__name__, {
    "chaos_probes": "snnzoo.chaos.probe:chaos_probes",
    "chaotic_regularizers": "snnzoo.chaos.probe:chaotic_regularizers",
    "ChaosScale": "snnzoo.chaos.scale:ChaosScale",
    "chaos_scale": "snnzoo.chaos.scale:chaos_scale",
})
