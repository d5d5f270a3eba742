"""Forward spikes, membranes and gradients (w.r.t. inputs and weights) of every neuron × reset ×
surrogate combination, on the active backend, against the plain-torch reference.

Inputs and weights are dyadic rationals (k/8, k/16) so every charge/reset step is exact in
float32 on every backend: spikes must match bit for bit, gradients to float32 rounding of the
surrogate formulas. Since every backend is held to the same reference, they agree with each other
within twice the tolerance (≤ 1e-5)."""
import itertools

import keras
import numpy as np
import pytest
import torch

from snnzoo import surrogates
from snnzoo.layers import IF, LIF, PLIF, TimeFold
from tests import torch_reference as ref
from tests.backend_grad import value_and_grads

pytestmark = pytest.mark.parity

B, T, F_IN, F = 3, 6, 4, 5
NEURONS = {
    "if": dict(kind="if"),
    "lif": dict(kind="lif", tau=2.0, decay_input=True),
    "lif_nodecayinput": dict(kind="lif", tau=4.0, decay_input=False),
    "plif": dict(kind="plif", tau=2.0, decay_input=True),
}
RESETS = {"hard0": 0.0, "hard_neg": -0.5, "soft": None}
# Surrogate parameters away from the defaults, so the parameter really reaches the formula.
SURR_PARAMS = {"atan": {"alpha": 3.0}, "sigmoid": {"alpha": 5.0}, "triangle": {"gamma": 1.5},
               "rectangle": {"alpha": 0.75}, "piecewisequadratic": {"alpha": 0.75},
               "superspike": {"alpha": 2.0}, "erf": {"alpha": 1.5},
               "fastsigmoid": {"slope": 2.0}}


def _data():
    rng = np.random.RandomState(7)
    x = rng.randint(-12, 20, size=(B, T, F_IN)).astype("float32") / 8.0
    w = rng.randint(-12, 13, size=(F_IN, F)).astype("float32") / 16.0
    b = rng.randint(-4, 5, size=(F,)).astype("float32") / 16.0
    cs = rng.randint(-8, 9, size=(B, T, F)).astype("float32") / 8.0
    cv = rng.randint(-8, 9, size=(B, T, F)).astype("float32") / 8.0
    return x, w, b, cs, cv


def _keras_neuron(neuron, v_reset, surr, detach):
    spec = NEURONS[neuron]
    common = dict(v_reset=v_reset, detach_reset=detach, return_membrane=True,
                  surrogate={"class_name": surr, "config": SURR_PARAMS[surr]}, name="sn")
    if spec["kind"] == "if":
        return IF(**common)
    if spec["kind"] == "plif":
        return PLIF(init_tau=spec["tau"], decay_input=spec["decay_input"], **common)
    return LIF(tau=spec["tau"], decay_input=spec["decay_input"], **common)


@pytest.mark.parametrize(
    "neuron,reset,surr,detach",
    list(itertools.product(NEURONS, RESETS, ref.SURROGATES, [False, True])),
)
def test_neuron_matches_torch_reference(neuron, reset, surr, detach):
    x, w, b, cs, cv = _data()
    v_reset = RESETS[reset]
    inp = keras.Input((T, F_IN))
    dense = keras.layers.Dense(F, name="fc")
    s, v = _keras_neuron(neuron, v_reset, surr, detach)(TimeFold(dense)(inp))
    model = keras.Model(inp, [s, v])
    dense.set_weights([w, b])

    cs_k, cv_k = keras.ops.convert_to_tensor(cs), keras.ops.convert_to_tensor(cv)

    def loss_fn(out):
        return keras.ops.sum(out[0] * cs_k) + keras.ops.sum(out[1] * cv_k)

    (s_k, v_k), loss_k, gx_k, gw_k = value_and_grads(model, x, loss_fn)

    # --- reference -------------------------------------------------------------------------
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    spec = dict(NEURONS[neuron])
    plif_w = torch.zeros((), requires_grad=True)  # init_tau = 2 → w = -ln(1) = 0
    s_r, v_r = ref.neuron(xt @ wt + bt, kind=spec["kind"], tau=spec.get("tau", 2.0), w=plif_w,
                          v_reset=v_reset, surrogate=surr, surrogate_params=SURR_PARAMS[surr],
                          detach_reset=detach, decay_input=spec.get("decay_input", True))
    loss_r = (s_r * torch.tensor(cs)).sum() + (v_r * torch.tensor(cv)).sum()
    loss_r.backward()

    np.testing.assert_array_equal(s_k, s_r.detach().numpy())
    assert set(np.unique(s_k)) <= {0.0, 1.0}
    assert s_k.sum() > 0 and (1 - s_k).sum() > 0, "the case must contain spikes and silences"
    np.testing.assert_allclose(v_k, v_r.detach().numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(loss_k, float(loss_r), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(gx_k, xt.grad.numpy(), rtol=1e-5, atol=2e-6)
    names = [v.path.split("/")[-1] for v in model.trainable_variables]
    got = dict(zip(names, gw_k))
    np.testing.assert_allclose(got["kernel"], wt.grad.numpy(), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(got["bias"], bt.grad.numpy(), rtol=1e-5, atol=2e-6)
    if spec["kind"] == "plif":
        np.testing.assert_allclose(got["w"], plif_w.grad.numpy(), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("name", ref.SURROGATES)
def test_surrogate_derivative_formula(name):
    """The backward of each surrogate spike is its documented g'(x), for default and set params."""
    x = np.linspace(-2.5, 2.5, 101).astype("float32")
    for params in ({}, SURR_PARAMS[name]):
        sg = surrogates.get({"class_name": name, "config": params})
        got = keras.ops.convert_to_numpy(sg.derivative(keras.ops.convert_to_tensor(x)))
        want = ref.surrogate_grad(name, torch.tensor(x), **params).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        spikes = keras.ops.convert_to_numpy(sg(keras.ops.convert_to_tensor(x)))
        np.testing.assert_array_equal(spikes, (x >= 0).astype("float32"))
