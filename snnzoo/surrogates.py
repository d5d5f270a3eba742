"""Surrogate spike functions: exact Heaviside forward, smooth derivative backward.

The spike is ``S = Θ(x)`` with ``x = H − V_th`` (``Θ(0) = 1``), so spikes are exactly 0.0/1.0.
In the backward pass ``∂S/∂x`` is replaced by the derivative ``g'(x)`` of a smooth surrogate
``g``. Every surrogate with a SpikingJelly namesake (``ATan``, ``Sigmoid``, ``PiecewiseQuadratic``,
``Erf``, ``SuperSpike``, and ``Rectangle`` = SpikingJelly's ``Rect``) takes SpikingJelly's parameter
name, default and formula (``spikingjelly.activation_based.surrogate``, 2.0), so that numbers carry
over from papers trained with it. ``Triangle`` (TET's ZIF) and ``FastSigmoid`` have no namesake.

Use a surrogate by name (``"atan"``), by config (``{"class_name": "ATan", "config": {"alpha":
3.0}}``) or as an instance; :func:`get` resolves all three.
"""
import math
import warnings

import keras
from keras import ops

from snnzoo.backend import custom_gradient


def heaviside(x):
    """Θ(x): 1.0 where x ≥ 0, else 0.0, in the dtype of ``x``."""
    return ops.cast(ops.greater_equal(x, 0.0), x.dtype)


class Surrogate:
    """Base class: subclasses implement :meth:`derivative` (the surrogate ``g'(x)``)."""

    def __init__(self):
        self._spike = custom_gradient(self._forward)

    def _forward(self, x):
        return heaviside(x), lambda upstream: upstream * self.derivative(x)

    def derivative(self, x):
        raise NotImplementedError

    def __call__(self, x):
        """Spike ``Θ(x)`` whose gradient is ``g'(x)``."""
        return self._spike(x)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


def _positive(name, value):
    value = float(value)
    if not value > 0:
        raise ValueError(f"surrogate parameter {name} must be > 0, got {value}")
    return value


@keras.saving.register_keras_serializable(package="snnzoo")
class ATan(Surrogate):
    """Arc-tangent surrogate (SpikingJelly ``ATan``; Fang et al., ICCV 2021, PLIF paper).

    g(x) = atan(π/2·α·x)/π + 1/2,   g'(x) = (α/2) / (1 + (π/2·α·x)²).
    """

    def __init__(self, alpha=2.0):
        self.alpha = _positive("alpha", alpha)
        super().__init__()

    def derivative(self, x):
        denominator = 1.0 + ops.square((math.pi / 2.0) * self.alpha * x)
        if self.alpha == 2.0:  # 1/D in one op (torch's scalar/tensor costs two), same values
            return ops.divide(1.0, denominator)
        return (self.alpha / 2.0) / denominator

    def get_config(self):
        return {"alpha": self.alpha}


@keras.saving.register_keras_serializable(package="snnzoo")
class Sigmoid(Surrogate):
    """Sigmoid surrogate (SpikingJelly ``Sigmoid``).

    g(x) = sigmoid(α·x),   g'(x) = α·sigmoid(α·x)·(1 − sigmoid(α·x)).
    """

    def __init__(self, alpha=4.0):
        self.alpha = _positive("alpha", alpha)
        super().__init__()

    def derivative(self, x):
        s = ops.sigmoid(self.alpha * x)
        return self.alpha * s * (1.0 - s)

    def get_config(self):
        return {"alpha": self.alpha}


@keras.saving.register_keras_serializable(package="snnzoo")
class Triangle(Surrogate):
    """Triangle surrogate: the "ZIF" of TET (Deng et al., ICLR 2022) used by CSBP.

    g'(x) = (1/γ²)·max(γ − |x|, 0)  — peak 1/γ at the threshold, support |x| < γ.
    """

    def __init__(self, gamma=1.0):
        self.gamma = _positive("gamma", gamma)
        super().__init__()

    def derivative(self, x):
        return ops.maximum(self.gamma - ops.abs(x), 0.0) / (self.gamma * self.gamma)

    def get_config(self):
        return {"gamma": self.gamma}


@keras.saving.register_keras_serializable(package="snnzoo")
class Rectangle(Surrogate):
    """Rectangular surrogate (SpikingJelly ``Rect``; STBP, Wu et al., Front. Neurosci. 2018, Eq. 8
    with window width ``a = 1/α``).

    g'(x) = α where |x| < 0.5/α, else 0   (g(x) = clip(α·x + 0.5, 0, 1)).

    Args:
        alpha: height of the window (its width is ``1/alpha``); ``> 0``. SpikingJelly's
            parameter and default (``Rect(alpha=1.0)``).
        width: deprecated spelling of the same window as a width: ``Rectangle(width=w)`` is
            ``Rectangle(alpha=1/w)``. Old configs ``{"width": w}`` still load.
    """

    def __init__(self, alpha=1.0, width=None):
        if width is not None:
            if alpha != 1.0:
                raise ValueError("Rectangle takes alpha (window height 1/width) or the deprecated "
                                 f"width, not both (got alpha={alpha}, width={width})")
            width = _positive("width", width)
            warnings.warn(f"Rectangle(width={width}) is deprecated: use Rectangle(alpha={1.0 / width!r}) "
                          "(SpikingJelly's Rect parameter, alpha = 1/width)", DeprecationWarning,
                          stacklevel=2)
            alpha = 1.0 / width
        self.alpha = _positive("alpha", alpha)
        super().__init__()

    def derivative(self, x):
        inside = ops.cast(ops.less(ops.abs(x), 0.5 / self.alpha), x.dtype)
        return self.alpha * inside

    def get_config(self):
        return {"alpha": self.alpha}


@keras.saving.register_keras_serializable(package="snnzoo")
class PiecewiseQuadratic(Surrogate):
    """Piecewise quadratic surrogate (Esser et al., PNAS 2016; SpikingJelly ``PiecewiseQuadratic``).

    g'(x) = −α²·|x| + α for |x| ≤ 1/α, else 0.
    """

    def __init__(self, alpha=1.0):
        self.alpha = _positive("alpha", alpha)
        super().__init__()

    def derivative(self, x):
        return ops.maximum(self.alpha - self.alpha * self.alpha * ops.abs(x), 0.0)

    def get_config(self):
        return {"alpha": self.alpha}


@keras.saving.register_keras_serializable(package="snnzoo")
class SuperSpike(Surrogate):
    """SuperSpike surrogate as SpikingJelly defines it (SpikingJelly ``SuperSpike``; after Zenke &
    Ganguli, Neural Comput. 2018).

    g'(x) = α / (|x| + 1)².

    ``alpha`` scales the height only (peak α at the threshold). The steepness form of Zenke &
    Ganguli's paper, 1 / (β·|x| + 1)², is :class:`FastSigmoid` (``slope = β``); the two agree at
    ``alpha = slope = 1``.

    Args:
        alpha: height of the derivative at ``x = 0``; ``> 0``. SpikingJelly's parameter and
            default (``SuperSpike(alpha=1.0)``).
        beta: removed steepness parameter. ``beta=1`` (the only value where it meant the same)
            gives ``alpha=1`` with a DeprecationWarning; other values raise and name
            ``FastSigmoid(slope=beta)``. Old configs ``{"beta": b}`` load as ``FastSigmoid(slope=b)``,
            so saved models compute what they computed before.
    """

    def __init__(self, alpha=1.0, beta=None):
        if beta is not None:
            beta = _positive("beta", beta)
            if beta != 1.0 or alpha != 1.0:
                raise ValueError(
                    f"SuperSpike(beta={beta}) was the steepness form 1/(beta*|x|+1)^2, which is now "
                    f"FastSigmoid(slope={beta}); SuperSpike(alpha) follows SpikingJelly: "
                    "alpha/(|x|+1)^2")
            warnings.warn("SuperSpike(beta=1.0) is deprecated: use SuperSpike(alpha=1.0) "
                          "(SpikingJelly's parameter)", DeprecationWarning, stacklevel=2)
        self.alpha = _positive("alpha", alpha)
        super().__init__()

    def derivative(self, x):
        return self.alpha / ops.square(ops.abs(x) + 1.0)

    def get_config(self):
        return {"alpha": self.alpha}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "beta" in config and float(config["beta"]) != 1.0:
            slope = config.pop("beta")
            if config:
                raise ValueError(f"SuperSpike config mixes the old beta with {sorted(config)}")
            warnings.warn(f"old SuperSpike config {{'beta': {slope}}} loaded as "
                          f"FastSigmoid(slope={slope}), the same formula", DeprecationWarning,
                          stacklevel=2)
            return FastSigmoid(slope=slope)
        return cls(**config)


@keras.saving.register_keras_serializable(package="snnzoo")
class FastSigmoid(Surrogate):
    """Fast-sigmoid surrogate with a steepness (Zenke & Ganguli, Neural Comput. 2018, σ'(h) with
    h = β·x; snnTorch ``fast_sigmoid(slope)``). No SpikingJelly namesake.

    g'(x) = 1 / (k·|x| + 1)²   with k = ``slope``; peak 1 at the threshold.

    Args:
        slope: steepness ``k``; ``> 0``. ``FastSigmoid(slope=1)`` equals ``SuperSpike(alpha=1)``.
    """

    def __init__(self, slope=1.0):
        self.slope = _positive("slope", slope)
        super().__init__()

    def derivative(self, x):
        return 1.0 / ops.square(self.slope * ops.abs(x) + 1.0)

    def get_config(self):
        return {"slope": self.slope}


@keras.saving.register_keras_serializable(package="snnzoo")
class Erf(Surrogate):
    """Gaussian-error-function surrogate (SpikingJelly ``Erf``; Esser et al. 2015).

    g(x) = erfc(−α·x)/2,   g'(x) = (α/√π)·exp(−α²x²).
    """

    def __init__(self, alpha=2.0):
        self.alpha = _positive("alpha", alpha)
        super().__init__()

    def derivative(self, x):
        return (self.alpha / math.sqrt(math.pi)) * ops.exp(-ops.square(self.alpha * x))

    def get_config(self):
        return {"alpha": self.alpha}


_REGISTRY = {
    cls.__name__.lower(): cls
    for cls in (ATan, Sigmoid, Triangle, Rectangle, PiecewiseQuadratic, SuperSpike, Erf,
                FastSigmoid)
}
_ALIASES = {"zif": "triangle", "rect": "rectangle", "fast_sigmoid": "fastsigmoid"}


def names():
    """Names accepted by :func:`get`."""
    return sorted(_REGISTRY) + sorted(_ALIASES)


def get(identifier):
    """Resolve a surrogate from a name, a config dict, or an instance."""
    if isinstance(identifier, Surrogate):
        return identifier
    if isinstance(identifier, str):
        key = _ALIASES.get(identifier.lower(), identifier.lower())
        if key not in _REGISTRY:
            raise ValueError(f"unknown surrogate {identifier!r}; expected one of {names()}")
        return _REGISTRY[key]()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = get(identifier["class_name"]).__class__
        return cls.from_config(identifier.get("config", {}))
    raise ValueError(
        f"cannot interpret {identifier!r} as a surrogate: pass a name ({names()}), "
        "a dict {'class_name': ..., 'config': {...}} or a Surrogate instance"
    )


def serialize(surrogate):
    """Config dict that :func:`get` turns back into an equal surrogate."""
    return {"class_name": type(surrogate).__name__, "config": surrogate.get_config()}
