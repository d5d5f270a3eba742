"""The forward simulation of an IDE feedback SNN: T steps, no gradient.

Xiao et al., "Training Feedback Spiking Neural Networks by Implicit Differentiation on the
Equilibrium State", NeurIPS 2021, Eq. 1–2. Layer 0 receives the input current x₁[t] (the same
current every step, or one per step for event inputs) plus the feedback F_s(s_last[t−1]) of the
last layer's spikes (none at t = 0: its bias is gated off); layers 1…n−1 are driven by the
CURRENT step's spikes of the layer before (the chain S_i), with subtract reset::

    u_i ← u_i + I_i[t];   s_i = Θ(u_i − V_th);   u_i ← k·(u_i − V_th·s_i)
    a = Σ_t k^{T−1−t} s_last[t] / Σ_t k^t        (k = ``decay``; IF: k = 1, a = mean_t s)

The loop runs on :func:`snnzoo.backend.time_loop` (unrolled up to ``UNROLL_MAX`` = 4 steps and
always on torch; a compiled loop on JAX / TensorFlow for longer simulations).
"""
from keras import ops

from snnzoo.backend import time_loop
from snnzoo.ide.decay import rate_norm

__all__ = ["UNROLL_MAX", "simulate", "simulation_step"]

#: Simulations up to this many steps are unrolled (the compiled loops pay off beyond).
UNROLL_MAX = 4


def simulate(x1, feedback, chain, shapes, time_steps, v_threshold, decay, sequence=False,
             feedback_bias=None, masks=None):
    """The (weighted) average firing rate of the last layer after T steps (stop-gradient).

    Args:
        x1: input current of layer 0, ``[B, *shapes[0]]`` or, with ``sequence``, ``[B, T, ...]``.
        feedback: ``s_last -> F_s(s_last)``, the feedback module's linear part (no bias).
        chain: per chain module ``s -> S_i(s)`` (BN in inference mode), in order.
        shapes: per-sample shapes of the layers 0…n−1.
        time_steps: T. v_threshold: V_th. decay: k, ``None`` for IF.
        feedback_bias: the feedback module's bias (added from t = 1 on) or None.
        masks: dropout masks (``masks[i]`` for chain[i], ``masks[-1]`` for the feedback) or None.
    """
    vth, T = v_threshold, int(time_steps)
    lam = 1.0 if decay is None else decay
    x1 = ops.stop_gradient(x1)
    fb_bias = None if feedback_bias is None else ops.stop_gradient(feedback_bias)
    masks = None if masks is None else [ops.stop_gradient(m) for m in masks]
    dtype = x1.dtype
    batch = ops.shape(x1)[0]
    last0 = ops.zeros((batch,) + tuple(shapes[-1]), dtype=dtype)
    state = (tuple(ops.zeros((batch,) + tuple(s), dtype=dtype) for s in shapes), last0,
             ops.zeros_like(last0), ops.zeros((), dtype=dtype))  # gate: 0 at t = 0, then 1

    def step(carry, x_t):
        us, s_last, acc, gate = carry
        bias = None if fb_bias is None else fb_bias * gate  # no feedback at t = 0
        new_us, spikes = simulation_step(us, s_last, x_t if sequence else x1, feedback, chain, vth,
                                         decay, feedback_bias=bias, masks=masks)
        s = spikes[-1]
        acc = acc * lam + s if decay is not None else acc + s
        return (tuple(new_us), s, acc, ops.ones_like(gate)), None

    # constant input: T steps without a per-step input (the steps read x1 itself)
    state, _ = time_loop(step, state, x1 if sequence else None, unroll_max=UNROLL_MAX, length=T)
    return ops.stop_gradient(state[2] / rate_norm(decay, T))


def simulation_step(us, s_last, x_t, feedback, chain, v_threshold, decay, feedback_bias=None, masks=None):
    """One step t of the simulation (module docstring), shared by :func:`simulate`, the
    streaming rule of ``FeedbackEquilibrium`` and the profile's spike count::

        u_0 ← u_0 + F_s(s_last[t−1]) (+ b) + x₁[t];   u_i ← u_i + S_i(s_{i−1}[t])
        s_i = Θ(u_i − V_th);   u_i ← k·(u_i − V_th·s_i)      (IF: no k)

    Args:
        us: membranes u_0…u_{n−1} after step t − 1. s_last: the last layer's spikes of step t − 1.
        x_t: the input current of layer 0 at step t. feedback, chain: as for :func:`simulate`.
        v_threshold: V_th. decay: k, ``None`` for IF.
        feedback_bias: the bias to add to the feedback this step (already gated off at t = 0) or
            None. masks: dropout masks as for :func:`simulate`, or None.

    Returns:
        ``(membranes, spikes)``: the lists of u_i and s_i after step t.
    """
    dtype = x_t.dtype

    def fire(u):
        s = ops.cast(ops.greater_equal(u, v_threshold), dtype)
        u = u - v_threshold * s
        return (u * decay if decay is not None else u), s

    fb = feedback(s_last)
    if feedback_bias is not None:
        fb = fb + feedback_bias
    if masks is not None:
        fb = fb * masks[-1]
    u, s = fire(us[0] + fb + x_t)
    new_us, spikes = [u], [s]
    for i, module in enumerate(chain):
        y = module(s)
        if masks is not None:
            y = y * masks[i]
        u, s = fire(us[i + 1] + y)
        new_us.append(u)
        spikes.append(s)
    return new_us, spikes
