"""Firing rates (snnzoo.metrics), evaluate() and predict() against hand computations.

The models here are tiny hand-weighted Keras models (not zoo models) whose spikes and
predictions are derived by hand in numpy; data come from the real MNIST / N-MNIST files.
"""
import json

import keras
import numpy as np
import pytest

from snnzoo.data import load_mnist
from snnzoo.evaluate import evaluate, main_eval
from snnzoo.layers.neurons import IF, LIF
from snnzoo.layers.time import MeanOverTime, TimeFold
from snnzoo.metrics import firing_rates
from snnzoo.predict import load_inputs, main_predict, predict


def _if_spikes(x, v_th=1.0):
    """IF neuron by hand: v += x; s = v >= v_th; v = 0 where s (x: [B, T, N])."""
    v = np.zeros(x[:, 0].shape)
    out = []
    for t in range(x.shape[1]):
        v = v + x[:, t]
        s = (v >= v_th).astype(np.float64)
        v = v * (1 - s)
        out.append(s)
    return np.stack(out, 1)


def _two_layer_model(return_membrane=False):
    inputs = keras.Input((4, 3))
    s1 = IF(name="if1", return_membrane=return_membrane)(inputs)
    if return_membrane:
        s1 = s1[0]
    w = np.array([[0.6, 0.0], [0.5, 0.7], [0.0, 1.2]], np.float32)
    dense = keras.layers.Dense(2, use_bias=False, name="fc")
    h = TimeFold(dense, name="fc_fold")(s1)
    s2 = IF(name="if2")(h)
    out = MeanOverTime(name="mean")(s2)
    model = keras.Model(inputs, out)
    dense.set_weights([w])
    return model, w


X_IN = np.array([[[0.3, 0.6, 1.2], [0.8, 0.6, 0.1], [0.4, 0.2, 0.9], [0.5, 0.7, 0.4]],
                 [[1.1, 0.0, 0.45], [0.2, 0.95, 0.45], [0.9, 0.3, 0.45], [0.05, 0.9, 0.45]]],
                np.float32)


@pytest.mark.parity
@pytest.mark.parametrize("return_membrane", [False, True])
def test_firing_rates_match_hand_computation(return_membrane):
    model, w = _two_layer_model(return_membrane)
    s1 = _if_spikes(X_IN.astype(np.float64))
    s2 = _if_spikes(np.einsum("btn,nm->btm", s1, w))
    rates = firing_rates(model, X_IN)
    assert list(rates) == ["if1", "if2"]
    assert rates["if1"] == pytest.approx(s1.mean(), abs=1e-7)
    assert rates["if2"] == pytest.approx(s2.mean(), abs=1e-7)
    assert 0 < s1.mean() < 1 and 0 < s2.mean() < 1      # the example is not degenerate
    # batches of one sample each give the same overall mean
    assert firing_rates(model, X_IN, batch_size=1) == pytest.approx(rates)


def test_firing_rates_of_nested_neurons_use_the_eager_recorder():
    class Block(keras.layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.lif = LIF(tau=2.0, name="inner_lif")

        def call(self, x):
            return self.lif(x)

    inputs = keras.Input((4, 3))
    model = keras.Model(inputs, MeanOverTime()(Block(name="block")(inputs)))
    x = X_IN * 3.0
    # LIF (tau 2, decay_input, hard reset): v = v + (x - v) / 2; s = v >= 1; v = 0 where s
    v = np.zeros((2, 3))
    spikes = []
    for t in range(4):
        v = v + (x[:, t] - v) / 2.0
        s = (v >= 1.0).astype(float)
        v = v * (1 - s)
        spikes.append(s)
    rates = firing_rates(model, x)
    assert rates == {"block/inner_lif": pytest.approx(np.mean(spikes), abs=1e-7)}


@pytest.mark.parity
def test_evaluate_on_given_arrays_hand_checked():
    inputs = keras.Input((3,))
    dense = keras.layers.Dense(3, use_bias=False)
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.eye(3, dtype=np.float32)])
    x = np.array([[1, 0, 0], [0, 2, 1], [0, 1, 3], [5, 1, 0]], np.float32)  # argmax 0, 1, 2, 0
    y = np.array([0, 1, 2, 2])
    r = evaluate(model, data=(x, y), batch_size=3, progress=False, verbose=False)
    assert (r["correct"], r["n"]) == (3, 4)
    assert r["accuracy"] == pytest.approx(75.0)
    assert r["claimed"] is None and r["firing_rates"] == {}


def _constant_class_model(cls, with_neuron=True):
    """Predicts class ``cls`` for every image; an IF layer on the (constant) input spikes too."""
    from snnzoo.layers.time import RepeatTime

    inputs = keras.Input((28, 28, 1), name="image")
    x = RepeatTime(2, name="repeat")(inputs)
    x = TimeFold(keras.layers.Flatten(), name="flat")(x)
    if with_neuron:
        x = IF(name="if_in")(x)
    dense = keras.layers.Dense(10, name="fc")
    out = MeanOverTime(name="mean")(dense(x))
    model = keras.Model(inputs, out)
    bias = np.zeros(10, np.float32)
    bias[cls] = 1.0
    dense.set_weights([np.zeros((784, 10), np.float32), bias])
    return model


def test_evaluate_on_real_mnist_test_subset(shared_data):
    _, labels = load_mnist("test", data_dir=shared_data)
    idx = (np.arange(100) * 10000) // 100
    r = evaluate(_constant_class_model(1), dataset="mnist", data_dir=shared_data, limit=100,
                 batch_size=32, progress=False, verbose=False)
    assert r["n"] == 100
    assert r["accuracy"] == pytest.approx(100.0 * np.mean(labels[idx] == 1))
    # IF on a constant input p in [0, 1] over T = 2: p = 1 spikes at t=0, resets to 0 and spikes
    # again at t=1 (v = 0 + 1); p < 1 spikes only at t=1, iff v = 2p >= 1
    images, _ = load_mnist("test", data_dir=shared_data)
    p = images[idx].astype(np.float64).reshape(100, -1) / 255.0
    expected = (2 * (p >= 1.0).sum() + ((p < 1.0) & (2 * p >= 1.0)).sum()) / (100 * 784 * 2)
    assert r["firing_rates"]["if_in"] == pytest.approx(expected, abs=1e-9)


def _zoo_entry(tmp_path, monkeypatch, cls=3, claimed=12.3):
    from training.recipes import tiny_snn
    from snnzoo.data.checksums import file_hash

    model = tiny_snn(time_steps=2)
    fc2 = model.get_layer("fc2")
    bias = np.zeros(10, np.float32)
    bias[cls] = 1.0
    fc2.set_weights([np.zeros_like(fc2.get_weights()[0]), bias])
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    model.save_weights(str(zoo / "const_net.weights.h5"))
    manifest = {
        "name": "const_net", "description": "test model",
        "architecture": {"builder": "training.recipes:tiny_snn", "config": {"num_classes": 10}},
        "input": {"kind": "image", "shape": [28, 28, 1], "preprocessing": "none"},
        "time_steps": 2, "num_classes": 10, "method": None, "dataset": "MNIST",
        "accuracy": {"claimed": claimed, "measured": None, "measured_by": None},
        "source": {}, "license": "Apache-2.0",
        "weights": {"file": "const_net.weights.h5",
                    "sha256": file_hash(zoo / "const_net.weights.h5")},
    }
    (zoo / "const_net.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("SNNZOO_ZOO_DIR", str(zoo))
    return zoo


def test_evaluate_zoo_name_reports_claimed_and_cli_errors(shared_data, tmp_path, monkeypatch,
                                                          capsys):
    _zoo_entry(tmp_path, monkeypatch)
    _, labels = load_mnist("test", data_dir=shared_data)
    idx = (np.arange(50) * 10000) // 50
    r = evaluate("const_net", data_dir=shared_data, limit=50, progress=False)
    assert r["accuracy"] == pytest.approx(100.0 * np.mean(labels[idx] == 3))
    assert r["claimed"] == 12.3 and set(r["firing_rates"]) == {"sn1"}
    out = capsys.readouterr().out
    assert "claimed 12.30 %" in out and "sn1" in out

    assert main_eval(["const_net", "--data", str(shared_data), "--limit", "10", "-q"]) == 0
    capsys.readouterr()
    assert main_eval(["const_net", "--data", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "t10k-images-idx3-ubyte.gz" in err[0] and "8d422c7b" in err[0]
    assert str(tmp_path / "nowhere" / "mnist") in err[0]
    assert main_eval(["no_such_model"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_predict_images_and_idx_rows(shared_data, tmp_path, monkeypatch, capsys):
    from PIL import Image

    _zoo_entry(tmp_path, monkeypatch, cls=7)
    images, _ = load_mnist("test", data_dir=shared_data)
    Image.fromarray(images[0, :, :, 0]).save(tmp_path / "a.png")
    np.save(tmp_path / "b.npy", images[1])
    idx_file = shared_data / "mnist" / "t10k-images-idx3-ubyte.gz"
    loaded = load_inputs([str(tmp_path / "a.png"), str(tmp_path / "b.npy"), f"{idx_file}:3-4"],
                         "image", (28, 28, 1))
    assert [n for n, _ in loaded] == ["a.png", "b.npy", "t10k-images-idx3-ubyte.gz:3",
                                      "t10k-images-idx3-ubyte.gz:4"]
    for (_, x), i in zip(loaded, (0, 1, 3, 4)):
        np.testing.assert_array_equal(x, images[i].astype(np.float32) / 255.0)
    res = predict("const_net", [str(tmp_path / "a.png")], top_k=2)
    assert res[0]["top"][0][:2] == (7, "7")
    p = np.exp([1.0] + [0.0] * 9)
    assert res[0]["top"][0][2] == pytest.approx(p[0] / p.sum(), rel=1e-5)
    assert main_predict(["const_net", str(tmp_path / "a.png")]) == 0
    assert "a.png: 7 " in capsys.readouterr().out
    for bad in ([str(shared_data / "nmnist" / "1.bs2")], [str(tmp_path / "missing.png")],
                [str(shared_data / "PROVENANCE.md")], [f"{idx_file}:99999"]):
        assert main_predict(["const_net", *bad]) == 1
        assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_predict_event_file_integrates_the_model_T(shared_data):
    T = 4
    inputs = keras.Input((T, 34, 34, 2))
    x = TimeFold(keras.layers.Flatten(), name="flat")(inputs)
    dense = keras.layers.Dense(10, name="fc")
    model = keras.Model(inputs, MeanOverTime()(dense(x)))
    dense.set_weights([np.zeros((34 * 34 * 2, 10), np.float32), np.arange(10, dtype=np.float32)])
    path = shared_data / "nmnist" / "60001.bs2"
    (name, frames), = load_inputs([str(path)], "event_frames", (T, 34, 34, 2))
    raw = np.frombuffer(path.read_bytes(), np.uint8).reshape(-1, 5).astype(np.int64)
    counts = np.zeros((34, 34, 2))
    np.add.at(counts, (raw[:, 1], raw[:, 0], raw[:, 2] >> 7), 1)
    assert frames.shape == (T, 34, 34, 2)
    np.testing.assert_array_equal(frames.sum(axis=0), counts)
    res = predict(model, [str(path)], top_k=3)
    assert [c for c, _, _ in res[0]["top"]] == [9, 8, 7]


def test_inference_helpers_shared_by_eval_and_predict():
    import keras
    import numpy as np

    from snnzoo.inference import input_geometry, mean_logits

    frames = keras.Model(*(lambda i: (i, keras.layers.Flatten()(i)))(keras.Input((3, 4, 4, 2))))
    images = keras.Model(*(lambda i: (i, keras.layers.Flatten()(i)))(keras.Input((5, 5, 1))))
    assert input_geometry(frames) == ("event_frames", 3, (4, 4, 2))
    assert input_geometry(images) == ("image", None, (5, 5, 1))
    assert input_geometry(object()) == (None, None, None)
    per_step = np.arange(24, dtype="float32").reshape(2, 3, 4)
    np.testing.assert_array_equal(mean_logits(per_step), per_step.mean(axis=1))
    np.testing.assert_array_equal(mean_logits([per_step[:, 0], None]), per_step[:, 0])
