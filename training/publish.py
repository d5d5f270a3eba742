"""``python -m training.publish RUN_DIR ZOO_NAME ...`` from the repository root: publishing of
:mod:`snnzoo.training.publish` (the same as ``snnzoo publish RUN_DIR ZOO_NAME ...``)."""
import sys

from snnzoo.training.publish import *  # noqa: F401,F403  (the public names, see its __all__)
from snnzoo.training.publish import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(prog="python -m training.publish"))
