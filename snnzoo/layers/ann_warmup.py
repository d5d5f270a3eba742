"""ANN warm-up for spiking networks (Shen et al., Patterns 2022, BP-STA code ``--warm-up K``):
during the first K epochs every spiking node is bypassed, so the network is the plain ANN with
ReLU activations; afterwards the nodes are switched on.

* :class:`WarmupSwitch` — ``WarmupSwitch()([pre, spikes])`` returns ``pre`` (the node's input,
  i.e. the ReLU activation) while its non-trainable flag ``ann_mode`` is 1, else ``spikes``.
  Spikes pass through unchanged (exactly 0/1); gradients go only to the selected branch.
* :class:`ANNWarmup` — callback that sets ``ann_mode`` = 1 for epochs < K and 0 afterwards, on every
  switch in the model. It reaches the flags through ``self.model`` so that the new value is seen by
  compiled (jit) train steps on JAX too.
* :func:`set_ann_mode` — set the flags by hand (e.g. to evaluate the ANN).

With direct encoding (the same frame repeated T times) and only stateless layers between nodes,
all T steps of the bypassed network are identical, so its time-averaged output equals the single
step the authors run during warm-up (time-folded BN statistics are the same too).
"""
import keras
from keras import ops

from snnzoo.layers.find import find_layers


@keras.saving.register_keras_serializable(package="snnzoo")
class WarmupSwitch(keras.layers.Layer):
    """``[pre, spikes] → pre if ann_mode else spikes`` (``ann_mode``: non-trainable scalar flag)."""

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


def _switches(model):
    return find_layers(model, WarmupSwitch)


def set_ann_mode(model, on):
    """Bypass (``on=True``) or enable (``on=False``) every spiking node behind a WarmupSwitch.
    Returns the number of switches set."""
    switches = _switches(model)
    for layer in switches:
        layer.ann_mode.assign(1.0 if on else 0.0)
    return len(switches)


@keras.saving.register_keras_serializable(package="snnzoo")
class ANNWarmup(keras.callbacks.Callback):
    """Train as an ANN for the first ``epochs`` epochs, then as the SNN (BP-STA ``--warm-up``).

    Logs ``ann_mode`` (1.0 / 0.0) per epoch in the History.
    """

    def __init__(self, epochs):
        super().__init__()
        self.epochs = int(epochs)
        if self.epochs < 0:
            raise ValueError(f"ANNWarmup: epochs must be >= 0, got {epochs}")
        self._mode = None

    def on_train_begin(self, logs=None):
        if not _switches(self.model):
            raise ValueError(
                "ANNWarmup: the model has no WarmupSwitch layers; build it with the warm-up option "
                "(e.g. snnzoo.models.bpsta_convnet.bpsta_convnet(..., ann_warmup=True))"
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._mode = epoch < self.epochs
        set_ann_mode(self.model, self._mode)  # through self.model: JAX state sync

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._mode is not None:
            logs["ann_mode"] = 1.0 if self._mode else 0.0

    def get_config(self):
        return {"epochs": self.epochs}

    @classmethod
    def from_config(cls, config):
        # Keras callbacks have no from_config; Keras' deserialisation needs one
        return cls(**config)
