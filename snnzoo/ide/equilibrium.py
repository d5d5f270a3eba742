"""Feedback spiking layer trained by implicit differentiation on the equilibrium state (IDE).

Xiao, Meng, Zhang, Wang, Lin, "Training Feedback Spiking Neural Networks by Implicit
Differentiation on the Equilibrium State", NeurIPS 2021 (IDE-FSNN).

Forward (no gradient is recorded): the T-step simulation of :mod:`snnzoo.ide.simulation`, with
threshold V_th (default 2.0) and decay k (``decay``)::

    u_i ← u_i + I_i[t];  s_i = Θ(u_i − V_th);  u_i ← k·(u_i − V_th·s_i)          (Eq. 1–2)
    rate a = Σ_t k^{T−1−t} s_last[t] / Σ_t k^t     (LIF; IF: k = 1, a = mean_t s)

The output is the last layer's (weighted) average firing rate a. For the gradient, a is treated
as the equilibrium a* = f(a*, x₁) of the equivalent function (Eq. 5/7)::

    h_0 = clip((D_fb ⊙ F_s(a) + x̄₁) / V_th, 0, 1),   h_i = clip(D_i ⊙ BN_i(S_i(h_{i−1})) / V_th, 0, 1)
    f(a, x₁) = h_{n−1}

and the gradient is computed by implicit differentiation (Eq. 9; :mod:`snnzoo.ide.implicit`):
solve β = J_fᵀ β + ∂L/∂a* (Broyden, 30 iterations, by default; :mod:`snnzoo.ide.solvers`), then
∂L/∂θ = βᵀ ∂f(a, x₁)/∂θ. The structure is the reference's Replace + Backward: z =
f(stop_gradient(a), x₁) is evaluated with ordinary autodiff, and a custom-gradient identity maps
z to the value a while its backward pass returns β.

Reference behaviour kept (facts from the authors' code): the Jacobian point is the rate a for a
single layer and f(a) for chains (``jacobian_at``); the feedback kernel is spectral-normalised
(:mod:`snnzoo.ide.spectral_norm`); dropout masks are fixed over time and shared by the
simulation, f and the adjoint; BN of the chain modules uses running statistics in the simulation
and in the adjoint, batch statistics in f during training (:mod:`snnzoo.layers.batch_stats`;
PyTorch's momentum 0.1 and ε = 1e-5, ``bn_momentum`` / ``bn_epsilon``).
Simplification: BN layers *before* this layer (the input module) run once per step, so their
running statistics get one EMA update per batch (the reference updates them twice with the same
batch statistics).
"""
import numpy as np
import keras
from keras import ops

from snnzoo.ide import solvers, spectral_norm as sn
from snnzoo.ide.decay import LeakAlias, rate_norm, resolve_decay, time_average
from snnzoo.ide.implicit import implicit_identity, jacobian_multipliers, transpose_jacobian_product
from snnzoo.ide.module_layer import IDEModule
from snnzoo.ide.modules import check_rank, module_spec, out_shape
from snnzoo.ide.simulation import simulate

__all__ = ["FeedbackEquilibrium"]


@keras.saving.register_keras_serializable(package="snnzoo")
class FeedbackEquilibrium(LeakAlias, keras.layers.Layer):
    """IDE feedback spiking layer: input current x₁ → equilibrium firing rate (module docstring).

    Args:
        feedback: module dict for the feedback connection F_s (last layer → layer 0), e.g.
            ``{"kind": "dense", "filters": 400}`` or ``{"kind": "conv", "filters": 64,
            "kernel_size": 5, "padding": 2}``. No bias / BN by default (reference).
        chain: list of module dicts for the feed-forward modules S_1…S_{n−1} after layer 0
            (multi-layer nets such as AlexNet-F); empty for a single feedback layer.
        time_steps: T, simulation steps.
        v_threshold: V_th (2.0 in the reference).
        decay: membrane decay factor k = 1 − 1/τ of the LIF model, in (0, 1] (e.g. 0.95);
            ``None`` or ``1.0`` selects IF. Other values raise a ValueError. ``leak`` is its
            deprecated name (still accepted, with a DeprecationWarning; old configs load).
        solver: adjoint solver, ``"broyden"`` | ``"fixed_point"`` | ``"authors_iter"``
            (:func:`snnzoo.ide.solvers.solve_adjoint`).
        solver_iterations: iterations of the adjoint solver (the reference's ``threshold`` = 30).
        damping: step of the ``"fixed_point"`` solver.
        dropout: rate of the variational dropout on every module output (mask per element,
            fixed over time, training only).
        spectral_norm: spectral-normalise the feedback kernel with a learnable clamped scale g.
        norm_range: clamp range r of g.
        input_mode: ``"constant"`` (x₁ [B, ...], injected every step) or ``"sequence"``
            (x₁ [B, T, ...], one input current per step; f then uses its (k-weighted) time
            average).
        jacobian_at: ``"rate"`` (J_f at a) or ``"map"`` (J_f at f(a)); default: ``"rate"`` for a
            single layer, ``"map"`` for chains (the reference).
        forward_mode: ``"spiking"`` (the SNN simulation) or ``"analog"`` (the fixed point of f by
            ``analog_iterations`` plain iterations — the ANN equilibrium, for tests/analysis).
        analog_iterations: iterations of the analog forward.
        seed: seed of the dropout masks.
        bn_momentum: momentum of the chain BN's running statistics (Keras convention: 0.9 is
            PyTorch's 0.1, the reference's).
        bn_epsilon: ε of the chain BN (the reference's 1e-5).

    Call arguments:
        inputs: the input current x₁ of layer 0, ``[B, *layer0_shape]`` (``input_mode=
            "constant"``) or ``[B, T, *layer0_shape]`` (``"sequence"``).
        training: dropout masks and batch statistics of the chain's BN if true.

    Returns:
        The (k-weighted) average firing rate of the last layer, ``[B, *last_shape]``; its
        gradient is the implicit one (Eq. 9), not backpropagation through the T steps.

    Example:

    ```python
    import numpy as np
    from snnzoo.ide import FeedbackEquilibrium

    layer = FeedbackEquilibrium({"kind": "dense", "filters": 16}, time_steps=5, decay=0.95)
    rate = layer(np.random.rand(2, 16).astype("float32"))   # [2, 16], values in [0, 1]
    ```
    """

    def __init__(self, feedback, chain=(), time_steps=30, v_threshold=2.0, decay=None,
                 solver="broyden", solver_iterations=30, damping=0.5, dropout=0.0,
                 spectral_norm=True, norm_range=1.0, input_mode="constant", jacobian_at=None,
                 forward_mode="spiking", analog_iterations=100, seed=None, bn_momentum=0.9,
                 bn_epsilon=1e-5, **kwargs):
        decay = resolve_decay(decay, kwargs, "FeedbackEquilibrium")
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
        self.decay = decay
        if solver not in solvers.SOLVERS:
            raise ValueError(f"solver must be one of {solvers.SOLVERS}, got {solver!r}")
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
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        self.seed_generator = keras.random.SeedGenerator(seed) if self.dropout > 0 else None
        # the modules as sub-layers; distinct seed streams for their kernels
        seeds = [None if seed is None else int(seed) + 7919 * i for i in range(len(self.chain) + 2)]
        bn = dict(bn_momentum=self.bn_momentum, bn_epsilon=self.bn_epsilon, dtype=self.dtype_policy)
        self.chain_modules = [IDEModule(spec, seed=seeds[i + 1], name=f"chain{i}", **bn)
                              for i, spec in enumerate(self.chain)]
        self.feedback_module = IDEModule(self.feedback, seed=seeds[len(self.chain) + 1],
                                         name="feedback", **bn)

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
            check_rank(spec, self._shapes[-1], f"chain[{i}]")
            self._shapes.append(out_shape(spec, self._shapes[-1]))
        check_rank(self.feedback, self._shapes[-1], "feedback")
        fb_out = out_shape(self.feedback, self._shapes[-1])
        if tuple(fb_out) != self._shapes[0]:
            raise ValueError(
                f"feedback maps the last layer {self._shapes[-1]} to {fb_out}, but layer 0 (the "
                f"input current) has shape {self._shapes[0]}; adjust the feedback module")

        for module, shape in zip(self.chain_modules, self._shapes):
            module.build((None,) + shape)
        self.feedback_module.build((None,) + self._shapes[-1])
        if self.spectral_norm:
            kernel = self.feedback_module.kernel
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

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(self._output_features(input_shape))

    def _output_features(self, input_shape):
        shape = tuple(input_shape[2:] if self.input_mode == "sequence" else input_shape[1:])
        for spec in self.chain:
            shape = out_shape(spec, shape)
        return shape

    # -- pieces -----------------------------------------------------------------------------------
    def feedback_kernel(self, training=False):
        """The effective feedback kernel (spectral-normalised) and the new (u, v) or None."""
        kernel = self.feedback_module.kernel.value
        if not self.spectral_norm:
            return kernel, None
        w, u, v = sn.spectral_normalize(kernel, self.fb_g.value, self.fb_u.value, self.fb_v.value,
                                        self.feedback["kind"], self.norm_range)
        return w, (u, v)

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
        fb = self.feedback_module.inference(a, fb_kernel, stop=stop)  # (no BN on the feedback)
        if masks is not None:
            fb = fb * masks[-1]
        pre = (fb + x_bar) / vth
        pres = [pre]
        h = ops.clip(pre, 0.0, 1.0)
        for i, module in enumerate(self.chain_modules):
            y = module.training_forward(h) if training else module.inference(h, stop=stop)
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
        return time_average(x_seq, self.decay, rate_norm(self.decay, self.time_steps))

    # -- forward simulation (no gradient) ---------------------------------------------------------
    def simulate(self, x1, fb_kernel, masks=None):
        """Firing rate of the last layer after T steps (stop-gradient; :mod:`snnzoo.ide.simulation`)."""
        fbk = ops.stop_gradient(fb_kernel)
        chain = [self.chain_module(i, spec) for i, spec in enumerate(self.chain)]
        return simulate(x1, lambda s: self.feedback_module.linear(s, fbk), chain, self._shapes,
                        self.time_steps, self.v_threshold, self.decay,
                        sequence=self.input_mode == "sequence", masks=masks,
                        feedback_bias=None if self.feedback_module.bias is None
                        else self.feedback_module.bias.value)

    @property
    def layer_shapes(self):
        """Per-sample shapes of the layers 0…n−1 of the feedback network (after ``build``)."""
        return list(self._shapes)

    def chain_module(self, i, spec):
        """``s -> S_i(s)``: chain module ``i`` in inference mode (BN with moving statistics),
        without gradient to its weights — one step of the simulation (``ide/simulation.py``)."""
        module = self.chain_modules[i]
        kernel = ops.stop_gradient(module.kernel.value)
        return lambda s: module.inference(s, kernel, stop=True)

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
    def _multipliers(self, pres, masks):
        """Per-layer diagonal factors of J_f (:func:`snnzoo.ide.implicit.jacobian_multipliers`)."""
        scales = [m.bn_affine(pres[i + 1].dtype)[0] if m.gamma is not None else None
                  for i, m in enumerate(self.chain_modules)]
        return jacobian_multipliers(pres, self.v_threshold, masks, scales)

    def _implicit_op(self, n_mults):
        product = transpose_jacobian_product(self.feedback, self.chain, self._shapes)
        return implicit_identity(product, n_mults, self.solver, self.solver_iterations,
                                 self.damping)

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
        kernels = [ops.stop_gradient(fb_kernel)] + [ops.stop_gradient(m.kernel.value)
                                                    for m in self.chain_modules]
        return self._implicit_op(len(mults))(z, a, *mults, *kernels)

    # -- saving -----------------------------------------------------------------------------------
    def _single_layer_layout(self):
        """The variables as files written before the modules became sub-layers stored them, all
        in this layer: the trainable ones in creation order (per chain module, then the feedback:
        kernel, bias, γ, β; then g), then the non-trainable ones (running mean, variance; u, v)."""
        created = [v for m in self.chain_modules + [self.feedback_module] for v in
                   (m.kernel, m.bias, m.gamma, m.beta, m.moving_mean, m.moving_variance)
                   if v is not None]
        if self.spectral_norm:
            created += [self.fb_g, self.fb_u, self.fb_v]
        return [v for v in created if v.trainable] + [v for v in created if not v.trainable]

    def load_own_variables(self, store):
        """Keras' loader, plus the single-layer layout of older files (``.weights.h5`` and
        ``.keras`` written by snnzoo before the modules became :class:`IDEModule` sub-layers):
        their variables are all stored under this layer and are assigned to the modules here."""
        legacy = self._single_layer_layout()
        own = self._trainable_variables + self._non_trainable_variables
        if len(store.keys()) == len(legacy) != len(own):
            for i, variable in enumerate(legacy):
                variable.assign(store[str(i)])
            for module in self.chain_modules + [self.feedback_module]:
                module.loaded_by_parent = True
            return
        super().load_own_variables(store)

    def get_config(self):
        config = super().get_config()
        config.update(
            feedback=dict(self.feedback), chain=[dict(m) for m in self.chain],
            time_steps=self.time_steps, v_threshold=self.v_threshold, decay=self.decay,
            solver=self.solver, solver_iterations=self.solver_iterations, damping=self.damping,
            dropout=self.dropout, spectral_norm=self.spectral_norm, norm_range=self.norm_range,
            input_mode=self.input_mode, jacobian_at=self.jacobian_at,
            forward_mode=self.forward_mode, analog_iterations=self.analog_iterations,
            seed=self.seed, bn_momentum=self.bn_momentum, bn_epsilon=self.bn_epsilon,
        )
        return config
