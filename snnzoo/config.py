"""Where snnzoo keeps its cache and looks for data sets.

* ``SNNZOO_HOME``: cache root (converted weights, downloaded checkpoints, event-frame caches).
  Default ``~/.snnzoo``.
* ``SNNZOO_DATA``: data-set root. Default ``$SNNZOO_HOME/data``. Each data set lives in a
  sub-folder named after it (``mnist/``, ``fashion_mnist/``, ``nmnist/``, ...), the same layout as
  the project's ``shared/data`` folder, so ``SNNZOO_DATA=../shared/data`` works as is.
* ``KERAS_BACKEND``: Keras' own setting. Where it is not set and the backend Keras would take
  (the one in ``keras.json``, else TensorFlow) is not installed, snnzoo picks torch, else JAX
  (:func:`choose_keras_backend`), so that a torch-only installation works without setting it.
  (Keras writes ``"backend": "tensorflow"`` into a new ``keras.json`` whatever was used.)
"""
import importlib.util
import json
import os
import sys
from pathlib import Path

#: Tried in this order when no backend is set and the configured or default one is missing.
FALLBACK_BACKENDS = ("torch", "jax")


def _keras_json_backend():
    """The backend named in Keras' config file (``$KERAS_HOME/keras.json``, else
    ``~/.keras/keras.json``, else ``/tmp/.keras/keras.json``, as Keras looks), or None."""
    home = os.environ.get("KERAS_HOME")
    candidates = [Path(home)] if home else [Path.home() / ".keras", Path("/tmp/.keras")]
    for folder in candidates:
        try:
            return json.loads((folder / "keras.json").read_text()).get("backend")
        except (OSError, ValueError, AttributeError):
            continue
    return None


def choose_keras_backend():
    """Before Keras is imported and without ``KERAS_BACKEND``: if the backend Keras would take
    (``keras.json``'s, else TensorFlow) is not installed, set ``KERAS_BACKEND`` to the first
    installed of :data:`FALLBACK_BACKENDS`. Returns the backend it set, or None (Keras already
    imported, ``KERAS_BACKEND`` set, the configured backend installed, or no fallback installed).
    An explicit ``KERAS_BACKEND`` is never overridden."""
    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND"):
        return None
    configured = _keras_json_backend() or "tensorflow"
    if configured not in ("tensorflow",) + FALLBACK_BACKENDS or _installed(configured):
        return None
    for name in FALLBACK_BACKENDS:
        if _installed(name):
            os.environ["KERAS_BACKEND"] = name
            return name
    return None


def _installed(backend):
    return importlib.util.find_spec(backend) is not None


def home_dir() -> Path:
    """Cache root: ``$SNNZOO_HOME`` or ``~/.snnzoo``."""
    return Path(os.environ.get("SNNZOO_HOME") or Path.home() / ".snnzoo").expanduser()


def data_dir(data_dir=None) -> Path:
    """Data-set root: the argument if given, else ``$SNNZOO_DATA``, else ``$SNNZOO_HOME/data``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("SNNZOO_DATA")
    if env:
        return Path(env).expanduser()
    return home_dir() / "data"
