"""Dropout with one mask per sample shared by all time steps (the BP-STA code's ``NDropout``;
Shen et al., Patterns 2022): on [B, T, ...] the kept/dropped pattern of a sample is drawn once and
reused at every t, so a dropped neuron stays silent for the whole sequence::

    y[b, t, ...] = m[b, ...] · x[b, t, ...] / (1 − p),    m ~ Bernoulli(1 − p)
"""
import keras

__all__ = ["NDropout"]


@keras.saving.register_keras_serializable(package="snnzoo")
class NDropout(keras.layers.Layer):
    """Time-shared (inverted) dropout on sequences [B, T, ...]; identity at inference.

    Args:
        rate: drop probability p in [0, 1).
        seed: seed of the masks.
        **kwargs: standard Keras layer arguments.

    Call arguments:
        inputs: tensor ``[batch, time, ...features]`` (static time axis).
        training: drop only if true.

    Returns:
        ``m·x/(1 − p)`` with one mask m per sample shared by all steps; the input at inference.

    Example:

    ```python
    import numpy as np
    from snnzoo.layers.ndropout import NDropout

    y = NDropout(0.5, seed=0)(np.ones((2, 4, 8), "float32"), training=True)
    # y[b, t] is the same 0 / 2 pattern for every t
    ```
    """

    def __init__(self, rate=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"NDropout: rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if rate > 0 else None

    def build(self, input_shape):
        if len(input_shape) < 3 or input_shape[1] is None:
            raise ValueError(
                f"NDropout expects a sequence [batch, time, ...features] with a static time axis, "
                f"got shape {tuple(input_shape)}"
            )
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        shape = keras.ops.shape(inputs)
        noise_shape = (shape[0], 1) + tuple(shape[2:])
        return keras.random.dropout(inputs, self.rate, noise_shape=noise_shape, seed=self.seed_generator)

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config
