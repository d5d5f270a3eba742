"""Feedback spiking layer trained by implicit differentiation on the equilibrium state (IDE).

Xiao, Meng, Zhang, Wang, Lin, "Training Feedback Spiking Neural Networks by Implicit
Differentiation on the Equilibrium State", NeurIPS 2021 (IDE-FSNN).

Forward (no gradient is recorded): simulate a feedback SNN for T steps with subtract reset and
threshold V_th (default 2.0). Layer 0 receives the input current x₁ (computed once by the
preceding layers and injected at every step, or one current per step for event inputs) plus the
feedback F_s(s_last[t−1]) of the last layer's spikes (none at t = 0); layers 1…n−1 are driven
sequentially by the CURRENT step's spikes of the layer before (the feed-forward ``chain``)::

    u_i ← u_i + I_i[t];  s_i = Θ(u_i − V_th);  u_i ← λ·(u_i − V_th·s_i)          (Eq. 1–2)
    rate a = Σ_t λ^{T−1−t} s_last[t] / Σ_t λ^t     (LIF, λ = ``leak``; IF: λ = 1, a = mean_t s)

The output is the last layer's (weighted) average firing rate a. For the gradient, a is treated
as the equilibrium a* = f(a*, x₁) of the equivalent function (Eq. 5/7)::

    h_0 = clip((D_fb ⊙ F_s(a) + x̄₁) / V_th, 0, 1),   h_i = clip(D_i ⊙ BN_i(S_i(h_{i−1})) / V_th, 0, 1)
    f(a, x₁) = h_{n−1}

and the gradient is computed by implicit differentiation (Eq. 9): solve β = J_fᵀ β + ∂L/∂a*
(Broyden, 30 iterations, by default), then ∂L/∂θ = βᵀ ∂f(a, x₁)/∂θ. The structure is the
reference's Replace + Backward: z = f(stop_gradient(a), x₁) is evaluated with ordinary autodiff,
and a custom-gradient identity maps z to the value a while its backward pass returns β. Only the
adjoint solve lives inside the custom gradient; its Jacobian-transpose products are written by
hand (dense: gWᵀ; conv: conv-transpose; conv-transpose: conv), with the weights passed in as
explicit tensors (on torch a weight captured in a closure silently gets no gradient;
docs/backends.md).

Reference behaviour kept (facts from the authors' code): the Jacobian point is the rate a for a
single layer and f(a) for chains (``jacobian_at``); the feedback kernel is spectral-normalised
(:mod:`snnzoo.layers.spectral_norm`); dropout masks are fixed over time and shared by the
simulation, f and the adjoint; BN of the chain modules uses running statistics in the simulation
and in the adjoint, batch statistics in f during training.
Simplification: BN layers *before* this layer (the input module) run once per step, so their
running statistics get one EMA update per batch (the reference updates them twice with the same
batch statistics).
"""
import numpy as np
import keras
from keras import ops

from snnzoo.backend import custom_gradient
from snnzoo.layers import implicit_solvers, spectral_norm as sn

_MODULE_KEYS = {
    "kind", "filters", "kernel_size", "strides", "padding", "output_padding", "use_bias", "batch_norm",
}
_KINDS = ("dense", "conv", "conv_transpose")


@keras.saving.register_keras_serializable(package="snnzoo")
class UnitNormUniform(keras.initializers.Initializer):
    """U(−1, 1), then every output filter scaled to unit L2 norm (IDE-FSNN's initialisation).

    ``axis`` is the output-channel axis of the Keras kernel: −1 for dense and conv kernels,
    −2 for conv-transpose kernels (kh, kw, out, in).
    """

    def __init__(self, axis=-1, seed=None):
        self.axis = int(axis)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        w = keras.random.uniform(shape, -1.0, 1.0, dtype=dtype, seed=self.seed)
        axis = self.axis % len(shape)
        other = tuple(i for i in range(len(shape)) if i != axis)
        return w / ops.sqrt(ops.sum(ops.square(w), axis=other, keepdims=True))

    def get_config(self):
        return {"axis": self.axis, "seed": self.seed}


def check_leak(leak):
    """The membrane decay factor λ of the LIF update ``u ← λ·(u − V_th·s)``: ``None`` or ``1``
    select IF (λ = 1, stored as ``None``); 0 < λ < 1 is LIF. Anything else raises: λ ≤ 0 would
    erase (or flip) the membrane every step and λ > 1 makes it grow without bound."""
    if leak is None:
        return None
    value = float(leak)
    if not 0.0 < value <= 1.0:  # also rejects NaN
        raise ValueError(f"leak must be a decay factor in (0, 1] (e.g. 0.95 for LIF; None or 1.0 "
                         f"for IF), got {leak}")
    return None if value == 1.0 else value


def module_spec(spec, name="module"):
    """Validate a module description and fill in defaults.

    A module is a dict: ``kind`` ("dense" | "conv" | "conv_transpose"), ``filters`` (units or
    output channels), ``kernel_size``, ``strides``, ``padding`` and ``output_padding`` (ints with
    PyTorch semantics: symmetric zero padding), ``use_bias``, ``batch_norm``.
    """
    if not isinstance(spec, dict):
        raise ValueError(f"{name} must be a dict like {{'kind': 'conv', 'filters': 64, "
                         f"'kernel_size': 5, 'padding': 2}}, got {spec!r}")
    unknown = set(spec) - _MODULE_KEYS
    if unknown:
        raise ValueError(f"{name}: unknown keys {sorted(unknown)}; allowed: {sorted(_MODULE_KEYS)}")
    kind = spec.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"{name}: 'kind' must be one of {_KINDS}, got {kind!r}")
    if "filters" not in spec:
        raise ValueError(f"{name}: 'filters' (units / output channels) is required")
    out = {
        "kind": kind,
        "filters": int(spec["filters"]),
        "kernel_size": int(spec.get("kernel_size", 1 if kind == "dense" else 3)),
        "strides": int(spec.get("strides", 1)),
        "padding": int(spec.get("padding", 0)),
        "output_padding": int(spec.get("output_padding", 0)),
        "use_bias": bool(spec.get("use_bias", False)),
        "batch_norm": bool(spec.get("batch_norm", False)),
    }
    if out["filters"] < 1 or out["kernel_size"] < 1 or out["strides"] < 1 or out["padding"] < 0:
        raise ValueError(f"{name}: filters, kernel_size, strides must be >= 1, padding >= 0: {out}")
    if kind == "conv_transpose" and out["kernel_size"] < out["strides"]:
        raise ValueError(f"{name}: conv_transpose needs kernel_size >= strides")
    return out


# ---------------------------------------------------------------------------------------------
# Module geometry: forward (linear part), vector-Jacobian product w.r.t. the input, shapes.
# Padding follows PyTorch (symmetric), implemented as explicit padding + "valid" ops.
# ---------------------------------------------------------------------------------------------
def _out_shape(spec, in_shape):
    k, s, p = spec["kernel_size"], spec["strides"], spec["padding"]
    if spec["kind"] == "dense":
        return (spec["filters"],)
    h, w = in_shape[0], in_shape[1]
    if spec["kind"] == "conv":
        return ((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, spec["filters"])
    op = spec["output_padding"]
    return ((h - 1) * s - 2 * p + k + op, (w - 1) * s - 2 * p + k + op, spec["filters"])


def _kernel_shape(spec, in_shape):
    k = spec["kernel_size"]
    if spec["kind"] == "dense":
        return (in_shape[0], spec["filters"])
    if spec["kind"] == "conv":
        return (k, k, in_shape[-1], spec["filters"])
    return (k, k, spec["filters"], in_shape[-1])


def _fit_length(x, axis, start, length):
    """x[start:start+length] along a spatial axis, zero-padding the end where x is too short."""
    size = x.shape[axis]
    stop = start + length
    if stop > size:
        pads = [[0, 0]] * len(x.shape)
        pads[axis] = [0, stop - size]
        x = ops.pad(x, pads)
    idx = [slice(None)] * len(x.shape)
    idx[axis] = slice(start, stop)
    return x[tuple(idx)]


def _conv_t_valid(x, kernel, s):
    return ops.conv_transpose(x, kernel, strides=s, padding="valid")


def module_apply(spec, x, kernel):
    """Linear part of a module (PyTorch semantics), channels last."""
    kind, s, p = spec["kind"], spec["strides"], spec["padding"]
    if kind == "dense":
        return ops.einsum("bi,io->bo", x, kernel)
    if kind == "conv":
        if p:
            x = ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])
        return ops.conv(x, kernel, strides=s, padding="valid")
    out_h, out_w, _ = _out_shape(spec, x.shape[1:])
    y = _conv_t_valid(x, kernel, s)
    y = _fit_length(y, 1, p, out_h)
    return _fit_length(y, 2, p, out_w)


def module_vjp(spec, g, kernel, in_shape):
    """(∂ module_apply / ∂x)ᵀ g for an input of shape ``in_shape`` (no batch)."""
    kind, k, s, p = spec["kind"], spec["kernel_size"], spec["strides"], spec["padding"]
    if kind == "dense":
        return ops.einsum("bo,io->bi", g, kernel)
    if kind == "conv":
        y = _conv_t_valid(g, kernel, s)  # w.r.t. the padded input (up to its unused tail)
        y = _fit_length(y, 1, p, in_shape[0])
        return _fit_length(y, 2, p, in_shape[1])
    # conv_transpose: re-embed g into the un-cropped output, then convolve
    full = (in_shape[0] - 1) * s + k, (in_shape[1] - 1) * s + k
    for axis in (1, 2):
        size = g.shape[axis]
        keep = min(size, full[axis - 1] - p)
        idx = [slice(None)] * 4
        idx[axis] = slice(0, keep)
        g = g[tuple(idx)]
        pads = [[0, 0]] * 4
        pads[axis] = [p, full[axis - 1] - p - keep]
        g = ops.pad(g, pads)
    return ops.conv(g, kernel, strides=s, padding="valid")


@keras.saving.register_keras_serializable(package="snnzoo")
class FeedbackEquilibrium(keras.layers.Layer):
    """IDE feedback spiking layer: input current x₁ → equilibrium firing rate (module docstring).

    Args:
        feedback: module dict for the feedback connection F_s (last layer → layer 0), e.g.
            ``{"kind": "dense", "filters": 400}`` or ``{"kind": "conv", "filters": 64,
            "kernel_size": 5, "padding": 2}``. No bias / BN by default (reference).
        chain: list of module dicts for the feed-forward modules S_1…S_{n−1} after layer 0
            (multi-layer nets such as AlexNet-F); empty for a single feedback layer.
        time_steps: T, simulation steps.
        v_threshold: V_th (2.0 in the reference).
        leak: decay factor λ of the LIF model, in (0, 1] (e.g. 0.95); ``None`` or ``1.0``
            selects IF. Other values raise a ValueError.
        solver: adjoint solver, ``"broyden"`` | ``"fixed_point"`` | ``"authors_iter"``
            (:func:`snnzoo.layers.implicit_solvers.solve_adjoint`).
        solver_iterations: iterations of the adjoint solver (the reference's ``threshold`` = 30).
        damping: step of the ``"fixed_point"`` solver.
        dropout: rate of the variational dropout on every module output (mask per element,
            fixed over time, training only).
        spectral_norm: spectral-normalise the feedback kernel with a learnable clamped scale g.
        norm_range: clamp range r of g.
        input_mode: ``"constant"`` (x₁ [B, ...], injected every step) or ``"sequence"``
            (x₁ [B, T, ...], one input current per step; f then uses its (λ-weighted) time
            average).
        jacobian_at: ``"rate"`` (J_f at a) or ``"map"`` (J_f at f(a)); default: ``"rate"`` for a
            single layer, ``"map"`` for chains (the reference).
        forward_mode: ``"spiking"`` (the SNN simulation) or ``"analog"`` (the fixed point of f by
            ``analog_iterations`` plain iterations — the ANN equilibrium, for tests/analysis).
        analog_iterations: iterations of the analog forward.
        seed: seed of the dropout masks.

    Call arguments:
        inputs: the input current x₁ of layer 0, ``[B, *layer0_shape]`` (``input_mode=
            "constant"``) or ``[B, T, *layer0_shape]`` (``"sequence"``).
        training: dropout masks and batch statistics of the chain's BN if true.

    Returns:
        The (λ-weighted) average firing rate of the last layer, ``[B, *last_shape]``; its
        gradient is the implicit one (Eq. 9), not backpropagation through the T steps.

    Example:

    ```python
    import numpy as np
    from snnzoo.layers.feedback_equilibrium import FeedbackEquilibrium

    layer = FeedbackEquilibrium({"kind": "dense", "filters": 16}, time_steps=5, leak=0.95)
    rate = layer(np.random.rand(2, 16).astype("float32"))   # [2, 16], values in [0, 1]
    ```
    """

    def __init__(self, feedback, chain=(), time_steps=30, v_threshold=2.0, leak=None,
                 solver="broyden", solver_iterations=30, damping=0.5, dropout=0.0,
                 spectral_norm=True, norm_range=1.0, input_mode="constant", jacobian_at=None,
                 forward_mode="spiking", analog_iterations=100, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.feedback = module_spec(feedback, "feedback")
        self.chain = [module_spec(m, f"chain[{i}]") for i, m in enumerate(chain or ())]
        if self.feedback["batch_norm"]:
            raise ValueError("feedback: batch_norm is not supported on the feedback module "
                             "(the reference feedback has no BN); put BN in the chain")
        self.time_steps = int(time_steps)
        if self.time_steps < 1:
            raise ValueError(f"time_steps must be >= 1, got {time_steps}")
        self.v_threshold = float(v_threshold)
        if not self.v_threshold > 0:
            raise ValueError(f"v_threshold must be > 0, got {v_threshold}")
        self.leak = check_leak(leak)
        if solver not in implicit_solvers.SOLVERS:
            raise ValueError(f"solver must be one of {implicit_solvers.SOLVERS}, got {solver!r}")
        self.solver = solver
        self.solver_iterations = int(solver_iterations)
        self.damping = float(damping)
        self.dropout = float(dropout)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.spectral_norm = bool(spectral_norm)
        self.norm_range = float(norm_range)
        if input_mode not in ("constant", "sequence"):
            raise ValueError(f"input_mode must be 'constant' or 'sequence', got {input_mode!r}")
        self.input_mode = input_mode
        if jacobian_at not in (None, "rate", "map"):
            raise ValueError(f"jacobian_at must be None, 'rate' or 'map', got {jacobian_at!r}")
        self.jacobian_at = jacobian_at or ("map" if self.chain else "rate")
        if forward_mode not in ("spiking", "analog"):
            raise ValueError(f"forward_mode must be 'spiking' or 'analog', got {forward_mode!r}")
        self.forward_mode = forward_mode
        self.analog_iterations = int(analog_iterations)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.dropout > 0 else None

    # -- construction -----------------------------------------------------------------------------
    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.input_mode == "sequence":
            if len(shape) < 3 or shape[1] != self.time_steps:
                raise ValueError(
                    f"FeedbackEquilibrium(input_mode='sequence', time_steps={self.time_steps}) "
                    f"expects [batch, {self.time_steps}, ...], got {shape}")
            layer0 = shape[2:]
        else:
            layer0 = shape[1:]
        if any(d is None for d in layer0):
            raise ValueError(f"FeedbackEquilibrium needs static feature dimensions, got {shape}")
        self._shapes = [tuple(int(d) for d in layer0)]
        for i, spec in enumerate(self.chain):
            self._check_rank(spec, self._shapes[-1], f"chain[{i}]")
            self._shapes.append(_out_shape(spec, self._shapes[-1]))
        self._check_rank(self.feedback, self._shapes[-1], "feedback")
        fb_out = _out_shape(self.feedback, self._shapes[-1])
        if tuple(fb_out) != self._shapes[0]:
            raise ValueError(
                f"feedback maps the last layer {self._shapes[-1]} to {fb_out}, but layer 0 (the "
                f"input current) has shape {self._shapes[0]}; adjust the feedback module")

        self.chain_vars = []
        for i, spec in enumerate(self.chain):
            self.chain_vars.append(self._module_weights(spec, self._shapes[i], f"chain{i}", i + 1))
        self.fb_vars = self._module_weights(self.feedback, self._shapes[-1], "feedback",
                                            len(self.chain) + 1)
        if self.spectral_norm:
            kernel = self.fb_vars["kernel"]
            # seed None: draw from numpy's global state (seeded by keras.utils.set_random_seed)
            seed = self.seed if self.seed is not None else np.random.randint(0, 2 ** 31 - 1)
            g0, u0, v0 = sn.initial_state(ops.convert_to_numpy(kernel), self.feedback["kind"],
                                          np.random.default_rng(seed))
            rows, cols = sn.matrix_shape(kernel.shape, self.feedback["kind"])
            self.fb_g = self.add_weight(name="feedback_g", shape=(),
                                        initializer=keras.initializers.Constant(g0))
            self.fb_u = self.add_weight(name="feedback_u", shape=(rows,), trainable=False,
                                        initializer=keras.initializers.Constant(u0))
            self.fb_v = self.add_weight(name="feedback_v", shape=(cols,), trainable=False,
                                        initializer=keras.initializers.Constant(v0))
        super().build(input_shape)

    @staticmethod
    def _check_rank(spec, shape, name):
        want = 1 if spec["kind"] == "dense" else 3
        if len(shape) != want:
            raise ValueError(f"{name} ({spec['kind']}) needs inputs of rank {want} per sample "
                             f"(flatten / reshape first), got per-sample shape {shape}")

    def _module_weights(self, spec, in_shape, prefix, index):
        out = {}
        axis = -2 if spec["kind"] == "conv_transpose" else -1
        seed = None if self.seed is None else int(self.seed) + 7919 * index  # distinct streams
        out["kernel"] = self.add_weight(name=f"{prefix}_kernel", shape=_kernel_shape(spec, in_shape),
                                        initializer=UnitNormUniform(axis, seed))
        n = spec["filters"]
        if spec["use_bias"]:
            out["bias"] = self.add_weight(name=f"{prefix}_bias", shape=(n,), initializer="zeros")
        if spec["batch_norm"]:
            out["gamma"] = self.add_weight(name=f"{prefix}_gamma", shape=(n,), initializer="ones")
            out["beta"] = self.add_weight(name=f"{prefix}_beta", shape=(n,), initializer="zeros")
            out["moving_mean"] = self.add_weight(name=f"{prefix}_moving_mean", shape=(n,),
                                                 initializer="zeros", trainable=False)
            out["moving_var"] = self.add_weight(name=f"{prefix}_moving_var", shape=(n,),
                                                initializer="ones", trainable=False)
        return out

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(self._output_features(input_shape))

    def _output_features(self, input_shape):
        shape = tuple(input_shape[2:] if self.input_mode == "sequence" else input_shape[1:])
        for spec in self.chain:
            shape = _out_shape(spec, shape)
        return shape

    # -- pieces -----------------------------------------------------------------------------------
    @property
    def _leak_value(self):
        return 1.0 if self.leak is None else self.leak

    def _rate_norm(self):
        lam, T = self._leak_value, self.time_steps
        return float(T) if self.leak is None else (1.0 - lam ** T) / (1.0 - lam)

    def feedback_kernel(self, training=False):
        """The effective feedback kernel (spectral-normalised) and the new (u, v) or None."""
        kernel = self.fb_vars["kernel"].value
        if not self.spectral_norm:
            return kernel, None
        w, u, v = sn.spectral_normalize(kernel, self.fb_g.value, self.fb_u.value, self.fb_v.value,
                                        self.feedback["kind"], self.norm_range)
        return w, (u, v)

    def _bn_eval(self, wts, dtype):
        scale = wts["gamma"].value / ops.sqrt(wts["moving_var"].value + 1e-5)
        shift = wts["beta"].value - wts["moving_mean"].value * scale
        return ops.cast(scale, dtype), ops.cast(shift, dtype)

    def _module_eval(self, spec, wts, x, kernel, stop=False):
        """Module output with BN in inference mode (used by the simulation and the adjoint)."""
        get = (lambda t: ops.stop_gradient(t)) if stop else (lambda t: t)
        y = module_apply(spec, x, get(kernel))
        if spec["use_bias"]:
            y = y + get(wts["bias"].value)
        if spec["batch_norm"]:
            scale, shift = self._bn_eval(wts, y.dtype)
            y = y * get(scale) + get(shift)
        return y

    def _module_train(self, spec, wts, x, kernel):
        """Module output with BN on batch statistics (updates the running statistics)."""
        y = module_apply(spec, x, kernel)
        if spec["use_bias"]:
            y = y + wts["bias"].value
        if spec["batch_norm"]:
            axes = tuple(range(len(y.shape) - 1))
            mean, var = ops.moments(y, axes=axes)
            y = (y - mean) / ops.sqrt(var + 1e-5) * wts["gamma"].value + wts["beta"].value
            n = 1
            for d in ops.shape(y)[:-1]:
                n = n * d
            n = ops.cast(n, var.dtype)
            unbiased = var * n / ops.maximum(n - 1.0, 1.0)
            mm, mv = wts["moving_mean"], wts["moving_var"]
            mm.assign(0.9 * mm.value + 0.1 * ops.cast(ops.stop_gradient(mean), mm.dtype))
            mv.assign(0.9 * mv.value + 0.1 * ops.cast(ops.stop_gradient(unbiased), mv.dtype))
        return y

    def _dropout_masks(self, batch, dtype, training):
        if not (training and self.dropout > 0):
            return None
        masks = []
        shapes = self._shapes[1:] + [self._shapes[0]]  # chain outputs, then the feedback output
        for shape in shapes:
            ones = ops.ones((batch,) + tuple(shape), dtype=dtype)
            masks.append(keras.random.dropout(ones, self.dropout, seed=self.seed_generator))
        return masks  # masks[i] for chain[i], masks[-1] for the feedback

    def equivalent_map(self, a, x_bar, fb_kernel, masks=None, training=False, stop=False):
        """f(a, x̄) and the pre-activations (·)/V_th of every layer (module docstring)."""
        vth = self.v_threshold
        fb = module_apply(self.feedback, a, ops.stop_gradient(fb_kernel) if stop else fb_kernel)
        if self.feedback["use_bias"]:
            b = self.fb_vars["bias"].value
            fb = fb + (ops.stop_gradient(b) if stop else b)
        if masks is not None:
            fb = fb * masks[-1]
        pre = (fb + x_bar) / vth
        pres = [pre]
        h = ops.clip(pre, 0.0, 1.0)
        for i, spec in enumerate(self.chain):
            wts = self.chain_vars[i]
            if training:
                y = self._module_train(spec, wts, h, wts["kernel"].value)
            else:
                y = self._module_eval(spec, wts, h, wts["kernel"].value, stop=stop)
            if masks is not None:
                y = y * masks[i]
            pre = y / vth
            pres.append(pre)
            h = ops.clip(pre, 0.0, 1.0)
        return h, pres

    def fixed_point_map(self, a, x1, training=False):
        """Public f(a, x₁) with autodiff (x₁ as given to the layer; no dropout)."""
        x_bar = self._time_average(x1) if self.input_mode == "sequence" else x1
        fb_kernel, _ = self.feedback_kernel()
        return self.equivalent_map(a, x_bar, fb_kernel, None, training=training)[0]

    def _time_average(self, x_seq):
        lam, T = self._leak_value, self.time_steps
        w = np.array([lam ** (T - 1 - t) for t in range(T)]) / self._rate_norm()
        w = ops.reshape(ops.convert_to_tensor(w, dtype=x_seq.dtype), (1, T) + (1,) * (len(x_seq.shape) - 2))
        return ops.sum(x_seq * w, axis=1)

    # -- forward simulation (no gradient) ---------------------------------------------------------
    def simulate(self, x1, fb_kernel, masks=None):
        """Firing rate of the last layer after T steps (stop-gradient everywhere)."""
        vth, lam = self.v_threshold, self._leak_value
        x1 = ops.stop_gradient(x1)
        fbk = ops.stop_gradient(fb_kernel)
        fb_bias = ops.stop_gradient(self.fb_vars["bias"].value) if self.feedback["use_bias"] else None
        masks = None if masks is None else [ops.stop_gradient(m) for m in masks]
        chain_k = [ops.stop_gradient(w["kernel"].value) for w in self.chain_vars]
        seq = self.input_mode == "sequence"
        xs = ops.moveaxis(x1, 1, 0) if seq else None
        dtype = x1.dtype
        batch = ops.shape(x1)[0]
        us0 = tuple(ops.zeros((batch,) + s, dtype=dtype) for s in self._shapes)
        last0 = ops.zeros((batch,) + self._shapes[-1], dtype=dtype)

        def fire(u):
            s = ops.cast(ops.greater_equal(u, vth), dtype)
            u = u - vth * s
            return (u * lam if self.leak is not None else u), s

        def body(t, carry):
            us, s_last, acc = carry
            inp = xs[t] if seq else x1
            fb = module_apply(self.feedback, s_last, fbk)
            if fb_bias is not None:  # no feedback at t = 0
                fb = fb + fb_bias * ops.cast(ops.greater(t, 0), dtype)
            if masks is not None:
                fb = fb * masks[-1]
            u, s = fire(us[0] + fb + inp)
            new_us = [u]
            for i, spec in enumerate(self.chain):
                y = self._module_eval(spec, self.chain_vars[i], s, chain_k[i], stop=True)
                if masks is not None:
                    y = y * masks[i]
                u, s = fire(us[i + 1] + y)
                new_us.append(u)
            acc = acc * lam + s if self.leak is not None else acc + s
            return tuple(new_us), s, acc

        carry = (us0, last0, ops.zeros_like(last0))
        if keras.backend.backend() == "torch" or self.time_steps <= 4:
            for t in range(self.time_steps):
                carry = body(t, carry)
        else:
            carry = ops.fori_loop(0, self.time_steps, body, carry)
        return ops.stop_gradient(carry[2] / self._rate_norm())

    def analog_forward(self, x_bar, fb_kernel, masks=None):
        """The fixed point of f by plain iteration from 0 (stop-gradient)."""
        x_bar = ops.stop_gradient(x_bar)
        fbk = ops.stop_gradient(fb_kernel)
        masks = None if masks is None else [ops.stop_gradient(m) for m in masks]
        a = ops.zeros((ops.shape(x_bar)[0],) + self._shapes[-1], dtype=x_bar.dtype)
        for _ in range(self.analog_iterations):
            a = self.equivalent_map(a, x_bar, fbk, masks, training=False, stop=True)[0]
        return ops.stop_gradient(a)

    # -- implicit gradient ------------------------------------------------------------------------
    def _jt_product(self, beta_flat, mults, kernels):
        """J_fᵀ β for flattened β [B, D_last]: reverse pass through the chain, then the feedback."""
        g = ops.reshape(beta_flat, (-1,) + self._shapes[-1])
        for i in range(len(self.chain) - 1, -1, -1):
            g = module_vjp(self.chain[i], g * mults[i + 1], kernels[i + 1], self._shapes[i])
        g = module_vjp(self.feedback, g * mults[0], kernels[0], self._shapes[-1])
        return ops.reshape(g, (ops.shape(g)[0], -1))

    def _implicit_op(self, n_mults):
        solver, iters, damping = self.solver, self.solver_iterations, self.damping

        def fwd(z, a, *rest):
            mults, kernels = rest[:n_mults], rest[n_mults:]
            out = a * ops.ones_like(z)

            def vjp(upstream):
                rhs = ops.reshape(upstream, (ops.shape(upstream)[0], -1))
                beta = implicit_solvers.solve_adjoint(
                    lambda b: self._jt_product(b, mults, kernels), rhs, solver, iters, damping)
                grads = (ops.reshape(beta, ops.shape(z)), ops.zeros_like(a))
                return grads + tuple(ops.zeros_like(r) for r in rest)

            return out, vjp

        return custom_gradient(fwd)

    def _multipliers(self, pres, masks):
        """Per-layer diagonal factors of J_f: 1[0 < pre < 1]/V_th ⊙ dropout ⊙ BN scale."""
        mults = []
        for i, pre in enumerate(pres):
            m = ops.cast(ops.logical_and(ops.greater(pre, 0.0), ops.less(pre, 1.0)), pre.dtype)
            m = m / self.v_threshold
            if masks is not None:
                m = m * (masks[-1] if i == 0 else masks[i - 1])
            if i > 0 and self.chain[i - 1]["batch_norm"]:
                scale, _ = self._bn_eval(self.chain_vars[i - 1], pre.dtype)
                m = m * scale
            mults.append(ops.stop_gradient(m))
        return mults

    # -- call -------------------------------------------------------------------------------------
    def call(self, inputs, training=None):
        training = bool(training)
        x1 = inputs
        dtype = x1.dtype
        fb_kernel, uv = self.feedback_kernel(training)
        if training and uv is not None:
            self.fb_u.assign(ops.cast(uv[0], self.fb_u.dtype))
            self.fb_v.assign(ops.cast(uv[1], self.fb_v.dtype))
        masks = self._dropout_masks(ops.shape(x1)[0], dtype, training)
        x_bar = self._time_average(x1) if self.input_mode == "sequence" else x1

        if self.forward_mode == "spiking":
            a = self.simulate(x1, fb_kernel, masks)
        else:
            a = self.analog_forward(x_bar, fb_kernel, masks)

        # equivalent function with autodiff (BN on batch statistics in training)
        z, pres = self.equivalent_map(a, x_bar, fb_kernel, masks, training=training)
        has_bn = any(spec["batch_norm"] for spec in self.chain)
        if self.jacobian_at == "map":
            point = ops.stop_gradient(z)
            pres = self.equivalent_map(point, x_bar, fb_kernel, masks, training=False, stop=True)[1]
        elif has_bn and training:
            pres = self.equivalent_map(a, x_bar, fb_kernel, masks, training=False, stop=True)[1]
        else:
            pres = [ops.stop_gradient(p) for p in pres]
        mults = self._multipliers(pres, masks)
        kernels = [ops.stop_gradient(fb_kernel)] + [ops.stop_gradient(w["kernel"].value)
                                                    for w in self.chain_vars]
        return self._implicit_op(len(mults))(z, a, *mults, *kernels)

    def get_config(self):
        config = super().get_config()
        config.update(
            feedback=dict(self.feedback), chain=[dict(m) for m in self.chain],
            time_steps=self.time_steps, v_threshold=self.v_threshold, leak=self.leak,
            solver=self.solver, solver_iterations=self.solver_iterations, damping=self.damping,
            dropout=self.dropout, spectral_norm=self.spectral_norm, norm_range=self.norm_range,
            input_mode=self.input_mode, jacobian_at=self.jacobian_at,
            forward_mode=self.forward_mode, analog_iterations=self.analog_iterations,
            seed=self.seed,
        )
        return config


@keras.saving.register_keras_serializable(package="snnzoo")
class RateBatchNorm(keras.layers.Layer):
    """BN for the input current of an event sequence [B, T, ..., C] (IDE-FSNN, spike inputs).

    Training: the batch statistics are those of the (λ-weighted) time average of the inputs —
    mean over (B, H, W) and unbiased variance, std = √(var + 1e-8) — and the same normalisation
    is applied to every step (the reference's ``BN_mean_var`` path); the running statistics are
    updated from them (momentum 0.1 in PyTorch terms). Inference: running statistics, ε = 1e-5.
    """

    def __init__(self, time_steps, leak=None, momentum=0.9, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.time_steps = int(time_steps)
        self.leak = check_leak(leak)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        if len(input_shape) < 3 or input_shape[1] != self.time_steps:
            raise ValueError(f"RateBatchNorm(time_steps={self.time_steps}) expects "
                             f"[batch, {self.time_steps}, ..., channels], got {tuple(input_shape)}")
        c = int(input_shape[-1])
        self.gamma = self.add_weight(name="gamma", shape=(c,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(c,), initializer="zeros")
        self.moving_mean = self.add_weight(name="moving_mean", shape=(c,), initializer="zeros",
                                           trainable=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=(c,),
                                               initializer="ones", trainable=False)
        super().build(input_shape)

    def call(self, inputs, training=None):
        if not training:
            scale = self.gamma / ops.sqrt(self.moving_variance + self.epsilon)
            return (inputs - self.moving_mean) * scale + self.beta
        lam = 1.0 if self.leak is None else self.leak
        T = self.time_steps
        w = np.array([lam ** (T - 1 - t) for t in range(T)])
        w = w / w.sum()
        w = ops.reshape(ops.convert_to_tensor(w, dtype=inputs.dtype),
                        (1, T) + (1,) * (len(inputs.shape) - 2))
        avg = ops.stop_gradient(ops.sum(inputs * w, axis=1))
        axes = tuple(range(len(avg.shape) - 1))
        mean, var = ops.moments(avg, axes=axes)
        n = 1
        for d in ops.shape(avg)[:-1]:
            n = n * d
        n = ops.cast(n, var.dtype)
        var = var * n / ops.maximum(n - 1.0, 1.0)
        std = ops.sqrt(var + 1e-8)
        self.moving_mean.assign(self.momentum * self.moving_mean + (1 - self.momentum) * mean)
        self.moving_variance.assign(self.momentum * self.moving_variance + (1 - self.momentum) * var)
        return (inputs - mean) / std * self.gamma + self.beta

    def get_config(self):
        config = super().get_config()
        config.update(time_steps=self.time_steps, leak=self.leak, momentum=self.momentum,
                      epsilon=self.epsilon)
        return config
