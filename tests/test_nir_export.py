"""snnzoo.nir.to_nir: exports read by independent NIR implementations give snnzoo's spikes.

References (each the other library's own import of the graph, or a numpy/torch simulation of the
NIR equations written here from the NIR paper, not from snnzoo):

* snnTorch ``import_from_nir`` — LIF (both ``decay_input`` forms, PLIF), conv, avg pooling,
  flatten, dense, hard reset. Not for IF: snnTorch 1.0 reads ``nir.IF`` as ``snn.Leaky(beta=0.9)``
  (a leaky neuron) and asserts r = 1; not for subtract reset (it always resets to zero).
* Norse ``from_nir`` — IF, LIF with r = 1 (it ignores ``r``: LIF(decay_input=False) is not
  readable), sum pooling (it has no AvgPool2d), SEW ADD, hard reset. Not for subtract reset: its
  ``reset_method`` reaches CubaLIF only (LIF and IAF reset to zero).
* Sinabs ``from_nir`` — IF with subtract reset in its dt = 1 convention (it ignores ``r``; its IAF
  emits several spikes per step above 2·V_th and clips the membrane at −V_th, so the test keeps the
  input current in [0, V_th)); its LIF decays by exp(−1/τ), not forward Euler, so it is not used
  for LIF.
* ``_simulate`` below: forward Euler of the NIR equations (contract in docs/nir.md), including
  recurrent edges (read at the previous step), subtract reset from the graph metadata and the
  readout metadata — used for the IDE cycle, BN folding and the zoo models.
"""
import os

import numpy as np
import pytest

nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch")

import keras  # noqa: E402

from snnzoo.layers import IF, LIF, PLIF, MeanOverTime, RepeatTime, SEWConnect, TDBatchNorm, TimeFold  # noqa: E402
from snnzoo.nir.export import NIRExportError, nir_exportability, to_nir  # noqa: E402

from tests.nir_models import T, conv_net, random_input as _input, scale_weights as _scale_weights  # noqa: E402


# ---------------------------------------------------------------------------------------------
# helpers
def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _to_cf(x):
    """[B, T, H, W, C] -> [B, T, C, H, W] (NIR is channels-first)."""
    return np.moveaxis(x, -1, 2) if x.ndim == 5 else x


def _simulate(graph, x, dt):
    """Forward Euler of a NIR graph on x [B, T, *input] (channels-first), per step; a recurrent
    edge (to a node earlier in the evaluation order) carries the previous step's value."""
    nodes, edges = graph.nodes, graph.edges
    meta = graph.metadata.get("snnzoo", {})
    soft = {str(n) for n in meta.get("subtract_reset", [])}
    order, state = [], set()

    def visit(n):  # depth-first post-order from the input, reversed = topological
        state.add(n)
        for a, b in edges:
            if a == n and b not in state:
                visit(b)
        order.append(n)

    visit("input")
    order = order[::-1]
    pos = {n: i for i, n in enumerate(order)}
    steps = x.shape[1]
    out_prev = {n: 0.0 for n in order}
    v = {}
    outputs = []
    for t in range(steps):
        out = {}
        for n in order:
            node = nodes[n]
            if n == "input":
                out[n] = torch.tensor(x[:, t], dtype=torch.float64)
                continue
            ins = [out[a] if pos[a] < pos[n] else out_prev[a] for a, b in edges if b == n]
            i = sum(ins[1:], ins[0])
            if isinstance(node, nir.Output):
                out[n] = i
            elif isinstance(node, nir.Affine):
                out[n] = i @ torch.tensor(node.weight, dtype=torch.float64).T + torch.tensor(node.bias, dtype=torch.float64)
            elif isinstance(node, nir.Conv2d):
                out[n] = torch.nn.functional.conv2d(
                    i, torch.tensor(node.weight, dtype=torch.float64), torch.tensor(node.bias, dtype=torch.float64),
                    stride=tuple(node.stride), padding=tuple(node.padding), dilation=tuple(node.dilation),
                    groups=node.groups)
            elif isinstance(node, nir.Conv1d):
                out[n] = torch.nn.functional.conv1d(
                    i, torch.tensor(node.weight, dtype=torch.float64), torch.tensor(node.bias, dtype=torch.float64),
                    stride=node.stride, padding=node.padding, dilation=node.dilation, groups=node.groups)
            elif isinstance(node, nir.AvgPool2d):
                out[n] = torch.nn.functional.avg_pool2d(i, tuple(node.kernel_size), tuple(node.stride))
            elif isinstance(node, nir.SumPool2d):
                k = tuple(int(s) for s in node.kernel_size)
                out[n] = torch.nn.functional.avg_pool2d(i, k, tuple(node.stride)) * (k[0] * k[1])
            elif isinstance(node, nir.Flatten):
                out[n] = i.reshape(i.shape[0], -1)
            elif isinstance(node, (nir.LIF, nir.IF)):
                vv = v.get(n, torch.zeros_like(i))
                r = torch.tensor(node.r, dtype=torch.float64)
                if isinstance(node, nir.LIF):
                    tau = torch.tensor(node.tau, dtype=torch.float64)
                    vv = vv + dt / tau * (torch.tensor(node.v_leak, dtype=torch.float64) - vv + r * i)
                else:
                    vv = vv + dt * r * i
                vth = torch.tensor(node.v_threshold, dtype=torch.float64)
                s = (vv >= vth - 1e-9).to(torch.float64)  # snnzoo fires at v >= V_th
                vv = vv - vth * s if n in soft else vv * (1 - s)
                v[n] = vv
                out[n] = s
            else:
                raise AssertionError(f"reference: no rule for {type(node).__name__}")
        outputs.append(out["output"].numpy())
        out_prev = out
    y = np.stack(outputs, 1)
    readout = meta.get("readout", {"kind": "none"})
    if readout["kind"] == "mean":
        return y.mean(1)
    if readout["kind"] == "weighted_mean":
        w = np.asarray(readout["weights"])
        return np.tensordot(w, np.moveaxis(y, 1, 0), axes=1)
    return y


def _graph_input(graph, x):
    """The per-step graph input for a model input x (static images repeated, channels first)."""
    meta = graph.metadata["snnzoo"]
    T_ = int(meta["time_steps"])
    x = np.asarray(x, np.float64)
    if int(meta["input"]["repeat"]):
        x = np.repeat(x[:, None], T_, axis=1)
    norm = meta["input"].get("normalization")
    if norm is not None:
        x = x * np.asarray(norm["scale"]) + np.asarray(norm["offset"])
    return _to_cf(x) if x.ndim == 5 else (np.moveaxis(x, -1, 2) if x.ndim == 4 else x)


def _to_cl(y):
    """Graph outputs [B, T, C, *spatial] -> channels last like the model."""
    return np.moveaxis(y, 2, -1) if y.ndim > 3 else y


def _close_spikes(a, b, max_flips=0.002):
    """Spike trains equal up to rare threshold ties from float rounding (folded weights are summed
    in another order): at most ``max_flips`` of the entries differ."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert set(np.unique(a)) <= {0.0, 1.0}
    frac = np.mean(a != b)
    assert frac <= max_flips, f"{frac:.4f} of the spikes differ"
    assert 0.02 < a.mean() < 0.98, f"degenerate test: firing rate {a.mean():.3f}"


# ---------------------------------------------------------------------------------------------
# models
def sew_block(neuron, seed=0):
    """conv -> neuron -> [conv -> neuron, conv -> neuron] -> SEW ADD -> sum-pool -> dense -> neuron."""
    inp = keras.Input((T, 6, 6, 2))
    x = TimeFold(keras.layers.Conv2D(3, 3, padding="same"), name="stem")(inp)
    x = neuron("sn0")(x)
    y = TimeFold(keras.layers.Conv2D(3, 3, padding="same"), name="conv1")(x)
    y = neuron("sn1")(y)
    y = TimeFold(keras.layers.Conv2D(3, 3, padding="same"), name="conv2")(y)
    y = neuron("sn2")(y)
    x = SEWConnect("ADD", name="connect")([y, x])
    x = TimeFold(keras.layers.AveragePooling2D(2), name="pool")(x)
    x = TimeFold(keras.layers.Flatten(), name="flatten")(x)
    x = keras.layers.Dense(5, name="fc")(x)
    x = neuron("sn3")(x)
    model = keras.Model(inp, x)
    _scale_weights(model, 3.0, seed)
    return model


# ---------------------------------------------------------------------------------------------
# snnTorch
def _run_snntorch(graph, x_cf):
    snntorch_nir = pytest.importorskip("snntorch.import_nir")
    import snntorch.utils

    net = snntorch_nir.import_from_nir(graph)
    out = []
    with torch.no_grad():
        for b in range(x_cf.shape[0]):
            snntorch.utils.reset(net)
            state = None
            steps = []
            for t in range(x_cf.shape[1]):
                xt = torch.tensor(x_cf[b, t], dtype=torch.float32)
                o = net(xt) if state is None else net(xt, state)
                o, state = o if isinstance(o, tuple) else (o, None)
                steps.append(o.numpy())
            out.append(np.stack(steps))
    return np.stack(out)


LIF_KINDS = {
    "lif_decay_input": lambda name: LIF(tau=2.0, decay_input=True, name=name),
    "lif_no_decay_input": lambda name: LIF(tau=tau_k(0.5), decay_input=False, name=name),
    "plif": lambda name: PLIF(init_tau=3.0, name=name),
}


def tau_k(k):
    return 1.0 / (1.0 - k)


@pytest.mark.parity
@pytest.mark.parametrize("kind", sorted(LIF_KINDS))
def test_snntorch_reads_conv_net(kind, capsys):
    model = conv_net(LIF_KINDS[kind])
    x = _input((2, T, 8, 8, 2))
    ref = _np(model(x))
    got = _run_snntorch(to_nir(model), _to_cf(x))
    _close_spikes(got.reshape(ref.shape), ref)


# ---------------------------------------------------------------------------------------------
# Norse
def _run_norse(graph, x_cf, dt, subtract=False):
    norse = pytest.importorskip("norse.torch")
    from norse.torch.functional import reset

    net = norse.from_nir(graph, dt=dt, ignore_warnings=True,
                         reset_method=reset.reset_subtract if subtract else reset.reset_value)
    out = []
    with torch.no_grad():
        for b in range(x_cf.shape[0]):
            state, steps = None, []
            for t in range(x_cf.shape[1]):
                o, state = net(torch.tensor(x_cf[b, t], dtype=torch.float32), state)
                steps.append(o.numpy())
            out.append(np.stack(steps))
    return np.stack(out)


@pytest.mark.parity
@pytest.mark.parametrize("neuron", ["if", "lif"])
def test_norse_reads_sew_block(neuron):
    make = (lambda name: IF(name=name)) if neuron == "if" else (lambda name: LIF(tau=2.0, name=name))
    model = sew_block(make)
    x = _input((2, T, 6, 6, 2))
    ref = _np(model(x))
    graph = to_nir(model, pooling="sum")  # Norse reads SumPool2d, not AvgPool2d
    assert any(isinstance(n, nir.SumPool2d) for n in graph.nodes.values())
    assert sum(1 for a, b in graph.edges if b == "connect" or b.startswith("pool")) >= 2
    _close_spikes(_run_norse(graph, _to_cf(x), 1e-4), ref)


@pytest.mark.parity
def test_subtract_reset_lif_recorded_and_simulated():
    """No reference library reads a subtract-reset LIF from a graph (Norse's from_nir passes its
    reset_method to CubaLIF only; snnTorch always resets to zero): the NIR equations here."""
    model = conv_net(lambda name: LIF(tau=2.0, v_reset=None, name=name))
    x = _input((2, T, 8, 8, 2))
    ref = _np(model(x))
    graph = to_nir(model, subtract_reset=True)
    assert sorted(graph.metadata["snnzoo"]["subtract_reset"]) == ["sn1", "sn2"]
    _close_spikes(_simulate(graph, _to_cf(x), 1e-4), ref)
    hard = nir.NIRGraph(nodes=graph.nodes, edges=graph.edges, metadata={"snnzoo": {}})
    assert np.any(_simulate(hard, _to_cf(x), 1e-4) != ref)  # the reset mode matters here


# ---------------------------------------------------------------------------------------------
# Sinabs
def test_sinabs_reads_if_subtract_reset_dt_1():
    sinabs_nir = pytest.importorskip("sinabs.nir")
    S = 24
    inp = keras.Input((S, 12))
    x = keras.layers.Dense(8, name="fc1")(inp)
    x = IF(v_reset=None, name="sn1")(x)
    x = keras.layers.Dense(4, name="fc2")(x)
    x = IF(v_reset=None, name="sn2")(x)
    model = keras.Model(inp, x)
    rng = np.random.default_rng(0)
    # input currents in [0, V_th): sinabs' IAF then fires at most once per step, as snnzoo's
    model.get_layer("fc1").set_weights([rng.random((12, 8)).astype("float32") / 12, np.zeros(8, "float32")])
    model.get_layer("fc2").set_weights([rng.random((8, 4)).astype("float32") / 8, np.zeros(4, "float32")])
    x = rng.random((3, S, 12)).astype("float32")
    ref = _np(model(x))
    graph = to_nir(model, dt=1.0, subtract_reset=True)
    assert np.allclose(graph.nodes["sn1"].r, 1.0)  # IF r = 1/dt: "one unit of input per step"
    net = sinabs_nir.from_nir(graph, batch_size=3)
    with torch.no_grad():
        got = net(torch.tensor(x.reshape(3 * S, 12)))
    got = got[0] if isinstance(got, tuple) else got
    _close_spikes(got.numpy().reshape(ref.shape), ref)


# ---------------------------------------------------------------------------------------------
# the NIR equations simulated here: IF/LIF/PLIF mix, BN folding, subtract reset, readout
@pytest.mark.parity
def test_mixed_neurons_and_bn_folding_match_the_unfolded_model():
    kinds = iter([lambda n: IF(name=n), lambda n: PLIF(init_tau=2.5, decay_input=False, name=n)])
    model = conv_net(lambda name: next(kinds)(name) if name == "sn1" else LIF(tau=1.5, name=name),
                     bn=True)
    bn = model.get_layer("bn")
    rng = np.random.default_rng(3)
    bn.set_weights([rng.uniform(0.5, 2, 4).astype("float32"), rng.normal(0, 0.5, 4).astype("float32"),
                    rng.normal(0, 0.5, 4).astype("float32"), rng.uniform(0.5, 2, 4).astype("float32")])
    x = _input((3, T, 8, 8, 2))
    ref = _np(model(x, training=False))
    graph = to_nir(model)
    assert "bn" not in graph.nodes  # folded into conv
    assert isinstance(graph.nodes["sn1"], nir.IF) and isinstance(graph.nodes["sn2"], nir.LIF)
    _close_spikes(_simulate(graph, _to_cf(x), 1e-4), ref)
    # the folded conv equals BN(conv(x)) of the model on the first frame
    conv_out = _np(model.get_layer("conv")(x))[:, 0]
    bn_out = _np(bn(conv_out[:, None], training=False))[:, 0]
    node = graph.nodes["conv"]
    folded = torch.nn.functional.conv2d(torch.tensor(_to_cf(x)[:, 0]), torch.tensor(node.weight),
                                        torch.tensor(node.bias), padding=tuple(node.padding)).numpy()
    np.testing.assert_allclose(np.moveaxis(folded, 1, -1), bn_out, rtol=1e-4, atol=1e-4)


def test_shared_conv_output_is_not_folded():
    """conv -> BN -> IF in one branch and conv -> IF in the other: BN must not fold into the
    conv the second branch reads; the BN then has nothing to fold into and is refused."""
    inp = keras.Input((T, 6, 6, 2))
    c = TimeFold(keras.layers.Conv2D(3, 3, padding="same"), name="conv")(inp)
    a = IF(name="a")(TDBatchNorm(name="bn")(c))
    b = IF(name="b")(c)
    model = keras.Model(inp, SEWConnect("ADD", name="add")([a, b]))
    with pytest.raises(NIRExportError, match="layer 'a'.*'bn'"):
        to_nir(model)
    inp = keras.Input((T, 6, 6, 2))
    c = TimeFold(keras.layers.Conv2D(3, 3, padding="same"), name="conv")(inp)
    model = keras.Model(inp, SEWConnect("ADD", name="add")([IF(name="a")(c), LIF(name="b")(c)]))
    graph = to_nir(model)
    assert [a for a, b in graph.edges if b in ("a", "b")] == ["conv", "conv"]  # one conv node


@pytest.mark.parity
def test_time_mean_readout_per_step():
    inp = keras.Input((T, 10))
    x = keras.layers.Dense(8, name="fc1")(inp)
    x = LIF(tau=2.0, name="sn1")(x)
    x = MeanOverTime(name="mean")(x)
    x = keras.layers.Dense(3, name="fc2")(x)
    model = keras.Model(inp, x)
    _scale_weights(model, 4.0)
    x = _input((4, T, 10))
    with pytest.raises(NIRExportError, match="layer 'mean'.*per_step_readout=True"):
        to_nir(model)
    graph = to_nir(model, per_step_readout=True)
    assert graph.metadata["snnzoo"]["readout"]["kind"] == "mean"
    np.testing.assert_allclose(_simulate(graph, x, 1e-4), _np(model(x)), rtol=1e-5, atol=1e-5)


def _small_fsnn(builder, **kwargs):
    from snnzoo.models import fsnn

    model = getattr(fsnn, builder)(seed=0, **kwargs)
    return model


@pytest.mark.parametrize("builder,kwargs,shape", [
    pytest.param("fsnn_fc", dict(hidden=16, time_steps=4, input_shape=(6, 6, 1), dropout=0.0), (3, 6, 6, 1),
                 marks=pytest.mark.parity),
    ("fsnn_conv", dict(filters=4, time_steps=4, input_shape=(8, 8, 1), dropout=0.0, decay=None), (2, 8, 8, 1)),
    ("fsnn_nmnist", dict(filters=3, time_steps=3, sensor_size=(8, 8), dropout=0.0), (2, 3, 8, 8, 2)),
])
def test_ide_feedback_cycle_matches_the_equilibrium_layer(builder, kwargs, shape):
    model = _small_fsnn(builder, **kwargs)
    x = _input(shape, scale=1.0)
    ref = _np(model(x))
    with pytest.raises(NIRExportError, match="subtract_reset=True"):
        to_nir(model, per_step_readout=True, input_normalization="outside")
    graph = to_nir(model, subtract_reset=True, per_step_readout=True, input_normalization="outside")
    assert ("equilibrium.feedback", "equilibrium.layer0") in graph.edges  # the recurrent edge
    got = _simulate(graph, _graph_input(graph, x), 1e-4)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_ide_feedback_bias_refused_only_when_nonzero():
    from snnzoo.ide import FeedbackEquilibrium

    inp = keras.Input((8,))
    layer = FeedbackEquilibrium({"kind": "dense", "filters": 8, "use_bias": True}, time_steps=3,
                                decay=0.9, spectral_norm=False, name="eq")
    model = keras.Model(inp, keras.layers.Dense(2, name="head")(layer(inp)))
    assert to_nir(model, subtract_reset=True, per_step_readout=True)  # zero bias: exact
    layer.feedback_module.bias.assign(np.full(8, 0.1, "float32"))
    with pytest.raises(NIRExportError, match="layer 'eq'.*bias is gated off at t = 0"):
        to_nir(model, subtract_reset=True, per_step_readout=True)


@pytest.mark.parity
def test_conv1d_same_and_static_stem_with_repeat():
    inp = keras.Input((9, 2))
    x = keras.layers.Rescaling(2.0, name="scale")(inp)             # no offset: folds exactly
    x = keras.layers.Conv1D(3, 3, padding="same", name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = RepeatTime(T, name="repeat")(x)
    x = IF(name="sn")(x)
    model = keras.Model(inp, x)
    _scale_weights(model, 2.0)
    x = _input((3, 9, 2))
    graph = to_nir(model)
    assert isinstance(graph.nodes["conv"], nir.Conv1d) and graph.metadata["snnzoo"]["input"]["repeat"] == 1
    _close_spikes(_to_cl(_simulate(graph, _graph_input(graph, x), 1e-4)), _np(model(x)))


# ---------------------------------------------------------------------------------------------
# refusals: one clear error each
def _seq(layers, shape=(T, 8, 8, 2)):
    inp = keras.Input(shape)
    x = inp
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x)


def _refusals():
    from snnzoo.layers import TEBN, VotingLayer

    conv = lambda n="conv", **k: TimeFold(keras.layers.Conv2D(4, 3, padding="same", **k), name=n)  # noqa: E731
    return {
        "max pooling": (_seq([conv(), IF(name="sn"), TimeFold(keras.layers.MaxPooling2D(2), name="mp")]),
                        "layer 'mp'.*max pooling"),
        "unfoldable BN": (_seq([conv(), IF(name="sn"), TDBatchNorm(name="bn"), IF(name="sn2")]),
                          "layer 'sn2'.*'bn'.*without a convolution or dense layer to fold into"),
        "TEBN": (_seq([conv(), TEBN(T, name="tebn"), IF(name="sn")]), "layer 'tebn'.*TEBN"),
        "voting": (_seq([keras.layers.Dense(4, name="fc"), IF(name="sn"), VotingLayer(2, name="vote")],
                        (T, 3)), "layer 'vote'.*voting"),
        "time-mean readout": (_seq([keras.layers.Dense(4, name="fc"), IF(name="sn"), MeanOverTime(name="mean")],
                                   (T, 3)), "layer 'mean'.*per_step_readout=True"),
        "soft reset": (_seq([keras.layers.Dense(4, name="fc"), IF(v_reset=None, name="sn")], (T, 3)),
                       "layer 'sn'.*subtract_reset=True"),
        "SEW AND": (None, "layer 'and'.*connect function AND"),
        "asymmetric same": (_seq([TimeFold(keras.layers.Conv2D(4, 2, padding="same"), name="even"), IF(name="sn")]),
                            "layer 'even'.*asymmetric"),
        "relu": (_seq([keras.layers.Dense(4, name="fc"), keras.layers.ReLU(name="relu"), IF(name="sn")], (T, 3)),
                 "layer 'relu'.*activation"),
        "nonzero v_reset": (_seq([keras.layers.Dense(4, name="fc"), IF(v_reset=-0.5, name="sn")], (T, 3)),
                            "layer 'sn'.*v_reset=-0.5"),
        "normalisation offset into padded conv": (
            _seq([keras.layers.Rescaling(2.0, offset=-1.0, name="norm"),
                  keras.layers.Conv2D(3, 3, padding="same", name="c"), RepeatTime(T, name="rep"), IF(name="sn")],
                 (8, 8, 1)), "layer 'c'.*input_normalization='outside'"),
    }


@pytest.mark.parametrize("case", sorted(_refusals()))
def test_refusals_name_the_layer_and_reason(case):
    model, pattern = _refusals()[case]
    if model is None:  # SEW AND
        inp = keras.Input((T, 4))
        a = IF(name="a")(keras.layers.Dense(4, name="f1")(inp))
        b = IF(name="b")(keras.layers.Dense(4, name="f2")(inp))
        model = keras.Model(inp, SEWConnect("AND", name="and")([a, b]))
    with pytest.raises(NIRExportError, match=pattern) as info:
        to_nir(model)
    assert str(info.value).count("to_nir:") == 1
    ok, reason = nir_exportability(model, subtract_reset=False, per_step_readout=False,
                                   input_normalization="fold")
    assert not ok and reason


def test_dropout_is_identity_and_bad_options():
    from snnzoo.layers import NDropout

    model = _seq([keras.layers.Dense(4, name="fc"), keras.layers.Dropout(0.5, name="drop"),
                  NDropout(0.5, name="nd"), IF(name="sn")], (T, 3))
    graph = to_nir(model)
    assert ("fc", "sn") in graph.edges and "drop" not in graph.nodes
    with pytest.raises(ValueError, match="pooling"):
        to_nir(model, pooling="max")
    with pytest.raises(ValueError, match="dt"):
        to_nir(model, dt=0)


def test_sequential_nested_and_subclassed_models():
    seq = keras.Sequential([keras.Input((T, 5)), keras.layers.Dense(3, name="fc"), IF(name="sn")])
    assert to_nir(seq).edges == [("input", "fc"), ("fc", "sn"), ("sn", "output")]
    i = keras.Input((T, 5))
    inner = keras.Model(i, IF(name="sn_in")(keras.layers.Dense(3, name="fc_in")(i)), name="inner")
    o = keras.Input((T, 5))
    outer = keras.Model(o, LIF(name="sn_out")(keras.layers.Dense(2, name="fc_out")(inner(o))))
    assert ("sn_in", "fc_out") in to_nir(outer).edges

    class Sub(keras.Model):
        def __init__(self):
            super().__init__(name="sub")
            self.fc, self.sn = keras.layers.Dense(3), IF()

        def call(self, x):
            return self.sn(self.fc(x))

    sub = Sub()
    sub(np.zeros((1, T, 5), "float32"))
    with pytest.raises(NIRExportError, match="'sub' is not a functional Keras model"):
        to_nir(sub)


def test_written_graph_keeps_metadata(tmp_path):
    model = conv_net(lambda name: LIF(tau=2.0, v_reset=None, name=name))
    graph = to_nir(model, subtract_reset=True)
    nir.write(tmp_path / "m.nir", graph)
    back = nir.read(tmp_path / "m.nir")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in back.metadata["snnzoo"]["subtract_reset"]]
    assert sorted(names) == ["sn1", "sn2"]
    assert float(back.metadata["snnzoo"]["dt"]) == 1e-4


# ---------------------------------------------------------------------------------------------
# zoo: a verdict for every architecture; the exportable ones export (random weights, small inputs)
EXPORTABLE = {"fsnn_fc", "fsnn_conv", "fsnn_nmnist", "resnet19", "sew_resnet18_cifar"}
REASONS = {"alexnet_f": "transposed-convolution", "cifarnet_f": "transposed-convolution",
           "bpsta_convnet": "activation", "sew7bnet": "max pooling", "sew_wide7bnet": "max pooling",
           "sew_resnet18": "max pooling", "sew_resnet34": "max pooling", "sew_resnet50": "max pooling",
           "tebn_cnn7": "TEBN"}


def _small_overrides(builder):
    if builder == "fsnn_nmnist":
        return dict(sensor_size=(10, 10), time_steps=2)
    if builder in ("sew7bnet", "sew_wide7bnet"):
        return dict(input_shape=(128, 128, 2), time_steps=1)
    if builder == "tebn_cnn7":
        return dict(input_shape=(16, 16, 2), time_steps=2)
    if builder == "bpsta_convnet":
        return dict(time_steps=2, widths=(4, 4, 4, 4))
    if builder in ("fsnn_fc", "fsnn_conv", "alexnet_f", "cifarnet_f"):
        return dict(input_shape=(8, 8, 3 if builder in ("alexnet_f", "cifarnet_f") else 1), time_steps=2)
    if builder.startswith("sew_resnet") and builder != "sew_resnet18_cifar":
        return dict(input_shape=(32, 32, 3), time_steps=1)
    return dict(input_shape=(16, 16, 3), time_steps=2)


def test_every_zoo_architecture_gets_a_verdict():
    import snnzoo
    from snnzoo.zoo import registry

    verdicts = {}
    for name, entry in sorted(registry.entries().items()):
        builder = entry["architecture"]["builder"].split(":")[1]
        model = snnzoo.load(name, weights=None, **_small_overrides(builder))
        ok, reason = nir_exportability(model)
        verdicts[name] = (ok, reason)
        assert ok == (builder in EXPORTABLE), (name, reason)
        if ok:
            assert reason.startswith("NIR-exportable")
        else:
            assert REASONS[builder] in reason, (name, reason)
    assert len(verdicts) == len(registry.entries())
    if os.environ.get("SNNZOO_PRINT_VERDICTS"):
        for name, v in verdicts.items():
            print(name, v)


def test_sew_resnet18_cifar_exports_and_matches():
    from snnzoo.models.sew_resnet import sew_resnet18_cifar

    model = sew_resnet18_cifar(num_classes=4, time_steps=2, input_shape=(8, 8, 3))
    x = _input((2, 8, 8, 3), scale=1.0)
    graph = to_nir(model, per_step_readout=True, input_normalization="outside")
    ref = _np(model(x))
    np.testing.assert_allclose(_simulate(graph, _graph_input(graph, x), 1e-4), ref, rtol=1e-3, atol=1e-3)
