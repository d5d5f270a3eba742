"""Spectral normalisation of feedback kernels with a learnable, clamped scale (IDE-FSNN).

Xiao et al., "Training Feedback Spiking Neural Networks by Implicit Differentiation on the
Equilibrium State", NeurIPS 2021, Sec. 4.3 (re-parameterisation that keeps the feedback map
contractive)::

    W_eff = clamp(g, −r, r) · W / σ(W),      σ(W) = uᵀ W_mat v,   r = norm_range (1.0)

* ``W_mat`` is the kernel reshaped in **PyTorch layout** to ``(dim0, −1)``: (out, in) for a dense
  layer, (out, in·k·k) for a convolution and (in, out·k·k) for a transposed convolution (PyTorch
  stores ConvTranspose weights as (in, out, k, k)). For a transposed convolution this is the norm
  of the reshaped matrix, not the operator norm — as in the reference code.
* ``u``, ``v`` come from one power iteration per forward pass, started from the stored ``u``
  (``v ← normalize(W_matᵀ u)``, ``u ← normalize(W_mat v)``), and are treated as constants when
  differentiating (∂σ/∂W = u vᵀ).
* ``g`` is one learnable scalar initialised to σ(W₀) from 10 power iterations from a fresh random
  start.

Keras kernel layouts handled here: dense (in, out); conv (kh, kw, in, out); conv-transpose
(kh, kw, out, in). Both conv layouts map to PyTorch's by the transpose (3, 2, 0, 1).
"""
import numpy as np
from keras import ops

from snnzoo.ide.modules import KINDS

__all__ = ["initial_state", "kernel_to_matrix", "kernel_to_matrix_numpy", "matrix_shape",
           "power_iteration", "spectral_norm_numpy", "spectral_normalize"]


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kernel kind must be one of {KINDS}, got {kind!r}")


def kernel_to_matrix(kernel, kind):
    """The PyTorch-layout matrix ``W_mat`` of a Keras kernel (keras.ops, differentiable)."""
    _check_kind(kind)
    if kind == "dense":
        return ops.transpose(kernel)
    torch_layout = ops.transpose(kernel, (3, 2, 0, 1))
    return ops.reshape(torch_layout, (kernel.shape[3], -1))


def kernel_to_matrix_numpy(kernel, kind):
    """numpy twin of :func:`kernel_to_matrix`."""
    _check_kind(kind)
    kernel = np.asarray(kernel)
    if kind == "dense":
        return kernel.T
    return np.transpose(kernel, (3, 2, 0, 1)).reshape(kernel.shape[3], -1)


def matrix_shape(kernel_shape, kind):
    """(rows, cols) of ``W_mat`` for a Keras kernel shape: the shapes of ``u`` and ``v``."""
    _check_kind(kind)
    if kind == "dense":
        return int(kernel_shape[1]), int(kernel_shape[0])
    rows = int(kernel_shape[3])
    cols = int(np.prod(kernel_shape)) // rows
    return rows, cols


def _normalize(x, eps):
    # torch.nn.functional.normalize: x / max(||x||, eps)
    norm = ops.sqrt(ops.sum(ops.square(x)))
    return x / ops.maximum(norm, eps)


def _mv(mat, vec):
    # einsum keeps float64 on every backend (ops.matmul on torch returns float32 for float64)
    return ops.einsum("ij,j->i", mat, vec)


def power_iteration(w_mat, u, v, iterations=1, eps=1e-12):
    """``iterations`` steps of v ← normalize(Wᵀu), u ← normalize(W v); no gradient."""
    w_mat = ops.stop_gradient(w_mat)
    for _ in range(int(iterations)):
        v = _normalize(_mv(ops.transpose(w_mat), u), eps)
        u = _normalize(_mv(w_mat, v), eps)
    return ops.stop_gradient(u), ops.stop_gradient(v)


def spectral_normalize(kernel, g, u, v, kind, norm_range=1.0, iterations=1, eps=1e-12):
    """Return ``(W_eff, u_new, v_new)`` with W_eff = clamp(g, ±r)·W/σ, σ = u_newᵀ W_mat v_new.

    Differentiable w.r.t. ``kernel`` (through W and σ, with u, v held fixed) and ``g``.
    """
    w_mat = kernel_to_matrix(kernel, kind)
    u_new, v_new = power_iteration(w_mat, u, v, iterations, eps)
    sigma = ops.sum(u_new * _mv(w_mat, v_new))
    scale = ops.clip(g, -norm_range, norm_range)
    return kernel * (scale / sigma), u_new, v_new


def spectral_norm_numpy(w_mat, iterations=10, rng=None, eps=1e-12):
    """σ(W) by ``iterations`` power iterations from a random start (the initial value of g)."""
    rng = np.random.default_rng() if rng is None else rng
    w_mat = np.asarray(w_mat, dtype=np.float64)
    u = rng.standard_normal(w_mat.shape[0])
    v = rng.standard_normal(w_mat.shape[1])
    u /= max(np.linalg.norm(u), eps)
    v /= max(np.linalg.norm(v), eps)
    for _ in range(iterations):
        v = w_mat.T @ u
        v /= max(np.linalg.norm(v), eps)
        u = w_mat @ v
        u /= max(np.linalg.norm(u), eps)
    return float(u @ (w_mat @ v))


def initial_state(kernel, kind, rng=None, eps=1e-12):
    """``(g0, u0, v0)`` for a kernel value: g0 = σ(W₀) (10 power iterations), u0/v0 random unit
    vectors (the reference initialisation)."""
    rng = np.random.default_rng() if rng is None else rng
    w_mat = kernel_to_matrix_numpy(kernel, kind)
    u0 = rng.standard_normal(w_mat.shape[0])
    v0 = rng.standard_normal(w_mat.shape[1])
    u0 /= max(np.linalg.norm(u0), eps)
    v0 /= max(np.linalg.norm(v0), eps)
    g0 = spectral_norm_numpy(w_mat, 10, rng, eps)
    return g0, u0, v0
