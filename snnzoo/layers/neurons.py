"""Multi-step spiking neurons (IF, LIF, PLIF, CubaLIF) over inputs [B, T, ...].

Discrete-time dynamics, per step t (SpikingJelly's neuronal charge / fire / reset; Fang et al.,
"Incorporating learnable membrane time constant", ICCV 2021, Eq. 1–4)::

    charge   IF:                   H[t] = V[t-1] + X[t]
             LIF, decay_input:     H[t] = V[t-1] + (X[t] − (V[t-1] − V_reset)) / τ
             LIF, no decay_input:  H[t] = V[t-1] − (V[t-1] − V_reset) / τ + X[t]
             PLIF:                 as LIF with 1/τ = sigmoid(w), w learnable (one scalar per layer)
             CubaLIF:              as LIF driven by a synaptic current I[t] (class docstring)
    fire                           S[t] = Θ(H[t] − V_th)         (surrogate gradient in backward)
    reset    hard (v_reset=float): V[t] = H[t]·(1 − S[t]) + V_reset·S[t]
             soft (v_reset=None):  V[t] = H[t] − V_th·S[t]      (V_reset counts as 0 in the charge)

``detach_reset=True`` stops the gradient through S[t] in the reset. V[-1] = V_reset (0 for soft).

Mapping of other parameterisations (exact, including the gradient paths):

* TET / CSBP ``LIFSpike`` — ``mem = k·mem + x; o = Θ(mem − θ); mem = (1 − o)·mem`` with the reset
  not detached — is ``LIF(tau=1/(1−k), decay_input=False, v_reset=0.0, detach_reset=False,
  surrogate=Triangle(γ))``: k = 0.5 ↔ τ = 2, k = 0.25 ↔ τ = 4/3. See :func:`tau_from_decay`.
* IDE-FSNN (subtract reset, leak applied after the reset: ``u += x; s = Θ(u − V_th);
  u −= V_th·s; u *= λ``) is ``LIF(tau=1/(1−λ), decay_input=False, v_reset=None)``: leaking after
  the reset of step t or before the charge of step t+1 is the same recursion; only the stored
  membrane differs by the factor λ. ``IF`` is the λ = 1 case.
* BP-STA nodes (Shen et al., Patterns 2022) are ``LIF(tau=1/(1−λ), decay_input=False,
  v_threshold=0.5, v_reset=0.0, adjust=...)`` with λ = 0.9 (see ``adjust`` below).

Gradient adjustments (``adjust``; Shen et al., "Backpropagation with biologically plausible
spatiotemporal adjustment", Patterns 2022):

* ``"bpsa"`` — spatial: ∂S/∂H = 1/H where the neuron spikes, 0 elsewhere (replaces the surrogate);
  the reset is detached, as the authors reset by an in-place mask.
* ``"bpta"`` — temporal: the reset's backward becomes ∂V[t]/∂H[t] = (1 − S[t]) + α·∂S[t]/∂H[t]
  (α = ``bpta_alpha``, default 0.2), i.e. ∂S[t+1]/∂H[t] = g'(H[t+1])·λ·[(1 − S[t]) + α·g'(H[t])].
  The forward is unchanged and the reset's own gradient through S is dropped (as in the authors'
  code).
"""
import keras
from keras import ops

from snnzoo import surrogates as surrogate_lib
from snnzoo.backend import custom_gradient, time_loop

_ADJUSTS = (None, "bpsa", "bpta", "bpsa+bpta")


def tau_from_decay(decay):
    """τ such that the no-decay-input LIF leaks by ``decay`` per step: τ = 1 / (1 − decay)."""
    decay = float(decay)
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"decay factor must be in [0, 1), got {decay}")
    return 1.0 / (1.0 - decay)


def _bpsa_spike(v_threshold):
    """Θ(H − V_th) with the BPSA gradient ∂S/∂H = S / H (safe denominator where S = 0)."""

    def fwd(h):
        def vjp(upstream):
            # the mask is recomputed from H: capturing the output S here would tie S to its own
            # backward node (a reference cycle torch never frees, ~MBs per step)
            fired = ops.greater_equal(h, v_threshold)
            return ops.where(fired, upstream / ops.where(fired, h, ops.ones_like(h)), ops.zeros_like(h))

        return ops.cast(ops.greater_equal(h, v_threshold), h.dtype), vjp

    return custom_gradient(fwd)


def _check_positive(name, value):
    value = float(value)
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def _lif_charge(v, x, inv_tau, v_reset, decay_input):
    """LIF charge (module docstring): V + (X − (V − V_reset))/τ, or V − (V − V_reset)/τ + X."""
    leak = v if not v_reset else v - v_reset
    if decay_input:
        return v + (x - leak) * inv_tau
    return v - leak * inv_tau + x


def _lif_charge_from_rest(x, inv_tau, v_reset, decay_input):
    """LIF charge from V[-1] = V_reset (V − V_reset = 0): V_reset + X/τ (decay_input) or V_reset + X."""
    h = x * inv_tau if decay_input else x
    return h + v_reset if v_reset else h


class BaseNeuron(keras.layers.Layer):
    """Base class of the multi-step spiking neurons: the shared charge / fire / reset loop.

    Subclasses define the charge (:class:`IF`, :class:`LIF`, :class:`PLIF`, :class:`CubaLIF`; the
    latter also extends the state through :meth:`rest_values` / :meth:`step`); fire and reset are
    (module docstring)::

        S[t] = Θ(H[t] − V_th)                                     (surrogate gradient)
        V[t] = H[t]·(1 − S[t]) + V_reset·S[t]   (hard)   |   V[t] = H[t] − V_th·S[t]   (soft)

    Use the class as a layer selector, e.g. ``attach_chaos(model, layers=BaseNeuron)``.

    Args:
        v_threshold: firing threshold V_th (> 0).
        v_reset: reset potential for a hard reset; ``None`` selects the soft (subtract) reset.
        surrogate: surrogate-gradient function: a name (``"atan"``, ``"sigmoid"``,
            ``"triangle"``, …) or a :mod:`snnzoo.surrogates` object such as ``ATan(alpha=2.0)``.
        detach_reset: stop the gradient through S[t] in the reset.
        return_membrane: also return the membrane V after each step's reset.
        adjust: ``None``, ``"bpsa"``, ``"bpta"`` or ``"bpsa+bpta"``: the BP-STA gradient
            adjustments (module docstring); the forward pass is unchanged.
        bpta_alpha: α of BPTA (0.2 in the authors' code).
        **kwargs: standard Keras layer arguments (``name``, ``dtype``, …).

    Call arguments:
        inputs: float tensor ``[batch, time, ...features]``, the input current X[t] of every
            step (static time axis).

    Returns:
        Spikes of the same shape (exactly 0.0 or 1.0); with ``return_membrane=True`` the tuple
        ``(spikes, membrane)``.
    """

    def __init__(
        self,
        v_threshold=1.0,
        v_reset=0.0,
        surrogate="atan",
        detach_reset=False,
        return_membrane=False,
        adjust=None,
        bpta_alpha=0.2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.v_threshold = _check_positive("v_threshold", v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.surrogate = surrogate_lib.get(surrogate)
        self.detach_reset = bool(detach_reset)
        self.return_membrane = bool(return_membrane)
        if adjust not in _ADJUSTS:
            raise ValueError(f"adjust must be one of {_ADJUSTS}, got {adjust!r}")
        self.adjust = adjust
        self.bpta_alpha = float(bpta_alpha)
        self._bpsa = _bpsa_spike(self.v_threshold) if adjust and "bpsa" in adjust else None
        self._bpta = bool(adjust and "bpta" in adjust)

    # -- input checks -------------------------------------------------------------------------
    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape [batch, time, ...features] "
                f"(rank >= 3), got shape {tuple(input_shape)}. Add a time axis first, e.g. "
                "snnzoo.layers.RepeatTime(T) for static inputs."
            )
        if input_shape[1] is None:
            raise ValueError(
                f"{type(self).__name__} needs a static time axis: expected [batch, T, ...], "
                f"got {tuple(input_shape)}"
            )
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape, input_shape) if self.return_membrane else input_shape

    # -- dynamics -----------------------------------------------------------------------------
    def charge(self, v, x, params):
        raise NotImplementedError

    def charge_from_rest(self, x, params):
        """Charge of the first step, from V[-1] = V_reset (0 for soft reset). Subclasses may
        override it with the algebraically reduced form (fewer tensor ops, same values)."""
        v0 = ops.zeros_like(x)
        if self.v_reset:
            v0 = v0 + self.v_reset
        return self.charge(v0, x, params)

    def dynamics_params(self):
        """Tensors computed once per call and passed to :meth:`charge` (e.g. PLIF's 1/τ)."""
        return None

    def rest_values(self):
        """The state at rest (t = −1) as constants, one per state tensor, the membrane V first:
        ``(V_reset,)`` (0 for soft reset). Neurons with more state (:class:`CubaLIF`'s synaptic
        current) extend the tuple and :meth:`step`."""
        return (self.v_reset or 0.0,)

    def step(self, state, x, params):
        """One time step: the state after step t − 1 (the tuple :meth:`rest_values` describes) and
        the input X[t] -> ``(state after step t, output)``: :meth:`charge`, then
        :meth:`fire_and_reset`."""
        return self.fire_and_reset(self.charge(state[0], x, params))

    def step_from_rest(self, x, params):
        """:meth:`step` from the resting state (the first step), in :meth:`charge_from_rest`'s
        reduced form."""
        return self.fire_and_reset(self.charge_from_rest(x, params))

    def fire(self, h):
        if self._bpsa is not None:
            return self._bpsa(h)
        return self.surrogate(h - self.v_threshold)

    def reset(self, h, s):
        # BPSA/BPTA (authors' code) reset by a mask: no gradient through S in the reset.
        sr = ops.stop_gradient(s) if (self.detach_reset or self._bpta or self._bpsa is not None) else s
        if self.v_reset is None:
            v = h - self.v_threshold * sr
        elif self.v_reset == 0.0:
            v = h * (1.0 - sr)
        else:
            v = h * (1.0 - sr) + self.v_reset * sr
        if self._bpta:  # forward +0; backward adds alpha * dS/dH to dV/dH
            v = v + self.bpta_alpha * (s - ops.stop_gradient(s))
        return v

    def call(self, inputs):
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if "float" not in dtype:
            raise ValueError(
                f"{type(self).__name__} expects a float tensor [batch, time, ...], got dtype {dtype}; "
                "cast spikes/frames to float32 first"
            )
        params = self.dynamics_params()

        def step(state, x_t):
            return self.step(state, x_t, params)

        def rest():  # V[-1] = V_reset (0 for soft reset), and any further state at rest
            v0 = ops.zeros_like(inputs[:, 0])
            return tuple(v0 + fill if fill else v0 for fill in self.rest_values())

        # the unrolled loop charges step 0 from rest in reduced form: no zeros tensor and ~5
        # tensor ops fewer per call, same values
        _, out = time_loop(step, rest, inputs, first_step=lambda x_0: self.step_from_rest(x_0, params))
        return out

    def fire_and_reset(self, h):
        """One step's fire and reset of the charged membrane ``h`` (module docstring):
        ``((V[t],), output)`` with output S[t], or ``(S[t], V[t])`` with ``return_membrane``. With
        :meth:`charge`, :meth:`dynamics_params`, :meth:`rest_values` and :meth:`step` this is the
        per-step API that the multi-step loop and :class:`snnzoo.streaming.Streamer` share."""
        s = self.fire(h)
        v = self.reset(h, s)
        return (v,), ((s, v) if self.return_membrane else s)

    def get_config(self):
        config = super().get_config()
        config.update(
            v_threshold=self.v_threshold,
            v_reset=self.v_reset,
            surrogate=surrogate_lib.serialize(self.surrogate),
            detach_reset=self.detach_reset,
            return_membrane=self.return_membrane,
            adjust=self.adjust,
            bpta_alpha=self.bpta_alpha,
        )
        return config


@keras.saving.register_keras_serializable(package="snnzoo")
class IF(BaseNeuron):
    """Integrate-and-fire neuron: H[t] = V[t−1] + X[t] (module docstring for fire/reset).

    Args:
        v_threshold: firing threshold V_th.
        v_reset: hard-reset potential; ``None`` = soft (subtract) reset.
        surrogate: surrogate-gradient name or object (see :class:`BaseNeuron`).
        detach_reset: stop the gradient through the spike in the reset.
        return_membrane: also return the membrane potential.
        adjust: BP-STA gradient adjustment (see :class:`BaseNeuron`).
        bpta_alpha: α of BPTA.
        **kwargs: standard Keras layer arguments.

    Call arguments:
        inputs: float tensor ``[batch, time, ...features]``.

    Returns:
        Spikes of the input's shape (0.0 / 1.0), or ``(spikes, membrane)``.

    Example:

    ```python
    import numpy as np
    from snnzoo.layers import IF

    x = np.full((1, 4, 1), 0.6, "float32")   # constant input current over T = 4 steps
    IF()(x)[0, :, 0]                          # fires when V crosses 1: [0, 1, 0, 1]
    ```
    """

    def charge(self, v, x, params):
        return v + x

    def charge_from_rest(self, x, params):
        return x + self.v_reset if self.v_reset else x


@keras.saving.register_keras_serializable(package="snnzoo")
class LIF(BaseNeuron):
    """Leaky integrate-and-fire neuron with time constant τ (SpikingJelly ``LIFNode`` semantics).

    decay_input=True:  H = V + (X − (V − V_reset))/τ;   decay_input=False: H = V − (V − V_reset)/τ + X.

    Args:
        tau: membrane time constant τ ≥ 1; the per-step decay factor is 1 − 1/τ. For a paper
            that gives the decay factor k, use ``tau=tau_from_decay(k)``.
        v_threshold: firing threshold V_th.
        v_reset: hard-reset potential; ``None`` = soft (subtract) reset.
        surrogate: surrogate-gradient name or object (see :class:`BaseNeuron`).
        detach_reset: stop the gradient through the spike in the reset.
        decay_input: whether the input is divided by τ (SpikingJelly's default form).
        return_membrane: also return the membrane potential.
        **kwargs: further :class:`BaseNeuron` arguments (``adjust``, ``bpta_alpha``) and
            standard Keras layer arguments.

    Call arguments:
        inputs: float tensor ``[batch, time, ...features]``.

    Returns:
        Spikes of the input's shape (0.0 / 1.0), or ``(spikes, membrane)``.

    Example:

    ```python
    import numpy as np
    from snnzoo.layers import LIF

    x = np.full((2, 8, 16), 1.5, "float32")              # [batch, T, features]
    spikes = LIF(tau=2.0, surrogate="atan")(x)           # [2, 8, 16] of 0.0 / 1.0
    ```
    """

    def __init__(self, tau=2.0, v_threshold=1.0, v_reset=0.0, surrogate="atan", detach_reset=False,
                 decay_input=True, return_membrane=False, **kwargs):
        tau = float(tau)
        if not tau >= 1.0:
            raise ValueError(
                f"tau must be >= 1 (the per-step decay factor is 1 - 1/tau in [0, 1)), got {tau}; "
                "to set a decay factor k use tau=snnzoo.layers.tau_from_decay(k)"
            )
        self.tau = tau
        self.decay_input = bool(decay_input)
        super().__init__(v_threshold=v_threshold, v_reset=v_reset, surrogate=surrogate,
                         detach_reset=detach_reset, return_membrane=return_membrane, **kwargs)

    def dynamics_params(self):
        return 1.0 / self.tau

    def charge(self, v, x, inv_tau):
        return _lif_charge(v, x, inv_tau, self.v_reset, self.decay_input)

    def charge_from_rest(self, x, inv_tau):
        return _lif_charge_from_rest(x, inv_tau, self.v_reset, self.decay_input)

    def get_config(self):
        config = super().get_config()
        config.update(tau=self.tau, decay_input=self.decay_input)
        return config


@keras.saving.register_keras_serializable(package="snnzoo")
class PLIF(LIF):
    """Parametric LIF (Fang et al., ICCV 2021, Eq. 5): 1/τ = sigmoid(w), one learnable scalar ``w``
    per layer, initialised to w = −ln(init_tau − 1) so that τ = init_tau.

    Args:
        init_tau: initial time constant (> 1); 2.0 in the SEW ResNet DVS networks.
        v_threshold: firing threshold V_th.
        v_reset: hard-reset potential; ``None`` = soft (subtract) reset.
        surrogate: surrogate-gradient name or object (see :class:`BaseNeuron`).
        detach_reset: stop the gradient through the spike in the reset.
        decay_input: whether the input is multiplied by 1/τ.
        return_membrane: also return the membrane potential.
        **kwargs: further :class:`BaseNeuron` arguments and standard Keras layer arguments.

    Call arguments:
        inputs: float tensor ``[batch, time, ...features]``.

    Returns:
        Spikes of the input's shape (0.0 / 1.0), or ``(spikes, membrane)``.

    Example:

    ```python
    import numpy as np
    from snnzoo.layers import PLIF

    layer = PLIF(init_tau=2.0, detach_reset=True)
    spikes = layer(np.ones((2, 4, 8), "float32"))        # layer.w is trainable
    ```
    """

    def __init__(self, init_tau=2.0, v_threshold=1.0, v_reset=0.0, surrogate="atan",
                 detach_reset=False, decay_input=True, return_membrane=False, **kwargs):
        init_tau = float(init_tau)
        if not init_tau > 1.0:
            raise ValueError(f"init_tau must be > 1 (w = -ln(init_tau - 1)), got {init_tau}")
        kwargs.pop("tau", None)
        super().__init__(tau=init_tau, v_threshold=v_threshold, v_reset=v_reset, surrogate=surrogate,
                         detach_reset=detach_reset, decay_input=decay_input,
                         return_membrane=return_membrane, **kwargs)
        self.init_tau = init_tau

    def build(self, input_shape):
        import math

        self.w = self.add_weight(
            name="w", shape=(), initializer=keras.initializers.Constant(-math.log(self.init_tau - 1.0)),
            trainable=True,
        )
        super().build(input_shape)

    def dynamics_params(self):
        return ops.sigmoid(ops.cast(self.w, self.compute_dtype))

    def get_config(self):
        config = super().get_config()
        config.pop("tau")
        config["init_tau"] = self.init_tau
        return config


@keras.saving.register_keras_serializable(package="snnzoo")
class CubaLIF(BaseNeuron):
    """Current-based LIF neuron: a synaptic current I low-pass filters the input and charges an
    LIF membrane (the CuBa-LIF of NIR, Pedersen et al., Nature Communications 2024; snnTorch's
    ``Synaptic``, Eshraghian et al., Proc. IEEE 2023). Per step t, with I[−1] = 0::

        synapse   decay_input=True:   I[t] = I[t−1] + (X[t] − I[t−1]) / τ_syn
                  decay_input=False:  I[t] = (1 − 1/τ_syn)·I[t−1] + X[t]
        membrane  H[t] = LIF(tau=τ_mem, decay_input) charge driven by I[t]:
                  decay_input=True:   H[t] = V[t−1] + (I[t] − (V[t−1] − V_reset)) / τ_mem
                  decay_input=False:  H[t] = V[t−1] − (V[t−1] − V_reset) / τ_mem + I[t]
        fire / reset as every :class:`BaseNeuron` (hard to V_reset, or soft with v_reset=None)

    The state is (V, I); the reset acts on V only. ``decay_input=False`` with α = 1 − 1/τ_syn,
    β = 1 − 1/τ_mem is snnTorch's ``Synaptic(alpha=α, beta=β, reset_delay=False)`` (``"zero"``
    ↔ ``v_reset=0.0``, ``"subtract"`` ↔ ``v_reset=None``), spike for spike, except that snnTorch
    fires at V > V_th (snnzoo: V ≥ V_th) and, for ``"subtract"``, fires on V − V_th in the step
    after a membrane left at or above V_th by a subtraction (V ≥ 2·V_th before the reset). With
    snnTorch's default ``reset_delay=True`` the reset of step t is applied in step t + 1 (the
    threshold is subtracted undecayed; ``"zero"`` also drops that step's input): not the same
    recursion. NIR export: ``nir.CubaLIF`` (docs/nir.md).

    Args:
        tau_syn: synaptic time constant τ_syn ≥ 1 in steps (per-step decay 1 − 1/τ_syn; τ_syn = 1
            with ``decay_input=True`` passes I[t] = X[t], i.e. a plain :class:`LIF`).
        tau_mem: membrane time constant τ_mem ≥ 1 in steps (per-step decay 1 − 1/τ_mem).
        v_threshold: firing threshold V_th.
        v_reset: hard-reset potential; ``None`` = soft (subtract) reset.
        surrogate: surrogate-gradient name or object (see :class:`BaseNeuron`).
        detach_reset: stop the gradient through the spike in the reset.
        decay_input: whether the input of each stage is divided by its τ (SpikingJelly's
            form); False is snnTorch's α/β form.
        return_membrane: also return the membrane potential V (after the reset).
        **kwargs: further :class:`BaseNeuron` arguments (``adjust``, ``bpta_alpha``) and
            standard Keras layer arguments.

    Call arguments:
        inputs: float tensor ``[batch, time, ...features]``.

    Returns:
        Spikes of the input's shape (0.0 / 1.0), or ``(spikes, membrane)``.

    Example:

    ```python
    import numpy as np
    from snnzoo.layers import CubaLIF

    x = np.full((2, 8, 16), 1.5, "float32")                   # [batch, T, features]
    spikes = CubaLIF(tau_syn=4.0, tau_mem=2.0)(x)             # [2, 8, 16] of 0.0 / 1.0
    ```
    """

    def __init__(self, tau_syn=2.0, tau_mem=2.0, v_threshold=1.0, v_reset=0.0, surrogate="atan",
                 detach_reset=False, decay_input=True, return_membrane=False, **kwargs):
        for name, tau in (("tau_syn", tau_syn), ("tau_mem", tau_mem)):
            if not float(tau) >= 1.0:
                raise ValueError(
                    f"{name} must be >= 1 (the per-step decay factor is 1 - 1/{name} in [0, 1)), got "
                    f"{tau}; to set a decay factor k use {name}=snnzoo.layers.tau_from_decay(k)")
        self.tau_syn = float(tau_syn)
        self.tau_mem = float(tau_mem)
        self.decay_input = bool(decay_input)
        super().__init__(v_threshold=v_threshold, v_reset=v_reset, surrogate=surrogate,
                         detach_reset=detach_reset, return_membrane=return_membrane, **kwargs)

    def dynamics_params(self):
        """``(1/τ_mem, 1/τ_syn)``."""
        return 1.0 / self.tau_mem, 1.0 / self.tau_syn

    def synapse(self, i, x, inv_tau_syn):
        """I[t] from I[t − 1] and X[t] (class docstring): the LIF charge with τ_syn, resting at 0."""
        return _lif_charge(i, x, inv_tau_syn, None, self.decay_input)

    def charge(self, v, i, params):
        return _lif_charge(v, i, params[0], self.v_reset, self.decay_input)

    def charge_from_rest(self, i, params):
        return _lif_charge_from_rest(i, params[0], self.v_reset, self.decay_input)

    def rest_values(self):
        return super().rest_values() + (0.0,)  # (V, I): I[−1] = 0

    def step(self, state, x, params):
        v, i = state
        i = self.synapse(i, x, params[1])
        (v,), out = self.fire_and_reset(self.charge(v, i, params))
        return (v, i), out

    def step_from_rest(self, x, params):
        i = _lif_charge_from_rest(x, params[1], None, self.decay_input)  # I[−1] = 0
        (v,), out = self.fire_and_reset(self.charge_from_rest(i, params))
        return (v, i), out

    def get_config(self):
        config = super().get_config()
        config.update(tau_syn=self.tau_syn, tau_mem=self.tau_mem, decay_input=self.decay_input)
        return config
