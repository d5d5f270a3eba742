"""Batch normalisation for spiking sequences [B, T, ..., C] (channels last).

Both layers take their statistics per channel over batch, time and space together (N·T·H·W), as
the multi-step BN of SpikingJelly / TET does when it folds time into the batch.

Defaults follow PyTorch (``momentum=0.9`` here ≡ PyTorch ``momentum=0.1``; ``epsilon=1e-5``) so
that converted checkpoints reproduce. One PyTorch difference remains: PyTorch updates the running
variance with the unbiased batch variance, Keras with the biased one (training only).
"""
import keras
from keras import ops


def _check_sequence(layer, shape):
    if len(shape) < 3 or shape[1] is None:
        raise ValueError(
            f"{type(layer).__name__} expects [batch, time, ...features, channels] with a static "
            f"time axis, got shape {tuple(shape)}"
        )


@keras.saving.register_keras_serializable(package="snnzoo")
class TDBatchNorm(keras.layers.BatchNormalization):
    """Threshold-dependent BN (Zheng et al., AAAI 2021, Eq. 7–8):
    y = λ·(x − μ)/√(σ² + ε) + β with μ, σ² over (N, T, H, W) and λ initialised to α·V_th.

    ``alpha=1, v_threshold=1`` (the default) is plain BN over N·T — what the TET code calls tdBN.
    """

    def __init__(self, alpha=1.0, v_threshold=1.0, momentum=0.9, epsilon=1e-5, **kwargs):
        self.alpha = float(alpha)
        self.v_threshold = float(v_threshold)
        if self.v_threshold <= 0:
            raise ValueError(f"v_threshold must be > 0, got {self.v_threshold}")
        kwargs.setdefault("gamma_initializer", keras.initializers.Constant(self.alpha * self.v_threshold))
        super().__init__(axis=-1, momentum=momentum, epsilon=epsilon, **kwargs)

    def build(self, input_shape):
        _check_sequence(self, input_shape)
        super().build(input_shape)

    def get_config(self):
        config = super().get_config()
        config.pop("axis", None)
        config.update(alpha=self.alpha, v_threshold=self.v_threshold)
        return config


@keras.saving.register_keras_serializable(package="snnzoo")
class TEBN(keras.layers.BatchNormalization):
    """Temporal effective BN (Duan et al., NeurIPS 2022, Eq. 9): y[t] = p[t]·BN(x)[t], with BN
    statistics pooled over (N, T, H, W) and one learnable scale p[t] per time step (init 1).
    p also scales BN's β, as in the reference code."""

    def __init__(self, time_steps, momentum=0.9, epsilon=1e-5, **kwargs):
        self.time_steps = int(time_steps)
        if self.time_steps < 1:
            raise ValueError(f"time_steps must be >= 1, got {time_steps}")
        super().__init__(axis=-1, momentum=momentum, epsilon=epsilon, **kwargs)

    def build(self, input_shape):
        _check_sequence(self, input_shape)
        if input_shape[1] != self.time_steps:
            raise ValueError(
                f"TEBN(time_steps={self.time_steps}) got {input_shape[1]} time steps in input "
                f"shape {tuple(input_shape)}"
            )
        super().build(input_shape)
        self.p = self.add_weight(name="p", shape=(self.time_steps,), initializer="ones")

    def call(self, inputs, training=None, mask=None):
        y = super().call(inputs, training=training, mask=mask)
        shape = (1, self.time_steps) + (1,) * (len(inputs.shape) - 2)
        return y * ops.reshape(ops.cast(self.p, y.dtype), shape)

    def get_config(self):
        config = super().get_config()
        config.pop("axis", None)
        config["time_steps"] = self.time_steps
        return config
