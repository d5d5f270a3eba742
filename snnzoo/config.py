"""Where snnzoo keeps its cache and looks for data sets.

* ``SNNZOO_HOME``: cache root (converted weights, downloaded checkpoints, event-frame caches).
  Default ``~/.snnzoo``.
* ``SNNZOO_DATA``: data-set root. Default ``$SNNZOO_HOME/data``. Each data set lives in a
  sub-folder named after it (``mnist/``, ``fashion_mnist/``, ``nmnist/``, ...), the same layout as
  the project's ``shared/data`` folder, so ``SNNZOO_DATA=../shared/data`` works as is.
"""
import os
from pathlib import Path


def home_dir() -> Path:
    """Cache root: ``$SNNZOO_HOME`` or ``~/.snnzoo``."""
    return Path(os.environ.get("SNNZOO_HOME") or Path.home() / ".snnzoo").expanduser()


def data_dir(data_dir=None) -> Path:
    """Data-set root: the argument if given, else ``$SNNZOO_DATA``, else ``$SNNZOO_HOME/data``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("SNNZOO_DATA")
    if env:
        return Path(env).expanduser()
    return home_dir() / "data"
