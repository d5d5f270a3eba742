"""Deprecated: ``python -m training.ide_fsnn RECIPE ...`` from the repository root forwards to
``snnzoo train RECIPE`` (:mod:`snnzoo.training.ide_fsnn`; the IDE recipes are entries of the one
recipe table)."""
import sys

from snnzoo.training.ide_fsnn import main, train  # noqa: F401

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
