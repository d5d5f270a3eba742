"""The CSBP probe layer: an identity layer that adds the chaotic loss of what passes through it,
and keeps the statistics :class:`snnzoo.chaos.ChaosAnnealing` reads.

:func:`snnzoo.chaos.attach_chaos` makes probes and calls them from the wrapped layers; a probe can
also be inserted by hand into a functional model (then it is saved with the model). The loss is
``regularizer(x)`` (:class:`snnzoo.chaos.ChaoticRegularizer`, Wang, Tao & Chen, NSR 2024,
Eq. 2–5). Where the backend has a fast path for the chaotic loss (torch), the probes of one
regularizer only record their tensor during the forward pass, and the loss of all of them is
computed in one fused call when Keras collects the losses (:class:`_ProbeBatch`).
"""
import keras
from keras import ops

from snnzoo.backend import run_fast_path
from snnzoo.backend.data_parallel import replica_thread_key
from snnzoo.backend._keras_compat import current_call_context, in_stateless_scope
from snnzoo.chaos.regularizer import ChaoticRegularizer
from snnzoo.layers.find import find_layers

__all__ = ["ChaosProbe", "chaos_probes", "chaotic_regularizers"]


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
        ``inputs`` where ``split_time`` is asked and the loss's fast path provides them (torch's
        compiled CPU kernel; for :func:`snnzoo.backend.offer_time_slices`), else None."""
        if training:
            if not in_stateless_scope():
                entry = self._record(inputs, split_time)
                if entry is not None:
                    return entry.time_slices
            loss = self.regularizer(inputs)
            if in_stateless_scope():
                self.add_loss(loss)
            else:
                # Not ``add_loss``: Keras keeps added losses in a list that outlives the step, and
                # torch.compile guards on that list's old tensors, recompiling every step. A
                # write-only attribute, reset in _clear_losses, is never read across steps.
                # Per replica thread (TF's MirroredStrategy runs one replica per thread and
                # switches at every all-reduce: a shared list would lose or mix their losses).
                key = replica_thread_key()
                pending = self.__dict__.get("_chaos_losses") or {}
                object.__setattr__(self, "_chaos_losses",
                                   {**pending, key: pending.get(key, []) + [loss]})
            _accumulate(self.loss_sum, loss)
            _accumulate(self.loss_count, 1.0)
        return None

    def _record(self, inputs, split_time=False):
        """Where the backend has a fast path for the chaotic loss (torch): add ``inputs`` to this
        forward pass's batch of chaotic-loss tensors (one batch per regularizer, kept on Keras'
        call context of the outermost layer call); the first probe recorded owns the batch and
        reports its loss. Returns the entry, or None where that does not apply."""
        context = current_call_context()
        if context is None:
            return None
        entry = self.regularizer._fast_entry(inputs, split_time=split_time)
        if entry is None:
            return None
        batches = context.get_value(_BATCHES)
        if batches is None:
            batches = {}
            context.set_value(_BATCHES, batches)
        key = (id(self.regularizer),) + tuple(entry.key)
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
            losses.extend((self.__dict__.get("_chaos_losses") or {}).get(replica_thread_key(), ()))
            losses.extend(batch.loss() for batch in self.__dict__.get("_chaos_batches") or ())
        return losses

    def _clear_losses(self):
        super()._clear_losses()
        key = replica_thread_key()
        pending = {k: v for k, v in (self.__dict__.get("_chaos_losses") or {}).items() if k != key}
        object.__setattr__(self, "_chaos_losses", pending or None)
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
    """The tensors recorded by the probes of one regularizer in one forward pass (where the
    backend has a fast path for the chaotic loss). Their summed chaotic loss is computed once,
    when Keras collects the losses (after the forward pass), in one fused call; the per-probe
    statistics are updated then (torch: one multi-tensor add each)."""

    def __init__(self, regularizer):
        self.regularizer = regularizer
        self.probes, self.entries, self._loss = [], [], None

    def loss(self):
        if self._loss is None:
            self._loss, per_probe = self.regularizer._fast_batch_loss(self.entries)
            self.entries = None  # the recorded tensors are no longer needed
            sums = [p.loss_sum for p in self.probes]
            counts = [p.loss_count for p in self.probes]
            if not run_fast_path("accumulate_statistics", sums, counts, per_probe):
                for total, count, value in zip(sums, counts, ops.unstack(per_probe)):
                    _accumulate(total, value)
                    _accumulate(count, 1.0)
        return self._loss


def _accumulate(variable, value):
    """``variable += value`` (no gradient); the backend's fast path where it has one (torch eager:
    one in-place add on the variable's tensor)."""
    if not run_fast_path("accumulate", variable, value):
        variable.assign(variable + ops.cast(ops.stop_gradient(value), variable.dtype))


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
