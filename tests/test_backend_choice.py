"""Without KERAS_BACKEND or keras.json, Keras takes TensorFlow; ``import snnzoo`` picks torch
(else JAX) where TensorFlow is not installed, and leaves every configured choice alone. Each case
runs in a fresh interpreter (the backend is fixed when Keras is imported)."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPT = """
import sys
for name in {hidden!r}:
    sys.modules[name] = None          # as if not installed (importlib finds no spec)
import snnzoo, keras
print(keras.backend.backend())
"""


def _backend(tmp_path, hidden=(), env_backend=None, keras_json=None):
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    env["KERAS_HOME"] = str(tmp_path / "keras_home")
    os.makedirs(env["KERAS_HOME"], exist_ok=True)
    if keras_json is not None:
        (tmp_path / "keras_home" / "keras.json").write_text(json.dumps({"backend": keras_json}))
    if env_backend is not None:
        env["KERAS_BACKEND"] = env_backend
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(hidden=tuple(hidden))], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("hidden,expected", [
    (("tensorflow",), "torch"),
    (("tensorflow", "torch"), "jax"),
])
def test_missing_tensorflow_picks_an_installed_backend(tmp_path, hidden, expected):
    assert _backend(tmp_path, hidden) == expected


def test_keras_json_naming_a_missing_backend_falls_back(tmp_path):
    # Keras itself writes "tensorflow" into a new keras.json, whatever backend was used
    assert _backend(tmp_path, ("tensorflow",), keras_json="tensorflow") == "torch"


def test_configured_backends_are_kept(tmp_path):
    assert _backend(tmp_path, ("tensorflow",), env_backend="jax") == "jax"
    assert _backend(tmp_path, ("tensorflow",), keras_json="jax") == "jax"
    assert _backend(tmp_path, (), keras_json="tensorflow") == "tensorflow"
    assert _backend(tmp_path, ()) == "tensorflow"  # Keras' own default where it is installed
