"""Batch normalisation of an event sequence's input current on its decay-weighted time average
(IDE-FSNN, spike inputs; Xiao et al., NeurIPS 2021, the authors' ``BN_mean_var`` path)::

    x̄ = Σ_t k^{T−1−t} x[t] / Σ_t k^t,    μ, σ̂² = per-channel mean and unbiased variance of x̄
    y[t] = γ·(x[t] − μ)/√(σ̂² + 1e-8) + β                 (training; the same μ, σ̂² every step)
    y[t] = γ·(x[t] − μ_run)/√(σ²_run + ε) + β             (inference)
"""
import keras
from keras import ops

from snnzoo.ide.decay import LeakAlias, resolve_decay, time_average
from snnzoo.layers.batch_stats import channel_moments, unbiased_variance, update_moving_average

__all__ = ["RateBatchNorm"]


@keras.saving.register_keras_serializable(package="snnzoo")
class RateBatchNorm(LeakAlias, keras.layers.Layer):
    """BN for the input current of an event sequence [B, T, ..., C] (IDE-FSNN, spike inputs).

    Training: the batch statistics are those of the (k-weighted) time average of the inputs —
    mean over (B, H, W) and unbiased variance, std = √(var + ``batch_epsilon``) — and the same
    normalisation is applied to every step (the reference's ``BN_mean_var`` path); the running
    statistics are updated from them (momentum 0.1 in PyTorch terms). Inference: running
    statistics, ε = ``epsilon``.

    Args:
        time_steps: T; inputs must have exactly T steps.
        decay: the membrane decay factor k of the time average (``None`` or 1: plain mean).
            ``leak`` is its deprecated name (still accepted, with a DeprecationWarning).
        momentum: momentum of the running statistics (Keras convention: 0.9 = PyTorch's 0.1).
        epsilon: ε of the inference normalisation.
        batch_epsilon: ε added to the batch variance in training (the reference's 1e-8).

    Call arguments:
        inputs: ``[batch, time_steps, ...features, channels]``.
        training: batch statistics (and running-statistic updates) if true.

    Returns:
        The normalised tensor, same shape.

    Example:

    ```python
    import numpy as np
    from snnzoo.ide import RateBatchNorm

    y = RateBatchNorm(4, decay=0.95)(np.random.rand(2, 4, 8, 8, 3).astype("float32"), training=True)
    ```
    """

    def __init__(self, time_steps, decay=None, momentum=0.9, epsilon=1e-5, batch_epsilon=1e-8,
                 **kwargs):
        self.decay = resolve_decay(decay, kwargs, "RateBatchNorm")
        super().__init__(**kwargs)
        self.time_steps = int(time_steps)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.batch_epsilon = float(batch_epsilon)

    def build(self, input_shape):
        if len(input_shape) < 3 or input_shape[1] != self.time_steps:
            raise ValueError(f"RateBatchNorm(time_steps={self.time_steps}) expects "
                             f"[batch, {self.time_steps}, ..., channels], got {tuple(input_shape)}")
        c = int(input_shape[-1])
        self.gamma = self.add_weight(name="gamma", shape=(c,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(c,), initializer="zeros")
        self.moving_mean = self.add_weight(name="moving_mean", shape=(c,), initializer="zeros",
                                           trainable=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=(c,),
                                               initializer="ones", trainable=False)
        super().build(input_shape)

    def call(self, inputs, training=None):
        if not training:
            scale = self.gamma / ops.sqrt(self.moving_variance + self.epsilon)
            return (inputs - self.moving_mean) * scale + self.beta
        avg = ops.stop_gradient(time_average(inputs, self.decay))
        mean, var = channel_moments(avg)
        var = unbiased_variance(var, avg)
        std = ops.sqrt(var + self.batch_epsilon)
        update_moving_average(self.moving_mean, mean, self.momentum)
        update_moving_average(self.moving_variance, var, self.momentum)
        return (inputs - mean) / std * self.gamma + self.beta

    def get_config(self):
        config = super().get_config()
        config.update(time_steps=self.time_steps, decay=self.decay, momentum=self.momentum,
                      epsilon=self.epsilon, batch_epsilon=self.batch_epsilon)
        return config
