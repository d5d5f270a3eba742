"""Every use of Keras' private API (``keras.src``) in snnzoo, in one version-guarded place.

Keras 3 does not export these three internals; snnzoo needs them for speed or exactness, not for
correctness, so each import is guarded: where a Keras version moved one, a ``RuntimeWarning``
names the Keras version and the documented fallback runs instead.

* :func:`in_stateless_scope` (``keras.src.backend.common.stateless_scope``): tells JAX's
  stateless train step from eager / compiled calls. Fallback: "stateless on JAX only".
* :func:`current_call_context` (``keras.src.backend.common.global_state``): the enclosing layer
  call's context, holding the training flag Keras resolved. Fallback: None (the chaos probes
  then run through ``Layer.__call__``, slower, same numbers).
* :func:`float64_demotion_table` (``keras.src.backend.common.dtypes.BIT64_TO_BIT32_DTYPE``):
  Keras' rule that demotes float64 results to float32 (see
  :func:`snnzoo.backend.keep_float64_on_torch`). Fallback: None (nothing to patch).

Checked with the Keras version installed in CI (tests/test_fast_paths.py asserts the guarded
imports succeed there, so a silent fallback is noticed).
"""
import warnings

import keras

__all__ = ["KERAS_VERSION", "in_stateless_scope", "current_call_context", "float64_demotion_table",
           "MISSING"]

KERAS_VERSION = keras.version()

#: The private names this Keras version does not provide (empty on the supported versions).
MISSING = []


def _missing(name, fallback):
    MISSING.append(name)
    warnings.warn(f"snnzoo: Keras {KERAS_VERSION} has no {name} (private API); {fallback}",
                  RuntimeWarning, stacklevel=3)


try:
    from keras.src.backend.common.stateless_scope import in_stateless_scope as _in_stateless_scope
except ImportError:  # pragma: no cover - keras internals moved
    _in_stateless_scope = None
    _missing("keras.src.backend.common.stateless_scope.in_stateless_scope",
             "assuming stateless calls on JAX only")

try:
    from keras.src.backend.common.global_state import get_global_attribute as _global_attribute
except ImportError:  # pragma: no cover - keras internals moved
    _global_attribute = None
    _missing("keras.src.backend.common.global_state.get_global_attribute",
             "the chaos probes run through Layer.__call__ (slower, same numbers)")

try:
    from keras.src.backend.common import dtypes as _dtypes
except ImportError:  # pragma: no cover - keras internals moved
    _dtypes = None
    _missing("keras.src.backend.common.dtypes", "float64 results may be demoted on torch")


def in_stateless_scope():
    """True inside Keras' stateless scope (JAX's compiled train step, symbolic builds)."""
    if _in_stateless_scope is None:  # pragma: no cover - keras internals moved
        return keras.backend.backend() == "jax"
    return _in_stateless_scope()


def current_call_context():
    """The call context of the outermost layer call in progress (``.get_value("training")``,
    ``.set_value(key, value)``), or None outside a layer call or where Keras moved it."""
    if _global_attribute is None:  # pragma: no cover - keras internals moved
        return None
    return _global_attribute("current_call_ctx")


def float64_demotion_table():
    """Keras' ``{"float64": "float32", ...}`` demotion table of ``result_type`` (a dict Keras reads
    at every call), or None where this Keras version has none."""
    table = getattr(_dtypes, "BIT64_TO_BIT32_DTYPE", None)
    return table if isinstance(table, dict) else None
