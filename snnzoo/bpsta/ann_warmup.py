"""ANN warm-up for spiking networks (Shen et al., Patterns 2022, BP-STA code ``--warm-up K``):
during the first K epochs every spiking node is bypassed, so the network is the plain ANN with
ReLU activations; afterwards the nodes are switched on.

* :class:`~snnzoo.layers.WarmupSwitch` (a layer) after every node selects ``pre`` (the node's
  input) while its flag ``ann_mode`` is 1, else the spikes.
* :class:`ANNWarmup` — callback that sets ``ann_mode`` = 1 for epochs < K and 0 afterwards, on every
  switch in the model. It reaches the flags through ``self.model`` so that the new value is seen by
  compiled (jit) train steps on JAX too.
* :func:`set_ann_mode` — set the flags by hand (e.g. to evaluate the ANN).

With direct encoding (the same frame repeated T times) and only stateless layers between nodes,
all T steps of the bypassed network are identical, so its time-averaged output equals the single
step the authors run during warm-up (time-folded BN statistics are the same too).
"""
import keras

from snnzoo.layers.find import find_layers
from snnzoo.layers.warmup_switch import WarmupSwitch

__all__ = ["ANNWarmup", "set_ann_mode"]


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

    Args:
        epochs: K, the number of warm-up epochs (>= 0).
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
