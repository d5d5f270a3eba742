"""``snnzoo.layers.CubaLIF`` (current-based LIF) against independent references:

* snnTorch's own ``snntorch.Synaptic`` (α = 1 − 1/τ_syn, β = 1 − 1/τ_mem, ``reset_delay=False``):
  spike for spike and membrane for membrane on random input, reset "zero" ↔ ``v_reset=0.0`` and
  "subtract" ↔ ``v_reset=None``. The one difference (stated in the class docstring): after a
  subtraction that leaves V above the threshold, snnTorch fires the next step on V − V_th; the
  test checks that the two agree exactly on every neuron where that never happens, and elsewhere
  up to the first such step;
* a numpy re-implementation of the per-step equations (both ``decay_input`` forms, hard and soft
  reset, V_reset ≠ 0);
* the NIR export: the written graph's ``CubaLIF`` node parameters simulated with NIR's own
  forward-Euler equations in numpy, and the round trip ``to_nir → nir.write → nir.read →
  from_nir`` (exact with dt = 1: same spikes, membranes to 1e-12 in float64);
* streaming one step at a time (``snnzoo.streaming.Streamer``) equals the multi-step layer;
* ``get_config`` round trip.

Float64 throughout (the tests compare spikes exactly).
"""
import numpy as np
import pytest

import keras

from snnzoo.layers import LIF, CubaLIF

BACKEND = keras.backend.backend()
B, T, N = 3, 24, 40


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _run(layer, x):
    s, v = layer(keras.ops.convert_to_tensor(x))
    return _np(s), _np(v)


def _reference(x, tau_syn, tau_mem, v_threshold, v_reset, decay_input):
    """The class docstring's equations, step by step in numpy (float64)."""
    i = np.zeros_like(x[:, 0])
    v = np.zeros_like(x[:, 0]) + (v_reset or 0.0)
    spikes, membranes = [], []
    for t in range(x.shape[1]):
        if decay_input:
            i = i + (x[:, t] - i) / tau_syn
            h = v + (i - (v - (v_reset or 0.0))) / tau_mem
        else:
            i = (1.0 - 1.0 / tau_syn) * i + x[:, t]
            h = v - (v - (v_reset or 0.0)) / tau_mem + i
        s = (h >= v_threshold).astype(np.float64)
        v = h - v_threshold * s if v_reset is None else h * (1.0 - s) + v_reset * s
        spikes.append(s)
        membranes.append(v)
    return np.stack(spikes, 1), np.stack(membranes, 1)


@pytest.mark.parity
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("v_reset", [0.0, None, -0.3])
@pytest.mark.parametrize("steps", [T, 5])  # the compiled loop (T > UNROLL_MAX) and the unrolled one
def test_matches_numpy_reference(float64, decay_input, v_reset, steps):
    scale, offset = (0.8, 0.6) if decay_input else (0.4, 0.02)  # I is ~τ_syn·X without decay_input
    x = np.random.default_rng(0).standard_normal((B, steps, N)) * scale + offset
    layer = CubaLIF(tau_syn=3.0, tau_mem=1.7, v_threshold=0.6, v_reset=v_reset, decay_input=decay_input,
                    return_membrane=True)
    s, v = _run(layer, x)
    ref_s, ref_v = _reference(x, 3.0, 1.7, 0.6, v_reset, decay_input)
    assert 0.005 < ref_s.mean() < 0.6, f"degenerate test: firing rate {ref_s.mean():.3f}"
    np.testing.assert_array_equal(s, ref_s)
    np.testing.assert_allclose(v, ref_v, rtol=1e-12, atol=1e-12)


@pytest.mark.parity
def test_unit_synaptic_time_constant_is_lif(float64):
    """τ_syn = 1 with decay_input: I[t] = X[t], so CubaLIF is LIF(τ_mem) (the shared charge)."""
    x = np.random.default_rng(1).standard_normal((B, T, N)) + 0.5
    s, v = _run(CubaLIF(tau_syn=1.0, tau_mem=2.5, v_reset=None, return_membrane=True), x)
    ref_s, ref_v = _run(LIF(tau=2.5, v_reset=None, return_membrane=True), x)
    np.testing.assert_array_equal(s, ref_s)
    np.testing.assert_allclose(v, ref_v, rtol=1e-12, atol=1e-12)  # I = I + (X − I) is X to rounding


def _snntorch(x, alpha, beta, threshold, reset):
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    f64 = torch.float64
    neuron = snn.Synaptic(alpha=torch.tensor(alpha, dtype=f64), beta=torch.tensor(beta, dtype=f64),
                          threshold=threshold, reset_mechanism=reset, reset_delay=False)
    syn = torch.zeros(x.shape[0], x.shape[2], dtype=f64)
    mem = torch.zeros_like(syn)
    spikes, membranes = [], []
    with torch.no_grad():
        for t in range(x.shape[1]):
            spk, syn, mem = neuron(torch.tensor(x[:, t], dtype=f64), syn, mem)
            spikes.append(spk.numpy())
            membranes.append(mem.numpy())
    return np.stack(spikes, 1), np.stack(membranes, 1)


@pytest.mark.parity
@pytest.mark.parametrize("reset, v_reset", [("zero", 0.0), ("subtract", None)])
@pytest.mark.parametrize("tau_syn, tau_mem", [(4.0, 2.0), (1.25, 8.0)])
def test_matches_snntorch_synaptic(float64, reset, v_reset, tau_syn, tau_mem):
    """decay_input=False with α = 1 − 1/τ_syn, β = 1 − 1/τ_mem is snnTorch's Synaptic."""
    x = np.random.default_rng(2).standard_normal((4, 40, 64)) * 0.45 + 0.05
    threshold = 1.0
    ref_s, ref_v = _snntorch(x, 1.0 - 1.0 / tau_syn, 1.0 - 1.0 / tau_mem, threshold, reset)
    layer = CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, v_threshold=threshold, v_reset=v_reset,
                    decay_input=False, return_membrane=True)
    s, v = _run(layer, x)
    assert 0.05 < ref_s.mean() < 0.6, f"degenerate test: firing rate {ref_s.mean():.3f}"
    assert not np.array_equal(ref_s[:, 1:], ref_s[:, :-1]), "degenerate test: constant spikes"
    s, v, ref_s, ref_v = (np.moveaxis(a, 1, -1).reshape(-1, x.shape[1]) for a in (s, v, ref_s, ref_v))
    # snnTorch fires step t + 1 on V − V_th where V[t] (after the reset) > V_th: only after a
    # subtraction, never after a reset to zero
    above = v > threshold
    clean = ~above.any(1)
    if reset == "zero":
        assert clean.all()
    assert clean.mean() > 0.5 and ref_s[clean].mean() > 0.05, "degenerate test"
    np.testing.assert_array_equal(s[clean], ref_s[clean])
    np.testing.assert_allclose(v[clean], ref_v[clean], rtol=1e-12, atol=1e-12)
    for row in np.flatnonzero(~clean):  # identical up to (and including) the first such step
        first = int(np.argmax(above[row]))
        np.testing.assert_array_equal(s[row, :first + 1], ref_s[row, :first + 1])


# -- NIR ----------------------------------------------------------------------------------------
nir_needed = pytest.mark.skipif(not __import__("importlib").util.find_spec("nir"), reason="nir not installed")


def _network(seed=0, v_reset=0.0):
    """Dense → CubaLIF (decay_input) → Dense → CubaLIF (α/β form) on [B, T, 6]."""
    rng = np.random.default_rng(seed)
    inp = keras.Input((T, 6))
    h = keras.layers.Dense(12, name="fc1")(inp)
    h = CubaLIF(tau_syn=4.0, tau_mem=2.0, v_threshold=0.5, v_reset=v_reset, name="sn1")(h)
    h = keras.layers.Dense(5, name="fc2")(h)
    out = CubaLIF(tau_syn=1.5, tau_mem=4.0, v_threshold=1.0, v_reset=v_reset, decay_input=False, name="sn2")(h)
    model = keras.Model(inp, out)
    for w in model.weights:  # both layers spike at rates of ~0.4-0.5; float32 values, as NIR stores
        scale = 0.2 if len(w.shape) == 1 else (1.2 if w.shape[0] == 6 else 0.5)
        w.assign((rng.standard_normal(w.shape) * scale).astype("float32").astype(w.dtype))
    return model


def _nir_euler(graph, x, dt):
    """The graph's Affine → CubaLIF chain run with NIR's own equations (forward Euler, numpy):
    i ← i + (dt/τ_syn)(w_in·x − i); v ← v + (dt/τ_mem)(v_leak − v + r·i); spike at v ≥ v_th,
    reset to 0."""
    y = x
    for name in ("fc1", "sn1", "fc2", "sn2"):
        node = graph.nodes[name]
        if name.startswith("fc"):
            y = y @ np.asarray(node.weight, np.float64).T + np.asarray(node.bias, np.float64)
            continue
        p = {k: np.asarray(getattr(node, k), np.float64)
             for k in ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in")}
        i = np.zeros_like(y[:, 0])
        v = i + p["v_leak"]
        out = []
        for t in range(y.shape[1]):
            i = i + dt / p["tau_syn"] * (p["w_in"] * y[:, t] - i)
            v = v + dt / p["tau_mem"] * (p["v_leak"] - v + p["r"] * i)
            s = (v >= p["v_threshold"]).astype(np.float64)
            v = v * (1.0 - s)
            out.append(s)
        y = np.stack(out, 1)
    return y


@nir_needed
@pytest.mark.parity
@pytest.mark.parametrize("dt", [1.0, 1e-4])
def test_nir_export_parameters_and_roundtrip(float64, tmp_path, dt):
    import nir

    from snnzoo.nir import from_nir, to_nir

    model = _network()
    x = np.random.default_rng(3).random((B, T, 6)) * 2.0
    ref = _np(model(x))
    assert 0.05 < ref.mean() < 0.6, f"degenerate test: firing rate {ref.mean():.3f}"

    graph = to_nir(model, dt=dt)
    sn1, sn2 = graph.nodes["sn1"], graph.nodes["sn2"]
    assert isinstance(sn1, nir.CubaLIF) and isinstance(sn2, nir.CubaLIF)
    # decay_input=True: w_in = r = 1;  decay_input=False: w_in = τ_syn, r = τ_mem (steps)
    for node, ts, tm, w_in, r in ((sn1, 4.0, 2.0, 1.0, 1.0), (sn2, 1.5, 4.0, 1.5, 4.0)):
        np.testing.assert_allclose(node.tau_syn, ts * dt, rtol=1e-7)
        np.testing.assert_allclose(node.tau_mem, tm * dt, rtol=1e-7)
        np.testing.assert_allclose(node.w_in, w_in, rtol=1e-7)
        np.testing.assert_allclose(node.r, r, rtol=1e-7)
        np.testing.assert_array_equal(node.v_leak, 0.0)
    # NIR's equations, in numpy, on the written parameters: the model's spikes
    path = tmp_path / "cuba.nir"
    nir.write(path, graph)
    back = nir.read(path)
    euler = _nir_euler(back, x, dt)
    flips = np.mean(euler != ref)
    assert flips == 0.0 if dt == 1.0 else flips <= 0.002, f"{flips:.4f} of the spikes differ"
    # and snnzoo's importer, with both membranes recorded
    imported = from_nir(path, dt=dt, record=["sn1", "sn2"])
    got, v1, v2 = (_np(a) for a in imported(x))
    probe = keras.Model(model.input, [model.get_layer("sn1").output, model.get_layer("sn2").output])
    s1 = _np(probe(x)[0])
    if dt == 1.0:  # exact: float32 τ·dt, w_in and r are the float64 values
        np.testing.assert_array_equal(got, ref)
        ref_v2 = _reference(_np(model.get_layer("fc2")(s1)), 1.5, 4.0, 1.0, 0.0, False)[1]
        np.testing.assert_allclose(v2, ref_v2, rtol=1e-12, atol=1e-12)
    else:  # float32 τ·dt: 1/τ to ~1e-7
        assert np.mean(got != ref) <= 0.002
    assert v1.shape == (B, T, 12)


@nir_needed
def test_nir_soft_reset_needs_subtract_reset(tmp_path):
    from snnzoo.nir import from_nir, to_nir
    from snnzoo.nir.export import NIRExportError

    model = _network(v_reset=None)
    with pytest.raises(NIRExportError, match="sn1.*subtract_reset=True"):
        to_nir(model, dt=1.0)
    graph = to_nir(model, dt=1.0, subtract_reset=True)
    assert list(graph.metadata["snnzoo"]["subtract_reset"]) == ["sn1", "sn2"]
    x = (np.random.default_rng(4).random((B, T, 6)) * 2.0).astype("float32")
    ref = _np(model(x))
    got = _np(from_nir(graph, dt=1.0)(x))
    assert np.mean(got != ref) <= 0.002 and 0.05 < ref.mean() < 0.6


# -- streaming, config ------------------------------------------------------------------------
@pytest.mark.parity
@pytest.mark.parametrize("v_reset", [0.0, None])
def test_streamed_equals_multi_step(float64, v_reset):
    from snnzoo.streaming import Streamer

    model = _network(v_reset=v_reset)
    x = np.random.default_rng(5).random((B, T, 6)) * 2.0
    ref = _np(model(x))
    streamer = Streamer(model)
    assert len(streamer.state_spec(B)) == 1 + 4  # counter, (V, I) of each CubaLIF
    state = streamer.initial_state(B)
    outs = []
    for t in range(T):
        out, state = streamer.step(x[:, t], state)
        outs.append(_np(out))
    assert 0.05 < ref.mean() < 0.6
    np.testing.assert_array_equal(np.stack(outs, 1), ref)


@pytest.mark.parity
def test_config_round_trip_and_bad_arguments():
    layer = CubaLIF(tau_syn=3.0, tau_mem=5.0, v_threshold=0.7, v_reset=None, surrogate="sigmoid",
                    detach_reset=True, decay_input=False, return_membrane=True, name="c")
    config = layer.get_config()
    for key, value in dict(tau_syn=3.0, tau_mem=5.0, v_threshold=0.7, v_reset=None, detach_reset=True,
                           decay_input=False, return_membrane=True).items():
        assert config[key] == value, key
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is CubaLIF and again.get_config() == config
    x = np.random.default_rng(6).standard_normal((2, 6, 4)).astype("float32")
    for a, b in zip(layer(x), again(x)):
        np.testing.assert_array_equal(_np(a), _np(b))
    for bad in (dict(tau_syn=0.5), dict(tau_mem=0.9)):
        with pytest.raises(ValueError, match=f"{next(iter(bad))} must be >= 1"):
            CubaLIF(**bad)
