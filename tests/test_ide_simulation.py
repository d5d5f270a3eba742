"""The IDE simulation runs on snnzoo.backend.time_loop (no backend test of its own) and equals
the authors' loop; the decay-weighted time mean is one helper."""
import numpy as np
import pytest
from keras import ops

from snnzoo.ide import FeedbackEquilibrium, simulation
from snnzoo.ide.decay import rate_norm, time_weights
from tests.test_ide_helpers import simulate_rate


@pytest.mark.parity
@pytest.mark.parametrize("T", [3, 4, 5, 9])
def test_simulation_goes_through_time_loop_with_unroll_max_4(monkeypatch, T):
    calls = []
    real = simulation.time_loop

    def spy(step, state, inputs, unroll_max=None, first_step=None, length=None):
        calls.append((inputs, length, unroll_max))
        return real(step, state, inputs, unroll_max=unroll_max, first_step=first_step,
                    length=length)

    monkeypatch.setattr(simulation, "time_loop", spy)
    layer = FeedbackEquilibrium({"kind": "dense", "filters": 5, "use_bias": True}, time_steps=T,
                                decay=0.9, seed=0)
    x = np.random.default_rng(T).uniform(0.0, 4.0, (3, 5)).astype("float32")
    out = ops.convert_to_numpy(layer(x))
    # T steps of a constant input current: no placeholder sequence, the length alone
    assert calls == [(None, T, simulation.UNROLL_MAX)] and simulation.UNROLL_MAX == 4
    layer.feedback_module.bias.assign(np.zeros(5, "float32"))  # the reference loop has no bias
    out = ops.convert_to_numpy(layer(x))
    ref = simulate_rate(x.astype(np.float64), {"kind": "dense"},
                        ops.convert_to_numpy(layer.feedback_kernel()[0]), T, decay=0.9)
    assert np.abs(out - ref).max() < 1e-5


def test_feedback_bias_is_gated_off_at_the_first_step():
    """No feedback at t = 0: with T = 1 the bias cannot reach the output."""
    layer = FeedbackEquilibrium({"kind": "dense", "filters": 4, "use_bias": True}, time_steps=1,
                                seed=0)
    x = np.full((2, 4), 2.5, "float32")
    layer.build(x.shape)
    layer.feedback_module.bias.assign(np.full(4, -10.0, "float32"))
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), np.ones((2, 4)))


@pytest.mark.parametrize("decay", [None, 0.5, 0.95])
def test_time_weights_and_rate_norm(decay):
    T = 6
    k = 1.0 if decay is None else decay
    powers = k ** np.arange(T - 1, -1, -1)
    np.testing.assert_allclose(time_weights(decay, T), powers / powers.sum(), rtol=1e-15)
    assert rate_norm(decay, T) == pytest.approx(powers.sum(), rel=1e-14)
    np.testing.assert_allclose(time_weights(decay, T, rate_norm(decay, T)), powers / powers.sum(),
                               rtol=1e-14)
