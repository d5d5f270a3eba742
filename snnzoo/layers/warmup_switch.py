"""The bypass switch of BP-STA's ANN warm-up (Shen et al., Patterns 2022, BP-STA code
``--warm-up K``): ``WarmupSwitch()([pre, spikes])`` returns

    y = pre      if ann_mode = 1   (the node's input, i.e. the ReLU activation: the plain ANN)
    y = spikes   if ann_mode = 0   (the spiking node's output)

``ann_mode`` is a non-trainable scalar flag. Spikes pass through unchanged (exactly 0/1);
gradients go only to the selected branch. The :class:`snnzoo.bpsta.ANNWarmup` callback sets the
flag per epoch, :func:`snnzoo.bpsta.set_ann_mode` by hand.
"""
import keras
from keras import ops

__all__ = ["WarmupSwitch"]


@keras.saving.register_keras_serializable(package="snnzoo")
class WarmupSwitch(keras.layers.Layer):
    """``[pre, spikes] → pre if ann_mode else spikes`` (``ann_mode``: non-trainable scalar flag).

    Args:
        ann_mode: initial value of the flag (True: bypass the node).
        **kwargs: standard Keras layer arguments.

    Call arguments:
        inputs: the list ``[node_input, node_output]`` (equal shapes).
    """

    def __init__(self, ann_mode=False, **kwargs):
        super().__init__(**kwargs)
        self.initial_ann_mode = bool(ann_mode)

    def build(self, input_shape):
        if not (isinstance(input_shape, (list, tuple)) and len(input_shape) == 2):
            raise ValueError("WarmupSwitch is called on a list [node_input, node_output]")
        if tuple(input_shape[0]) != tuple(input_shape[1]):
            raise ValueError(
                f"WarmupSwitch: node input and output shapes differ: {tuple(input_shape[0])} vs "
                f"{tuple(input_shape[1])}"
            )
        self.ann_mode = self.add_weight(
            name="ann_mode", shape=(), trainable=False,
            initializer=keras.initializers.Constant(1.0 if self.initial_ann_mode else 0.0),
        )
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def call(self, inputs):
        pre, spikes = inputs
        flag = ops.cast(self.ann_mode, pre.dtype) > 0.5
        return ops.where(flag, pre, spikes)

    def get_config(self):
        config = super().get_config()
        config["ann_mode"] = self.initial_ann_mode
        return config
