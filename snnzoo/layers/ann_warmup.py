"""Deprecated location of BP-STA's ANN warm-up: the callback :class:`snnzoo.bpsta.ANNWarmup` and
:func:`snnzoo.bpsta.set_ann_mode` live in :mod:`snnzoo.bpsta`, the layer
:class:`snnzoo.layers.WarmupSwitch` in :mod:`snnzoo.layers.warmup_switch`. The old names still
import from here, with a DeprecationWarning."""
from snnzoo._deprecation import moved_names

__all__ = []

__getattr__ = moved_names(__name__, {
    "ANNWarmup": "snnzoo.bpsta.ann_warmup:ANNWarmup",
    "set_ann_mode": "snnzoo.bpsta.ann_warmup:set_ann_mode",
    "WarmupSwitch": "snnzoo.layers.warmup_switch:WarmupSwitch",
})
