"""``snnzoo.nir.from_nir``: NIR graphs written by other frameworks, run as Keras models.

References, all independent of snnzoo's code:

* the NIR paper's fixtures (``../shared/data/nir``): the single LIF neuron written by Norse
  against the exact solution ``lif_exact.csv`` and the traces Norse, snnTorch, Sinabs and Spyx
  produced from the same graph; the two recurrent CuBa-LIF Braille graphs written by snnTorch
  against Norse's own import (``norse.torch.from_nir``) and against snnTorch's own conversion of
  each node (``snntorch.import_nir._nir_to_snntorch_module``: ``Linear`` + ``snn.Synaptic``, the
  recurrence added as ``snn.RSynaptic`` adds it). snnTorch 1.0.0's ``import_from_nir`` itself
  runs a feed-forward CuBa-LIF/LIF graph (tested) but cannot run these graphs with nirtorch 2.0.2 (``KeyError: module name can't contain "."`` for
  the node ``lif1.lif``; and ``RSynaptic(reset_delay=False, init_hidden=True)``, what it builds
  for the recurrent subgraph, raises ``TypeError`` in its forward);
* networks exported by Sinabs (``sinabs.to_nir``: conv, sum pooling, flatten, IF) and Norse
  (``norse.torch.to_nir``: conv, LIF box, LI box) compared with the same network simulated by
  the library; snnTorch 1.0.0's ``export_to_nir`` cannot be used with nir 1.0.4 (it passes
  ``v_reset=`` to ``nir.LIF``, a field of nir >= 1.0.5), nor Norse's for Flatten (it exports no node);
* torch's own convolution/pooling, and a numpy loop of NIR's Euler equations written here.

The parity-marked tests (fixture trace, a Braille graph against Norse, compiled vs eager, fit
under jit_compile, the saved file) also run on TensorFlow and JAX (tests/run.sh).
"""
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

nir = pytest.importorskip("nir")

from snnzoo.nir import from_nir  # noqa: E402
from snnzoo.nir.graph_layer import NIRGraphLayer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HAS_V_RESET = "v_reset" in getattr(nir.LIF, "__dataclass_fields__", {})


@pytest.fixture(scope="module")
def nir_data(shared_data):
    return shared_data / "nir"


def run(model, x):
    """Per-step outputs as numpy through model.predict (compiled on TF and JAX)."""
    y = model.predict(np.asarray(x, "float32"), verbose=0, batch_size=len(x))
    return [np.asarray(a) for a in y] if isinstance(y, list) else np.asarray(y)


def _quiet_torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.getLogger().setLevel(logging.ERROR)
    return torch


# -- the NIR paper's fixtures ----------------------------------------------------------------
@pytest.mark.parity
def test_lif_fixture_matches_the_exact_trace_as_closely_as_other_frameworks(nir_data, capsys):
    exact = np.loadtxt(nir_data / "01_lif" / "lif_exact.csv", delimiter=",")  # input, v, spike
    model = from_nir(nir_data / "01_lif" / "lif_norse.nir", dt=1e-4, record=["1"])
    spikes, v = run(model, exact[None, :, :1])
    spikes, v = spikes[0, :, 0], v[0, :, 0]
    ours = np.sqrt(np.mean((v - exact[:, 1]) ** 2))
    theirs = {}
    for name in ("norse", "snntorch", "sinabs", "spyx"):
        trace = np.loadtxt(nir_data / "01_lif" / f"lif_{name}.csv", delimiter=",")
        theirs[name] = (np.sqrt(np.mean((trace[:, 1] - exact[:, 1]) ** 2)),
                        np.flatnonzero(trace[:, 2]).tolist())
    with capsys.disabled():
        print(f"\n[{keras.backend.backend()}] LIF fixture, membrane RMS error vs lif_exact.csv: snnzoo {ours:.3e}; "
              + ", ".join(f"{k} {e:.3e}" for k, (e, _) in theirs.items())
              + f"; spike steps exact {np.flatnonzero(exact[:, 2]).tolist()}, snnzoo {np.flatnonzero(spikes).tolist()}, "
              + ", ".join(f"{k} {s}" for k, (_, s) in theirs.items()))
    np.testing.assert_array_equal(spikes, exact[:, 2])  # every spike at the exact step
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    assert ours <= min(e for e, _ in theirs.values()) * 1.01  # as close as the closest framework
    # the same Euler discretisation as Norse, which wrote the graph: its trace to float32 precision
    norse = np.loadtxt(nir_data / "01_lif" / "lif_norse.csv", delimiter=",")
    np.testing.assert_allclose(v, norse[:, 1], atol=2e-6)


def _braille_input(seed, batch=4, steps=60):
    return (np.random.RandomState(seed).rand(batch, steps, 12) < 0.3).astype("float32")


def _norse_run(path, x, reset):
    torch = _quiet_torch()
    norse = pytest.importorskip("norse.torch")
    from norse.torch.functional import reset as norse_reset

    net = norse.from_nir(nir.read(path), dt=1e-4, ignore_warnings=True,
                         reset_method=norse_reset.reset_subtract if reset == "subtract" else norse_reset.reset_value)
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[1]):
            y, state = net(torch.from_numpy(x[:, t]), state)
            out.append(y.numpy())
    return np.stack(out, 1)


@pytest.mark.parity
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_braille_graph_matches_norses_own_import(nir_data, reset):
    # noBias graph: Norse's executor (which leaves the recurrent bias out at t = 0) and ours agree exactly
    path = str(nir_data / "03_rnn" / "braille_noDelay_noBias_subtract.nir")
    x = _braille_input(1)
    reference = _norse_run(path, x, reset)
    ours = run(from_nir(path, reset=reset), x)
    assert ours.shape == reference.shape == (4, 60, 7)
    assert reference.sum() > 20  # the network is active: equality means something
    np.testing.assert_array_equal(ours, reference)


def _snntorch_run(path, x, reset):
    """snnTorch's own conversion of each node; the recurrence as RSynaptic computes it."""
    torch = _quiet_torch()
    pytest.importorskip("snntorch")
    from snntorch import import_nir

    graph = nir.read(path)
    mods = {k: import_nir._nir_to_snntorch_module(n, init_hidden=False) for k, n in graph.nodes.items()}
    for k in ("lif1.lif", "lif2"):
        mods[k].reset_mechanism = reset
    out = []
    with torch.no_grad():
        s1 = torch.zeros(x.shape[0], graph.nodes["lif1.lif"].v_threshold.size)
        syn1, mem1 = mods["lif1.lif"].init_synaptic()
        syn2, mem2 = mods["lif2"].init_synaptic()
        for t in range(x.shape[1]):
            current = mods["fc1"](torch.from_numpy(x[:, t])) + mods["lif1.w_rec"](s1)
            s1, syn1, mem1 = mods["lif1.lif"](current, syn1, mem1)
            s2, syn2, mem2 = mods["lif2"](mods["fc2"](s1), syn2, mem2)
            out.append(s2.numpy())
    return np.stack(out, 1)


@pytest.mark.parametrize("graph_name", ["braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract"])
def test_braille_graphs_match_snntorchs_conversion(nir_data, graph_name):
    # snnTorch's import resets to zero for every graph (reset_mechanism="zero", reset_delay=False)
    path = str(nir_data / "03_rnn" / f"{graph_name}.nir")
    x = _braille_input(2, batch=6, steps=80)
    reference = _snntorch_run(path, x, "zero")
    ours = run(from_nir(path, reset="zero"), x)
    assert reference.sum() > 20
    np.testing.assert_array_equal(ours, reference)


def test_snntorchs_own_import_of_a_feed_forward_graph():
    # snnTorch's import_from_nir runs graphs without a cycle or dotted names: a CubaLIF + LIF
    # network in snnTorch's convention (dt = 1e-4, r = tau/dt, w_in = tau_syn/dt)
    torch = _quiet_torch()
    snn_import = pytest.importorskip("snntorch.import_nir")
    rng = np.random.RandomState(10)
    dt, alpha, beta, n = 1e-4, 0.6, 0.8, 6
    tau_syn, tau_mem = dt / (1 - alpha), dt / (1 - beta)

    def full(size, value):
        return np.full(size, value, "float32")

    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([5])}),
        "fc1": nir.Affine(weight=rng.randn(n, 5).astype("float32"), bias=rng.randn(n).astype("float32") * 0.1),
        "syn": nir.CubaLIF(tau_syn=full(n, tau_syn), tau_mem=full(n, tau_mem), r=full(n, tau_mem / dt),
                           v_leak=full(n, 0.0), v_threshold=full(n, 1.0), w_in=full(n, tau_syn / dt)),
        "fc2": nir.Linear(weight=(rng.randn(3, n) * 2).astype("float32")),
        "lif": nir.LIF(tau=full(3, tau_mem), r=full(3, tau_mem / dt), v_leak=full(3, 0.0), v_threshold=full(3, 0.5)),
        "output": nir.Output(output_type={"output": np.array([3])})},
        edges=[("input", "fc1"), ("fc1", "syn"), ("syn", "fc2"), ("fc2", "lif"), ("lif", "output")])
    net = snn_import.import_from_nir(graph)
    x = (rng.rand(4, 40, 5) < 0.5).astype("float32")
    with torch.no_grad():
        reference = np.stack([net(torch.from_numpy(x[:, t]))[0].numpy() for t in range(40)], 1)
    assert reference.sum() > 20
    np.testing.assert_array_equal(run(from_nir(graph, dt=dt), x), reference)


def test_braille_first_lif_layer_has_the_sizes_the_readme_states(nir_data):
    # README: the "lif1.lif" node gives (T, 38) for the bias_zero graph and (T, 40) for the other
    for name, size in (("braille_noDelay_bias_zero", 38), ("braille_noDelay_noBias_subtract", 40)):
        model = from_nir(nir_data / "03_rnn" / f"{name}.nir", record=["lif1.lif"])
        out, v = run(model, _braille_input(3, batch=2, steps=12))
        assert out.shape == (2, 12, 7) and v.shape == (2, 12, size)


def test_subgraphs_are_flattened(nir_data):
    path = nir_data / "03_rnn" / "braille_noDelay_bias_zero.nir"
    flat = nir.read(path)
    nested = nir.read(path)
    inner = {"lif": nested.nodes.pop("lif1.lif"), "w_rec": nested.nodes.pop("lif1.w_rec"),
             "input": nir.Input(input_type={"input": np.array([38])}),
             "output": nir.Output(output_type={"output": np.array([38])})}
    nested.nodes["lif1"] = nir.NIRGraph(nodes=inner, edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                                                            ("lif", "output")])
    nested.edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    x = _braille_input(4, batch=3, steps=30)
    np.testing.assert_array_equal(run(from_nir(nested), x), run(from_nir(flat), x))


# -- graphs exported by other libraries ------------------------------------------------------
def test_sinabs_conv_pool_flatten_network():
    torch = _quiet_torch()
    sinabs = pytest.importorskip("sinabs")
    import sinabs.layers as sl
    from sinabs.activation import SingleSpike

    torch.manual_seed(0)
    batch, steps = 2, 12
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 6, 3, padding=1), sl.IAFSqueeze(batch_size=batch, spike_fn=SingleSpike),
        sl.SumPool2d(2), torch.nn.Conv2d(6, 4, 3, stride=2, bias=False),
        sl.IAFSqueeze(batch_size=batch, spike_fn=SingleSpike), torch.nn.Flatten(),
        torch.nn.Linear(4 * 2 * 2, 5), sl.IAFSqueeze(batch_size=batch, spike_fn=SingleSpike))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.mul_(3.0)
    x = (torch.rand(batch * steps, 2, 10, 10) < 0.4).float()  # sinabs: [batch*time, C, H, W]
    graph = sinabs.to_nir(net, x[:batch])  # (its Flatten has no input type: nir.write cannot store it)
    for m in net:
        if isinstance(m, sl.IAFSqueeze):
            m.reset_states()
    with torch.no_grad():
        reference = net(x).reshape(batch, steps, 5).numpy()
    # Sinabs: IF with r = 1 means one unit of input per step (dt = 1), spikes at v >= v_th,
    # subtract reset (its default MembraneSubtract, which NIR 1.0.4 cannot record)
    model = from_nir(graph, dt=1.0, reset="subtract", strict_threshold=False)
    frames = x.reshape(batch, steps, 2, 10, 10).permute(0, 1, 3, 4, 2).numpy()  # channels last
    ours = run(model, frames)
    assert reference.sum() > 10
    np.testing.assert_array_equal(ours, reference)


def test_norse_conv_lif_li_network():
    torch = _quiet_torch()
    norse = pytest.importorskip("norse.torch")
    torch.manual_seed(1)
    dt = 1e-3  # Norse's default step
    net = norse.SequentialState(
        torch.nn.Conv2d(2, 4, 3, padding=1), norse.LIFBoxCell(),
        torch.nn.Conv2d(4, 3, 3, stride=2), norse.LIBoxCell())
    with torch.no_grad():
        net[0].weight.mul_(8.0)
    x = (torch.rand(2, 15, 2, 9, 9) < 0.5).float()
    # norse.to_nir writes tau = dt_arg / tau_mem_inv: with dt_arg = 1 it is tau_mem in seconds
    graph = norse.to_nir(net, x[:, 0], dt=1.0)
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[1]):
            y, state = net(x[:, t], state)
            out.append(y.numpy())
    reference = np.stack(out, 1).transpose(0, 1, 3, 4, 2)
    ours = run(from_nir(graph, dt=dt), x.permute(0, 1, 3, 4, 2).numpy())
    assert ours.shape == reference.shape == (2, 15, 4, 4, 3)
    assert np.abs(reference).max() > 0.1
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)


# -- node math against torch and a numpy loop ------------------------------------------------
def _graph(*nodes, input_shape):
    return nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array(input_shape)}), *nodes,
                                  nir.Output(output_type={"output": np.array([1])}))


def _chain(nodes, input_shape):
    """Input -> nodes... -> Output with the Output's type left to inference."""
    names = ["input"] + [f"n{i}" for i in range(len(nodes))] + ["output"]
    all_nodes = {"input": nir.Input(input_type={"input": np.array(input_shape)}),
                 "output": nir.Output(output_type={"output": np.array([1])})}
    all_nodes.update({f"n{i}": n for i, n in enumerate(nodes)})
    return nir.NIRGraph(nodes=all_nodes, edges=list(zip(names[:-1], names[1:])))


def _fix_output(graph, shape):
    graph.nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
    return graph


@pytest.mark.parametrize("case", ["int_padding", "same", "stride_dilation", "groups", "conv1d"])
def test_convolutions_match_torch(case):
    torch = _quiet_torch()
    rng = np.random.RandomState(5)
    if case == "conv1d":
        w, b = rng.randn(6, 4, 3), rng.randn(6)
        node = nir.Conv1d(input_shape=None, weight=w, stride=2, padding=1, dilation=2, groups=1, bias=b)
        x = rng.randn(2, 3, 4, 11)  # [B, T, C, L]
        ref = torch.nn.functional.conv1d(torch.tensor(x.reshape(6, 4, 11)), torch.tensor(w), torch.tensor(b),
                                         stride=2, padding=1, dilation=2)
    else:
        groups = 2 if case == "groups" else 1
        stride, dilation = ((2, 1), (1, 2)) if case == "stride_dilation" else (1, 1)
        padding = {"int_padding": (1, 2), "same": "same", "stride_dilation": 1, "groups": 0}[case]
        w, b = rng.randn(6, 4 // groups, 3, 2), rng.randn(6)
        # input_shape=None: nir 1.0.4's own output type is wrong for non-square kernels, groups, "same"
        node = nir.Conv2d(input_shape=None, weight=w, stride=stride, padding=padding, dilation=dilation,
                          groups=groups, bias=b)
        x = rng.randn(2, 3, 4, 7, 8)
        ref = torch.nn.functional.conv2d(torch.tensor(x.reshape(6, 4, 7, 8)), torch.tensor(w), torch.tensor(b),
                                         stride=stride, padding=padding, dilation=dilation, groups=groups)
    ref = ref.numpy()
    graph = _fix_output(_chain([node], x.shape[2:]), ref.shape[1:])
    ours = run(from_nir(graph), np.moveaxis(x, 2, -1))
    expected = np.moveaxis(ref.reshape(x.shape[:2] + ref.shape[1:]), 2, -1)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


def test_pooling_and_flatten_match_torch():
    torch = _quiet_torch()
    rng = np.random.RandomState(6)
    x = rng.rand(2, 3, 3, 9, 8)
    frames = torch.tensor(x.reshape(6, 3, 9, 8))
    pool_sum = nir.SumPool2d(kernel_size=np.array([2, 3]), stride=np.array([2, 2]), padding=np.array([1, 0]))
    pool_avg = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 2]), padding=np.array([0, 1]))
    flat = nir.Flatten(input_type=None, start_dim=0, end_dim=-1)
    s = torch.nn.functional.avg_pool2d(frames, (2, 3), (2, 2), (1, 0)) * 6
    a = torch.nn.functional.avg_pool2d(s, (2, 2), (1, 2), (0, 1))
    ref = torch.flatten(a, 1).numpy()
    graph = _fix_output(_chain([pool_sum, pool_avg, flat], (3, 9, 8)), ref.shape[1:])
    ours = run(from_nir(graph), np.moveaxis(x, 2, -1))
    np.testing.assert_allclose(ours, ref.reshape(2, 3, -1), rtol=1e-5, atol=1e-5)


def _euler_reference(kind, p, x, dt, reset="zero", strict=True):
    """NIR's equations, forward Euler, written out in numpy (x: [B, T, N])."""
    v = np.zeros_like(x[:, 0]) + (p["v_leak"] if kind in ("LI", "LIF", "CubaLIF") else 0.0)  # at rest
    i = np.zeros_like(x[:, 0])
    ys = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        if kind == "LI":
            v = v + dt / p["tau"] * (p["v_leak"] - v + p["r"] * xt)
            ys.append(v)
            continue
        if kind == "I":
            v = v + dt * p["r"] * xt
            ys.append(v)
            continue
        if kind == "IF":
            v = v + dt * p["r"] * xt
        elif kind == "LIF":
            v = v + dt / p["tau"] * (p["v_leak"] - v + p["r"] * xt)
        else:
            i = i + dt / p["tau_syn"] * (p["w_in"] * xt - i)
            v = v + dt / p["tau_mem"] * (p["v_leak"] - v + p["r"] * i)
        s = (v > p["v_threshold"]) if strict else (v >= p["v_threshold"])
        s = s.astype(x.dtype)
        v = v - p["v_threshold"] * s if reset == "subtract" else v * (1 - s)
        ys.append(s)
    return np.stack(ys, 1)


@pytest.mark.parametrize("kind", ["LI", "I", "IF", "LIF", "CubaLIF"])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_neurons_match_the_euler_equations(kind, reset):
    rng = np.random.RandomState(7)
    n, dt = 5, 1e-3
    p = {"tau": rng.uniform(2e-3, 9e-3, n), "tau_mem": rng.uniform(2e-3, 9e-3, n),
         "tau_syn": rng.uniform(2e-3, 6e-3, n), "r": rng.uniform(0.5, 3.0, n),
         "v_leak": rng.uniform(-0.2, 0.2, n), "v_threshold": rng.uniform(0.3, 1.0, n),
         "w_in": rng.uniform(0.5, 2.0, n)}
    if kind in ("IF", "I"):
        p["r"] = p["r"] * 100  # r = 1/dt-ish: one input unit per step
    fields = {"LI": ("tau", "r", "v_leak"), "I": ("r",), "IF": ("r", "v_threshold"),
              "LIF": ("tau", "r", "v_leak", "v_threshold"),
              "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in")}[kind]
    node = getattr(nir, kind)(**{f: p[f].astype("float32") for f in fields})
    x = rng.uniform(-0.5, 2.0, (3, 40, n)).astype("float32")
    graph = _fix_output(_chain([node], (n,)), (n,))
    ours = run(from_nir(graph, dt=dt, reset=reset), x)
    ref = _euler_reference(kind, {k: v.astype("float64") for k, v in p.items()}, x.astype("float64"), dt, reset)
    if kind in ("LI", "I"):
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    else:
        assert 0 < ref.sum() < ref.size
        np.testing.assert_array_equal(ours, ref)


def test_threshold_scale_linear_delay():
    rng = np.random.RandomState(8)
    w = rng.randn(4, 3).astype("float32")
    scale = rng.uniform(0.5, 2, 4).astype("float32")
    thr = rng.uniform(-0.5, 0.5, 4).astype("float32")
    nodes = [nir.Linear(weight=w), nir.Scale(scale=scale), nir.Delay(delay=np.full(4, 3e-4)),
             nir.Threshold(threshold=thr)]
    x = rng.randn(2, 10, 3).astype("float32")
    ours = run(from_nir(_fix_output(_chain(nodes, (3,)), (4,)), dt=1e-4), x)
    h = (x @ w.T) * scale
    delayed = np.concatenate([np.zeros((2, 3, 4), "float32"), h[:, :-3]], axis=1)
    np.testing.assert_array_equal(ours, (delayed > thr).astype("float32"))


def test_recurrent_cycle_reads_the_previous_step():
    # input -> A(affine) -> LIF -> W(affine) -> back into LIF; output from LIF
    rng = np.random.RandomState(9)
    wa, ba = rng.randn(4, 2), rng.randn(4) * 0.1
    wr, br = rng.randn(4, 4), rng.randn(4) * 0.3
    lif = nir.LIF(tau=np.full(4, 2e-4), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.full(4, 0.5))
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([2])}),
                                "a": nir.Affine(weight=wa, bias=ba), "lif": lif, "w": nir.Affine(weight=wr, bias=br),
                                "output": nir.Output(output_type={"output": np.array([4])})},
                         edges=[("input", "a"), ("a", "lif"), ("lif", "w"), ("w", "lif"), ("lif", "output")])
    x = rng.randn(3, 25, 2).astype("float32") * 2
    ours = run(from_nir(graph, dt=1e-4), x)
    s, v, ref = np.zeros((3, 4)), np.zeros((3, 4)), []
    for t in range(25):
        current = x[:, t] @ wa.T + ba + (s @ wr.T + br)  # recurrent input: previous spikes
        v = v + 0.5 * (-v + current)
        s = (v > 0.5).astype("float64")
        v = v * (1 - s)
        ref.append(s)
    ref = np.stack(ref, 1)
    assert 0 < ref.sum() < ref.size
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.skipif(not HAS_V_RESET, reason="nir < 1.0.5 has no v_reset field")
def test_v_reset_field_is_honoured():  # pragma: no cover - nir >= 1.0.5
    lif = nir.LIF(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2),
                  v_reset=np.full(2, -0.5))
    model = from_nir(_fix_output(_chain([lif], (2,)), (2,)), dt=1e-3, record=["n0"])
    _, v = run(model, np.full((1, 3, 2), 1.5, "float32"))
    np.testing.assert_allclose(v[0, 0], [-0.5, -0.5])


# -- bad graphs ------------------------------------------------------------------------------
def _lif(n):
    return nir.LIF(tau=np.ones(n), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))


def test_bad_graphs_give_one_clear_error_each(tmp_path):
    class Mystery(nir.Affine):
        pass

    good = {"input": nir.Input(input_type={"input": np.array([3])}),
            "a": nir.Affine(weight=np.ones((4, 3)), bias=np.zeros(4)), "lif": _lif(4),
            "output": nir.Output(output_type={"output": np.array([4])})}
    edges = [("input", "a"), ("a", "lif"), ("lif", "output")]
    assert from_nir(nir.NIRGraph(nodes=dict(good), edges=list(edges))).output_shape == (None, None, 4)

    unknown = dict(good, a=Mystery(weight=np.ones((4, 3)), bias=np.zeros(4)))
    with pytest.raises(ValueError, match="'a' has type Mystery, which snnzoo cannot import"):
        from_nir(nir.NIRGraph(nodes=unknown, edges=list(edges)))
    mismatched = dict(good, lif=_lif(5))
    with pytest.raises(ValueError, match="fails type checking: edge 'a' -> 'lif' carries shape \\(4,\\) but "
                                         "'lif' \\(LIF\\) expects \\(5,\\)"):
        from_nir(nir.NIRGraph(nodes=mismatched, edges=list(edges)))
    wrong_weight = dict(good, a=nir.Affine(weight=np.ones((4, 2)), bias=np.zeros(4)))
    with pytest.raises(ValueError, match="edge 'input' -> 'a' carries shape \\(3,\\) but 'a' \\(Affine\\) expects"):
        from_nir(nir.NIRGraph(nodes=wrong_weight, edges=list(edges)))
    with pytest.raises(ValueError, match="edge 'lif' -> 'nowhere' refers to a node 'nowhere' that is not in the graph"):
        from_nir(nir.NIRGraph(nodes=dict(good), edges=edges + [("lif", "nowhere")]))
    with pytest.raises(ValueError, match="exactly one Input node, found 0"):
        from_nir(nir.NIRGraph(nodes={k: v for k, v in good.items() if k != "input"}, edges=edges[1:]))

    text = tmp_path / "notes.nir"
    text.write_text("not a graph")
    with pytest.raises(ValueError, match="is not a NIR file: NIR graphs are HDF5 files"):
        from_nir(text)
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("x", data=np.ones(3))
    with pytest.raises(ValueError, match="is an HDF5 file but not a NIR graph"):
        from_nir(tmp_path / "other.h5")
    nir.write(tmp_path / "future.nir", nir.NIRGraph(nodes=dict(good), edges=list(edges)))
    with h5py.File(tmp_path / "future.nir", "r+") as f:
        del f["node/nodes/lif/type"]
        f["node/nodes/lif"].create_dataset("type", data="AdEx", dtype=h5py.string_dtype())
    with pytest.raises(ValueError, match="unknown NIR node type in node 'lif' \\(AdEx\\)"):
        from_nir(tmp_path / "future.nir")
    with pytest.raises(FileNotFoundError, match="NIR file not found"):
        from_nir(tmp_path / "missing.nir")
    with pytest.raises(ValueError, match="reset must be None"):
        from_nir(nir.NIRGraph(nodes=dict(good), edges=list(edges)), reset="hard")
    with pytest.raises(ValueError, match="dt must be > 0"):
        from_nir(nir.NIRGraph(nodes=dict(good), edges=list(edges)), dt=0.0)


def test_missing_nir_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "nir", None)
    with pytest.raises(ImportError, match='pip install "snnzoo\\[nir\\]"'):
        from_nir("graph.nir")


# -- a Keras model: compiled, trainable, serializable -----------------------------------------
def _small_model(nir_data, **kwargs):
    return from_nir(nir_data / "03_rnn" / "braille_noDelay_bias_zero.nir", **kwargs)


def _jit():
    # XLA on TensorFlow and JAX; on torch jit_compile means torch.compile of the unrolled steps
    # (it works, ~100 s for 30 steps on a 2-core CPU: left to the user)
    return keras.backend.backend() != "torch"


@pytest.mark.parity
def test_compiled_and_eager_calls_agree(nir_data):
    x = _braille_input(5, batch=3, steps=20)
    model = _small_model(nir_data)
    eager = keras.ops.convert_to_numpy(model(x))
    model.compile(jit_compile=_jit())
    compiled = run(model, x)  # model.predict: XLA on JAX and TF (the time axis traced as unknown on TF)
    np.testing.assert_array_equal(compiled, eager)
    fixed = _small_model(nir_data, time_steps=20)  # a static time axis takes snnzoo's time_loop
    np.testing.assert_array_equal(run(fixed, x), eager)
    np.testing.assert_array_equal(run(model, x[:, :9]), eager[:, :9])  # any length, causal
    assert eager.sum() > 0


@pytest.mark.parity
def test_fit_updates_the_synapses_not_the_neuron_constants(nir_data):
    model = _small_model(nir_data, time_steps=16)
    layer = model.get_layer("nir_graph")
    trainable = {v.path for v in layer.trainable_weights}
    assert trainable == {v.path for v in layer.weights if v.path.endswith(("_weight", "_bias"))}
    assert len(trainable) == 6  # fc1, lif1.w_rec, fc2: weight + bias
    before = {v.path: keras.ops.convert_to_numpy(v).copy() for v in layer.weights}
    x = _braille_input(6, batch=8, steps=16)
    y = np.random.RandomState(0).rand(8, 16, 7).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse", jit_compile=_jit())
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    for v in layer.weights:
        changed = not np.array_equal(keras.ops.convert_to_numpy(v), before[v.path])
        assert changed == (v.path in trainable), v.path


def test_layer_config_rebuilds_the_same_layer(nir_data):
    model = _small_model(nir_data)
    layer = model.get_layer("nir_graph")
    config = layer.get_config()
    rebuilt = NIRGraphLayer.from_config(config)
    assert rebuilt.get_config() == config
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is NIRGraphLayer and again.get_config() == config
    x = _braille_input(7, batch=2, steps=10)
    rebuilt.build(x.shape)
    rebuilt.set_weights(layer.get_weights())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(rebuilt(x)), keras.ops.convert_to_numpy(layer(x)))


@pytest.mark.parity
def test_saved_model_loads_in_a_fresh_process(nir_data, tmp_path):
    # what a user does: model.save, then in a new process `import snnzoo` and load_model
    model = from_nir(nir_data / "03_rnn" / "braille_noDelay_noBias_subtract.nir", reset="subtract")
    x = _braille_input(8, batch=2, steps=25)
    model.save(tmp_path / "braille.keras")
    np.save(tmp_path / "braille.inputs.npy", x)
    expected = run(model, x)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "tests.saving_probe", str(tmp_path)]
    proc = subprocess.run(command, cwd=REPO, env=dict(env, PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, ("loading in a fresh process failed (is snnzoo.nir.graph_layer in "
                                  f"snnzoo._SERIALIZABLE_MODULES?):\n{proc.stderr[-3000:]}")
    loaded = np.load(tmp_path / "braille.loaded.npz")
    np.testing.assert_array_equal(loaded["outputs"], expected)
    for v in model.weights:
        np.testing.assert_array_equal(loaded[f"w:{v.path}"], keras.ops.convert_to_numpy(v))
    assert expected.sum() > 0
