"""Deprecated module path: the IDE layers live in :mod:`snnzoo.ide` now.

``from snnzoo.layers.feedback_equilibrium import X`` still works for the names it used to define
(with a DeprecationWarning); importing this module registers the serializable classes (it
imports :mod:`snnzoo.ide`), so saved ``.keras`` files keep loading.
"""
import importlib
import warnings

import snnzoo.ide  # noqa: F401  (registers FeedbackEquilibrium, RateBatchNorm, UnitNormUniform)

_MOVED = {
    "FeedbackEquilibrium": "snnzoo.ide.equilibrium",
    "RateBatchNorm": "snnzoo.ide.batch_norm",
    "UnitNormUniform": "snnzoo.ide.initializers",
    "check_leak": "snnzoo.ide.decay",
    "module_spec": "snnzoo.ide.modules",
    "module_apply": "snnzoo.ide.modules",
    "module_vjp": "snnzoo.ide.modules",
}


def __getattr__(name):
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"snnzoo.layers.feedback_equilibrium is deprecated: import {name} from "
                  f"snnzoo.ide", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(_MOVED[name]), name)
