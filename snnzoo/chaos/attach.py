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
from keras import ops

from snnzoo.backend import backend_name, clear_time_slices, set_time_slices
from snnzoo.chaos.regularizer import ChaoticRegularizer
from snnzoo.layers.find import find_layers

try:  # not exported by keras 3; needed to tell JAX's stateless train step from eager/compiled calls
    from keras.src.backend.common.stateless_scope import in_stateless_scope
except ImportError:  # pragma: no cover - keras internals moved
    def in_stateless_scope():
        return keras.backend.backend() == "jax"

try:  # the enclosing layer call's context (Keras internals): holds the resolved training flag
    from keras.src.backend.common.global_state import get_global_attribute as _global_attribute
except ImportError:  # pragma: no cover - keras internals moved: fall back to probe.__call__
    _global_attribute = None

_PROBE_ATTR = "__snnzoo_chaos_probe"
_TORCH = backend_name() == "torch"
_ON = ("input", "output")


@keras.saving.register_keras_serializable(package="snnzoo")
class ChaosProbe(keras.layers.Layer):
    """Identity layer that adds ``regularizer(x)`` (the CSBP chaotic loss, no 1/B factor) with
    ``add_loss`` when called with ``training=True``.

    Tracks the regularizer's ``z`` (so it is a model variable, shared by every probe built on
    the same regularizer) and two statistics, the running sum of the added loss and the number
    of training calls since the last reset, read by :class:`snnzoo.chaos.ChaosAnnealing`.
    Can be inserted by hand into a functional model: ``x = ChaosProbe(reg)(x)``.

    Args:
        regularizer: the :class:`ChaoticRegularizer` (or its config dict); default: a new one
            with the default arguments.
        **kwargs: standard Keras layer arguments.

    Call arguments:
        inputs: the probed tensor.
        training: add the loss only if true.

    Returns:
        ``inputs``, unchanged.
    """

    def __init__(self, regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if regularizer is None:
            regularizer = ChaoticRegularizer()
        elif isinstance(regularizer, dict):
            regularizer = keras.saving.deserialize_keras_object(regularizer)
        if not isinstance(regularizer, ChaoticRegularizer):
            raise ValueError(
                f"ChaosProbe needs a snnzoo.chaos.ChaoticRegularizer, got {type(regularizer).__name__}"
            )
        self.regularizer = regularizer
        self.z = regularizer.z  # tracked: part of the model state on every backend
        self.loss_sum = self.add_weight(name="chaos_loss_sum", shape=(), initializer="zeros",
                                        trainable=False, dtype="float32")
        self.loss_count = self.add_weight(name="chaos_loss_count", shape=(), initializer="zeros",
                                          trainable=False, dtype="float32")
        # no shape-dependent state: built now (attach_chaos calls ``call`` directly, and an
        # unbuilt sub-layer makes every ``train_on_batch`` re-run a symbolic build of the model)
        self.built = True

    def call(self, inputs, training=None):
        self.observe(inputs, training)
        return inputs

    def observe(self, inputs, training, split_time=False):
        """Add the chaotic loss of ``inputs`` if ``training``. Returns the time slices of
        ``inputs`` where ``split_time`` is asked and the loss's compiled CPU path provides them
        (for :func:`snnzoo.backend.set_time_slices`), else None."""
        if training:
            if _TORCH and not in_stateless_scope():
                entry = self._record(inputs, split_time)
                if entry is not None:
                    from snnzoo.chaos.fused_torch import Precomputed

                    return entry[1] if isinstance(entry, Precomputed) else None
            loss = self.regularizer(inputs)
            if in_stateless_scope():
                self.add_loss(loss)
            else:
                # Not ``add_loss``: Keras keeps added losses in a list that outlives the step, and
                # torch.compile guards on that list's old tensors, recompiling every step. A
                # write-only attribute, reset in _clear_losses, is never read across steps.
                pending = self.__dict__.get("_chaos_losses") or []
                object.__setattr__(self, "_chaos_losses", pending + [loss])
            _accumulate(self.loss_sum, loss)
            _accumulate(self.loss_count, 1.0)
        return None

    def _record(self, inputs, split_time=False):
        """Torch: add ``inputs`` to this forward pass's batch of chaotic-loss tensors (one batch
        per regularizer, kept on Keras' call context of the outermost layer call); the first
        probe recorded owns the batch and reports its loss. Returns the entry, or None where
        that does not apply."""
        context = _global_attribute("current_call_ctx") if _global_attribute else None
        if context is None:
            return None
        entry = self.regularizer.torch_entry(inputs, split_time=split_time)
        if entry is None:
            return None
        batches = context.get_value(_BATCHES)
        if batches is None:
            batches = {}
            context.set_value(_BATCHES, batches)
        key = (id(self.regularizer), entry[0].dtype, entry[0].device)
        batch = batches.get(key)
        if batch is None:
            batch = batches[key] = _ProbeBatch(self.regularizer)
            owned = self.__dict__.get("_chaos_batches") or []
            object.__setattr__(self, "_chaos_batches", owned + [batch])
        batch.probes.append(self)
        batch.entries.append(entry)
        return entry

    def compute_output_shape(self, input_shape):
        return input_shape

    def _get_own_losses(self):
        losses = super()._get_own_losses()
        if not in_stateless_scope():
            losses.extend(self.__dict__.get("_chaos_losses") or ())
            losses.extend(batch.loss() for batch in self.__dict__.get("_chaos_batches") or ())
        return losses

    def _clear_losses(self):
        super()._clear_losses()
        object.__setattr__(self, "_chaos_losses", None)
        object.__setattr__(self, "_chaos_batches", None)

    def reset_statistics(self):
        self.loss_sum.assign(0.0)
        self.loss_count.assign(0.0)

    def mean_loss(self):
        """Mean chaotic loss added per training call since the last reset (None if no call)."""
        count = float(ops.convert_to_numpy(self.loss_count))
        return float(ops.convert_to_numpy(self.loss_sum)) / count if count else None

    def get_config(self):
        config = super().get_config()
        config["regularizer"] = keras.saving.serialize_keras_object(self.regularizer)
        return config


# -- helpers -------------------------------------------------------------------------------------
_BATCHES = "snnzoo_chaos_batches"


class _ProbeBatch:
    """The tensors recorded by the probes of one regularizer in one forward pass (torch). Their
    summed chaotic loss is computed once, when Keras collects the losses (after the forward
    pass), in one fused call; the per-probe statistics are updated then, with one multi-tensor
    add each."""

    def __init__(self, regularizer):
        self.regularizer = regularizer
        self.probes, self.entries, self._loss = [], [], None

    def loss(self):
        if self._loss is None:
            import torch

            self._loss, per_probe = self.regularizer.torch_batch_loss(self.entries)
            self.entries = None  # the recorded tensors are no longer needed
            sums = [p.loss_sum.value for p in self.probes]
            counts = [p.loss_count.value for p in self.probes]
            values = list(per_probe.detach().to(sums[0].dtype).unbind())
            if len({id(s) for s in sums}) == len(sums):
                torch._foreach_add_(sums, values)
                torch._foreach_add_(counts, 1.0)
            else:  # a probe called more than once in the pass (a shared layer)
                for total, count, value in zip(sums, counts, values):
                    total.add_(value)
                    count.add_(1.0)
        return self._loss


def _accumulate(variable, value):
    """``variable += value`` (no gradient). Torch eager: one in-place add on the variable's tensor
    (Keras' ``assign(v + x)`` converts, casts and copies: several ops and ~30 µs per call, which
    add up in a launch-bound step)."""
    if _TORCH and not in_stateless_scope():  # the statistics are non-trainable: no grad mode needed
        variable.value.add_(value.detach() if hasattr(value, "detach") else value)
        return
    variable.assign(variable + ops.cast(ops.stop_gradient(value), variable.dtype))


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
    context = _global_attribute("current_call_ctx") if _global_attribute else None
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
            # gradient and the loss's are then written in one pass (fused_torch); measured on
            # the 18 ResNet-19 layers (T=2, B=32, CPU): 0.13-0.15 -> 0.10 s per step for the loss
            # with dynamic-shape kernels (0.072 s with the static-shape ones that replaced them)
            set_time_slices(tensor, slices)
            try:
                return original(*args, **kwargs)
            finally:
                clear_time_slices(tensor)
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


def chaos_probes(model):
    """All :class:`ChaosProbe` layers of ``model`` (attached or inserted by hand)."""
    return find_layers(model, ChaosProbe, include_self=True)


def chaotic_regularizers(model):
    """The distinct :class:`ChaoticRegularizer` objects used by ``model`` (through probes or as
    ``activity_regularizer``), keyed by their shared ``z`` variable."""
    regs, seen = [], set()
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for reg in (getattr(layer, "regularizer", None) if isinstance(layer, ChaosProbe) else None,
                    getattr(layer, "activity_regularizer", None)):
            if isinstance(reg, ChaoticRegularizer) and id(reg.z) not in seen:
                seen.add(id(reg.z))
                regs.append(reg)
    return regs


def track_activity_regularizers(model):
    """Make the ``z`` of every ChaoticRegularizer used as ``activity_regularizer`` a tracked
    variable of its layer (needed for JAX's compiled step to see z changes)."""
    for layer in model._flatten_layers(include_self=True, recursive=True):
        reg = getattr(layer, "activity_regularizer", None)
        if isinstance(reg, ChaoticRegularizer) and not any(v is reg.z for v in layer.variables):
            _set_tracked(layer, "__snnzoo_chaos_z", reg.z)


# -- scale of the chaotic loss -------------------------------------------------------------------
class ChaosScale:
    """What :func:`chaos_scale` measured: the chaotic loss and the BP loss of one batch.

    Attributes:
        z: the chaos strength in effect (the shared ``z`` of the model's regularizer).
        chaos: the summed chaotic loss of all probes at ``z`` (what ``fit`` adds to the loss).
        unscaled: the same at z = 1, so ``chaos == z · unscaled``.
        bp: the BP (task) loss of the batch, the model's compiled loss unless ``loss=`` is given.
        per_layer: ``{probe name: chaotic loss at z}``, one entry per probed layer.
        ratio: ``chaos / bp``.
    """

    def __init__(self, z, unscaled, bp, per_layer_unscaled, several_z=False):
        self.z = float(z)
        self.unscaled = float(unscaled)
        self.bp = float(bp)
        self.per_layer = {name: self.z * float(v) for name, v in per_layer_unscaled.items()}
        self._several_z = several_z

    @property
    def chaos(self):
        return self.z * self.unscaled

    @property
    def ratio(self):
        return self.chaos / self.bp if self.bp else float("inf")

    def z_for(self, ratio):
        """The z at which this batch's chaotic loss would be ``ratio`` × its BP loss:
        ``z = ratio · bp / unscaled`` (the chaotic loss is linear in z)."""
        ratio = float(ratio)
        if not ratio >= 0.0:
            raise ValueError(f"ratio must be >= 0, got {ratio}")
        if self._several_z:
            raise ValueError("the model has several chaotic regularizers with their own z; "
                             "measure them one at a time (attach_chaos with a shared regularizer)")
        if not self.unscaled > 0.0:
            raise ValueError("the chaotic loss at z = 1 is 0 for this batch: no z gives that ratio")
        return ratio * self.bp / self.unscaled

    def __repr__(self):
        return (f"ChaosScale(z={self.z:.6g}, chaos={self.chaos:.6g}, bp={self.bp:.6g}, "
                f"ratio={self.ratio:.4g}, per_layer={{"
                + ", ".join(f"{k!r}: {v:.6g}" for k, v in self.per_layer.items()) + "})")


def _bp_loss_fn(model, loss):
    if loss is None:
        loss = getattr(model, "loss", None)
        if loss is None:
            raise ValueError("chaos_scale needs the BP loss: compile the model with a loss or "
                             "pass loss=, e.g. loss=keras.losses.SparseCategoricalCrossentropy()")
    if isinstance(loss, (dict, list, tuple)):
        raise ValueError("chaos_scale handles one output and one loss; pass loss= as a single "
                         "function of (y_true, y_pred)")
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if not callable(loss):
        raise ValueError(f"loss must be a Keras loss or a callable (y_true, y_pred), got {loss!r}")
    return loss


def chaos_scale(model, x, y, loss=None):
    """Measure the chaotic loss against the BP loss on one batch, to choose ``z0``.

    Runs ``model(x, training=True)`` once, as ``fit`` would at its first step, and returns a
    :class:`ChaosScale` with the summed chaotic loss of every :class:`ChaosProbe` (``chaos``,
    and ``unscaled`` at z = 1), the BP loss ``loss(y, model(x))`` and their ratio.
    ``scale.z_for(r)`` is the z for which the chaotic loss is r × the BP loss on this batch
    (``ChaoticRegularizer.z.assign(...)``, or attach again with that ``z0``).

    The model is left exactly as it was: every non-trainable variable (BatchNorm moving
    statistics, the probes' statistics, z, random-seed states) is restored afterwards.

    Args:
        model: a model with the chaotic loss attached (:func:`attach_chaos`).
        x: one batch of inputs (a batch of typical size gives a typical BP loss; the paper
            form's batch mean does not depend on the batch size).
        y: the batch's targets.
        loss: the BP loss, a Keras loss or ``fn(y_true, y_pred)`` (mean taken over what it
            returns); default: the loss the model was compiled with.

    Why: the paper form sums the loss over neurons, so at initialisation (h ≈ σ(0)) it is about
    z·ln 2 per neuron: ``attach_chaos(model, BaseNeuron, z0=10)`` on a model with 65,536
    neurons gives ~5·10⁵ against a cross-entropy of 2.3. ``reduction="mean"`` (mean over the
    neurons, the authors' code) gives about 0.69·z per probed layer instead.

    Example:

    ```python
    scale = chaos_scale(model, x_batch, y_batch)
    print(scale.ratio)                    # chaos / BP at the start of training
    reg = chaotic_regularizers(model)[0]
    reg.z.assign(scale.z_for(5.0))        # chaotic loss = 5 × BP loss on this batch
    ```
    """
    probes = chaos_probes(model)
    if not probes:
        raise ValueError("the model has no chaotic loss; add one with "
                         "snnzoo.chaos.attach_chaos(model, layers=[...]) first")
    loss_fn = _bp_loss_fn(model, loss)
    regs = chaotic_regularizers(model)
    z_values = [float(ops.convert_to_numpy(r.z)) for r in regs]
    variables = {id(v): v for v in model.non_trainable_variables}
    for probe in probes:  # their statistics, whether or not the model tracks them
        variables.update({id(v): v for v in (probe.loss_sum, probe.loss_count)})
    saved = [(v, ops.convert_to_numpy(v.value).copy()) for v in variables.values()]
    try:
        for reg in regs:
            reg.z.assign(1.0)
        for probe in probes:
            probe.reset_statistics()
        y_pred = model(x, training=True)
        bp = float(ops.convert_to_numpy(ops.mean(loss_fn(ops.convert_to_tensor(y), y_pred))))
        for probe in probes:
            probe.losses  # noqa: B018 - computes the (torch: batched) loss and the statistics
        per_layer = {}
        for probe in probes:
            key = probe.name
            while key in per_layer:
                key += "_"
            per_layer[key] = float(ops.convert_to_numpy(probe.loss_sum))
            probe._clear_losses()
    finally:
        for variable, value in saved:
            variable.assign(value)
        for reg, z in zip(regs, z_values):
            reg.z.assign(z)
    z_values = {z for reg, z in zip(regs, z_values) if any(p.regularizer is reg for p in probes)}
    return ChaosScale(z=max(z_values) if z_values else 0.0, unscaled=sum(per_layer.values()),
                      bp=bp, per_layer_unscaled=per_layer, several_z=len(z_values) > 1)
