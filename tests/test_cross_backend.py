"""The same model, weights and inputs on TensorFlow, PyTorch and JAX: identical spikes, outputs and
gradients (≤ 1e-5), and a model saved as .keras under one backend loads under every other with
identical outputs. Each backend runs in its own subprocess."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ["torch", "tensorflow", "jax"]


def _run(backend, out, *load):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-m", "tests.cross_backend_probe", str(out), *map(str, load)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{backend} probe failed:\n{proc.stderr[-4000:]}"


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    out = tmp_path_factory.mktemp("xbackend")
    _run("torch", out)                                   # saves torch.keras first
    _run("tensorflow", out, out / "torch.keras")
    _run("jax", out, out / "torch.keras", out / "tensorflow.keras")
    _run("torch", out, out / "tensorflow.keras", out / "jax.keras")
    return out


def test_spikes_outputs_and_gradients_identical_across_backends(probes):
    res = {b: dict(np.load(probes / f"{b}.npz")) for b in BACKENDS}
    ref = res["torch"]
    n_spike_layers = sum(k.startswith("spikes") for k in ref)
    assert n_spike_layers == 3
    assert sum(ref[f"spikes{i}"].sum() for i in range(n_spike_layers)) > 0
    for b in ("tensorflow", "jax"):
        for i in range(n_spike_layers):
            np.testing.assert_array_equal(res[b][f"spikes{i}"], ref[f"spikes{i}"], err_msg=f"{b} spikes{i}")
        np.testing.assert_allclose(res[b]["logits"], ref["logits"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(res[b]["gx"], ref["gx"], rtol=0, atol=1e-5)
        grads = sorted(k for k in ref if k.startswith("grad"))
        assert len(grads) >= 10
        for k in grads:
            scale = max(1.0, np.abs(ref[k]).max())
            np.testing.assert_allclose(res[b][k], ref[k], rtol=0, atol=1e-5 * scale, err_msg=f"{b} {k}")


def test_keras_file_saved_on_one_backend_loads_on_every_other(probes):
    own = {b: np.load(probes / f"{b}.npz")["logits"] for b in BACKENDS}
    pairs = 0
    for loader in BACKENDS:
        loaded = np.load(probes / f"{loader}_loaded.npz")
        for saver in loaded.files:
            np.testing.assert_allclose(loaded[saver], own[saver], rtol=0, atol=1e-5,
                                       err_msg=f"saved on {saver}, loaded on {loader}")
            pairs += 1
    assert pairs == 5
