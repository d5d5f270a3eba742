"""Deprecated: moved to :mod:`snnzoo.backend.torch_chaos` (the torch fast path of the chaotic
loss belongs to the backend). Importing this name gives that module itself."""
import sys
import warnings

from snnzoo.backend import torch_chaos

warnings.warn("snnzoo.chaos.fused_torch moved to snnzoo.backend.torch_chaos", DeprecationWarning,
              stacklevel=2)
sys.modules[__name__] = torch_chaos
