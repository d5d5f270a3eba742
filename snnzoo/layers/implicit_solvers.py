"""Deprecated module path: moved to :mod:`snnzoo.ide.solvers` (the names resolve there, with a
DeprecationWarning)."""
import importlib
import warnings


def __getattr__(name):
    module = importlib.import_module("snnzoo.ide.solvers")
    if name.startswith("__") or not hasattr(module, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"snnzoo.layers.implicit_solvers is deprecated: use snnzoo.ide.solvers.{name}",
                  DeprecationWarning, stacklevel=2)
    return getattr(module, name)
