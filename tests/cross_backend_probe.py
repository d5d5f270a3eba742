"""Run under one KERAS_BACKEND (as a subprocess of test_cross_backend.py):

    python -m tests.cross_backend_probe OUT_DIR [LOAD_FROM.keras ...]

Builds the every-layer model with weights drawn from a fixed numpy seed, records its outputs,
per-layer spikes and gradients (input and every weight) to OUT_DIR/<backend>.npz, saves the model
as OUT_DIR/<backend>.keras, and records the predictions of every given .keras file loaded under this
backend to OUT_DIR/<backend>_loaded.npz."""
import os
import sys

import keras
import numpy as np

from snnzoo.layers import BaseNeuron
from tests.backend_grad import value_and_grads
from tests.test_fit_jit import every_layer_model


def probe_input():
    return np.random.RandomState(42).rand(4, 8, 8, 2).astype("float32") * 2


def main(out_dir, *load):
    backend = keras.backend.backend()
    model = every_layer_model()
    rng = np.random.RandomState(0)
    for v in model.weights:
        if "moving_variance" in v.path:
            v.assign(rng.uniform(0.5, 2.0, v.shape).astype("float32"))
        elif v.path.endswith("/w"):
            v.assign(np.float32(rng.uniform(-0.5, 0.5)))
        else:
            v.assign(rng.uniform(-0.6, 0.6, v.shape).astype("float32"))
    x = probe_input()
    spikes = [l.output for l in model.layers if isinstance(l, BaseNeuron)]
    probe = keras.Model(model.input, [model.output] + spikes)
    coef = keras.ops.convert_to_tensor(np.random.RandomState(1).randn(4, 3).astype("float32"))
    outs, loss, gx, gw = value_and_grads(probe, x, lambda o: keras.ops.sum(o[0] * coef) + 0.1 * sum(keras.ops.sum(s) for s in o[1:]))
    np.savez(os.path.join(out_dir, f"{backend}.npz"), logits=outs[0], loss=loss, gx=gx,
             **{f"spikes{i}": s for i, s in enumerate(outs[1:])},
             **{f"grad{i}": g for i, g in enumerate(gw)})
    model.save(os.path.join(out_dir, f"{backend}.keras"))
    loaded = {}
    for path in load:
        m = keras.models.load_model(path)
        loaded[os.path.basename(path).replace(".keras", "")] = keras.ops.convert_to_numpy(m.predict(x, verbose=0))
    np.savez(os.path.join(out_dir, f"{backend}_loaded.npz"), **loaded)


if __name__ == "__main__":
    main(*sys.argv[1:])
