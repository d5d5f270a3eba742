"""Losses for spiking networks: :class:`TETLoss` (per-step logits) and :class:`RateMSE`
(firing rates vs one-hot targets)."""
from snnzoo.losses.rate_mse import RateMSE
from snnzoo.losses.tet import TETLoss

__all__ = ["TETLoss", "RateMSE"]
