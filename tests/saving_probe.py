"""The loading side of tests/test_saving.py, run as a FRESH process under one KERAS_BACKEND:

    python -m tests.saving_probe DIR

It does what a user does after a plain ``import snnzoo``: ``keras.saving.load_model`` of every
``DIR/*.keras`` file, then runs each loaded model on the input the saving process stored in
``DIR/<name>.inputs.npy``. It writes ``DIR/<name>.loaded.npz`` with the outputs, the weights
(by path) and a description of the compiled loss and of the chaos probes it found. Nothing but
``snnzoo`` itself is imported from the package (no model module, no registry).
"""
import json
import os
import sys
from pathlib import Path

import keras
import numpy as np

import snnzoo  # noqa: F401  (registers every serializable snnzoo class: the point of the test)


def forward(model, x):
    """Outputs as numpy: compiled on JAX (eager JAX dispatches op by op: ~2x slower over the zoo),
    eager elsewhere (a TF graph trace costs more than it saves here). The saving side (tests/test_saving.py)
    uses this same function, so both sides run the same path."""
    if keras.backend.backend() == "jax":
        return np.asarray(model.predict_on_batch(x))
    return keras.ops.convert_to_numpy(model(x, training=False))


def _probe_info(model):
    probes = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if keras.saving.get_registered_name(type(layer)) == "snnzoo>ChaosProbe":
            reg = layer.regularizer
            probes.append({"name": layer.name, "regularizer": keras.saving.get_registered_name(type(reg)),
                           "z": float(keras.ops.convert_to_numpy(reg.z)), "config": reg.get_config()})
    return probes


def main(directory):
    directory = Path(directory)
    loaded_snnzoo = sorted(m for m in sys.modules if m.startswith("snnzoo"))
    for path in sorted(directory.glob("*.keras")):
        name = path.name[: -len(".keras")]
        model = keras.saving.load_model(str(path))
        x = np.load(directory / f"{name}.inputs.npy")
        y = forward(model, x)
        loss = getattr(model, "loss", None)
        info = {
            "class": keras.saving.get_registered_name(type(model)),
            "loss": None if loss is None else keras.saving.get_registered_name(type(loss)),
            "loss_config": None if loss is None or not hasattr(loss, "get_config") else loss.get_config(),
            "probes": _probe_info(model),
            "snnzoo_modules_before_loading": loaded_snnzoo,
        }
        np.savez(directory / f"{name}.loaded.npz", outputs=y, info=json.dumps(info),
                 **{f"w:{v.path}": keras.ops.convert_to_numpy(v) for v in model.weights})


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main(*sys.argv[1:])
