"""TEBN 7-layer CNN and BP-STA ConvNets: parameter counts and forward pass against independent
PyTorch re-implementations (tests/torch_ref_baselines.py), VotingLayer, NDropout, ANN warm-up."""
import keras
import numpy as np
import pytest
import torch

from snnzoo.bpsta import ANNWarmup, set_ann_mode
from snnzoo.layers import NDropout, VotingLayer, WarmupSwitch
from snnzoo.losses import RateMSE
from snnzoo.models.bpsta_convnet import bpsta_convnet
from snnzoo.models.tebn_cnn import tebn_cnn7
from tests.torch_ref_baselines import TorchCNN7, n_params, torch_bpsta_convnet

CNN7_PARAMS = 3_628_038  # T = 10 (one TEBN scale per step and layer), 10 classes
BPSTA_PARAMS = {  # 10 classes x 10 voters
    "nmnist": (1_678_692, (128, 128, 256, 512), 2, 512),
    "dvs": (6_599_396, (128, 128, 128, 256, 512, 1024), 2, 1024),
    "cifar": (1_827_684, (128, 128, 128, 256, 512), 3, 512),
    "mnist": (470_756, (128, 128, 256), 1, 256),
}


def _trainable(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


# ------------------------------------------------------------------------------------ TEBN CNN7
def test_cnn7_parameter_count_matches_torch_reference():
    assert _trainable(tebn_cnn7(num_classes=10, time_steps=10)) == n_params(TorchCNN7(10, T=10)) == CNN7_PARAMS


def _copy_cnn7(net, model):
    convs = [m for m in net.features if hasattr(m, "module") and isinstance(m.module, torch.nn.Conv2d)]
    tebns = [m for m in net.features if type(m).__name__ == "TorchTEBN"]
    for i, (conv, tebn) in enumerate(zip(convs, tebns), start=1):
        k = model.get_layer(f"conv{i}").layer
        k.kernel.assign(conv.module.weight.detach().numpy().transpose(2, 3, 1, 0))
        k.bias.assign(conv.module.bias.detach().numpy())
        bn = model.get_layer(f"bn{i}")
        bn.gamma.assign(tebn.bn.weight.detach().numpy())
        bn.beta.assign(tebn.bn.bias.detach().numpy())
        bn.moving_mean.assign(tebn.bn.running_mean.numpy())
        bn.moving_variance.assign(tebn.bn.running_var.numpy())
        bn.p.assign(tebn.p.detach().numpy().reshape(-1))
    for name, fc in (("fc1", net.fc1.module[1]), ("fc2", net.fc2.module[1])):
        model.get_layer(name).kernel.assign(fc.weight.detach().numpy().T)
        model.get_layer(name).bias.assign(fc.bias.detach().numpy())


@pytest.mark.parity
def test_cnn7_forward_matches_torch_reference():
    T = 4
    torch.manual_seed(0)
    net = TorchCNN7(num_classes=10, T=T)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.momentum = None
    frames = np.random.default_rng(0).poisson(0.3, (3, T, 48, 48, 2)).astype("float32")
    with torch.no_grad():
        net.train()
        net(torch.tensor(np.random.default_rng(1).poisson(0.3, (4, T, 48, 48, 2)).astype("float32")).permute(0, 1, 4, 2, 3))
        for m in net.modules():
            if type(m).__name__ == "TorchTEBN":
                m.bn.weight.uniform_(0.8, 1.6)
                m.bn.bias.uniform_(0.0, 0.5)
                m.p.uniform_(0.7, 1.3)
        net.fc1.module[1].weight.mul_(5.0)
        net.eval()
        expected = net(torch.tensor(frames).permute(0, 1, 4, 2, 3)).mean(1).numpy()
    model = tebn_cnn7(num_classes=10, time_steps=T)
    _copy_cnn7(net, model)
    got = model.predict(frames, verbose=0)
    assert expected.std(axis=0).mean() > 0.01  # input-dependent output
    np.testing.assert_allclose(got, expected, atol=2e-4, rtol=1e-4)
    lif = model.get_layer("sn1")
    assert abs(lif.tau - 4.0 / 3.0) < 1e-12 and lif.decay_input is False and lif.detach_reset is False


def test_cnn7_decay_keyword_and_deprecated_tau_decay():
    def neuron_taus(model):
        return [model.get_layer(f"sn{i}").tau for i in range(1, 7)]

    small = dict(num_classes=10, time_steps=2, input_shape=(16, 16, 2))
    new = tebn_cnn7(decay=0.5, **small)
    assert neuron_taus(new) == [2.0] * 6  # k = 1 - 1/tau
    with pytest.warns(DeprecationWarning, match="tau_decay"):
        old = tebn_cnn7(tau_decay=0.5, **small)
    assert neuron_taus(old) == neuron_taus(new)
    assert [w.shape for w in old.weights] == [w.shape for w in new.weights]
    with pytest.raises(TypeError, match="unexpected keyword"):
        tebn_cnn7(tau=2.0, **small)


# ------------------------------------------------------------------------------------ BP-STA ConvNet
@pytest.mark.parametrize("dataset", list(BPSTA_PARAMS))
def test_bpsta_parameter_counts(dataset):
    count, spec, cin, features = BPSTA_PARAMS[dataset]
    model = bpsta_convnet(dataset, num_classes=10, time_steps=2)
    assert _trainable(model) == n_params(torch_bpsta_convnet(spec, cin, features)) == count


def test_bpsta_structure():
    model = bpsta_convnet("nmnist", time_steps=3, adjust="bpsa+bpta")
    assert model.input_shape == (None, 3, 34, 34, 2) and model.output_shape == (None, 10)
    sn = model.get_layer("sn2")
    assert (sn.v_threshold, sn.v_reset, sn.decay_input, sn.adjust, sn.detach_reset) == (0.5, 0.0, False, "bpsa+bpta", True)
    assert abs((1.0 - 1.0 / sn.tau) - 0.9) < 1e-12
    assert model.get_layer("fc").units == 100 and model.get_layer("voting").voters == 10
    assert isinstance(model.get_layer("dropout"), NDropout)
    assert type(bpsta_convnet("mnist", decay=1.0, time_steps=2).get_layer("sn1")).__name__ == "IF"
    dvs = bpsta_convnet("dvsg", time_steps=2, num_classes=11)
    assert dvs.get_layer("flatten").output.shape[-1] == 1024 and dvs.output_shape == (None, 11)
    with pytest.raises(ValueError, match="unknown dataset"):
        bpsta_convnet("imagenet")
    with pytest.raises(ValueError, match="widths"):
        bpsta_convnet("mnist", widths=(8, 8))


def test_dvs_resize_is_torch_nearest():
    """F.interpolate(x, size=64) (nearest) on 128x128 picks rows/cols 0, 2, 4, ..."""
    model = bpsta_convnet("dvs", time_steps=1)
    resize = keras.Model(model.input, model.get_layer("resize").output)
    x = np.random.default_rng(0).random((1, 1, 128, 128, 2)).astype("float32")
    expected = torch.nn.functional.interpolate(torch.tensor(x[:, 0]).permute(0, 3, 1, 2), size=[64, 64])
    np.testing.assert_array_equal(resize.predict(x, verbose=0)[:, 0], expected.permute(0, 2, 3, 1).numpy())


@pytest.mark.parity
def test_voting_layer_matches_avg_pool1d():
    x = np.random.default_rng(0).random((3, 5, 40)).astype("float32")
    expected = torch.nn.functional.avg_pool1d(torch.tensor(x).reshape(15, 1, 40), 10, 10).reshape(3, 5, 4).numpy()
    np.testing.assert_allclose(_np(VotingLayer(10)(x)), expected, atol=1e-7)
    np.testing.assert_allclose(_np(VotingLayer(2)(x[:, 0])), x[:, 0].reshape(3, 20, 2).mean(-1), atol=1e-7)
    with pytest.raises(ValueError, match="multiple of 10"):
        VotingLayer(10)(x[..., :35])


@pytest.mark.parity
def test_ndropout_mask_shared_over_time():
    layer = NDropout(0.5, seed=3)
    x = np.ones((64, 6, 50), "float32")
    y = _np(layer(x, training=True))
    assert set(np.unique(y).tolist()) == {0.0, 2.0}  # inverted dropout scaling 1/(1-p)
    np.testing.assert_array_equal(y, np.repeat(y[:, :1], 6, axis=1))  # one mask per sample for all t
    assert not np.array_equal(y[0, 0], y[1, 0])  # masks differ between samples
    assert 0.45 < (y[:, 0] > 0).mean() < 0.55
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)
    with pytest.raises(ValueError, match="rate"):
        NDropout(1.0)


def test_ann_warmup_is_the_single_step_relu_network():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    m4 = bpsta_convnet("mnist", widths=(2, 2, 4), time_steps=4, ann_warmup=True)
    m1 = bpsta_convnet("mnist", widths=(2, 2, 4), time_steps=1, ann_warmup=True)
    m1.set_weights(m4.get_weights())
    snn = m4.predict(x, verbose=0)
    assert set(np.unique(np.round(snn * 40)).tolist()) <= set(range(41))  # rates: k / (T * voters)
    assert set_ann_mode(m4, True) == 4 and set_ann_mode(m1, True) == 4  # 3 conv nodes + readout node
    ann4, ann1 = m4.predict(x, verbose=0), m1.predict(x, verbose=0)
    np.testing.assert_allclose(ann4, ann1, atol=1e-5)  # T repeated identical steps == one step
    # hand-computed ANN readout: relu features -> fc -> vote (no node), from the same weights
    feats = keras.Model(m4.input, m4.get_layer("flatten").output).predict(x, verbose=0)[:, 0]
    fc = m4.get_layer("fc")
    logits = feats @ _np(fc.kernel) + _np(fc.bias)
    np.testing.assert_allclose(ann4, logits.reshape(4, 10, 10).mean(-1), atol=1e-4)
    assert not np.allclose(ann4, snn)
    set_ann_mode(m4, False)
    np.testing.assert_array_equal(m4.predict(x, verbose=0), snn)


@pytest.mark.parity
@pytest.mark.parametrize("jit", [False, True])
def test_ann_warmup_callback_switches_compiled_training(jit):
    """Epochs < K run the ANN; afterwards the SNN. With an unreachable threshold the SNN is silent,
    so its RateMSE is exactly 1/C = 0.1: the per-epoch losses show which network the compiled
    train step actually ran (a stale flag on JAX would show up here)."""
    if jit and keras.backend.backend() == "torch":
        pytest.skip("torch.compile takes ~30 s on this CPU; covered by TF/JAX jit")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((32, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, 32)
    model = bpsta_convnet("mnist", widths=(2, 2, 4), time_steps=2, v_threshold=1e6, ann_warmup=True)
    model.compile(optimizer="adam", loss=RateMSE(), jit_compile=jit)
    hist = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[ANNWarmup(2)])
    assert hist.history["ann_mode"] == [1.0, 1.0, 0.0]
    loss = hist.history["loss"]
    assert abs(loss[0] - 0.1) > 1e-3 and abs(loss[1] - 0.1) > 1e-3
    assert abs(loss[2] - 0.1) < 1e-6
    assert all(float(_np(l.ann_mode)) == 0.0 for l in model.layers if isinstance(l, WarmupSwitch))
    with pytest.raises(ValueError, match="WarmupSwitch"):
        plain = bpsta_convnet("mnist", widths=(2, 2, 4), time_steps=2)
        plain.compile(optimizer="adam", loss=RateMSE())
        plain.fit(x, y, epochs=1, verbose=0, callbacks=[ANNWarmup(1)])


@pytest.mark.parity
@pytest.mark.parametrize("jit", [False, True])
def test_bpsta_convnet_trains_with_rate_mse(jit):
    """fit works with BPSA+BPTA nodes. BPSA gives no gradient to silent neurons, so a readout that
    never fires cannot learn: the weights are drawn from a fixed numpy stream (the same on every
    backend) for which the readout fires."""
    if jit and keras.backend.backend() == "torch":
        pytest.skip("torch.compile takes ~30 s on this CPU; covered by TF/JAX jit")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 32)
    x = rng.random((32, 28, 28, 1)).astype("float32") * 0.3
    x[y == 1, :14] += 0.7  # class 1: bright top half
    model = bpsta_convnet("mnist", widths=(4, 4, 8), time_steps=2, num_classes=2, adjust="bpsa+bpta", dropout=0.0)
    wr = np.random.default_rng(2)
    model.set_weights([wr.uniform(-0.3, 0.3, v.shape).astype("float32") if len(v.shape) > 1
                       else np.full(v.shape, 1.0 if v.path.endswith(("gamma", "variance")) else 0.0, "float32")
                       for v in model.weights])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=RateMSE(), jit_compile=jit)
    before = [_np(v).copy() for v in model.trainable_weights]
    hist = model.fit(x, y, batch_size=32, epochs=6, verbose=0, shuffle=False)
    assert hist.history["loss"][-1] < 0.75 * hist.history["loss"][0]
    assert all(np.abs(_np(v) - b).max() > 0 for v, b in zip(model.trainable_weights, before))


def test_bpsta_convnet_save_load(tmp_path):
    keras.utils.set_random_seed(0)
    model = bpsta_convnet("nmnist", widths=(4, 4, 8, 8), time_steps=2, ann_warmup=True)
    set_ann_mode(model, True)
    x = np.random.default_rng(0).poisson(0.5, (2, 2, 34, 34, 2)).astype("float32")
    path = tmp_path / "bpsta.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert float(_np(restored.get_layer("fc_sn_warmup").ann_mode)) == 1.0
    assert restored.get_layer("sn1").adjust == "bpsa+bpta"
