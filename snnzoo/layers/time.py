"""Helpers that move between static tensors [B, ...] and sequences [B, T, ...]."""
import keras
from keras import ops

from snnzoo.backend import call_on_frames


def check_sequence(layer, shape, layout="...features"):
    """Raise one clear error unless ``shape`` is [batch, time, {layout}] with a static time axis."""
    if len(shape) < 3 or shape[1] is None:
        raise ValueError(
            f"{type(layer).__name__} expects a sequence [batch, time, {layout}] with a static "
            f"time axis, got shape {tuple(shape)}"
        )


@keras.saving.register_keras_serializable(package="snnzoo")
class TimeFold(keras.layers.Layer):
    """Apply a per-frame Keras layer to every time step of [B, T, ...] by folding time into the
    batch: [B, T, ...] → [B·T, ...] → layer → [B, T, ...].

    Folding (rather than looping) makes batch statistics pool over N·T, as SpikingJelly's
    multi-step ``SeqToANNContainer`` does, and is the fastest form on every backend.

    Args:
        layer: the Keras layer applied to every frame (``Conv2D``, ``Dense``, pooling, …).
        **kwargs: standard Keras layer arguments.

    Call arguments:
        inputs: tensor ``[batch, time, ...features]`` (static time axis).
        training: passed on to the wrapped layer.

    Returns:
        ``[batch, time, ...]`` with the wrapped layer's per-frame output shape.

    Example:

    ```python
    import keras
    import numpy as np
    from snnzoo.layers import TimeFold

    x = np.zeros((2, 4, 32, 32, 3), "float32")                 # [B, T, H, W, C]
    y = TimeFold(keras.layers.Conv2D(16, 3, padding="same"))(x)  # [2, 4, 32, 32, 16]
    ```
    """

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(f"TimeFold wraps a keras.layers.Layer, got {type(layer).__name__}")
        self.layer = layer

    def build(self, input_shape):
        check_sequence(self, input_shape)
        if not self.layer.built:  # a deserialised inner layer arrives already built
            self.layer.build((None,) + tuple(input_shape[2:]))
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (input_shape[0], input_shape[1]) + tuple(inner[1:])

    def call(self, inputs, training=None):
        steps = inputs.shape[1]
        folded = ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))
        kwargs = {"training": training} if training is not None else {}
        out = call_on_frames(self.layer, folded, **kwargs)
        return ops.reshape(out, (-1, steps) + tuple(out.shape[1:]))

    def get_config(self):
        config = super().get_config()
        config["layer"] = keras.saving.serialize_keras_object(self.layer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        inner = dict(config["layer"])
        # built later by TimeFold.build, inside this layer's name scope: the weights then keep
        # the paths they had when saved ("fold/conv/kernel", not "conv/kernel")
        inner.pop("build_config", None)
        config["layer"] = keras.saving.deserialize_keras_object(inner)
        return cls(**config)


@keras.saving.register_keras_serializable(package="snnzoo")
class RepeatTime(keras.layers.Layer):
    """Direct encoding: repeat a static input T times, [B, ...] → [B, T, ...].

    Args:
        time_steps: T (≥ 1).
        **kwargs: standard Keras layer arguments.

    Call arguments:
        inputs: tensor ``[batch, ...]``.

    Returns:
        ``[batch, time_steps, ...]``, the input at every step.

    Example:

    ```python
    import numpy as np
    from snnzoo.layers import RepeatTime

    RepeatTime(4)(np.zeros((2, 28, 28, 1), "float32")).shape   # (2, 4, 28, 28, 1)
    ```
    """

    def __init__(self, time_steps, **kwargs):
        super().__init__(**kwargs)
        time_steps = int(time_steps)
        if time_steps < 1:
            raise ValueError(f"time_steps must be >= 1, got {time_steps}")
        self.time_steps = time_steps

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.time_steps) + tuple(input_shape[1:])

    def call(self, inputs):
        x = ops.expand_dims(inputs, 1)
        return ops.repeat(x, self.time_steps, axis=1)

    def get_config(self):
        config = super().get_config()
        config["time_steps"] = self.time_steps
        return config


@keras.saving.register_keras_serializable(package="snnzoo")
class MeanOverTime(keras.layers.Layer):
    """Rate readout: mean over the time axis, [B, T, ...] → [B, ...].

    Args:
        **kwargs: standard Keras layer arguments.

    Call arguments:
        inputs: tensor ``[batch, time, ...]`` (static time axis).

    Returns:
        ``[batch, ...]``: the mean over time (a firing rate for spikes).

    Example:

    ```python
    import numpy as np
    from snnzoo.layers import MeanOverTime

    MeanOverTime()(np.array([[[0.0], [1.0], [1.0], [0.0]]], "float32"))   # [[0.5]]
    ```
    """

    def build(self, input_shape):
        check_sequence(self, input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])

    def call(self, inputs):
        return ops.mean(inputs, axis=1)
