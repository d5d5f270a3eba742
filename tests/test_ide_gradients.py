"""FeedbackEquilibrium (IDE): implicit gradients vs finite differences of the SOLVED fixed point,
vs differentiating through unrolled fixed-point iterations, the spiking forward vs the authors'
loop, convergence of the rate to the fixed point, and the adjoint solvers."""
import numpy as np
import pytest
import keras
from keras import ops

from snnzoo.ide import FeedbackEquilibrium, module_apply, module_vjp
from snnzoo.ide.solvers import solve_adjoint
from tests.test_ide_helpers import (central_fd, equivalent, grads, np_module, power_step, rel_err,
                              simulate_rate, solve_fixed_point, sn_kernel, torch_layout_matrix)

F64 = "float32" if keras.backend.backend() == "jax" else "float64"  # JAX runs without x64


@pytest.fixture(autouse=True)
def _deterministic():
    keras.utils.set_random_seed(1234)  # fixed problem instances (weights, u/v start vectors)
TOL = 1e-4 if F64 == "float64" else 3e-3


def _np(t):
    if isinstance(t, keras.Variable):
        t = t.value
    if keras.backend.backend() == "torch":
        t = t.detach()
    return np.asarray(ops.convert_to_numpy(t), dtype=np.float64)


def _dot(out, c):
    return ops.sum(out * ops.convert_to_tensor(np.asarray(c), dtype=out.dtype))


def _analog_layer(feedback, in_shape, chain=(), solver="broyden", iters=40, g=0.7, analog=80):
    layer = FeedbackEquilibrium(feedback, chain=chain, forward_mode="analog", analog_iterations=analog,
                                solver=solver, solver_iterations=iters, dtype=F64)
    layer.build((None,) + tuple(in_shape))
    layer.fb_g.assign(g)
    return layer


def _subset(arr, n, rng):
    """n random multi-indices of ``arr`` (finite differences on a sample keep the test fast)."""
    flat = rng.choice(arr.size, size=min(n, arr.size), replace=False)
    return [np.unravel_index(i, arr.shape) for i in flat]


def _rel_on(got, ref, idx):
    got = np.array([got[i] for i in idx])
    ref = np.array([ref[i] for i in idx])
    return rel_err(got, ref)


def _fd_reference(layer, x1, c, chain_np=(), n_fd=None, rng=None):
    """Loss and FD gradients of L = Σ c ⊙ a*(x1, W, g) for the numpy fixed point."""
    kind = layer.feedback["kind"]
    W = _np(layer.feedback_module.kernel)
    g = float(_np(layer.fb_g))
    u1, v1 = power_step(torch_layout_matrix(W, kind), _np(layer.fb_u))
    fb = dict(layer.feedback)
    shape = (x1.shape[0],) + layer.compute_output_shape(x1.shape)[1:]

    start = {}

    def loss(W_, g_, x_):
        K = sn_kernel(W_, g_, u1, v1, kind)
        a = solve_fixed_point(lambda a: equivalent(a, x_, fb, K, chain_np), shape, a0=start.get("a"))
        start.setdefault("a", a)  # warm start for the perturbed problems
        return float(np.sum(a * c))

    ix = None if n_fd is None else _subset(x1, n_fd, rng)
    iw = None if n_fd is None else _subset(W, n_fd, rng)
    gx = central_fd(lambda x_: loss(W, g, x_), x1, index=ix)
    gW = central_fd(lambda w_: loss(w_, g, x1), W, index=iw)
    gg = (loss(W, g + 1e-6, x1) - loss(W, g - 1e-6, x1)) / 2e-6
    if n_fd is None:
        return gx, gW, gg
    return gx, gW, gg, ix, iw


@pytest.mark.parametrize("solver", ["broyden", "fixed_point"])
def test_dense_implicit_gradient_matches_fd_of_solved_fixed_point(solver):
    rng = np.random.default_rng(0)
    x1 = rng.uniform(-1.0, 3.0, (3, 6))
    c = rng.standard_normal((3, 6))
    layer = _analog_layer({"kind": "dense", "filters": 6}, (6,), solver=solver,
                          iters=60 if solver == "broyden" else 200, analog=400)
    gx, (gW, gg) = grads(lambda x: _dot(layer(x), c), x1.astype(F64),
                         [layer.feedback_module.kernel, layer.fb_g])
    rx, rW, rg = _fd_reference(layer, x1, c)
    assert np.abs(rx).max() > 1e-3 and np.abs(rW).max() > 1e-3 and abs(rg) > 1e-3
    assert rel_err(gx, rx) < TOL
    assert rel_err(gW, rW) < TOL
    assert abs(float(gg) - rg) / abs(rg) < TOL


def test_conv_implicit_gradient_matches_fd_of_solved_fixed_point():
    rng = np.random.default_rng(1)
    fb = {"kind": "conv", "filters": 2, "kernel_size": 3, "padding": 1}
    x1 = rng.uniform(-1.0, 3.0, (2, 4, 4, 2))
    c = rng.standard_normal((2, 4, 4, 2))
    layer = _analog_layer(fb, (4, 4, 2))
    gx, (gW, gg) = grads(lambda x: _dot(layer(x), c), x1.astype(F64),
                         [layer.feedback_module.kernel, layer.fb_g])
    rx, rW, rg, ix, iw = _fd_reference(layer, x1, c, n_fd=12, rng=rng)
    assert _rel_on(gx, rx, ix) < TOL
    assert _rel_on(gW, rW, iw) < TOL
    assert abs(float(gg) - rg) / abs(rg) < TOL


def test_multilayer_convtranspose_chain_gradient_reaches_bn_and_matches_fd():
    """AlexNet-F shape in miniature: layer 0 (4×4×2) → conv s2 + BN → (2×2×3) → ConvT feedback."""
    rng = np.random.default_rng(2)
    chain = [{"kind": "conv", "filters": 3, "kernel_size": 3, "strides": 2, "padding": 1,
              "use_bias": True, "batch_norm": True}]
    fb = {"kind": "conv_transpose", "filters": 2, "kernel_size": 3, "strides": 2, "padding": 1,
          "output_padding": 1}
    layer = _analog_layer(fb, (4, 4, 2), chain=chain)
    w = layer.chain_modules[0]
    w.bias.assign(rng.uniform(0.5, 1.0, 3))
    w.gamma.assign(rng.uniform(0.8, 1.2, 3))
    w.beta.assign(rng.uniform(0.5, 1.0, 3))
    w.moving_mean.assign(rng.uniform(-0.2, 0.2, 3))
    w.moving_variance.assign(rng.uniform(0.8, 1.5, 3))
    x1 = rng.uniform(-1.0, 3.0, (2, 4, 4, 2))
    c = rng.standard_normal((2, 2, 2, 3))
    variables = [layer.feedback_module.kernel, w.kernel, w.gamma, w.beta]
    gx, (gW, gK, ggam, gbeta) = grads(lambda x: _dot(layer(x, training=False), c),
                                      x1.astype(F64), variables)

    kind = "conv_transpose"
    W0 = _np(layer.feedback_module.kernel)
    u1, v1 = power_step(torch_layout_matrix(W0, kind), _np(layer.fb_u))
    K0, b0, mm, mv = (_np(getattr(w, k)) for k in ("kernel", "bias", "moving_mean", "moving_variance"))

    start = {}

    def loss(W=W0, K=K0, gam=_np(w.gamma), beta=_np(w.beta), x=x1):
        scale = gam / np.sqrt(mv + 1e-5)
        chain_np = [(chain[0], K, b0, scale, beta - mm * scale)]
        Weff = sn_kernel(W, 0.7, u1, v1, kind)
        a = solve_fixed_point(lambda a: equivalent(a, x, fb, Weff, chain_np), (2, 2, 2, 3),
                              a0=start.get("a"))
        start.setdefault("a", a)
        return float(np.sum(a * c))

    loss()

    ix, iW, iK = _subset(x1, 10, rng), _subset(W0, 10, rng), _subset(K0, 10, rng)
    rx = central_fd(lambda v: loss(x=v), x1, index=ix)
    rW = central_fd(lambda v: loss(W=v), W0, index=iW)
    rK = central_fd(lambda v: loss(K=v), K0, index=iK)
    rgam = central_fd(lambda v: loss(gam=v), _np(w.gamma))
    rbeta = central_fd(lambda v: loss(beta=v), _np(w.beta))
    assert np.abs(rgam).max() > 1e-3  # the BN parameters matter here
    for got, ref, idx in ((gx, rx, ix), (gW, rW, iW), (gK, rK, iK)):
        assert _rel_on(got, ref, idx) < TOL
    assert rel_err(ggam, rgam) < TOL and rel_err(gbeta, rbeta) < TOL


def test_implicit_gradient_equals_unrolled_fixed_point_iterations():
    """IFT gradient == gradient obtained by backpropagating through 300 unrolled iterations."""
    rng = np.random.default_rng(3)
    x1 = rng.uniform(-1.0, 3.0, (3, 5)).astype(F64)
    c = rng.standard_normal((3, 5))
    layer = _analog_layer({"kind": "dense", "filters": 5}, (5,), analog=400)
    kernel = layer.feedback_module.kernel
    gx, (gW,) = grads(lambda x: _dot(layer(x), c), x1, [kernel])

    def unrolled(x):
        a = ops.zeros_like(x)
        for _ in range(300):
            a = layer.fixed_point_map(a, x)
        return _dot(a, c)

    ux, (uW,) = grads(unrolled, x1, [kernel])
    assert rel_err(gx, ux) < TOL
    assert rel_err(gW, uW) < TOL


@pytest.mark.parametrize("decay", [None, 0.95])
def test_spiking_forward_matches_reference_loop(decay):
    rng = np.random.default_rng(4)
    layer = FeedbackEquilibrium({"kind": "dense", "filters": 7}, time_steps=12, decay=decay)
    x = rng.uniform(-1.0, 4.0, (4, 7)).astype("float32")
    out = _np(layer(x))
    ref = simulate_rate(x.astype(np.float64), {"kind": "dense"}, _np(layer.feedback_kernel()[0]), 12,
                        decay=decay)
    assert np.abs(out - ref).max() < 1e-5
    if decay is None:  # IF: the rate is a spike count / T
        assert np.allclose(out * 12, np.round(out * 12), atol=1e-4)


def test_rate_converges_to_fixed_point_as_T_grows():
    """‖f(a_T) − a_T‖ decreases over T = 10, 30, 100, 300 (IF; Theorem 1 of the paper)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0.0, 3.0, (8, 20)).astype("float32")
    residuals = []
    for T in (10, 30, 100, 300):
        layer = FeedbackEquilibrium({"kind": "dense", "filters": 20}, time_steps=T, seed=0)
        layer.build((None, 20))
        if T == 10:
            weights = [_np(v) for v in layer.weights]
        else:
            for v, w in zip(layer.weights, weights):
                v.assign(w)
        a = _np(layer(x))
        K = _np(layer.feedback_kernel()[0])
        residuals.append(np.linalg.norm(equivalent(a, x, {"kind": "dense"}, K) - a))
    assert all(r1 > r2 for r1, r2 in zip(residuals, residuals[1:])), residuals
    assert residuals[-1] < 0.1 * residuals[0], residuals


@pytest.mark.parity
def test_gradient_matches_numpy_implicit_function_theorem():
    """float32, every backend: ∂L/∂x₁ and ∂L/∂W from the IFT solved with numpy linear algebra."""
    rng = np.random.default_rng(6)
    n, vth = 6, 2.0
    layer = FeedbackEquilibrium({"kind": "dense", "filters": n}, forward_mode="analog",
                                analog_iterations=200, solver_iterations=40)
    layer.build((None, n))
    layer.fb_g.assign(0.8)
    x1 = rng.uniform(-1.0, 3.0, (3, n)).astype("float32")
    c = rng.standard_normal((3, n)).astype("float32")
    gx, (gW,) = grads(lambda x: _dot(layer(x), c), x1, [layer.feedback_module.kernel])

    W = _np(layer.feedback_module.kernel)
    u1, v1 = power_step(torch_layout_matrix(W, "dense"), _np(layer.fb_u))
    K = sn_kernel(W, 0.8, u1, v1, "dense")
    a = solve_fixed_point(lambda a: equivalent(a, x1.astype(np.float64), {"kind": "dense"}, K), (3, n))
    ref_x, G = np.zeros((3, n)), np.zeros_like(K)  # G = ∂L/∂K
    for b in range(3):
        pre = (a[b] @ K + x1[b]) / vth
        m = ((pre > 0) & (pre < 1)) / vth
        J = K * m[None, :]  # ∂f_j/∂a_i = K_ij m_j  (row-vector convention a ↦ a K)
        beta = np.linalg.solve(np.eye(n) - J, c[b])  # β = Jᵀ_std β + c
        ref_x[b] = beta * m
        G += np.outer(a[b], beta * m)
    sigma = u1 @ W.T @ v1
    # W_eff = 0.8·W/σ with σ = u1ᵀ Wᵀ v1 (dense: W_mat = kernelᵀ), u1/v1 fixed
    ref_W = 0.8 * G / sigma - 0.8 * np.sum(G * W) / sigma ** 2 * np.outer(v1, u1)
    assert rel_err(gx, ref_x) < 2e-4
    assert rel_err(gW, ref_W) < 2e-4


@pytest.mark.parity
@pytest.mark.parametrize("spec,in_shape", [
    ({"kind": "conv", "filters": 3, "kernel_size": 5, "strides": 2, "padding": 2}, (7, 7, 2)),
    ({"kind": "conv", "filters": 3, "kernel_size": 3, "strides": 1, "padding": 1}, (5, 5, 2)),
    ({"kind": "conv_transpose", "filters": 3, "kernel_size": 3, "strides": 2, "padding": 1,
      "output_padding": 1}, (4, 4, 2)),
])
def test_module_products_match_numpy_and_are_adjoint(spec, in_shape):
    from snnzoo.ide import module_spec

    spec = module_spec(spec)
    rng = np.random.default_rng(7)
    k = spec["kernel_size"]
    kshape = (k, k, in_shape[-1], 3) if spec["kind"] == "conv" else (k, k, 3, in_shape[-1])
    K = rng.standard_normal(kshape).astype("float32")
    x = rng.standard_normal((2,) + in_shape).astype("float32")
    y = _np(module_apply(spec, ops.convert_to_tensor(x), ops.convert_to_tensor(K)))
    ref = np_module(spec, x.astype(np.float64), K.astype(np.float64))
    assert y.shape == ref.shape and np.abs(y - ref).max() < 1e-4
    g = rng.standard_normal(y.shape).astype("float32")
    gx = _np(module_vjp(spec, ops.convert_to_tensor(g), ops.convert_to_tensor(K), in_shape))
    # adjoint identity <A x, g> = <x, Aᵀ g>
    assert abs(np.sum(ref * g) - np.sum(x * gx)) < 1e-3 * max(1.0, abs(np.sum(ref * g)))


@pytest.mark.parity
def test_adjoint_solvers_solve_the_linear_system():
    rng = np.random.default_rng(8)
    B, D = 3, 10
    A = rng.standard_normal((B, D, D)) * 0.25 / np.sqrt(D)
    rhs = rng.standard_normal((B, D))
    exact = np.stack([np.linalg.solve(np.eye(D) - A[b].T, rhs[b]) for b in range(B)])
    At = ops.convert_to_tensor(A.astype("float32"))

    def jt(beta):  # Jᵀβ per sample
        return ops.einsum("bij,bi->bj", At, beta)

    r = ops.convert_to_tensor(rhs.astype("float32"))
    broy = _np(solve_adjoint(jt, r, "broyden", 30))
    fixed = _np(solve_adjoint(jt, r, "fixed_point", 80, damping=0.5))
    assert np.abs(broy - exact).max() < 1e-4
    assert np.abs(fixed - exact).max() < 1e-4
    authors = _np(solve_adjoint(jt, r, "authors_iter", 80))  # solves β(2I − J) = rhs
    exact2 = np.stack([np.linalg.solve(2 * np.eye(D) - A[b].T, rhs[b]) for b in range(B)])
    assert np.abs(authors - exact2).max() < 1e-4
