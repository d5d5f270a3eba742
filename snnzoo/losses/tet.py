"""Temporal efficient training loss (Deng et al., "Temporal Efficient Training of Spiking Neural
Network via Gradient Re-weighting", ICLR 2022, Eq. 8–10; the authors' ``TET_loss``)::

    L = (1 − λ) · (1/T) Σ_t CE(O[:, t], y)  +  λ · MSE(O, φ)

on per-step logits O [B, T, C]; CE is softmax cross-entropy averaged over the batch and the MSE
(the paper's "MMD" regulariser towards the constant φ = ``means``) is averaged over all B·T·C
elements. ``lamb=1e-3`` and ``means=1.0`` are the defaults of the authors' CIFAR script.

Per sample this is ``(1 − λ)·mean_t CE_t + λ·mean_{t,c}(O − φ)²``; Keras' default reduction (mean
over the batch) then gives exactly the formula above.
"""
import keras
from keras import ops

from snnzoo.losses._targets import one_hot_targets


@keras.saving.register_keras_serializable(package="snnzoo")
class TETLoss(keras.losses.Loss):
    """TET loss on per-step logits ``y_pred`` [B, T, C].

    ``y_true``: integer labels [B] (or [B, 1]) or one-hot / soft targets [B, C].
    Use with a model that returns per-step logits (e.g. ``resnet19(..., per_step_logits=True)``);
    predict with the mean over T.
    """

    def __init__(self, lamb=1e-3, means=1.0, name="tet_loss", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._config_dtype = None if dtype is None else self._dtype_policy.name  # None: floatx
        self.lamb = float(lamb)
        if not 0.0 <= self.lamb <= 1.0:
            raise ValueError(f"TETLoss: lamb must be in [0, 1], got {lamb}")
        self.means = float(means)

    def call(self, y_true, y_pred):
        if len(y_pred.shape) != 3:
            raise ValueError(
                f"TETLoss expects per-step logits [batch, time, classes], got shape {tuple(y_pred.shape)}; "
                "build the model with per_step_logits=True"
            )
        num_classes = y_pred.shape[-1]
        target = ops.cast(one_hot_targets(y_true, num_classes, 1, "TETLoss"), y_pred.dtype)
        log_p = ops.log_softmax(y_pred, axis=-1)  # [B, T, C]
        ce = -ops.sum(ops.expand_dims(target, 1) * log_p, axis=-1)  # [B, T]
        loss = (1.0 - self.lamb) * ops.mean(ce, axis=1)
        if self.lamb != 0.0:
            loss = loss + self.lamb * ops.mean(ops.square(y_pred - self.means), axis=(1, 2))
        return loss

    def get_config(self):
        config = super().get_config()
        config.update(lamb=self.lamb, means=self.means, dtype=self._config_dtype)
        return config
