"""Small models and inputs shared by the NIR export and round-trip tests
(tests/test_nir_export.py, tests/test_nir_roundtrip.py)."""
import keras
import numpy as np

from snnzoo.layers import TDBatchNorm, TimeFold

T = 4


def scale_weights(model, factor, seed=0):
    """Random weights large enough to make the neurons fire (PLIF's ``w`` left as built)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if w.trainable and w.name != "w":
            fan = max(1, int(np.prod(w.shape[:-1])))
            w.assign((rng.standard_normal(w.shape) * factor / np.sqrt(fan)).astype("float32"))


def random_input(shape, seed=1, scale=2.0):
    return (np.random.default_rng(seed).random(shape) * scale).astype("float32")


def conv_net(neuron, neuron2=None, bn=False, same=True, seed=0):
    """conv (same) [+ BN] -> neuron -> avg pool -> flatten -> dense -> neuron."""
    inp = keras.Input((T, 8, 8, 2))
    x = TimeFold(keras.layers.Conv2D(4, 3, padding="same" if same else "valid"), name="conv")(inp)
    if bn:
        x = TDBatchNorm(name="bn")(x)
    x = neuron("sn1")(x)
    x = TimeFold(keras.layers.AveragePooling2D(2), name="pool")(x)
    x = TimeFold(keras.layers.Flatten(), name="flatten")(x)
    x = keras.layers.Dense(6, name="fc")(x)
    x = (neuron2 or neuron)("sn2")(x)
    model = keras.Model(inp, x)
    scale_weights(model, 3.0, seed)
    return model
