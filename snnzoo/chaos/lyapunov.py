"""The maximum Lyapunov exponent of a training trajectory, as CSBP measures it (Wang, Tao & Chen,
National Science Review 2024, Fig. 2; Benettin et al., Meccanica 1980).

A twin trajectory of the weights starts δ0 away; after every epoch the separation d_e is measured
and the twin is pulled back to distance δ0. The local exponent of the epoch is

    λ_e = ln(d_e / δ0)

and the maximum Lyapunov exponent over a window of epochs is the mean of λ_e there (> 0: nearby
trajectories separate, the chaotic phase; < 0: they converge). ``training.xor_chaos`` computes
the separations; :func:`snnzoo.plot.chaos` draws the result.
"""
import numpy as np

__all__ = ["local_lyapunov", "moving_average"]


def local_lyapunov(separation, delta0):
    """λ_e = ln(d_e / δ0) per epoch from the separations d_e of a twin renormalised to δ0 after
    every epoch."""
    d = np.asarray(separation, dtype=np.float64)
    delta0 = float(delta0)
    if not delta0 > 0 or np.any(d <= 0) or not np.all(np.isfinite(d)):
        raise ValueError("separations must be finite and > 0 and delta0 > 0")
    return np.log(d / delta0)


def moving_average(values, window):
    """Centred moving average dividing by the number of samples inside the window (no
    zero-padding bias at the ends)."""
    values = np.asarray(values, dtype=np.float64)
    window = max(1, min(int(window), len(values)))
    kernel = np.ones(window)
    return np.convolve(values, kernel, mode="same") / np.convolve(np.ones_like(values), kernel, mode="same")
