"""snnzoo.profile: exact AC / MAC counts against independent references.

References: spike tensors taken from a plain functional sub-model (``keras.Model(inputs,
layer.output)``, not the profiler's recorder) and the number of (input spike, synapse) pairs as
the sum of a convolution with an all-ones kernel (``keras.ops.conv`` / ``depthwise_conv``:
the backend's own padding and stride arithmetic); dense layers as s @ 1; the IDE simulation
re-implemented in numpy; SpikingJelly's ``SynOpCounter`` on the same spikes and geometry.
"""
import csv
import json

import keras
import numpy as np
import pytest
from keras import ops

from snnzoo.layers import LIF, MeanOverTime, RepeatTime, TimeFold
from snnzoo.layers.sew_connect import SEWConnect
from snnzoo.profiling.energy import EnergyModel, rate_form_energy
from snnzoo.profiling.latency import settle_step
from snnzoo.profiling.report import profile
from snnzoo.profiling.record import record_outputs

T = 3


def _net():
    """Direct encoding → conv (same, stride 2) → LIF → avg pool (same) → pad + conv (stride 2,
    PyTorch-style) → LIF → max pool → dense per step → LIF → time mean → dense readout."""
    inp = keras.Input((9, 7, 2))
    x = RepeatTime(T)(inp)
    x = TimeFold(keras.layers.Conv2D(3, 3, strides=2, padding="same"), name="conv1")(x)
    x = LIF(tau=2.0, v_threshold=0.3, name="lif1")(x)
    x = TimeFold(keras.layers.AveragePooling2D(2, strides=1, padding="same"), name="avg")(x)
    x = TimeFold(keras.layers.ZeroPadding2D(1), name="pad")(x)
    x = TimeFold(keras.layers.Conv2D(4, 3, strides=2, padding="valid"), name="conv2")(x)
    x = LIF(tau=2.0, v_threshold=0.15, name="lif2")(x)
    x = TimeFold(keras.layers.MaxPooling2D(2, padding="same"), name="maxp")(x)
    x = TimeFold(keras.layers.Flatten(), name="flat")(x)
    x = keras.layers.Dense(6, name="fc")(x)
    x = LIF(tau=2.0, v_threshold=0.05, name="lif3")(x)
    x = MeanOverTime(name="mean")(x)
    out = keras.layers.Dense(2, name="readout")(x)
    return keras.Model(inp, out, name="small_snn")


def _tap(model, name, which="output"):
    layer = model.get_layer(name)
    t = layer.output if which == "output" else layer.input
    return np.asarray(ops.convert_to_numpy(keras.Model(model.inputs, t)(model._x)))


def _ones_conv(s, k, cout, strides, padding):
    """Σ conv(s, 1) over a [B, T, H, W, C] tensor: the number of (input, synapse) pairs."""
    frames = s.reshape((-1,) + s.shape[2:]).astype("float64")
    kernel = np.ones((k, k, s.shape[-1], cout))
    return float(np.sum(ops.convert_to_numpy(ops.conv(frames.astype("float32"), kernel.astype("float32"),
                                                      strides=strides, padding=padding))))


def _ones_pool(s, k, strides, padding):
    frames = s.reshape((-1,) + s.shape[2:]).astype("float32")
    kernel = np.ones((k, k, s.shape[-1], 1), "float32")
    return float(np.sum(ops.convert_to_numpy(ops.depthwise_conv(frames, kernel, strides=strides,
                                                                padding=padding))))


@pytest.fixture(scope="module")
def small():
    keras.utils.set_random_seed(3)
    model = _net()
    x = np.random.default_rng(0).uniform(0, 1, (5, 9, 7, 2)).astype("float32")
    model._x = x
    return model, x


@pytest.mark.parity
def test_exact_counts_small_network(small):
    model, x = small
    B = x.shape[0]
    p = profile(model, x, batch_size=2, latency=False)  # 3 batches (2, 2, 1): per-sample mean
    rows = {r["layer"]: r for r in p.rows}
    assert [r["layer"] for r in p.rows] == ["conv1", "lif1", "avg", "conv2", "lif2", "maxp",
                                           "fc", "lif3", "readout"]
    s1, s2, s3 = (_tap(model, n) for n in ("lif1", "lif2", "lif3"))
    pad = _tap(model, "pad")
    assert set(np.unique(s1)) <= {0.0, 1.0} and s1.sum() > 0 and s2.sum() > 0
    # encoding conv on real images, T times (TimeFold over the repeated image): MACs, with the
    # padded taps left out: Σ conv(1, 1)
    ones_in = np.ones((B, T) + x.shape[1:], "float32")
    assert rows["conv1"]["mac"] == pytest.approx(_ones_conv(ones_in, 3, 3, 2, "same") / B)
    assert rows["conv1"]["ac"] == 0
    # avg pooling (same padding, stride 1) on spikes: every spike into each window containing it
    assert rows["avg"]["ac"] == pytest.approx(_ones_pool(s1, 2, 1, "same") / B)
    assert rows["avg"]["mac"] == 0
    # conv2 reads the 2x2 average pooling of spikes (window means c/4, the zeros of the explicit
    # ZeroPadding around): the pooling folded in, each of the c spikes of a window is an event
    assert not set(np.unique(pad)) <= {0.0, 1.0}
    assert rows["conv2"]["mac"] == 0
    assert rows["conv2"]["ac"] == pytest.approx(_ones_conv(4 * pad, 3, 4, 2, "valid") / B)
    # max pooling (same) on spikes, dense per step on spikes
    assert rows["maxp"]["ac"] == pytest.approx(_ones_pool(s2, 2, 2, "same") / B)
    flat = _tap(model, "flat")
    assert set(np.unique(flat)) <= {0.0, 1.0}
    assert rows["fc"]["ac"] == pytest.approx(float(np.sum(flat @ np.ones((flat.shape[-1], 6)))) / B)
    # readout on the time mean of spikes (real values): one MAC per synapse, once
    assert rows["readout"]["mac"] == pytest.approx(6 * 2)
    # firing rates per layer and per step
    for name, s in (("lif1", s1), ("lif2", s2), ("lif3", s3)):
        assert rows[name]["firing_rate"] == pytest.approx(s.mean())
        assert rows[name]["neurons"] == int(np.prod(s.shape[2:]))
        np.testing.assert_allclose(rows[name]["firing_rate_per_step"],
                                   s.mean(axis=(0,) + tuple(range(2, s.ndim)), dtype=np.float64), rtol=1e-9)
        # neurons without a spike on any of the 5 samples at any step (over the 3 batches)
        assert rows[name]["silent_fraction"] == pytest.approx(float(np.mean(s.sum(axis=(0, 1)) == 0)))
    silent = sum(int(np.sum(s.sum(axis=(0, 1)) == 0)) for s in (s1, s2, s3))
    assert 0 < silent < sum(int(np.prod(s.shape[2:])) for s in (s1, s2, s3))  # the test means something
    assert p.total["silent_fraction"] == pytest.approx(silent / p.total["neurons"])
    assert rows["conv1"]["silent_fraction"] is None  # no neurons
    # totals and energy: E = 0.9 AC + 4.6 MAC (pJ), per sample
    ac = sum(r["ac"] for r in p.rows)
    mac = sum(r["mac"] for r in p.rows)
    assert p.total["ac"] == pytest.approx(ac) and p.total["mac"] == pytest.approx(mac)
    assert p.total["energy_pj"] == pytest.approx(0.9 * ac + 4.6 * mac)
    # ANN: every synaptic layer once, one step, dense (valid-padding convs: Hout·Wout·k²·Cin·Cout)
    ann = (_ones_conv(np.ones((1, 1) + x.shape[1:], "float32"), 3, 3, 2, "same")
           + _ones_conv(np.ones_like(pad[:1, :1]), 3, 4, 2, "valid")
           + _ones_pool(np.ones_like(s1[:1, :1]), 2, 1, "same")
           + _ones_pool(np.ones_like(s2[:1, :1]), 2, 2, "same")
           + flat.shape[-1] * 6 + 6 * 2)
    assert p.total["ann_mac"] == pytest.approx(ann)
    assert p.total["efficiency"] == pytest.approx(4.6 * ann / p.total["energy_pj"])


def test_spikingjelly_synop_counter_agrees(small):
    """SpikingJelly's SynOpCounter on the same spikes and geometry (PyTorch padding 1, stride 2
    convolution; linear layer) counts what our ``ac`` counts."""
    torch = pytest.importorskip("torch")
    op_counter = pytest.importorskip("spikingjelly.activation_based.op_counter")
    model, x = small
    B = x.shape[0]
    p = profile(model, x, latency=False)
    rows = {r["layer"]: r for r in p.rows}
    # conv2 of this net reads real values; feed its geometry the spikes of lif1 instead, in a
    # model of ours and in torch, so both count spike-driven synaptic operations
    s1 = _tap(model, "lif1")
    inp = keras.Input(s1.shape[1:])
    y = TimeFold(keras.layers.ZeroPadding2D(1))(inp)
    y = TimeFold(keras.layers.Conv2D(4, 3, strides=2, padding="valid"), name="conv")(y)
    y = TimeFold(keras.layers.Flatten())(y)
    y = keras.layers.Dense(5, name="fc")(LIF(v_threshold=0.2, name="lif")(y))
    ours = profile(keras.Model(inp, y), s1, latency=False)
    ours = {r["layer"]: r for r in ours.rows}
    counter = op_counter.SynOpCounter()
    conv = torch.nn.Conv2d(s1.shape[-1], 4, 3, stride=2, padding=1)
    frames = torch.from_numpy(s1.reshape((-1,) + s1.shape[2:])).permute(0, 3, 1, 2).contiguous()
    with op_counter.DispatchCounterMode([counter]):
        conv(frames)
    assert ours["conv"]["ac"] == pytest.approx(counter.get_total() / B)
    # dense layer on spikes
    flat = _tap(model, "flat")
    counter = op_counter.SynOpCounter()
    lin = torch.nn.Linear(flat.shape[-1], 6)
    with op_counter.DispatchCounterMode([counter]):
        lin(torch.from_numpy(flat.reshape(-1, flat.shape[-1])))
    assert rows["fc"]["ac"] == pytest.approx(counter.get_total() / B)


@pytest.mark.parity
def test_residual_add_counted():
    keras.utils.set_random_seed(1)
    inp = keras.Input((T, 6, 6, 2))
    a = LIF(v_threshold=0.5, name="lif_a")(inp)
    c = TimeFold(keras.layers.Conv2D(2, 3, padding="same"), name="conv_a")(a)
    b = LIF(v_threshold=0.2, name="lif_b")(c)
    s = SEWConnect("ADD", name="add")([b, a])
    d = TimeFold(keras.layers.Conv2D(3, 3, strides=2, padding="same"), name="conv_b")(s)
    out = MeanOverTime()(LIF(name="lif_c")(d))
    model = keras.Model(inp, out)
    x = np.random.default_rng(1).uniform(0, 1.5, (3, T, 6, 6, 2)).astype("float32")
    model._x = x
    p = profile(model, x, latency=False)
    rows = {r["layer"]: r for r in p.rows}
    sa, sb, ss = _tap(model, "lif_a"), _tap(model, "lif_b"), _tap(model, "add")
    assert ss.max() == 2  # the ADD makes spike counts 0, 1, 2
    assert rows["add"]["ac"] == pytest.approx((np.count_nonzero(sa) + np.count_nonzero(sb)) / 3)
    # the conv after the ADD: each count v adds v times
    assert rows["conv_b"]["ac"] == pytest.approx(_ones_conv(ss, 3, 3, 2, "same") / 3)
    assert rows["conv_a"]["ac"] == pytest.approx(_ones_conv(sa, 3, 2, 1, "same") / 3)
    assert rows["add"]["mac"] == 0 and p.total["mac"] == 0


def _ide_model():
    from snnzoo.ide import FeedbackEquilibrium

    keras.utils.set_random_seed(2)
    inp = keras.Input((5, 5, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", name="enc")(inp)
    fb = {"kind": "conv", "filters": 3, "kernel_size": 3, "padding": 1}
    chain = [{"kind": "conv", "filters": 2, "kernel_size": 3, "padding": 0}]
    fb = {"kind": "conv_transpose", "filters": 3, "kernel_size": 3, "padding": 0}
    rate = FeedbackEquilibrium(fb, chain=chain, time_steps=4, v_threshold=0.6, decay=0.9,
                               name="equilibrium")(x)
    out = keras.layers.Dense(2, name="cls")(keras.layers.Flatten()(rate))
    return keras.Model(inp, out)


@pytest.mark.parity
def test_ide_simulation_counted():
    """IDE: per step, the feedback (a conv-transpose) reads the previous step's last-layer spikes
    and the chain conv the current spikes of layer 0; numpy re-simulation of Eq. 1–2."""
    model = _ide_model()
    x = np.random.default_rng(2).uniform(0, 1, (4, 5, 5, 2)).astype("float32")
    p = profile(model, x, latency=False)
    rows = {r["layer"]: r for r in p.rows}
    layer = model.get_layer("equilibrium")
    x1 = np.asarray(ops.convert_to_numpy(keras.Model(model.inputs, layer.input)(x)), "float64")
    fbk = np.asarray(ops.convert_to_numpy(layer.feedback_kernel()[0]), "float64")
    ck = np.asarray(ops.convert_to_numpy(layer.chain_modules[0].kernel), "float64")
    f32 = lambda a: a.astype("float32")  # noqa: E731
    u0, u1 = np.zeros((4, 5, 5, 3)), np.zeros((4, 3, 3, 2))
    s1 = np.zeros_like(u1)
    acc = np.zeros_like(u1)
    ac, spikes0, spikes1 = 0.0, [], []
    for t in range(4):
        fb = np.asarray(ops.convert_to_numpy(ops.conv_transpose(f32(s1), f32(fbk), 1, "valid")))
        fb = fb[:, :5, :5] if fb.shape[1] >= 5 else fb
        ac += float(np.sum(ops.convert_to_numpy(ops.conv_transpose(
            f32(s1), np.ones((3, 3, 3, 2), "float32"), 1, "valid"))[:, :5, :5]))
        u0 = u0 + fb + x1
        s0 = (u0 >= 0.6).astype("float64")
        u0 = 0.9 * (u0 - 0.6 * s0)
        ac += _ones_conv(s0[:, None], 3, 2, 1, "valid")
        y = np.asarray(ops.convert_to_numpy(ops.conv(f32(s0), f32(ck), 1, "valid")))
        u1 = u1 + y
        s1 = (u1 >= 0.6).astype("float64")
        u1 = 0.9 * (u1 - 0.6 * s1)
        acc = acc * 0.9 + s1
        spikes0.append(s0)
        spikes1.append(s1)
    rate = acc / ((1 - 0.9 ** 4) / 0.1)
    np.testing.assert_allclose(rate, ops.convert_to_numpy(layer(x1.astype("float32"))), atol=1e-5)
    eq = rows["equilibrium"]
    assert eq["ac"] == pytest.approx(ac / 4)
    assert eq["neurons"] == 5 * 5 * 3 + 3 * 3 * 2
    n_spikes = sum(s.sum() for s in spikes0 + spikes1)
    assert eq["firing_rate"] == pytest.approx(n_spikes / (4 * 4 * eq["neurons"]))
    assert [d["neurons"] for d in eq["layers"]] == [75, 18]
    never = [float(np.mean(sum(s for s in spk).sum(axis=0) == 0)) for spk in (spikes0, spikes1)]
    assert [d["silent_fraction"] for d in eq["layers"]] == pytest.approx(never)
    assert eq["silent_fraction"] == pytest.approx((never[0] * 75 + never[1] * 18) / 93)
    # encoder conv on real input: MACs once; ANN of the equilibrium: each module once, dense
    assert rows["enc"]["mac"] == pytest.approx(_ones_conv(np.ones((1, 1, 5, 5, 2), "float32"), 3, 3, 1, "same"))
    ann_eq = 3 * 3 * 2 * 3 * 3 * 3 + float(np.sum(ops.convert_to_numpy(ops.conv_transpose(
        np.ones((1, 3, 3, 2), "float32"), np.ones((3, 3, 3, 2), "float32"), 1, "valid"))[:, :5, :5]))
    assert eq["ann_mac"] == pytest.approx(ann_eq)


def test_energy_model_and_rate_form(small):
    model, x = small
    p = profile(model, x, latency=False, energy={"e_mac": 3.1, "e_ac": 0.1})
    assert p.total["energy_pj"] == pytest.approx(0.1 * p.total["ac"] + 3.1 * p.total["mac"])
    with pytest.raises(ValueError, match="e_mac"):
        EnergyModel(e_mac=-1)
    # dense layers have a uniform fan-out: the papers' rate form equals the exact count
    inp = keras.Input((8,))
    h = RepeatTime(4)(inp)
    h = keras.layers.Dense(7, name="d1")(h)
    s = LIF(v_threshold=0.2, name="l1")(h)
    h = keras.layers.Dense(5, name="d2")(s)
    m = keras.Model(inp, MeanOverTime()(LIF(name="l2")(h)))
    xs = np.random.default_rng(4).uniform(0, 1, (6, 8)).astype("float32")
    q = profile(m, xs, latency=False)
    rate_in = {r["layer"]: r["firing_rate"] for r in q.rows}["l1"]
    e = rate_form_energy([8 * 7 * 4, 7 * 5], [None, rate_in], 4)  # encoding layer runs T times
    assert q.total["energy_pj"] == pytest.approx(e)


def test_record_outputs_and_exports(small, tmp_path):
    model, x = small
    rec = record_outputs(model, x, ["lif1", "conv1"])
    np.testing.assert_array_equal(rec["lif1"], _tap(model, "lif1"))
    assert rec["conv1"].shape[:2] == (5, T)
    assert "call" not in model.get_layer("lif1").__dict__  # the model is unchanged
    with pytest.raises(ValueError, match="no layer"):
        record_outputs(model, x, ["nope"])
    p = profile(model, x, y=np.zeros(5, int))
    d = p.to_dict()
    json.loads(json.dumps(d))  # plain Python data
    assert d["total"]["ac"] == p.total["ac"] and len(d["rows"]) == len(p.rows)
    path = p.to_csv(tmp_path / "p.csv")
    lines = list(csv.reader(open(path)))
    assert lines[0][:3] == ["layer", "kind", "neurons"] and lines[-1][0] == "TOTAL"
    assert lines[0][-1] == "silent_fraction" and float(lines[-1][-1]) == p.total["silent_fraction"]
    assert "E_ANN / E_SNN" in str(p)
    lat = p.latency
    assert lat["time_steps"] == T and 1 <= lat["mean"] <= T
    assert lat["accuracy_vs_steps"][-1] == pytest.approx(p.total["accuracy"])


def test_settle_step():
    preds = np.array([[1, 1, 1, 1], [0, 2, 1, 1], [3, 1, 3, 3], [0, 1, 2, 3]])
    np.testing.assert_array_equal(settle_step(preds), [1, 3, 3, 4])


def test_cli_profile_real_fashion_mnist(capsys, tmp_path):
    from snnzoo.cli import main

    pytest.importorskip("matplotlib")
    png, table = tmp_path / "rates.png", tmp_path / "p.csv"
    assert main(["profile", "fsnn_fmnist_ide", "--limit", "20", "-q", "--plot", str(png),
                 "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    assert "equilibrium" in out and "E_ANN / E_SNN" in out and "TOTAL" in out
    assert png.stat().st_size > 1000 and table.read_text().startswith("layer,kind")
    assert main(["profile", "no_such_model", "-q"]) == 1
    capsys.readouterr()
    assert main(["eval", "fsnn_fmnist_ide", "--limit", "20", "--energy", "-q"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "E_ANN / E_SNN" in out


def test_zoo_sew_model_profiles():
    """A zoo SEW ResNet (ZooImageModel, residual ADD blocks in nested models) on uint8 images:
    every row accounted for, ADD rows present, the totals the sum of the rows."""
    from snnzoo.zoo import load

    model = load("sew_resnet18_cifar", weights=None)
    x = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype("uint8")
    p = profile(model, x, latency=False)
    kinds = [r["kind"] for r in p.rows]
    assert "SEWConnect" in kinds and any(k.endswith("LIF") or k.endswith("IF") for k in kinds)
    assert p.total["ac"] == pytest.approx(sum(r["ac"] for r in p.rows))
    assert p.total["mac"] > 0 and p.total["ac"] > 0 and p.total["efficiency"] > 0
