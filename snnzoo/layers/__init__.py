"""Keras layers for spiking neural networks (inputs [batch, time, ...features])."""
from snnzoo.layers.find import find_layers
from snnzoo.layers.neurons import IF, LIF, PLIF, BaseNeuron, tau_from_decay
from snnzoo.layers.normalization import TEBN, TDBatchNorm
from snnzoo.layers.time import MeanOverTime, RepeatTime, TimeFold

__all__ = ["IF", "LIF", "PLIF", "BaseNeuron", "tau_from_decay", "TEBN", "TDBatchNorm", "find_layers",
           "MeanOverTime", "RepeatTime", "TimeFold"]
