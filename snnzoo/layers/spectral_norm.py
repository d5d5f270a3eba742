"""Deprecated module path: moved to :mod:`snnzoo.ide.spectral_norm` (the names resolve there, with a
DeprecationWarning)."""
import importlib
import warnings


def __getattr__(name):
    module = importlib.import_module("snnzoo.ide.spectral_norm")
    if name.startswith("__") or not hasattr(module, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"snnzoo.layers.spectral_norm is deprecated: use snnzoo.ide.spectral_norm.{name}",
                  DeprecationWarning, stacklevel=2)
    return getattr(module, name)
