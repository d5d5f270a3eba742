"""The training recipes of :mod:`snnzoo.training.recipes`, importable as ``training.recipes`` in a
source checkout (builders such as ``training.recipes:tiny_snn`` keep resolving)."""
from snnzoo.training.recipes import *  # noqa: F401,F403  (the public names, see its __all__)
