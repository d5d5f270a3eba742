"""How large the CSBP chaotic loss is against the BP loss on one batch: :func:`chaos_scale` and
its result :class:`ChaosScale`, to choose the chaos strength z0.

The paper form of the loss (Wang, Tao & Chen, NSR 2024, Eq. 2–5) sums over neurons, ≈ z·ln 2
per neuron at initialisation; the measured ratio chaos/BP is linear in z, so
``z = ratio · bp / unscaled`` gives a chosen ratio (:meth:`ChaosScale.z_for`).
"""
import keras
from keras import ops

from snnzoo.chaos.probe import chaos_probes, chaotic_regularizers

__all__ = ["ChaosScale", "chaos_scale"]


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
