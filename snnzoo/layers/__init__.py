"""Keras layers for spiking neural networks (inputs [batch, time, ...features]).

Neurons (:mod:`~snnzoo.layers.neurons`: IF, LIF, PLIF, CubaLIF), time handling
(:mod:`~snnzoo.layers.time`), batch normalisation over time (:mod:`~snnzoo.layers.normalization`), the SEW residual connection
(:mod:`~snnzoo.layers.sew_connect`), BP-STA's layers (:mod:`~snnzoo.layers.ndropout`,
:mod:`~snnzoo.layers.voting`, :mod:`~snnzoo.layers.warmup_switch`; the method's callback is in
:mod:`snnzoo.bpsta`) and IDE's layers (:class:`FeedbackEquilibrium`, its module sub-layer
:class:`IDEModule`, :class:`RateBatchNorm`; the method lives in :mod:`snnzoo.ide`).
"""
from snnzoo.layers.find import find_layers
from snnzoo.layers.ndropout import NDropout
from snnzoo.layers.neurons import IF, LIF, PLIF, BaseNeuron, CubaLIF, tau_from_decay
from snnzoo.layers.normalization import TEBN, TDBatchNorm
from snnzoo.layers.sew_connect import SEWConnect
from snnzoo.layers.time import MeanOverTime, RepeatTime, TimeFold
from snnzoo.layers.voting import VotingLayer
from snnzoo.layers.warmup_switch import WarmupSwitch

# IDE's layers (the method is snnzoo.ide), last: they build on the layers above
from snnzoo.ide import FeedbackEquilibrium, IDEModule, RateBatchNorm  # noqa: E402

__all__ = ["IF", "LIF", "PLIF", "CubaLIF", "BaseNeuron", "tau_from_decay", "TEBN", "TDBatchNorm", "find_layers",
           "MeanOverTime", "RepeatTime", "TimeFold", "NDropout", "VotingLayer", "WarmupSwitch",
           "SEWConnect", "FeedbackEquilibrium", "IDEModule", "RateBatchNorm"]
