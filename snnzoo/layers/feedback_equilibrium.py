"""Deprecated module path: the IDE layers live in :mod:`snnzoo.ide` now.

``from snnzoo.layers.feedback_equilibrium import X`` still works for the names it used to define
(with a DeprecationWarning); importing this module registers the serializable classes (it
imports :mod:`snnzoo.ide`), so saved ``.keras`` files keep loading.
"""
import snnzoo.ide  # noqa: F401  (registers FeedbackEquilibrium, RateBatchNorm, UnitNormUniform)
from snnzoo._deprecation import moved_names

__all__ = []

__getattr__ = moved_names(__name__, {
    "FeedbackEquilibrium": "snnzoo.ide.equilibrium:FeedbackEquilibrium",
    "RateBatchNorm": "snnzoo.ide.batch_norm:RateBatchNorm",
    "UnitNormUniform": "snnzoo.ide.initializers:UnitNormUniform",
    "check_leak": "snnzoo.ide.decay:check_leak",
    "module_spec": "snnzoo.ide.modules:module_spec",
    "module_apply": "snnzoo.ide.modules:module_apply",
    "module_vjp": "snnzoo.ide.modules:module_vjp",
})
