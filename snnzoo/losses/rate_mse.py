"""Mean squared error between firing rates and one-hot targets (Shen et al., "Backpropagation
with biologically plausible spatiotemporal adjustment", Patterns 2022; the authors' ``--loss mse``
= ``UnilateralMse(1.)``, which in their code reduces to plain MSE)::

    L = (1/C) Σ_c (r_c − y_c)²,   r = voted firing rate in [0, 1],  y = one-hot

averaged over the batch (= mean over all B·C elements).
"""
import keras
from keras import ops

from snnzoo.losses._targets import one_hot_targets


@keras.saving.register_keras_serializable(package="snnzoo")
class RateMSE(keras.losses.Loss):
    """MSE of firing rates ``y_pred`` [B, C] against one-hot targets.

    ``y_true``: integer labels [B] (or [B, 1]) or one-hot targets [B, C].
    """

    def __init__(self, name="rate_mse", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._config_dtype = None if dtype is None else self._dtype_policy.name  # None: floatx

    def call(self, y_true, y_pred):
        if len(y_pred.shape) != 2:
            raise ValueError(
                f"RateMSE expects firing rates [batch, classes], got shape {tuple(y_pred.shape)}; "
                "average the output over time first (snnzoo.layers.MeanOverTime)"
            )
        target = ops.cast(one_hot_targets(y_true, y_pred.shape[-1], 1, "RateMSE"), y_pred.dtype)
        return ops.mean(ops.square(y_pred - target), axis=-1)

    def get_config(self):
        config = super().get_config()
        config["dtype"] = self._config_dtype
        return config
