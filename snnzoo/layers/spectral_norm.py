"""Deprecated module path: spectral normalisation lives in :mod:`snnzoo.ide.spectral_norm` (the
old names still import from here, with a DeprecationWarning)."""
from snnzoo._deprecation import moved_names

__all__ = []

__getattr__ = moved_names(__name__, {
    name: f"snnzoo.ide.spectral_norm:{name}"
    for name in ("KINDS", "initial_state", "kernel_to_matrix", "kernel_to_matrix_numpy",
                 "matrix_shape", "power_iteration", "spectral_norm_numpy", "spectral_normalize")})
