"""Plots of what a spiking model does (matplotlib, the ``plot`` extra): spike rasters, membrane
traces, firing rate per layer, accuracy against time steps, CSBP's chaos trajectory. Every
function returns a matplotlib Figure and, given ``path``, writes a PNG.
"""
