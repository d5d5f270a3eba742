"""float64 is float64 on every backend: SEW ResNet-34 (real structure, seeded float64 weights,
48×48 images, T = 4), built after ``keras.config.set_floatx("float64")`` as a user would, gives
the same logits on torch, TensorFlow and JAX (x64) to 1e-12, in inference and in a training-mode
forward (batch statistics), with every neuron layer's spikes identical.

Before the fix in ``snnzoo.backend.keep_float64_on_torch`` torch ran ``ops.matmul`` and
``ops.maximum`` (inside ``Dense`` and ``Normalization``) in float32 and its logits were ~2e-6 off
TensorFlow's. Each backend runs in its own subprocess (tests/float64_probe.py), whatever the
backend of the test process, so these tests are not marked ``parity``: the torch CI job runs them
once for all three backends (the TensorFlow and JAX jobs would repeat the same subprocesses).
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("torch", "tensorflow", "jax")


def _probe(backend, out):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_ENABLE_X64="1")
    proc = subprocess.run([sys.executable, "-m", "tests.float64_probe", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{backend} float64 probe failed:\n{proc.stderr[-4000:]}"
    return dict(np.load(out))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    directory = tmp_path_factory.mktemp("float64")
    return {b: _probe(b, directory / f"{b}.npz") for b in BACKENDS}


def test_float64_model_is_float64_throughout(results):
    for backend, r in results.items():
        assert list(r["weight_dtypes"]) == ["float64"], backend
        assert str(r["logits_dtype"]) == "float64", backend
        for key in ("logits", "train_logits", "gx", "layer:normalize", "layer:conv1"):
            assert r[key].dtype == np.float64, (backend, key)


def test_sew_resnet34_float64_logits_agree_across_backends(results):
    ref = results["torch"]
    rates = ref["spike_rates"]
    assert len(rates) == 36  # sn1 + 33 block neurons + 3 downsample neurons
    assert rates.min() > 0.05 and rates.max() < 0.95  # every layer spikes, none saturates
    for backend in ("tensorflow", "jax"):
        r = results[backend]
        np.testing.assert_array_equal(r["spike_counts"], ref["spike_counts"], err_msg=backend)
        for key in ("logits", "train_logits"):
            scale = np.abs(ref[key]).max()
            assert scale > 0.5 and np.abs(ref[key][0] - ref[key][1]).max() > 1e-3
            np.testing.assert_allclose(r[key], ref[key], rtol=0, atol=1e-12 * scale,
                                       err_msg=f"{backend} {key}")
        assert abs(r["train_loss"] - ref["train_loss"]) <= 1e-12 * abs(ref["train_loss"])


def test_normalization_stem_is_exact_on_torch_and_jax(results):
    # (x − μ)/max(√σ², ε) and the first conv in float64: torch and JAX equal an independent numpy
    # evaluation to rounding (torch ran max(·, ε) in float32 before the fix: 7e-8 off).
    # TensorFlow is left out: Keras' TF backend turns the Python-list μ, σ² given to
    # Normalization into float32 constants (8e-8 off), which it documents as TF's default.
    from tests.float64_probe import BATCH, INPUT_SHAPE

    x = np.random.RandomState(1).rand(BATCH, *INPUT_SHAPE)
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    expected = (x - mean) / np.sqrt(std ** 2)
    for backend in ("torch", "jax"):
        np.testing.assert_allclose(results[backend]["layer:normalize"], expected, rtol=0, atol=1e-14,
                                   err_msg=backend)
    np.testing.assert_allclose(results["torch"]["layer:conv1"], results["jax"]["layer:conv1"],
                               rtol=0, atol=1e-12)
