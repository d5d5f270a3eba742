"""Plots of what a spiking model does (matplotlib, the ``plot`` extra): spike rasters, membrane
traces, firing rate per layer, accuracy against time steps, CSBP's chaos trajectory. Every
function returns a matplotlib Figure and, given ``path``, writes a PNG.
"""
from snnzoo.plot.chaos import chaos
from snnzoo.plot.latency import latency
from snnzoo.plot.membrane import membrane
from snnzoo.plot.rates import rates
from snnzoo.plot.raster import raster

__all__ = ["raster", "membrane", "rates", "latency", "chaos"]
