"""training/bpsta_ablation.py measures firing rates with snnzoo.metrics: per node layer and pooled
over all node layers, checked against the spikes read off the model directly."""
import keras
import numpy as np

from snnzoo.layers import BaseNeuron
from snnzoo.metrics import FiringRateProbe
from snnzoo.models import bpsta_convnet
from training import bpsta_ablation


def _spikes_by_layer(model, x):
    nodes = [layer for layer in model.layers if isinstance(layer, BaseNeuron)]
    taps = keras.Model(model.input, [layer.output for layer in nodes])
    outs = taps(x, training=False)
    return {layer.name: np.asarray(keras.ops.convert_to_numpy(s), "float64") for layer, s in zip(nodes, outs)}


def test_ablation_firing_rates_per_layer_and_pooled():
    keras.utils.set_random_seed(0)
    model = bpsta_convnet("mnist", widths=(4, 4, 8), time_steps=2, v_threshold=0.05)
    x = np.random.default_rng(0).random((5, 28, 28, 1)).astype("float32")
    per_layer, pooled = bpsta_ablation.firing_rates(model, x, batch_size=2)  # 3 batches
    spikes = _spikes_by_layer(model, x)
    assert list(per_layer) == list(spikes) == ["sn1", "sn2", "sn3", "fc_sn"]
    for name, s in spikes.items():
        np.testing.assert_allclose(per_layer[name], s.mean(), rtol=1e-12)
    total = sum(s.sum() for s in spikes.values()) / sum(s.size for s in spikes.values())
    np.testing.assert_allclose(pooled, total, rtol=1e-12)
    assert 0.0 < pooled < 1.0 and pooled != np.mean(list(per_layer.values()))


def test_pooled_rate_before_any_batch_is_none():
    model = bpsta_convnet("mnist", widths=(2, 2, 4), time_steps=1)
    assert FiringRateProbe(model).pooled_rate() is None
