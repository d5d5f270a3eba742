"""The one dispatch to the backends' optional fast paths.

Every portable function of :mod:`snnzoo.backend` (and the chaotic loss in :mod:`snnzoo.chaos`) is
written in ``keras.ops``. A backend module (``snnzoo/backend/torch.py``, ``jax.py``,
``tensorflow.py``) may define a function of the same name, its *fast path*. The fast path is
looked up at call time (the backend is Keras' at that moment, not at import time), may decline by
returning None (a dtype or layout it does not handle), and the generic ``keras.ops`` path then
runs. Each fast path is tested against its generic path (tests/test_fast_paths.py,
tests/test_chaos_fused_torch.py).
"""
import importlib

import keras

__all__ = ["backend_name", "fast_path", "run_fast_path"]

#: The backend modules with fast paths, by Keras backend name (others: generic paths only).
_MODULES = {"torch": "snnzoo.backend.torch", "jax": "snnzoo.backend.jax",
            "tensorflow": "snnzoo.backend.tensorflow"}
_loaded = {}


def backend_name() -> str:
    """Keras' backend, now: ``"torch"``, ``"jax"``, ``"tensorflow"`` (or another Keras backend)."""
    return keras.backend.backend()


def _backend_module(name):
    module = _loaded.get(name)
    if module is None and name in _MODULES:
        module = _loaded[name] = importlib.import_module(_MODULES[name])
    return module


def fast_path(name):
    """The current backend's fast path ``name`` (a function that returns None to decline), or None
    where the backend has none."""
    module = _backend_module(keras.backend.backend())
    return None if module is None else getattr(module, name, None)


def preload():
    """Import the fast-path module of Keras' current backend now (its library is imported by
    Keras already), so that the first lookup does not import inside a traced function
    (``torch.compile`` cannot trace an import: it would break the graph there)."""
    _backend_module(keras.backend.backend())


def run_fast_path(name, *args, **kwargs):
    """``fast_path(name)(*args, **kwargs)``; None where there is none or it declines."""
    fast = fast_path(name)
    return None if fast is None else fast(*args, **kwargs)
