"""The chaotic loss of CSBP (Wang, Tao & Chen, "Brain-inspired chaotic spiking backpropagation",
National Science Review 11(6), nwae037, 2024).

Paper form (``form="paper"``, the default; paper Eq. 2–5). For every neuron j with pre-activation
u_j[t] (the input current of the spiking neuron at step t)::

    ū_j = (1/T) Σ_t u_j[t],   h_j = σ(ū_j),
    L_chaos = −z Σ_j [ I0·ln h_j + (1 − I0)·ln(1 − h_j) ]

so that for u_j[t] = Σ_i w_ij·O_i[t] + b_j (spikes O_i of the layer below)::

    ∂L_chaos/∂w_ij = −z·(I0 − h_j)·(1/T) Σ_t O_i[t]                     (paper Eq. 4)

Reduction (``reduction="batch_mean"``): the neuron terms are SUMMED over every non-batch axis and
AVERAGED over the batch, so the gradient w.r.t. a weight is exactly the batch mean of Eq. 4 (for
a shared weight such as a convolution kernel, the sum of Eq. 4 over the positions it is used at).

Code form (``form="code"``, the authors' repository: ``chaos_loss_fun`` + ``chaos`` in the
TEBN/CSBP ``main.py``): no mean over time; every element x of the tensor is clamped to
[−10, 9.9] with zero gradient outside (``where(x < 9.9, x, 9.9)``, ``where(x > −10, x, −10)``),
h = σ(x / 10) (temperature 10), and the elementwise loss is AVERAGED over all elements
(batch, time and features): ``reduction="mean"``.

Both forms share one numerically safe expression: with ln σ(x) = −softplus(−x),
ln(1 − σ(x)) = −softplus(x) and softplus(−x) = softplus(x) − x,

    ℓ(x) = −[I0·ln σ(x) + (1 − I0)·ln(1 − σ(x))] = softplus(x) − I0·x,
    dℓ/dx = σ(x) − I0,                                   L_chaos = z · reduce(ℓ)

Scale. The paper form is a SUM over neurons: at initialisation (ū ≈ 0, h ≈ 1/2) every neuron
contributes about ℓ(0) = ln 2 ≈ 0.693, so the loss is ≈ 0.693·z·(number of neurons). With
z0 = 10 on a [T, 32, 32, 64] spiking layer (65,536 neurons) that is ~5·10⁵, against a
cross-entropy of ~2.3: the chaotic term then dominates the first epochs. Per-neuron scaling is
what the paper's examples used (small networks: XOR [2, 5, 2] with z0 = 20, β = 0.9995 per
epoch; the single-neuron demo z0 = 10, β = 0.9995 per step). The authors' code for real networks
uses the MEAN over elements (``form="code"``): DVS-Gesture SEW 7B-Net z0 = 15, β = 0.95 per
epoch, first-layer loss ≈ 15·0.69 = 10.4 against a cross-entropy of ≈ 2.4; the TEBN DVS-CIFAR10
reproduction z0 ≈ 15, β ≈ 0.98 per epoch on two layers (inferred from its log). For a large model
use ``reduction="mean"`` (≈ 0.69·z per probed layer) or pick z with
:func:`snnzoo.chaos.chaos_scale`, which measures the chaos/BP ratio on a batch and gives the z
for a chosen ratio (``ChaosScale.z_for``). The defaults stay the paper's equations.

ℓ is evaluated at x clipped to ±1e4 (beyond which σ(x) is exactly 0 or 1 in float32/float64 and
ℓ is exactly linear) and its gradient is given explicitly as σ(x) − I0, so the value stays
finite and the gradient exact for any input, ±inf included, and any z (a few elementwise ops).
"""
import warnings

import keras
from keras import ops

from snnzoo.backend import custom_gradient, fast_path

#: Above this |x| the value of ℓ is frozen (its gradient stays exact); see the module docstring.
LINEAR_FROM = 1.0e4

_FORMS = {
    "paper": {"temperature": 1.0, "clamp": None, "reduction": "batch_mean", "time_mean": True},
    "code": {"temperature": 10.0, "clamp": (-10.0, 9.9), "reduction": "mean", "time_mean": False},
}
_REDUCTIONS = ("batch_mean", "mean", "sum")


def _binary_cross_entropy_to(i0):
    """x ↦ softplus(x) − I0·x with the explicit gradient σ(x) − I0 (finite for any x)."""

    def fwd(x):
        xc = ops.clip(x, -LINEAR_FROM, LINEAR_FROM)

        def vjp(upstream):
            return upstream * (ops.sigmoid(xc) - i0)

        return ops.softplus(xc) - i0 * xc, vjp

    return custom_gradient(fwd)


def _float_tensor(x):
    x = ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype not in ("float32", "float64"):  # ints, bool, float16/bfloat16 -> float32 for safety
        x = ops.cast(x, "float32")
    return x


@keras.saving.register_keras_serializable(package="snnzoo")
class ChaoticRegularizer(keras.regularizers.Regularizer):
    """CSBP chaotic loss ``L = −z·reduce[I0·ln h + (1 − I0)·ln(1 − h)]`` on a [B, T, ...] tensor.

    Args:
        z0: initial chaos strength z. ``self.z`` is a non-trainable ``keras.Variable`` shared by
            every layer the regularizer is attached to; :class:`ChaosAnnealing` multiplies it by β.
        i0: the target I0 (0.65 in the paper and the code).
        form: ``"paper"`` (h = σ(mean over time), summed over neurons, mean over batch) or
            ``"code"`` (h = σ(clamp(x)/10) elementwise, mean over all elements). See module doc.
        temperature: divide the (time-averaged) pre-activation by this before σ; ``None`` = form
            default (paper 1, code 10).
        clamp: ``(low, high)``: ``x = where(x < high, x, high)``, ``x = where(x > low, x, low)``
            (zero gradient outside, as in the authors' code) before the temperature; ``None`` =
            form default (paper: none, code: (−10, 9.9)); ``False`` = no clamp.
        reduction: ``"batch_mean"`` (sum over non-batch axes, mean over axis 0: the paper's sum
            over neurons, ≈ 0.69·z·neurons at initialisation), ``"mean"`` (mean over all
            elements: ≈ 0.69·z, independent of the layer size; the authors' code) or ``"sum"``;
            ``None`` = form default. See "Scale" in the module docstring.
        time_axis: axis averaged in the paper form (1 for [B, T, ...]); ``None`` for tensors with
            no time axis (h = σ(x) per element). Ignored by the code form.

    Use it through :func:`snnzoo.chaos.attach_chaos` (or a :class:`snnzoo.chaos.ChaosProbe`
    layer). It also works as ``activity_regularizer=``, but Keras then divides the loss by the
    batch size and ``z`` is only seen by JAX's compiled step if :class:`ChaosAnnealing` is used
    (it registers ``z`` with the layer at the start of ``fit``).

    Call arguments:
        x: the probed tensor, ``[batch, time, ...]`` (paper form) or any shape (code form, or
            ``time_axis=None``).

    Returns:
        The scalar loss ``z · reduce(ℓ)`` (differentiable w.r.t. ``x``).

    Example:

    ```python
    import numpy as np
    from snnzoo.chaos import ChaoticRegularizer

    reg = ChaoticRegularizer(z0=1.0)
    u = np.zeros((2, 4, 3), "float32")   # [B, T, neurons], pre-activation 0: h = 1/2
    reg(u)                                # 3 neurons × ln 2 = 2.079 (sum over neurons, batch mean)
    ```
    """

    def __init__(self, z0=10.0, i0=0.65, form="paper", temperature=None, clamp=None, reduction=None,
                 time_axis=1, name=None):
        if form not in _FORMS:
            raise ValueError(f"form must be 'paper' or 'code', got {form!r}")
        z0 = float(z0)
        if not z0 >= 0.0:
            raise ValueError(f"z0 must be >= 0, got {z0}")
        i0 = float(i0)
        if not 0.0 < i0 < 1.0:
            raise ValueError(f"i0 must lie in (0, 1), got {i0}")
        defaults = _FORMS[form]
        temperature = defaults["temperature"] if temperature is None else float(temperature)
        if not temperature > 0.0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if clamp is None:
            clamp = defaults["clamp"]
        elif clamp is False:
            clamp = None
        if clamp is not None:
            clamp = (float(clamp[0]), float(clamp[1]))
            if not clamp[0] < clamp[1]:
                raise ValueError(f"clamp must be (low, high) with low < high, got {clamp}")
        reduction = defaults["reduction"] if reduction is None else reduction
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.z0 = z0
        self.i0 = i0
        self.form = form
        self.temperature = temperature
        self.clamp = clamp
        self.reduction = reduction
        self.time_axis = None if time_axis is None else int(time_axis)
        self.name = name or "chaotic_regularizer"
        self.z = keras.Variable(z0, dtype="float32", trainable=False, name="chaos_z")
        self._ell = _binary_cross_entropy_to(i0)

    # -- the loss ------------------------------------------------------------------------------
    def _averaged_time_axis(self, x):
        """The axis averaged over (paper form), or None; checks it exists in ``x``."""
        if not (_FORMS[self.form]["time_mean"] and self.time_axis is not None):
            return None
        rank = len(x.shape)
        if rank < 2 or not -rank <= self.time_axis < rank:
            raise ValueError(
                f"the paper form of the chaotic loss averages over the time axis "
                f"{self.time_axis} of a [batch, time, ...] tensor, got shape {tuple(x.shape)}; "
                "pass time_axis=None for a tensor without a time axis"
            )
        return self.time_axis

    def _neuron_input(self, x):
        """Apply the time mean (paper form), clamp and temperature."""
        time_axis = self._averaged_time_axis(x)
        if time_axis is not None:
            x = ops.mean(x, axis=time_axis)  # an overflow to ±inf is handled by ℓ
        if self.clamp is not None:
            low, high = self.clamp
            x = ops.where(x < high, x, ops.cast(high, x.dtype))
            x = ops.where(x > low, x, ops.cast(low, x.dtype))
        if self.temperature != 1.0:
            x = x / self.temperature
        return x

    def elementwise(self, x):
        """ℓ = −[I0·ln σ(x) + (1 − I0)·ln(1 − σ(x))] per element of the (time-averaged, clamped,
        tempered) input: the chaotic loss before reduction and before the factor z."""
        return self._ell(self._neuron_input(_float_tensor(x)))

    def unscaled(self, x):
        """The reduced chaotic loss for z = 1."""
        ell = self.elementwise(x)
        if self.reduction == "mean":
            return ops.mean(ell)
        if self.reduction == "sum" or len(ell.shape) == 0:
            return ops.sum(ell)
        if len(ell.shape) > 1:
            ell = ops.sum(ell, axis=tuple(range(1, len(ell.shape))))
        return ops.mean(ell)

    def compute(self, x, z=None):
        """``z · unscaled(x)``; ``z`` defaults to the variable ``self.z`` (pass a tensor to use the
        loss inside a pure function, e.g. ``jax.jit``/``vmap`` with a traced z).

        Where the backend has a fast path for the chaotic loss (torch: one fused autograd
        function, :mod:`snnzoo.backend.torch_chaos`, equal to this generic path, tested) the value
        and gradient come from it."""
        z = self.z if z is None else z
        entry = self._fast_entry(x, z)
        if entry is not None:
            return self._fast_batch_loss([entry], z)[0]
        loss = self.unscaled(x)
        return ops.cast(z, loss.dtype) * loss

    # -- the backend's fast path: the loss of many tensors in one call -------------------------
    def _fast_options(self, z):
        return {"z": self._z_value(z), "i0": self.i0, "clamp": self.clamp,
                "temperature": self.temperature, "linear_from": LINEAR_FROM}

    def _fast_entry(self, x, z=None, split_time=False):
        """What :meth:`_fast_batch_loss` needs of tensor ``x``, from the backend's fast path
        ``chaotic_loss_entry`` (torch: x's time sum and factors; on CPU, for a large x, its loss
        already computed by one compiled kernel, with x's time slices where ``split_time`` is
        asked: ``entry.time_slices``), or None where there is no fast path for x (other backends,
        other dtypes). Entries with equal ``entry.key`` can be batched."""
        entry_of = fast_path("chaotic_loss_entry")
        if entry_of is None:
            return None
        options = dict(self._fast_options(z), reduction=self.reduction, split_time=split_time)
        if hasattr(x, "shape"):
            entry = entry_of(x, time_axis=self._averaged_time_axis(x), **options)
            if entry is not None:
                return entry
        x = _float_tensor(x)  # not a float32/float64 backend tensor: once more as one
        return entry_of(x, time_axis=self._averaged_time_axis(x), **options)

    def _z_value(self, z=None):
        """The backend value of z (default: the variable ``self.z``)."""
        z = self.z if z is None else z
        return z.value if isinstance(z, keras.Variable) else z

    def _fast_batch_loss(self, entries, z=None):
        """``(Σ_k L_k, [L_k])`` of several :meth:`_fast_entry` results (one ``key``) in one fused
        call (fast path ``chaotic_loss_batch``): the sum is differentiable, the per-entry values
        (a tensor) are not."""
        return fast_path("chaotic_loss_batch")(entries, **self._fast_options(z))

    def torch_entry(self, x, z=None, split_time=False):
        """Deprecated (backend-specific): the backend's fast path is private now."""
        warnings.warn("ChaoticRegularizer.torch_entry is deprecated: the chaotic loss's fast path "
                      "is the backend's (snnzoo.backend); use compute()", DeprecationWarning,
                      stacklevel=2)
        return self._fast_entry(x, z, split_time)

    def torch_batch_loss(self, entries, z=None):
        """Deprecated (backend-specific): the backend's fast path is private now."""
        warnings.warn("ChaoticRegularizer.torch_batch_loss is deprecated: the chaotic loss's fast "
                      "path is the backend's (snnzoo.backend); use compute()", DeprecationWarning,
                      stacklevel=2)
        return self._fast_batch_loss(entries, z)

    def __call__(self, x):
        return self.compute(x)

    # -- serialisation -------------------------------------------------------------------------
    def get_config(self):
        return {
            "z0": self.z0,
            "i0": self.i0,
            "form": self.form,
            "temperature": self.temperature,
            "clamp": list(self.clamp) if self.clamp is not None else False,
            "reduction": self.reduction,
            "time_axis": self.time_axis,
            "name": self.name,
            "z": float(ops.convert_to_numpy(self.z)),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        z = config.pop("z", None)
        reg = cls(**config)
        if z is not None:
            reg.z.assign(z)
        return reg

    def __repr__(self):
        return (f"ChaoticRegularizer(z={float(ops.convert_to_numpy(self.z)):.6g}, i0={self.i0}, "
                f"form={self.form!r}, temperature={self.temperature}, clamp={self.clamp}, "
                f"reduction={self.reduction!r})")
