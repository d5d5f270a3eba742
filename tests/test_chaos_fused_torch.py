"""The torch fast path of the chaotic loss (snnzoo/backend/torch_chaos.py) against the generic
keras.ops path and against the paper's formula written directly in torch (autograd)."""
import keras
import numpy as np
import pytest

if keras.backend.backend() != "torch":
    pytest.skip("torch fast path", allow_module_level=True)

import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from snnzoo.chaos import ChaoticRegularizer  # noqa: E402

CONFIGS = [
    {"form": "paper"},
    {"form": "code"},
    {"form": "paper", "reduction": "sum"},
    {"form": "paper", "reduction": "mean", "temperature": 3.0},
    {"form": "paper", "clamp": (-0.5, 0.4)},
    {"form": "paper", "time_axis": None},
    {"form": "code", "reduction": "batch_mean", "clamp": False},
    {"form": "paper", "time_axis": -1},
]


def _fused_and_generic(reg, x_np, dtype=torch.float32):
    out = []
    for fused in (True, False):
        x = torch.tensor(x_np, dtype=dtype, requires_grad=True)
        if fused:  # the fast path is taken, not silently declined
            assert reg._fast_entry(x.detach()) is not None
        loss = reg(x) if fused else reg.z.value.to(dtype) * reg.unscaled(x)
        loss.backward()
        out.append((loss.detach().double().numpy(), x.grad.double().numpy()))
    return out


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_fused_equals_generic_path(config, dtype):
    reg = ChaoticRegularizer(z0=7.5, i0=0.65, **config)
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 4.0, size=(3, 4, 5, 2))
    x[0, :, 0, 0] = [30.0, 25.0, 1e5, 2e4]      # beyond the linear-extension threshold
    x[1, :, 1, 1] = [-1e5, -3e4, -20.0, -9.95]  # and below; around the code form's clamp
    x[2, 0, 2, :] = [9.9, -10.0]                # exactly at the clamp bounds
    (lf, gf), (lg, gg) = _fused_and_generic(reg, x, dtype)
    # Keras' torch ops.mean rounds float64 input through float32 (abs. error ~1e-7 here), so the
    # generic path is only float32-accurate; the fused one is checked tightly against numpy below
    tol = 1e-5 if dtype == torch.float32 else 1e-6
    np.testing.assert_allclose(lf, lg, rtol=tol)
    np.testing.assert_allclose(gf, gg, rtol=tol, atol=tol * 1e-2)
    assert np.isfinite(lf) and np.all(np.isfinite(gf))
    if dtype == torch.float64 and config.get("form") == "paper" and len(config) == 1:
        m = np.clip(x.mean(axis=1), -1e4, 1e4)
        ref = 7.5 * np.sum(np.logaddexp(0.0, m) - 0.65 * m) / x.shape[0]
        np.testing.assert_allclose(lf, ref, rtol=1e-13)
        ref_grad = 7.5 * (0.5 * (1.0 + np.tanh(0.5 * m)) - 0.65) / (x.shape[0] * x.shape[1])
        np.testing.assert_allclose(gf, np.broadcast_to(ref_grad[:, None], x.shape), rtol=1e-12)


def test_fused_matches_paper_formula_in_torch():
    """−z/B Σ_j [I0 ln h_j + (1−I0) ln(1−h_j)], h = σ(mean_t u), differentiated by autograd."""
    z, i0 = 4.0, 0.65
    rng = np.random.default_rng(0)
    u_np = rng.normal(0.0, 2.0, size=(6, 3, 7))
    u = torch.tensor(u_np, requires_grad=True, dtype=torch.float64)
    h = torch.sigmoid(u.mean(dim=1))
    ref = -z * (i0 * torch.log(h) + (1 - i0) * torch.log(1 - h)).sum() / u.shape[0]
    ref.backward()
    reg = ChaoticRegularizer(z0=z, i0=i0)
    x = torch.tensor(u_np, requires_grad=True, dtype=torch.float64)
    loss = reg(x)
    loss.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), u.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_fused_infinite_input_stays_finite():
    reg = ChaoticRegularizer(z0=50.0)
    x = torch.tensor([[[np.inf], [np.inf]], [[-np.inf], [-np.inf]]], requires_grad=True)
    loss = reg(x)
    loss.backward()
    assert torch.isfinite(loss) and torch.all(torch.isfinite(x.grad))
    # dℓ/dv = σ(v) − I0 → 1 − I0 at +inf and −I0 at −inf, times z/(B·T)
    np.testing.assert_allclose(x.grad.numpy().ravel(), [50 * 0.35 / 4] * 2 + [-50 * 0.65 / 4] * 2,
                               rtol=1e-6)


def test_z_variable_change_is_seen_and_z_gets_no_gradient():
    reg = ChaoticRegularizer(z0=2.0)
    x = torch.ones(2, 3, 4)
    first = reg(x).item()
    reg.z.assign(1.0)
    np.testing.assert_allclose(reg(x).item(), first / 2.0, rtol=1e-6)
    z = torch.tensor(3.0, requires_grad=True)
    loss = reg.compute(x, z)
    loss.backward()
    np.testing.assert_allclose(z.grad.item(), reg.compute(x, 1.0).item(), rtol=1e-6)


class _CountBigAllocations(TorchDispatchMode):
    """Counts ops that return a new (non-view, not in-place) tensor of at least ``size`` elements."""

    def __init__(self, size):
        super().__init__()
        self.size, self.ops = size, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = [a for a in _tensors(list(args) + list((kwargs or {}).values()))]
        storages = {a.untyped_storage().data_ptr() for a in inputs}
        for result in _tensors([out]):  # multi-tensor (_foreach_*) ops return lists
            if result.numel() >= self.size and result.untyped_storage().data_ptr() not in storages:
                self.ops.append(str(func))  # not a view, not in place
        return out


def _tensors(items):
    for item in items:
        if isinstance(item, torch.Tensor):
            yield item
        elif isinstance(item, (list, tuple)):
            yield from _tensors(item)


def test_fused_path_allocates_few_large_temporaries():
    """On CPU a fresh large temporary costs its page faults (a [32, 2, 32, 32, 128] sum: 14 ms
    out of place vs 3 ms in place), so the fused path keeps them few: forward+backward allocate
    4 tensors of the time-averaged size (B·F: the time sum, its scaled copy, ℓ, the gradient), the
    generic keras.ops path 9 or more."""
    reg = ChaoticRegularizer(z0=3.0)
    x = torch.randn(4, 2, 8, 8, 16, requires_grad=True)
    reg(x).backward()  # warm-up
    counts = {}
    for name, fn in (("fused", lambda: reg(x)),
                     ("generic", lambda: reg.z.value * reg.unscaled(x))):
        counter = _CountBigAllocations(x.numel() // x.shape[1])
        with counter:
            fn().backward()
        counts[name] = counter.ops
    assert len(counts["fused"]) <= 4, counts
    assert len(counts["generic"]) >= 2 * len(counts["fused"]), counts



@pytest.mark.parametrize("config", CONFIGS[:5], ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_one_batch_call_equals_the_single_losses(config):
    """The probes' batch (several tensors of different shapes in one fused call) gives the sum of
    the single losses, each tensor's own gradient and each tensor's own (non-differentiable)
    value."""
    reg = ChaoticRegularizer(z0=3.5, **config)
    rng = np.random.default_rng(11)
    shapes = [(4, 3, 5), (4, 3, 2, 2, 6), (4, 3, 1)]
    arrays = [rng.normal(0.0, 6.0, size=s) for s in shapes]
    singles, single_grads = [], []
    for a in arrays:
        x = torch.tensor(a, requires_grad=True)
        loss = reg(x)
        loss.backward()
        singles.append(loss.item())
        single_grads.append(x.grad.numpy())
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    total, per_entry = reg._fast_batch_loss([reg._fast_entry(x) for x in xs])
    assert not per_entry.requires_grad
    total.backward()
    np.testing.assert_allclose(total.item(), sum(singles), rtol=1e-13)
    np.testing.assert_allclose(per_entry.numpy(), singles, rtol=1e-13)
    for x, want in zip(xs, single_grads):
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("config", [{"form": "paper"}, {"form": "paper", "reduction": "mean",
                                                          "temperature": 3.0, "time_axis": -1},
                                    {"form": "code", "clamp": False}],
                         ids=["paper", "mean-temp3-lastaxis", "code-noclamp"])
def test_compiled_cpu_kernel_equals_the_eager_path(config, monkeypatch, fresh_compiled_layouts):
    """Large CPU tensors take one compiled kernel (torch_chaos.compiled_chaotic_loss): same value,
    gradient and z-gradient as the eager multi-tensor path, also for ±inf and huge inputs."""
    from snnzoo.backend import torch_chaos

    reg = ChaoticRegularizer(z0=6.0, **config)
    rng = np.random.default_rng(2)
    x_np = rng.normal(0.0, 5.0, size=(4, 2, 64, 64, 32)).astype(np.float32)
    x_np[0, :, 0, 0, 0] = [np.inf, np.inf]
    x_np[1, :, 1, 1, 1] = [-3e4, -1e5]
    results = []
    for threshold in (1, 1 << 40):  # compiled, then eager
        monkeypatch.setattr(torch_chaos, "COMPILE_MIN_ELEMENTS", threshold)
        x = torch.tensor(x_np, requires_grad=True)
        z = torch.tensor(6.0, requires_grad=True)
        entry = reg._fast_entry(x, z)
        assert isinstance(entry, torch_chaos.Precomputed) == (threshold == 1)
        total, per_entry = reg._fast_batch_loss([entry], z)
        total.backward()
        results.append((total.item(), per_entry.numpy(), x.grad.numpy(), z.grad.item()))
    (lc, pc, gc, zc), (le, pe, ge, ze) = results
    assert np.isfinite(lc) and np.all(np.isfinite(gc))
    np.testing.assert_allclose(lc, le, rtol=2e-6)
    np.testing.assert_allclose(pc, pe, rtol=2e-6)
    np.testing.assert_allclose(zc, ze, rtol=2e-6)
    np.testing.assert_allclose(gc, ge, rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("compiled_backward", [True, False], ids=["compiled", "eager-fallback"])
def test_split_entry_returns_time_slices_and_one_input_gradient(compiled_backward, monkeypatch,
                                                               fresh_compiled_layouts):
    """``_fast_entry(x, split_time=True)`` on the compiled CPU path also returns x's time slices
    (equal to x[:, t]); with gradients flowing into them (a spiking layer's share), x's gradient
    is their stack plus the chaotic loss's own, Eq. 4 written out in numpy: z/B · (σ(ū) − I0)/T
    at every t. Slices nobody uses (zero gradient) leave the chaotic gradient alone."""
    from snnzoo.backend import torch_chaos

    monkeypatch.setattr(torch_chaos, "COMPILE_MIN_ELEMENTS", 1)
    if not compiled_backward:  # the backward kernel fails to compile: eager stack + add
        compile_fn = torch_chaos._compiled_fn

        def failing(fn, layout):
            if fn is torch_chaos._stack_plus_kernel:
                raise RuntimeError("no compiler")
            return compile_fn(fn, layout)

        monkeypatch.setattr(torch_chaos, "_compiled_fn", failing)
    reg = ChaoticRegularizer(z0=4.0)
    rng = np.random.default_rng(4)
    b, steps = 4, 3
    x_np = rng.normal(0.0, 2.0, size=(b, steps, 8, 8, 5)).astype(np.float32)
    g_np = rng.normal(size=x_np.shape).astype(np.float32)
    u = x_np.astype(np.float64).mean(axis=1)
    chaos_grad = 4.0 / b * (1.0 / (1.0 + np.exp(-u)) - 0.65) / steps
    want_loss = 4.0 / b * np.sum(np.logaddexp(0.0, u) - 0.65 * u)
    for used in (True, False):
        x = torch.tensor(x_np, requires_grad=True)
        entry = reg._fast_entry(x, split_time=True)
        assert isinstance(entry, torch_chaos.Precomputed) and len(entry[1]) == steps
        for t, piece in enumerate(entry[1]):
            assert torch.equal(piece, x[:, t])
        total, _ = reg._fast_batch_loss([entry])
        if used:
            torch.autograd.backward([total, *entry[1]], [None, *torch.tensor(g_np).unbind(1)])
        else:
            total.backward()
        np.testing.assert_allclose(total.item(), want_loss, rtol=1e-5)
        want = chaos_grad[:, None] + (g_np if used else 0.0)
        np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(want, x_np.shape), rtol=1e-5,
                                   atol=1e-6)


def test_layouts_beyond_the_static_limit_take_the_eager_path(monkeypatch, fresh_compiled_layouts):
    """Each input layout compiles its own static kernel; once STATIC_LAYOUTS_MAX layouts were
    compiled, a new one takes the eager multi-tensor path (same value), compiled ones stay."""
    from snnzoo.backend import torch_chaos

    monkeypatch.setattr(torch_chaos, "COMPILE_MIN_ELEMENTS", 1)
    monkeypatch.setattr(torch_chaos, "STATIC_LAYOUTS_MAX", 1)
    reg = ChaoticRegularizer(z0=3.0)
    rng = np.random.default_rng(5)
    first, second = (torch.tensor(rng.normal(size=shape).astype(np.float32))
                     for shape in ((3, 2, 4, 5), (3, 2, 5, 4)))
    kinds = [isinstance(reg._fast_entry(x), torch_chaos.Precomputed) for x in (first, second, first)]
    assert kinds == [True, False, True]
    for x in (first, second):
        u = x.numpy().astype(np.float64).mean(axis=1)
        want = 3.0 / 3 * np.sum(np.logaddexp(0.0, u) - 0.65 * u)
        np.testing.assert_allclose(float(reg(x)), want, rtol=1e-5)


def test_time_slices_offered_to_a_time_loop_serve_it_once():
    from snnzoo.backend import offer_time_slices, take_time_slices, time_loop

    x = torch.arange(12.0).reshape(2, 3, 2)
    slices = [x[:, t] * 10.0 for t in range(3)]  # stand-ins, to see which ones the loop uses
    with offer_time_slices(x, slices):
        assert take_time_slices(x, steps=2) is None  # wrong length: not used (and withdrawn)
        _, out = time_loop(lambda s, x_t: (s, x_t), (), x)
        np.testing.assert_array_equal(out.numpy(), x.numpy())
    with offer_time_slices(x, slices):
        _, out = time_loop(lambda s, x_t: (s, x_t), (), x)
        np.testing.assert_array_equal(out.numpy(), 10.0 * x.numpy())
        _, out = time_loop(lambda s, x_t: (s, x_t), (), x)  # withdrawn: x's own slices
        np.testing.assert_array_equal(out.numpy(), x.numpy())
    with offer_time_slices(x, slices):
        pass
    assert take_time_slices(x, steps=3) is None  # the scope ended: withdrawn