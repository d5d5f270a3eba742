"""Plots of what a spiking model does (matplotlib, the ``plot`` extra): spike rasters, membrane
traces, firing rate per layer, accuracy against time steps, CSBP's chaos trajectory. Every
function returns a matplotlib Figure and, given ``path``, writes a PNG.
"""
from snnzoo.plot.chaos_trajectory import chaos
from snnzoo.plot.step_accuracy import latency
from snnzoo.plot.membrane_trace import membrane
from snnzoo.plot.firing_rates import rates
from snnzoo.plot.spike_raster import raster

__all__ = ["raster", "membrane", "rates", "latency", "chaos"]
