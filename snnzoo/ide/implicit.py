"""The implicit gradient of an IDE equilibrium (Xiao et al., NeurIPS 2021, Eq. 9).

The simulated rate a is treated as the fixed point a* = f(a*, x₁) of the equivalent map f
(:class:`~snnzoo.ide.equilibrium.FeedbackEquilibrium`). With z = f(stop_gradient(a), x₁)
evaluated by ordinary autodiff, a custom-gradient identity maps z to the value a and returns, in
its backward pass, the solution β of the adjoint equation (Bai et al., NeurIPS 2019, Eq. 8)::

    β = J_fᵀ β + ∂L/∂a*,     then  ∂L/∂θ = βᵀ ∂f(a, x₁)/∂θ   (the autodiff of z).

J_f is diagonal-times-linear per layer: J_f = Π_i diag(m_i) W_i with m_i = 1[0 < pre_i < 1]/V_th
(⊙ dropout mask ⊙ BN scale) — :func:`jacobian_multipliers`; J_fᵀβ runs the module transposes
backwards (:func:`transpose_jacobian_product`). The weights enter the custom gradient as explicit
tensors (a weight captured in a closure silently gets no gradient on torch; docs/backends.md).
"""
from keras import ops

from snnzoo.backend import custom_gradient
from snnzoo.ide.modules import module_vjp
from snnzoo.ide.solvers import solve_adjoint

__all__ = ["implicit_identity", "jacobian_multipliers", "transpose_jacobian_product"]


def jacobian_multipliers(pres, v_threshold, masks=None, bn_scales=None):
    """Per-layer diagonal factors of J_f: 1[0 < pre < 1]/V_th ⊙ dropout ⊙ BN scale.

    ``pres[i]``: the pre-activation (·)/V_th of layer i; ``masks``: dropout masks (``masks[-1]``
    for the feedback into layer 0, ``masks[i − 1]`` for layer i); ``bn_scales[i − 1]``: the BN
    scale γ/√(σ² + ε) of chain module i − 1, or None.
    """
    mults = []
    for i, pre in enumerate(pres):
        m = ops.cast(ops.logical_and(ops.greater(pre, 0.0), ops.less(pre, 1.0)), pre.dtype)
        m = m / v_threshold
        if masks is not None:
            m = m * (masks[-1] if i == 0 else masks[i - 1])
        if i > 0 and bn_scales is not None and bn_scales[i - 1] is not None:
            m = m * bn_scales[i - 1]
        mults.append(ops.stop_gradient(m))
    return mults


def transpose_jacobian_product(feedback, chain, shapes):
    """``(β [B, D_last], mults, kernels) -> J_fᵀβ [B, D_last]``: the reverse pass through the
    chain modules, then the feedback (``kernels[0]`` the feedback's, ``kernels[i + 1]`` chain
    module i's; ``shapes`` the per-sample shapes of the layers)."""

    def product(beta_flat, mults, kernels):
        g = ops.reshape(beta_flat, (-1,) + tuple(shapes[-1]))
        for i in range(len(chain) - 1, -1, -1):
            g = module_vjp(chain[i], g * mults[i + 1], kernels[i + 1], shapes[i])
        g = module_vjp(feedback, g * mults[0], kernels[0], shapes[-1])
        return ops.reshape(g, (ops.shape(g)[0], -1))

    return product


def implicit_identity(jt_product, n_mults, solver="broyden", iterations=30, damping=0.5):
    """``op(z, a, *mults, *kernels)``: the value ``a`` (shaped as z) whose gradient w.r.t. z is
    the adjoint solution β (:func:`~snnzoo.ide.solvers.solve_adjoint` with ``jt_product``)."""

    def fwd(z, a, *rest):
        mults, kernels = rest[:n_mults], rest[n_mults:]
        out = a * ops.ones_like(z)

        def vjp(upstream):
            rhs = ops.reshape(upstream, (ops.shape(upstream)[0], -1))
            beta = solve_adjoint(lambda b: jt_product(b, mults, kernels), rhs, solver, iterations,
                                 damping)
            grads = (ops.reshape(beta, ops.shape(z)), ops.zeros_like(a))
            return grads + tuple(ops.zeros_like(r) for r in rest)

        return out, vjp

    return custom_gradient(fwd)
