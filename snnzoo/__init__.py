"""snnzoo: spiking neural networks for Keras 3 on TensorFlow, PyTorch and JAX."""
import os as _os

__version__ = "0.1.0"
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before keras may import TensorFlow

from snnzoo import config, layers, surrogates  # noqa: E402,F401


def __getattr__(name):
    # Heavier sub-packages load on first use.
    import importlib

    if name in ("chaos", "losses", "data", "models", "zoo", "convert"):
        return importlib.import_module(f"snnzoo.{name}")
    if name in ("list_models", "model_info", "load"):
        return getattr(importlib.import_module("snnzoo.zoo"), name)
    raise AttributeError(f"module 'snnzoo' has no attribute {name!r}")
