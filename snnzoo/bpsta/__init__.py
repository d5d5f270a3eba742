"""BP-STA (Shen et al., "Backpropagation with biologically plausible spatiotemporal adjustment
for training deep spiking neural networks", Patterns 2022): the method's training pieces in one
place.

* Gradient adjustments BPSA / BPTA: a neuron option, ``LIF(..., adjust="bpsa" | "bpta" |
  "bpsa+bpta")`` (:mod:`snnzoo.layers.neurons`).
* ANN warm-up: the :class:`ANNWarmup` callback and :func:`set_ann_mode`, acting on the
  :class:`~snnzoo.layers.WarmupSwitch` layers of a model.
* Layers (exported from :mod:`snnzoo.layers` as well): :class:`~snnzoo.layers.NDropout`
  (time-shared dropout), :class:`~snnzoo.layers.VotingLayer` (population readout),
  :class:`~snnzoo.layers.WarmupSwitch`.
* Loss: :class:`snnzoo.losses.RateMSE`; architectures: :mod:`snnzoo.models.bpsta_convnet`.
"""
from snnzoo.bpsta.ann_warmup import ANNWarmup, set_ann_mode
from snnzoo.layers.ndropout import NDropout
from snnzoo.layers.voting import VotingLayer
from snnzoo.layers.warmup_switch import WarmupSwitch

__all__ = ["ANNWarmup", "NDropout", "VotingLayer", "WarmupSwitch", "set_ann_mode"]
