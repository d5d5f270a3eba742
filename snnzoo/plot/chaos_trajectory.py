"""CSBP over training: the chaos strength z, the chaotic loss, and the maximum Lyapunov exponent.

Inputs:

* a training history: ``keras.callbacks.History`` (or its ``.history`` dict) of a fit with
  :class:`snnzoo.chaos.ChaosAnnealing`, which logs ``chaos_z`` (z of the epoch's last step) and
  ``chaos_loss`` (mean chaotic loss of the epoch) per epoch; or the ``results.json`` of
  ``python -m training.xor_chaos``, whose z follows z0·β^epoch exactly (its ``config``).
* per-epoch local Lyapunov exponents λ_e = ln(d_e / δ0) of Benettin's method, as
  ``training.xor_chaos`` computes them: a twin trajectory of the weights starts δ0 away, after
  every epoch the separation d_e is measured and the twin is pulled back to distance δ0. The
  estimate of the maximum Lyapunov exponent over a window of epochs is the mean of λ_e there
  (> 0: nearby trajectories separate, the chaotic phase; < 0: they converge).
  :func:`snnzoo.chaos.lyapunov.local_lyapunov` turns separations into λ_e;
  :func:`snnzoo.chaos.lyapunov.moving_average` smooths the series (both re-exported here).
"""
import numpy as np

from snnzoo.chaos.lyapunov import local_lyapunov, moving_average
from snnzoo.plot._style import figure, finish, suptitle, to_numpy

__all__ = ["chaos", "local_lyapunov", "moving_average"]


def _history_dict(history):
    if history is None:
        return {}
    h = getattr(history, "history", history)
    if not isinstance(h, dict):
        raise ValueError(f"history must be a keras History, its .history dict or xor_chaos results, "
                         f"got {type(history).__name__}")
    if "config" in h and "csbp" in h:  # training.xor_chaos results.json
        cfg = h["config"]
        k = np.arange(int(cfg["epochs"]))
        return {"chaos_z": (float(cfg["z0"]) * float(cfg["beta"]) ** k).tolist()}
    return h


def _lyapunov_series(lyapunov, history):
    if lyapunov is None and isinstance(history, dict) and "csbp" in history:
        lyapunov = history
    if lyapunov is None:
        return None
    if isinstance(lyapunov, dict):
        csbp = lyapunov.get("csbp", lyapunov)
        if "lyapunov_raw_mean" not in csbp:
            raise ValueError("lyapunov dict: expected training.xor_chaos results with "
                             "csbp.lyapunov_raw_mean (the per-epoch exponents)")
        lyapunov = csbp["lyapunov_raw_mean"]
    lam = to_numpy(lyapunov, "lyapunov")
    if lam.ndim == 2:  # [epochs, runs]
        lam = lam.mean(axis=1)
    if lam.ndim != 1 or lam.size == 0 or not np.all(np.isfinite(lam)):
        raise ValueError(f"lyapunov must be a finite per-epoch series [epochs] or [epochs, runs], "
                         f"got shape {lam.shape}")
    return lam


def chaos(history=None, lyapunov=None, smooth=None, path=None, title=None):
    """Plot CSBP's chaos strength z and chaotic loss over training and, given per-epoch local
    Lyapunov exponents, their moving average and the exponent estimated over the first and the
    last tenth of training (module docstring).

    Args:
        history: a ``keras.callbacks.History`` / dict with ``chaos_z`` (and ``chaos_loss``,
            ``loss`` when logged), or ``training.xor_chaos`` results (z from its config, the
            exponents from ``csbp.lyapunov_raw_mean``).
        lyapunov: per-epoch local exponents λ_e ``[epochs]`` (``[epochs, runs]``: mean over
            runs), or xor_chaos results.
        smooth: moving-average window in epochs (default: 2 % of the epochs, at least 1).
        path: write the figure as a PNG there.
        title: figure title.

    Returns:
        matplotlib Figure.

    Example:

    ```python
    import numpy as np
    from snnzoo.plot import chaos

    # history = model.fit(..., callbacks=[snnzoo.chaos.ChaosAnnealing(0.9, every="epoch")])
    history = {"chaos_z": [10 * 0.9 ** k for k in range(30)], "chaos_loss": np.linspace(3, 1, 30)}
    lam = np.r_[np.full(100, 0.4), np.full(100, -0.2)] + 0.1 * np.random.randn(200)
    fig = chaos(history, lyapunov=lam, path="chaos.png")
    ```
    """
    h = _history_dict(history)
    lam = _lyapunov_series(lyapunov, getattr(history, "history", history))
    z = h.get("chaos_z")
    if z is None and lam is None:
        raise ValueError("chaos: the history has no 'chaos_z' (train with snnzoo.chaos.ChaosAnnealing) "
                         "and no Lyapunov exponents were given")
    panels = (z is not None) + (lam is not None)
    fig, axes = figure(panels, 1, figsize=(6.4, 2.8 * panels + 0.4))
    axes = list(np.atleast_1d(axes))
    if z is not None:
        ax = axes.pop(0)
        z = to_numpy(z, "chaos_z").reshape(-1)
        epochs = np.arange(1, z.size + 1)
        ax.plot(epochs, z, color="C0", label="z (chaos strength)")
        if z.min() > 0 and z.max() / z.min() > 20:
            ax.set_yscale("log")
        ax.set_ylabel("z", color="C0")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        lines = ax.get_lines()
        if "chaos_loss" in h or "loss" in h:
            ax2 = ax.twinx()
            if "chaos_loss" in h:
                lines += ax2.plot(epochs, to_numpy(h["chaos_loss"]).reshape(-1)[:z.size], color="C3",
                                  marker=".", label="chaotic loss")
            if "loss" in h:
                lines += ax2.plot(epochs, to_numpy(h["loss"]).reshape(-1)[:z.size], color="C1",
                                  marker=".", ls="--", label="total loss")
            ax2.set_ylabel("loss")
        ax.legend(lines, [ln.get_label() for ln in lines], loc="upper right", fontsize="small")
        ax.set_title("chaos strength z" + (" and loss" if ("chaos_loss" in h or "loss" in h) else ""),
                     fontsize="medium", loc="left")
    if lam is not None:
        ax = axes.pop(0)
        epochs = np.arange(1, lam.size + 1)
        window = smooth or max(1, lam.size // 50)
        avg = moving_average(lam, window)
        tenth = max(1, lam.size // 10)
        early, late = float(lam[:tenth].mean()), float(lam[-tenth:].mean())
        ax.plot(epochs, lam, lw=0.4, color="0.7", label="per epoch $\\ln(d/\\delta_0)$")
        ax.plot(epochs, avg, lw=1.5, color="C3", label=f"moving average ({window} epochs)")
        ax.axhline(0, color="k", lw=0.8)
        lo, hi = np.percentile(lam, [1, 99])
        ax.set_ylim(min(lo, -0.5), max(hi, 0.5))
        ax.set_xlabel("epoch")
        ax.set_ylabel("max. Lyapunov exponent")
        ax.legend(loc="upper right", fontsize="small")
        ax.grid(alpha=0.3)
        ax.set_title(f"λ over the first tenth {early:+.3f}, last tenth {late:+.3f}", fontsize="medium", loc="left")
    suptitle(fig, title or "CSBP: chaos over training")
    return finish(fig, path)
