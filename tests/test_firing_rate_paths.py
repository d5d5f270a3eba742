"""FiringRateProbe keys nested neurons by their path, so equally named neurons in different
nested models are measured separately (rates checked against spikes counted in numpy)."""
import keras
import numpy as np
import pytest

from snnzoo.evaluate import format_result
from snnzoo.layers.neurons import IF
from snnzoo.layers.time import MeanOverTime
from snnzoo.metrics import FiringRateProbe, firing_rates
from tests.test_evaluate import _if_spikes

X = np.random.default_rng(12).uniform(0.0, 1.2, size=(5, 6, 3)).astype(np.float32)
THRESHOLDS = {"sn": 0.5, "branch_a/sn": 1.0, "mid/branch_b/sn": 2.0}


def _branch(name, v_th):
    inp = keras.Input((6, 3))
    return keras.Model(inp, IF(v_threshold=v_th, name="sn")(inp), name=name)


def _model():
    """Three IF layers all named "sn": one in the outer model, one in sub-model branch_a, one in
    sub-model branch_b, itself inside sub-model mid."""
    inp = keras.Input((6, 3))
    a = _branch("branch_a", THRESHOLDS["branch_a/sn"])(inp)
    mid_in = keras.Input((6, 3))
    mid = keras.Model(mid_in, _branch("branch_b", THRESHOLDS["mid/branch_b/sn"])(mid_in), name="mid")
    b = mid(inp)
    c = IF(v_threshold=THRESHOLDS["sn"], name="sn")(inp)
    out = MeanOverTime()(keras.layers.Add()([a, b, c]))
    return keras.Model(inp, out, name="outer")


@pytest.mark.parity
def test_same_named_nested_neurons_get_separate_rates():
    want = {key: _if_spikes(X.astype(np.float64), v_th).mean() for key, v_th in THRESHOLDS.items()}
    assert len({round(r, 9) for r in want.values()}) == 3  # the three rates differ
    model = _model()
    rates = firing_rates(model, X)
    assert set(rates) == set(THRESHOLDS)
    for key, r in want.items():
        assert rates[key] == pytest.approx(r, abs=1e-7), key
    # batches of two samples accumulate to the same rates
    assert firing_rates(model, X, batch_size=2) == pytest.approx(rates)
    probe = FiringRateProbe(model)
    assert all(layer.name == "sn" for layer in probe.paths.values())
    assert probe.paths["mid/branch_b/sn"] is model.get_layer("mid").get_layer("branch_b").get_layer("sn")
    text = format_result({"model": "outer", "dataset": "d", "split": "test", "accuracy": 50.0,
                          "n": 5, "seconds": 0.1, "firing_rates": rates})
    assert f"mid/branch_b/sn  {want['mid/branch_b/sn']:.4f}" in text


def test_one_layer_used_by_two_models_is_measured_once():
    """A neuron shared by two sub-models is one layer: one rate over both of its calls."""
    shared = IF(v_threshold=1.0, name="shared_sn")
    i1, i2 = keras.Input((6, 3)), keras.Input((6, 3))
    m1 = keras.Model(i1, shared(i1), name="m1")
    m2 = keras.Model(i2, shared(i2 * 2.0), name="m2")
    inp = keras.Input((6, 3))
    model = keras.Model(inp, keras.layers.Add()([m1(inp), m2(inp)]))
    rates = firing_rates(model, X)
    s1 = _if_spikes(X.astype(np.float64))
    s2 = _if_spikes(2.0 * X.astype(np.float64))
    assert rates == {"m1/shared_sn": pytest.approx((s1.sum() + s2.sum()) / (s1.size + s2.size),
                                                   abs=1e-7)}
