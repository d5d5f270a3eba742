"""ChaoticRegularizer (CSBP, Wang et al., NSR 2024) against hand-derived numbers (paper Eq. 4) and
the authors' PyTorch code form re-written in plain torch."""
import numpy as np
import pytest
import keras
from keras import ops

from snnzoo.chaos import ChaoticRegularizer
from tests.backend_grad import variable_value_and_grads

I0 = 0.65


def value_and_grads(loss_fn, variables):
    return variable_value_and_grads(loss_fn, variables, jit=False)


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parity
def test_paper_form_gradient_is_eq4_by_hand():
    """u[b,t,j] = Σ_i O[b,t,i] W[i,j] + c[j] with known spikes O; the chaotic-loss gradient must be
    ∂L/∂W_ij = mean_b[−z (I0 − h_bj) · mean_t O_bti], h = σ(mean_t u) (paper Eq. 4)."""
    rng = np.random.default_rng(0)
    B, T, N_in, N = 3, 5, 4, 3
    spikes = (rng.random((B, T, N_in)) < 0.5).astype("float32")
    w0 = rng.normal(0, 0.8, (N_in, N)).astype("float32")
    c0 = rng.normal(0, 0.5, (N,)).astype("float32")
    z0 = 7.5
    W = keras.Variable(w0)
    c = keras.Variable(c0)
    reg = ChaoticRegularizer(z0=z0, i0=I0)  # paper form

    def loss_fn():
        u = ops.einsum("bti,ij->btj", ops.convert_to_tensor(spikes), W) + c
        return reg(u)

    loss, (g_w, g_c) = value_and_grads(loss_fn, [W, c])

    # --- by hand, float64 numpy ---
    rate = spikes.astype(np.float64).mean(axis=1)                       # mean_t O   [B, N_in]
    u_bar = rate @ w0.astype(np.float64) + c0                            # mean_t u   [B, N]
    h = np_sigmoid(u_bar)
    want_loss = np.mean(np.sum(-z0 * (I0 * np.log(h) + (1 - I0) * np.log(1 - h)), axis=1))
    delta = -z0 * (I0 - h)                                               # [B, N]
    want_gw = np.einsum("bi,bj->ij", rate, delta) / B                    # Eq. 4, batch mean
    want_gc = delta.mean(axis=0)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5)
    np.testing.assert_allclose(g_w, want_gw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g_c, want_gc, rtol=1e-5, atol=1e-6)


def _authors_code_form_torch(x, z, i0=0.65):
    """The authors' ``chaos_loss_fun`` + ``chaos`` (CSBP repo, TEBN/CSBP main.py), plain torch."""
    import torch

    def chaos_loss_fun(h, z, I0=i0):
        out = torch.sigmoid(h / 10)
        log1, log2 = torch.log(out), torch.log(1 - out)
        return -z * (I0 * log1 + (1 - I0) * log2)

    h = torch.where(x < 9.9, x, torch.full_like(x, 9.9))
    h = torch.where(h > -10.0, h, torch.full_like(h, -10.0))
    return chaos_loss_fun(h, z).sum() / h.numel()


@pytest.mark.parity
def test_code_form_matches_authors_torch():
    import torch

    rng = np.random.default_rng(1)
    x0 = rng.normal(0, 8, (2, 3, 4, 5)).astype("float32")
    x0.flat[:6] = [15.0, -15.0, 9.9, -10.0, 9.89, -9.99]   # outside / on / inside the clamp edges
    z = 13.0

    xt = torch.tensor(x0, requires_grad=True)
    ref = _authors_code_form_torch(xt, z)
    ref.backward()

    xv = keras.Variable(x0)
    reg = ChaoticRegularizer(z0=z, form="code")
    loss, (g,) = value_and_grads(lambda: reg(xv), [xv])
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-6)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-5, atol=1e-9)
    assert np.all(g.flat[:4] == 0.0)  # zero gradient at/outside the clamp, as torch.where gives
    assert np.all(g.flat[4:6] != 0.0)


def test_code_form_options_match_reference_values():
    """temperature / clamp / reduction overrides against numpy."""
    x = np.array([[[-3.0, 0.5], [2.0, 40.0]]], dtype="float32")  # [1, 2, 2]
    reg = ChaoticRegularizer(z0=2.0, form="code", temperature=4.0, clamp=(-1.0, 30.0), reduction="sum")
    xc = np.clip(x.astype(np.float64), -1.0, 30.0) / 4.0
    h = np_sigmoid(xc)
    want = np.sum(-2.0 * (I0 * np.log(h) + (1 - I0) * np.log(1 - h)))
    np.testing.assert_allclose(float(ops.convert_to_numpy(reg(x))), want, rtol=1e-6)
    # paper form without a time axis, mean reduction
    reg = ChaoticRegularizer(z0=3.0, time_axis=None, reduction="mean", i0=0.4)
    x64 = x.astype(np.float64)  # ln σ(x) = −ln(1 + e^−x), ln(1 − σ(x)) = −ln(1 + e^x)
    want = np.mean(3.0 * (0.4 * np.logaddexp(0, -x64) + 0.6 * np.logaddexp(0, x64)))
    np.testing.assert_allclose(float(ops.convert_to_numpy(reg(x))), want, rtol=1e-6)


@pytest.mark.parity
@pytest.mark.parametrize("form", ["paper", "code"])
def test_no_nan_or_inf_for_huge_inputs(form):
    """Loss and gradient stay finite for float32 max and ±inf inputs with z = 50."""
    big = np.float32(3.0e38)
    x0 = np.array([[[big, -big, 1e30, -1e30, 0.0, 50.0, np.inf, -np.inf]] * 4] * 2, dtype="float32")
    xv = keras.Variable(x0)
    reg = ChaoticRegularizer(z0=50.0, form=form, reduction="sum")
    loss, (g,) = value_and_grads(lambda: reg(xv), [xv])
    assert np.isfinite(loss) and loss > 0
    assert np.all(np.isfinite(g))
    if form == "paper":  # exact slope z·(σ(ū) − I0)/T everywhere, also far out
        h = np.where(x0[:, 0] > 0, 1.0, np.where(x0[:, 0] < 0, 0.0, 0.5))
        h[..., 5] = np_sigmoid(50.0)
        want = np.repeat((50.0 * (h - I0) / 4.0)[:, None, :], 4, axis=1)
        np.testing.assert_allclose(g, want, rtol=1e-6)


def test_paper_form_needs_a_time_axis():
    with pytest.raises(ValueError, match="time_axis=None"):
        ChaoticRegularizer()(np.ones((3,), "float32"))
    for bad in ({"form": "nope"}, {"i0": 1.0}, {"z0": -1.0}, {"reduction": "max"}, {"clamp": (2, 1)},
                {"temperature": 0.0}):
        with pytest.raises(ValueError):
            ChaoticRegularizer(**bad)


def test_config_roundtrip_and_registration():
    reg = ChaoticRegularizer(z0=20.0, i0=0.6, form="code", temperature=5.0, reduction="sum")
    reg.z.assign(3.25)
    assert keras.saving.get_registered_object("snnzoo>ChaoticRegularizer") is ChaoticRegularizer
    again = ChaoticRegularizer.from_config(reg.get_config())
    assert again.get_config() == reg.get_config()
    assert float(ops.convert_to_numpy(again.z)) == 3.25
    assert again.z is not reg.z
    x = np.random.default_rng(2).normal(0, 5, (2, 3, 4)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(again(x)), ops.convert_to_numpy(reg(x)), rtol=1e-7)
    # an explicit z (pure-function use) overrides the variable
    np.testing.assert_allclose(ops.convert_to_numpy(reg.compute(x, z=6.5)),
                               2.0 * ops.convert_to_numpy(reg(x)), rtol=1e-6)
