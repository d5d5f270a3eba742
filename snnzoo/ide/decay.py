"""The membrane decay of the IDE neurons and the decay-weighted time average of a sequence.

Xiao et al., "Training Feedback Spiking Neural Networks by Implicit Differentiation on the
Equilibrium State", NeurIPS 2021, Eq. 1–2 and Sec. 4.1. The LIF update with subtract reset is

    u ← k·(u − V_th·s),   k = 1 − 1/τ   (``decay``; k = 1 is the IF neuron)

and the (weighted) average firing rate / input current over T steps is

    ā = Σ_t k^{T−1−t} x[t] / Σ_t k^t.

One name per concept across snnzoo: the time constant is ``tau`` (``LIF``), the per-step factor
k = 1 − 1/τ is ``decay``. ``leak``, the IDE layers' former name of k, is still accepted (with a
DeprecationWarning) by :func:`resolve_decay`.
"""
import warnings

import numpy as np
from keras import ops

__all__ = ["LeakAlias", "check_decay", "check_leak", "rate_norm", "resolve_decay", "time_average",
           "time_weights"]


def check_decay(decay, name="decay"):
    """The membrane decay factor k of the LIF update ``u ← k·(u − V_th·s)``: ``None`` or ``1``
    select IF (k = 1, stored as ``None``); 0 < k < 1 is LIF. Anything else raises: k ≤ 0 would
    erase (or flip) the membrane every step and k > 1 makes it grow without bound. ``name`` is
    the argument's name in the error message."""
    if decay is None:
        return None
    value = float(decay)
    if not 0.0 < value <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be a decay factor in (0, 1] (e.g. 0.95 for LIF; None or "
                         f"1.0 for IF), got {decay}")
    return None if value == 1.0 else value


def check_leak(leak):
    """Deprecated name of :func:`check_decay` (the factor is called ``decay`` now)."""
    warnings.warn("check_leak is deprecated; use snnzoo.ide.check_decay (the factor is named "
                  "'decay' now)", DeprecationWarning, stacklevel=2)
    return check_decay(leak, "leak")


def resolve_decay(decay, kwargs, owner):
    """The validated decay factor: ``decay``, or the deprecated ``leak`` popped from ``kwargs``
    (a DeprecationWarning; it wins over ``decay``, whose value is then the default). Used by
    the layers' ``__init__`` (old configs with ``"leak"`` still load) and the model builders."""
    if "leak" not in kwargs:
        return check_decay(decay)
    warnings.warn(f"{owner}: 'leak' is deprecated, use 'decay' (the same factor k = 1 − 1/τ)",
                  DeprecationWarning, stacklevel=3)
    return check_decay(kwargs.pop("leak"), "leak")


class LeakAlias:
    """Mixin of the layers with a ``decay``: ``layer.leak`` (deprecated) reads ``layer.decay``
    with a DeprecationWarning. A ``__getattr__`` fallback, not a property: ``dir()`` does not
    list it, so Keras' saving walk over a layer's attributes does not trigger the warning."""

    def __getattr__(self, name):
        if name == "leak":
            warnings.warn(f"{type(self).__name__}.leak is deprecated, use .decay",
                          DeprecationWarning, stacklevel=2)
            return self.decay
        parent = getattr(super(), "__getattr__", None)  # torch layers are nn.Modules
        if parent is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return parent(name)


def rate_norm(decay, time_steps):
    """Σ_t k^t over T steps in closed form: T for IF (``decay`` None), (1 − k^T)/(1 − k) for LIF."""
    T = int(time_steps)
    return float(T) if decay is None else (1.0 - decay ** T) / (1.0 - decay)


def time_weights(decay, time_steps, total=None):
    """numpy weights w[t] = k^{T−1−t} / ``total`` of the decay-weighted time average
    (``total``: default Σ_t w[t], summed numerically; IF: k = 1)."""
    k, T = (1.0 if decay is None else decay), int(time_steps)
    w = np.array([k ** (T - 1 - t) for t in range(T)])
    return w / (w.sum() if total is None else total)


def time_average(x_seq, decay, total=None):
    """The decay-weighted time average Σ_t w[t]·x[t] of a sequence ``x_seq`` [B, T, ...], with
    the weights of :func:`time_weights` (over T = ``x_seq.shape[1]``) in ``x_seq``'s dtype."""
    T = int(x_seq.shape[1])
    w = ops.convert_to_tensor(time_weights(decay, T, total), dtype=x_seq.dtype)
    return ops.sum(x_seq * ops.reshape(w, (1, T) + (1,) * (len(x_seq.shape) - 2)), axis=1)
