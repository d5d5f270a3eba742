"""Run under one KERAS_BACKEND (a subprocess of tests/test_float64_parity.py):

    python -m tests.float64_probe OUT.npz [--layers]

Sets ``keras.config.set_floatx("float64")`` as a user would (JAX additionally needs
``JAX_ENABLE_X64=1`` in the environment, set by the caller), builds SEW ResNet-34 (the real
structure: 16 basic blocks, IF neurons, tdBN-free BN, SEW ADD) on small images, assigns weights
drawn in float64 from a fixed numpy seed, and records the logits (inference and one training-mode
forward), the input gradient of a fixed linear function of the training-mode logits, every
weight's dtype and the outputs of the first layers (``--layers``: of every layer). Everything is saved to OUT.npz.
"""
import sys

import keras
import numpy as np

from snnzoo.layers import BaseNeuron
from tests.backend_grad import value_and_grads

INPUT_SHAPE = (48, 48, 3)
TIME_STEPS = 4
BATCH = 2


def build():
    from snnzoo.models.sew_resnet import sew_resnet34

    return sew_resnet34(num_classes=10, time_steps=TIME_STEPS, input_shape=INPUT_SHAPE)


def assign_weights(model):
    """Float64 weights from a fixed seed, scaled so that the IF neurons of every block spike
    (He-normal kernels, BN moving statistics near the identity)."""
    rng = np.random.RandomState(0)
    for v in model.weights:
        shape = tuple(v.shape)
        if v.path.endswith("kernel"):
            fan_in = int(np.prod(shape[:-1]))
            value = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
        elif v.path.endswith("gamma"):
            value = rng.uniform(0.8, 1.6, shape)
        elif v.path.endswith("beta"):
            value = rng.uniform(-0.1, 0.4, shape)
        elif v.path.endswith("moving_mean"):
            value = rng.uniform(-0.1, 0.1, shape)
        elif v.path.endswith("moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif v.path.endswith("bias"):
            value = rng.uniform(-0.1, 0.1, shape)
        else:
            raise AssertionError(f"no rule for weight {v.path}")
        v.assign(value.astype(v.dtype))


class TrainingMode(keras.Model):
    """``model`` called with ``training=True`` (batch statistics, the fused BN backward)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.built = True  # its variables are the (built) model's

    def call(self, x, training=None):
        return self.model(x, training=True)


def main(out, *flags):
    keras.config.set_floatx("float64")
    model = build()
    assign_weights(model)
    x = np.random.RandomState(1).rand(BATCH, *INPUT_SHAPE)  # float64
    record = {"weight_dtypes": np.array(sorted({v.dtype for v in model.weights}))}
    record["logits"] = keras.ops.convert_to_numpy(model(x, training=False))
    spikes = [layer.output for layer in model.layers if isinstance(layer, BaseNeuron)]
    probe = keras.Model(model.input, [model.output] + spikes)
    outs = probe(x, training=False)
    record["spike_rates"] = np.array([float(np.mean(keras.ops.convert_to_numpy(s))) for s in outs[1:]])
    record["spike_counts"] = np.array([keras.ops.convert_to_numpy(s).sum() for s in outs[1:]])
    # every layer's output (inference), before the training-mode pass updates BN statistics
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if "--layers" not in flags:
        layers = [layer for layer in layers if layer.name in ("normalize", "conv1")]
    per_layer = keras.Model(model.input, [layer.output for layer in layers])
    for layer, value in zip(layers, per_layer(x, training=False)):
        record[f"layer:{layer.name}"] = keras.ops.convert_to_numpy(value)
    coef = keras.ops.convert_to_tensor(np.random.RandomState(2).randn(BATCH, 10))
    outs, loss, gx, _ = value_and_grads(TrainingMode(model), x, lambda o: keras.ops.sum(o * coef))
    record.update(train_logits=outs[0], train_loss=loss, gx=gx,
                  logits_dtype=np.array(str(keras.ops.convert_to_numpy(model(x)).dtype)))
    np.savez(out, **record)


if __name__ == "__main__":
    main(*sys.argv[1:])
