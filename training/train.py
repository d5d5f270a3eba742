"""``python -m training.train RECIPE ...`` from the repository root: the training entry point of
:mod:`snnzoo.training.train` (the same as ``snnzoo train RECIPE ...`` from any folder)."""
import sys

from snnzoo.training.train import *  # noqa: F401,F403  (the public names, see its __all__)
from snnzoo.training.train import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(prog="python -m training.train"))
