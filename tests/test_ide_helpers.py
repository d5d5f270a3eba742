"""Independent numpy references for the IDE tests, plus checks of those references themselves.

Written from the paper's equations and the authors' published formulas (IDE-FSNN), not from
snnzoo's code: PyTorch-semantics convolutions in numpy (NHWC), the equivalent function, its fixed
point, spectral normalisation with one power step, finite differences, and a per-backend gradient
helper.
"""
import numpy as np
import keras


# -- numpy convolutions with PyTorch padding semantics (channels last) ----------------------------
def np_conv(x, k, stride=1, pad=0):
    """x [B,H,W,I], k [kh,kw,I,O] (cross-correlation, symmetric zero padding)."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    kh, kw = k.shape[:2]
    ho = (x.shape[1] - kh) // stride + 1
    wo = (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], ho, wo, k.shape[3]))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + stride * ho:stride, j:j + stride * wo:stride, :]
            out += np.einsum("bhwi,io->bhwo", patch, k[i, j])
    return out


def np_conv_transpose(x, k, stride=1, pad=0, output_pad=0):
    """x [B,H,W,I], k [kh,kw,O,I] (Keras conv-transpose layout); PyTorch output size
    (H−1)·s − 2p + k + output_padding."""
    b, h, w, _ = x.shape
    kh, kw, o, _ = k.shape
    full = np.zeros((b, (h - 1) * stride + kh + output_pad, (w - 1) * stride + kw + output_pad, o))
    for i in range(kh):
        for j in range(kw):
            full[:, i:i + stride * h:stride, j:j + stride * w:stride, :] += np.einsum(
                "bhwi,oi->bhwo", x, k[i, j])
    ho = (h - 1) * stride - 2 * pad + kh + output_pad
    wo = (w - 1) * stride - 2 * pad + kw + output_pad
    return full[:, pad:pad + ho, pad:pad + wo, :]


def np_module(spec, x, kernel):
    kind = spec["kind"]
    if kind == "dense":
        return x @ kernel
    if kind == "conv":
        return np_conv(x, kernel, spec.get("strides", 1), spec.get("padding", 0))
    return np_conv_transpose(x, kernel, spec.get("strides", 1), spec.get("padding", 0),
                             spec.get("output_padding", 0))


# -- spectral norm (reference formula: one power step from the stored u, then W·clamp(g)/σ) -------
def torch_layout_matrix(kernel, kind):
    if kind == "dense":
        return kernel.T
    return np.transpose(kernel, (3, 2, 0, 1)).reshape(kernel.shape[3], -1)


def power_step(w_mat, u):
    v = w_mat.T @ u
    v = v / max(np.linalg.norm(v), 1e-12)
    u = w_mat @ v
    u = u / max(np.linalg.norm(u), 1e-12)
    return u, v


def sn_kernel(kernel, g, u1, v1, kind):
    """W_eff with (u1, v1) the power-step vectors, held fixed."""
    sigma = u1 @ torch_layout_matrix(kernel, kind) @ v1
    return np.clip(g, -1, 1) * kernel / sigma


# -- the equivalent function and its fixed point ---------------------------------------------------
def equivalent(a, x, fb_spec, fb_kernel, chain=(), vth=2.0):
    """f(a, x) = chain(clip((F_s a + x)/vth, 0, 1)); chain = [(spec, kernel, bias, scale, shift)]
    with BN folded into scale/shift (inference BN)."""
    h = np.clip((np_module(fb_spec, a, fb_kernel) + x) / vth, 0, 1)
    for spec, kernel, bias, scale, shift in chain:
        y = np_module(spec, h, kernel) + bias
        h = np.clip((y * scale + shift) / vth, 0, 1)
    return h


def solve_fixed_point(fn, shape, iterations=2000, tol=1e-14, a0=None):
    a = np.zeros(shape) if a0 is None else a0
    for _ in range(iterations):
        new = fn(a)
        if np.max(np.abs(new - a)) < tol:
            return new
        a = new
    return a


def central_fd(fun, arr, eps=1e-6, index=None):
    """Central finite differences of scalar ``fun`` w.r.t. ``arr`` (all entries, or ``index``)."""
    g = np.zeros_like(arr)
    idxs = list(np.ndindex(arr.shape)) if index is None else index
    for idx in idxs:
        a1 = arr.copy()
        a1[idx] += eps
        a2 = arr.copy()
        a2[idx] -= eps
        g[idx] = (fun(a1) - fun(a2)) / (2 * eps)
    return g


# -- authors' simulation (IF / LIF, subtract reset), single layer ----------------------------------
def simulate_rate(x, fb_spec, fb_kernel, T, vth=2.0, decay=None):
    lam = 1.0 if decay is None else decay
    u = x.copy()
    s = (u >= vth).astype(x.dtype)
    u = (u - vth * s) * lam
    a = s.copy()
    for _ in range(T - 1):
        u = u + np_module(fb_spec, s, fb_kernel) + x
        s = (u >= vth).astype(x.dtype)
        u = (u - vth * s) * lam
        a = a * lam + s
    return a / (T if decay is None else (1 - lam ** T) / (1 - lam))


# -- gradients through each backend's autodiff ----------------------------------------------------
def grads(loss_fn, x, variables):
    """``loss_fn(x_tensor)`` → scalar; returns (dL/dx, [dL/dv for v in variables]) as numpy."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        xt = torch.tensor(x, requires_grad=True)
        for v in variables:
            v.value.grad = None
        loss = loss_fn(xt)
        loss.backward()
        return xt.grad.numpy(), [v.value.grad.numpy() for v in variables]
    if backend == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = loss_fn(xt)
        out = tape.gradient(loss, [xt] + [v.value for v in variables])
        return np.asarray(out[0]), [np.asarray(g) for g in out[1:]]
    import jax

    def f(xv, vals):
        with keras.StatelessScope(state_mapping=list(zip(variables, vals))):
            return loss_fn(xv)

    gx, gv = jax.grad(f, argnums=(0, 1))(x, [v.value for v in variables])
    return np.asarray(gx), [np.asarray(g) for g in gv]


def rel_err(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-12))


# -- the references themselves, against PyTorch's own operators ------------------------------------
def test_numpy_convolutions_match_torch():
    import torch

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 6, 3))
    k = rng.standard_normal((3, 3, 3, 4))
    ref = torch.nn.functional.conv2d(torch.tensor(np.moveaxis(x, -1, 1)),
                                     torch.tensor(np.transpose(k, (3, 2, 0, 1))), stride=2, padding=1)
    assert np.allclose(np_conv(x, k, 2, 1), np.moveaxis(ref.numpy(), 1, -1), atol=1e-12)
    kt = rng.standard_normal((3, 3, 5, 3))  # Keras (kh, kw, out, in)
    ref = torch.nn.functional.conv_transpose2d(
        torch.tensor(np.moveaxis(x, -1, 1)), torch.tensor(np.transpose(kt, (3, 2, 0, 1))),
        stride=2, padding=1, output_padding=1)
    assert np.allclose(np_conv_transpose(x, kt, 2, 1, 1), np.moveaxis(ref.numpy(), 1, -1), atol=1e-12)
