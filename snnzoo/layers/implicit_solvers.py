"""Deprecated module path: the adjoint solvers live in :mod:`snnzoo.ide.solvers` (the old names
still import from here, with a DeprecationWarning)."""
from snnzoo._deprecation import moved_names

__all__ = []

__getattr__ = moved_names(__name__, {
    name: f"snnzoo.ide.solvers:{name}"
    for name in ("SOLVERS", "broyden", "damped_iteration", "solve_adjoint")})
