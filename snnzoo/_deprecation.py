"""Deprecated aliases of moved or renamed public names: a module-level ``__getattr__`` that
resolves an old name to its new home and emits one ``DeprecationWarning`` per access
(:pep:`562`), so the alias is a pointer, never a copy."""
import importlib
import warnings

__all__ = ["moved_names", "renamed_keyword", "warn_deprecated"]


def warn_deprecated(old, new, stacklevel=3):
    """One ``DeprecationWarning`` "``old`` is deprecated; use ``new``" (``stacklevel`` 3: the
    caller of the deprecated function that calls this)."""
    warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=stacklevel)


def moved_names(old_module, moves):
    """A module ``__getattr__`` for ``old_module``: ``moves`` maps each old name to
    ``"new.module:new_name"``. Accessing an old name warns and returns the new object."""

    def __getattr__(name):
        if name not in moves:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        target = moves[name]
        module, _, attr = target.partition(":")
        warn_deprecated(f"{old_module}.{name}", f"{module}.{attr}")
        return getattr(importlib.import_module(module), attr)

    return __getattr__


def renamed_keyword(kwargs, old, new, value, owner):
    """The value of keyword ``new``, or of its deprecated former name ``old`` popped from
    ``kwargs`` (with a DeprecationWarning; the old keyword wins, as it was the one passed).
    Any other key left in ``kwargs`` raises ``TypeError``, as for an unknown keyword."""
    if old in kwargs:
        warnings.warn(f"{owner}: '{old}' is deprecated, use '{new}'", DeprecationWarning,
                      stacklevel=3)
        value = kwargs.pop(old)
    if kwargs:
        raise TypeError(f"{owner}() got an unexpected keyword argument {next(iter(kwargs))!r}")
    return value
