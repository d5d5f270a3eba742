"""Every surrogate with a SpikingJelly namesake equals SpikingJelly 2.0 itself.

The reference is ``spikingjelly.activation_based.surrogate`` run through torch autograd (in this
process, whatever the Keras backend); ours runs through the active backend's autodiff. Compared
for several parameter values each: the forward (Heaviside, exactly) and the gradient for a
non-uniform upstream on a grid of x that includes each window's edges.
"""
import inspect
import warnings

import keras
import numpy as np
import pytest

from snnzoo import surrogates
from tests.backend_grad import value_and_grads

# The reference must be present: a missing SpikingJelly fails here instead of skipping (the
# README's test command installs it: pip install --no-deps spikingjelly loguru).
import torch  # noqa: E402
from spikingjelly.activation_based import surrogate as sj  # noqa: E402

pytestmark = pytest.mark.parity

# (ours, SpikingJelly's class name, parameter values)
NAMESAKES = [
    (surrogates.ATan, "ATan", [0.5, 2.0, 3.7]),
    (surrogates.Sigmoid, "Sigmoid", [1.0, 4.0, 10.0]),
    (surrogates.PiecewiseQuadratic, "PiecewiseQuadratic", [0.5, 1.0, 2.5]),
    (surrogates.Erf, "Erf", [0.7, 2.0, 5.0]),
    (surrogates.SuperSpike, "SuperSpike", [0.5, 1.0, 3.0]),
    (surrogates.Rectangle, "Rect", [0.5, 1.0, 2.0, 3.0]),
]
CASES = [(ours, theirs, a) for ours, theirs, alphas in NAMESAKES for a in alphas]


def _grid(alpha):
    x = np.linspace(-3.0, 3.0, 241)
    edges = [0.0, 0.5 / alpha, 1.0 / alpha, 0.25]
    x = np.concatenate([x, edges, [-e for e in edges]])
    x = np.concatenate([x, np.nextafter(x.astype("float32"), np.float32(np.inf))])
    return x.astype("float32")


def _spikingjelly(name, alpha, x, upstream):
    """Forward and d(sum(upstream * S))/dx through SpikingJelly's own autograd Function."""
    xt = torch.tensor(x, requires_grad=True)
    s = getattr(sj, name)(alpha=alpha)(xt)
    (s * torch.tensor(upstream)).sum().backward()
    return s.detach().numpy(), xt.grad.numpy()


class _Spike(keras.layers.Layer):
    def __init__(self, surrogate, **kwargs):
        super().__init__(**kwargs)
        self.surrogate = surrogate

    def call(self, x):
        return self.surrogate(x)


def _ours(surrogate, x, upstream):
    inp = keras.Input(shape=x.shape[1:], dtype="float32")
    model = keras.Model(inp, _Spike(surrogate)(inp))
    up = keras.ops.convert_to_tensor(upstream)
    (out,), _, gx, _ = value_and_grads(model, x, lambda s: keras.ops.sum(s * up))
    return out, gx


@pytest.mark.parametrize("ours,theirs,alpha", CASES,
                         ids=[f"{t}-{a}" for _, t, a in CASES])
def test_matches_spikingjelly(ours, theirs, alpha):
    x = _grid(alpha)[None, :]
    upstream = np.random.RandomState(3).uniform(0.5, 2.0, size=x.shape).astype("float32")
    want_s, want_g = _spikingjelly(theirs, alpha, x, upstream)
    got_s, got_g = _ours(ours(alpha=alpha), x, upstream)
    np.testing.assert_array_equal(got_s, want_s)
    # float32 rounding: TF's sigmoid leaves ~1e-7·peak in 1 − σ(αx) where σ saturates
    np.testing.assert_allclose(got_g, want_g, rtol=2e-6, atol=1e-6 * np.abs(want_g).max())
    assert np.count_nonzero(want_g) > 10  # the grid reaches the surrogate's support


@pytest.mark.parametrize("ours,theirs", [(o, t) for o, t, _ in NAMESAKES])
def test_parameter_names_and_defaults_are_spikingjellys(ours, theirs):
    sig = inspect.signature(getattr(sj, theirs).__init__).parameters
    want = {k: p.default for k, p in sig.items() if k not in ("self", "spiking")}
    got = {k: p.default for k, p in inspect.signature(ours.__init__).parameters.items()
           if k != "self" and p.default is not None}  # None: a deprecated keyword
    assert got == want
    assert ours().get_config() == want


def test_string_names_reach_the_namesakes():
    assert surrogates.get("rect") == surrogates.Rectangle(alpha=1.0)
    assert surrogates.get({"class_name": "Rect", "config": {"alpha": 2.0}}) \
        == surrogates.Rectangle(alpha=2.0)


@pytest.mark.parametrize("width", [0.5, 1.5, 4.0])
def test_rectangle_width_is_a_deprecated_spelling_of_alpha(width):
    x = _grid(1.0 / width)[None, :]
    upstream = np.ones_like(x)
    with pytest.warns(DeprecationWarning, match="alpha"):
        old = surrogates.get({"class_name": "Rectangle", "config": {"width": width}})
    # STBP's window: height 1/width on |x| < width/2 (numpy, from the paper's definition)
    want = np.where(np.abs(x) < np.float32(width / 2), np.float32(1.0 / width), 0.0)
    _, got = _ours(old, x, upstream)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    _, sj_g = _spikingjelly("Rect", 1.0 / width, x, upstream)
    np.testing.assert_allclose(got, sj_g, rtol=1e-6)
    assert old.get_config() == {"alpha": 1.0 / width}
    with pytest.raises(ValueError, match="not both"):
        surrogates.Rectangle(alpha=2.0, width=width)


def test_old_superspike_beta_configs_keep_their_formula():
    x = _grid(1.0)
    with pytest.warns(DeprecationWarning, match="FastSigmoid"):
        old = surrogates.get({"class_name": "SuperSpike", "config": {"beta": 2.0}})
    assert old == surrogates.FastSigmoid(slope=2.0)
    got = keras.ops.convert_to_numpy(old.derivative(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(got, 1.0 / (2.0 * np.abs(x) + 1.0) ** 2, rtol=1e-6)
    with pytest.raises(ValueError, match=r"FastSigmoid\(slope=2.0\)"):
        surrogates.SuperSpike(beta=2.0)
    with pytest.warns(DeprecationWarning, match="alpha=1.0"):
        assert surrogates.SuperSpike(beta=1.0) == surrogates.SuperSpike(alpha=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert surrogates.get({"class_name": "SuperSpike", "config": {"alpha": 3.0}}) \
            == surrogates.SuperSpike(alpha=3.0)
