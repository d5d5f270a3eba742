"""``leak`` of the IDE layers is a decay factor λ in (0, 1]: other values raise instead of
silently becoming an IF neuron."""
import numpy as np
import pytest
from keras import ops

from snnzoo.layers.feedback_equilibrium import FeedbackEquilibrium, RateBatchNorm
from snnzoo.models import fsnn
from tests.test_ide_helpers import simulate_rate

BAD = [0.0, -0.5, 1.5, float("nan"), float("inf")]


@pytest.mark.parametrize("leak", BAD)
def test_leak_outside_unit_interval_raises(leak):
    with pytest.raises(ValueError, match=r"leak must be a decay factor in \(0, 1\].*got"):
        FeedbackEquilibrium({"kind": "dense", "filters": 4}, time_steps=3, leak=leak)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        RateBatchNorm(3, leak=leak)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        fsnn.fsnn_fc(hidden=8, time_steps=2, leak=leak)


@pytest.mark.parametrize("leak", [0.5, 0.95])
def test_valid_leak_is_kept_and_round_trips(leak):
    layer = FeedbackEquilibrium({"kind": "dense", "filters": 4}, time_steps=3, leak=leak)
    assert layer.leak == leak
    assert FeedbackEquilibrium.from_config(layer.get_config()).leak == leak


def test_leak_one_is_the_if_neuron():
    """λ = 1 is IF exactly: output equals the IF reference loop (spike count / T)."""
    rng = np.random.default_rng(11)
    T = 10
    layer = FeedbackEquilibrium({"kind": "dense", "filters": 6}, time_steps=T, leak=1.0)
    assert layer.leak is None
    x = rng.uniform(-1.0, 4.0, (5, 6)).astype("float32")
    out = ops.convert_to_numpy(layer(x))
    kernel = ops.convert_to_numpy(layer.feedback_kernel()[0])
    ref = simulate_rate(x.astype(np.float64), {"kind": "dense"}, kernel, T, leak=None)
    assert np.abs(out - ref).max() < 1e-5
    np.testing.assert_allclose(out * T, np.round(out * T), atol=1e-4)
