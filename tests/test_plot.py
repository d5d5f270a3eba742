"""snnzoo.plot (issue 20, items 2 and 4): every plot makes a non-empty PNG on every backend, the
plotted numbers equal independent numpy re-computations (LIF recursion on the input current
computed from the weights, spike means, the streamed readout), recording leaves the model as it
was, and bad input gives one clear error."""
import sys

import keras
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from snnzoo import plot  # noqa: E402
from snnzoo.layers import LIF, PLIF, MeanOverTime, RepeatTime, TimeFold  # noqa: E402

T = 6


def _model(neuron):
    inp = keras.Input((5,), name="x")
    cur = TimeFold(keras.layers.Dense(7, name="fc1_2d"), name="fc1")(RepeatTime(T)(inp))
    spikes = neuron(cur)
    out = keras.layers.Dense(3, name="head")(MeanOverTime()(spikes))
    model = keras.Model(inp, out)
    rs = np.random.RandomState(3)  # the same weights on every backend
    model.get_layer("fc1").set_weights([rs.uniform(-0.5, 1.2, (5, 7)), rs.uniform(0.0, 0.3, (7,))])
    model.get_layer("head").set_weights([rs.normal(size=(7, 3)), rs.normal(size=(3,))])
    return model


def _lif_model():
    return _model(LIF(tau=2.0, v_reset=0.0, name="lif"))


def _plif_model():
    model = _model(PLIF(init_tau=2.0, v_reset=None, decay_input=False, v_threshold=0.8, name="lif"))
    model.get_layer("lif").w.assign(0.7)  # 1/tau = sigmoid(0.7): not the initial value
    return model


def _x(n=4):
    return np.random.RandomState(0).uniform(0.0, 1.5, (n, 5)).astype("float32")


def _numpy_lif(current, inv_tau, v_th, v_reset, decay_input):
    """Independent LIF recursion on [B, T, N]: (spikes, membrane after reset)."""
    v = np.full(current.shape[::2], 0.0 if v_reset is None else v_reset)
    vr = 0.0 if v_reset is None else v_reset
    s_all, v_all = [], []
    for t in range(current.shape[1]):
        x = current[:, t]
        h = v + (x - (v - vr)) * inv_tau if decay_input else v - (v - vr) * inv_tau + x
        s = (h >= v_th).astype(np.float64)
        v = h - v_th * s if v_reset is None else h * (1 - s) + v_reset * s
        s_all.append(s)
        v_all.append(v)
    return np.stack(s_all, 1), np.stack(v_all, 1)


def _reference(model, x):
    """Spikes and membrane of the 'lif' layer from the weights alone (numpy)."""
    w, b = (np.asarray(keras.ops.convert_to_numpy(v), np.float64) for v in model.get_layer("fc1").weights)
    current = np.repeat((x.astype(np.float64) @ w + b)[:, None], T, axis=1)
    lif = model.get_layer("lif")
    if isinstance(lif, PLIF):
        inv_tau = 1.0 / (1.0 + np.exp(-float(keras.ops.convert_to_numpy(lif.w))))
    else:
        inv_tau = 1.0 / lif.tau
    s, v = _numpy_lif(current, inv_tau, lif.v_threshold, lif.v_reset, lif.decay_input)
    return current, s, v


def _snapshot(model, x):
    return ([np.array(keras.ops.convert_to_numpy(v)) for v in model.weights],
            np.array(keras.ops.convert_to_numpy(model(x, training=False))),
            [(type(l).__name__, l.name, sorted(l.__dict__)) for l in model._flatten_layers(recursive=True)],
            model.to_json())


def _png_ok(path):
    from matplotlib.image import imread

    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    img = imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 300
    assert float(img[..., :3].std()) > 0.05  # not a blank canvas


@pytest.mark.parity
@pytest.mark.parametrize("build", [_lif_model, _plif_model], ids=["lif_hard", "plif_soft"])
def test_membrane_equals_numpy_lif_and_model_unchanged(build, tmp_path):
    model, x = build(), _x()
    before = _snapshot(model, x)
    current, s_ref, v_ref = _reference(model, x)
    assert 0 < s_ref.mean() < 0.9  # the neurons fire, but not always

    from snnzoo.plot.membrane_trace import membrane_traces

    traces = membrane_traces(model, x, "lif", sample=2)
    np.testing.assert_allclose(traces["current"], current[2], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(traces["spikes"], s_ref[2])
    np.testing.assert_allclose(traces["membrane"], v_ref[2], rtol=1e-5, atol=1e-5)

    fig = plot.membrane(model, x, "lif", neurons=[0, 3, 6], sample=2, path=tmp_path / "m.png")
    _png_ok(tmp_path / "m.png")
    panels = fig.axes
    assert len(panels) == 4
    for ax, i in zip(panels[1:], (0, 3, 6)):  # the plotted V[t] is the numpy trace
        np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), v_ref[2, :, i], rtol=1e-5, atol=1e-5)
        assert ax.get_lines()[1].get_ydata()[0] == pytest.approx(model.get_layer("lif").v_threshold)

    after = _snapshot(model, x)
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2] == after[2] and before[3] == after[3]


@pytest.mark.parity
def test_every_plot_makes_a_png_with_the_independent_numbers(tmp_path):
    model, x = _lif_model(), _x(8)
    _, s_ref, _ = _reference(model, x)

    fig = plot.raster(model, x, "lif", sample=1, path=tmp_path / "raster.png")
    _png_ok(tmp_path / "raster.png")
    np.testing.assert_array_equal(np.asarray(fig.axes[0].images[0].get_array()), s_ref[1].T)
    # an array in gives the same picture
    arr = np.asarray(plot.raster(s_ref, sample=1).axes[0].images[0].get_array())
    np.testing.assert_array_equal(arr, s_ref[1].T)

    fig = plot.rates(model, x, path=tmp_path / "rates.png")
    _png_ok(tmp_path / "rates.png")
    (bar,) = fig.axes[0].patches
    assert bar.get_width() == pytest.approx(s_ref.mean(), abs=1e-6)

    # accuracy after k steps: the head on the mean of the first k steps' spikes (numpy)
    w, b = (np.asarray(keras.ops.convert_to_numpy(v), np.float64) for v in model.get_layer("head").weights)
    ks = np.arange(1, T + 1)
    preds = np.stack([np.argmax(s_ref[:, :k].mean(1) @ w + b, -1) for k in ks], 1)
    y = preds[:, -1].copy()
    y[:3] = (y[:3] + 1) % 3  # 3 of 8 wrong at the end
    fig = plot.latency(model, x, y, batch_size=3, path=tmp_path / "latency.png")
    _png_ok(tmp_path / "latency.png")
    acc_line, settled_line = fig.axes[0].get_lines()
    np.testing.assert_allclose(acc_line.get_ydata(), 100 * (preds == y[:, None]).mean(0))
    final = np.flip(np.cumprod(np.flip(preds == preds[:, -1:], 1), 1), 1)
    np.testing.assert_allclose(settled_line.get_ydata(), 100 * final.mean(0))
    np.testing.assert_allclose(plot.latency([0.5, 0.75]).axes[0].get_lines()[0].get_ydata(), [50, 75])
    # the same curves from a snnzoo.profile Profile made with the labels
    import snnzoo

    lines = plot.latency(snnzoo.profile(model, x, y=y)).axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), acc_line.get_ydata())
    np.testing.assert_allclose(lines[1].get_ydata(), settled_line.get_ydata())


@pytest.mark.parity
def test_raster_of_an_ide_feedback_layer(tmp_path):
    """IDE's FeedbackEquilibrium outputs a rate: the raster shows its re-simulated spikes, whose
    time mean (IF: k = 1) is the layer's own output."""
    from snnzoo.layers import FeedbackEquilibrium
    from snnzoo.profiling.record import record_outputs

    inp = keras.Input((5,))
    cur = keras.layers.Dense(12, name="fc")(inp)
    rate = FeedbackEquilibrium({"kind": "dense", "filters": 12}, time_steps=4, decay=None, name="eq")(cur)
    model = keras.Model(inp, keras.layers.Dense(3)(rate))
    rs = np.random.RandomState(5)
    model.get_layer("fc").set_weights([rs.uniform(-1.0, 3.0, (5, 12)), np.zeros(12)])
    x = _x(3)
    fig = plot.raster(model, x, "eq", sample=1, path=tmp_path / "ide.png")
    _png_ok(tmp_path / "ide.png")
    shown = np.asarray(fig.axes[0].images[0].get_array())  # [neurons, T]
    own = record_outputs(model, x, ["eq"])["eq"][1]
    assert shown.shape == (12, 4) and 0 < shown.mean() < 1
    np.testing.assert_allclose(shown.mean(axis=1), own, atol=1e-6)


@pytest.mark.parity
def test_chaos_plot_from_a_real_csbp_fit(tmp_path):
    from snnzoo.chaos import ChaosAnnealing, attach_chaos
    from snnzoo.plot.chaos_trajectory import local_lyapunov, moving_average

    model = _lif_model()
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    attach_chaos(model, ["lif"], z0=2.0, reduction="mean")
    history = model.fit(_x(8), np.arange(8) % 3, epochs=3, batch_size=8, verbose=0,
                        callbacks=[ChaosAnnealing(beta=0.5, every="epoch")])
    lam = local_lyapunov(np.exp(np.linspace(1.0, -1.0, 200)) * 1e-8, 1e-8)
    np.testing.assert_allclose(lam, np.linspace(1.0, -1.0, 200), atol=1e-12)
    fig = plot.chaos(history, lyapunov=lam, smooth=10, path=tmp_path / "chaos.png")
    _png_ok(tmp_path / "chaos.png")
    z_ax, loss_ax, lyap_ax = fig.axes[0], fig.axes[2], fig.axes[1]
    np.testing.assert_allclose(z_ax.get_lines()[0].get_ydata(), [2.0, 1.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(loss_ax.get_lines()[0].get_ydata(), history.history["chaos_loss"])
    smooth = lyap_ax.get_lines()[1].get_ydata()
    np.testing.assert_allclose(smooth, moving_average(lam, 10))
    # interior points: a plain 10-sample mean
    np.testing.assert_allclose(smooth[100], lam[95:105].mean(), atol=1e-12)
    # training.xor_chaos results: z from its config, the exponents from csbp.lyapunov_raw_mean
    results = {"config": {"epochs": 200, "z0": 20.0, "beta": 0.99}, "csbp": {"lyapunov_raw_mean": lam.tolist()}}
    fig = plot.chaos(results)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), 20.0 * 0.99 ** np.arange(200))


@pytest.mark.parity
def test_bad_input_gives_one_clear_error():
    model, x = _lif_model(), _x()
    with pytest.raises(ValueError, match="no spiking .* named 'fc1'.*TimeFold.*'lif'"):
        plot.raster(model, x, "fc1")
    with pytest.raises(ValueError, match="0/1 values"):
        plot.raster(np.full((1, 3, 4), 0.5))
    with pytest.raises(ValueError, match="sample must be an integer index into the batch of 4"):
        plot.membrane(model, x, "lif", sample=9)
    with pytest.raises(ValueError, match=r"neurons must lie in \[0, 7\)"):
        plot.membrane(model, x, "lif", neurons=[7])
    with pytest.raises(ValueError, match="pass the inputs x"):
        plot.rates(model)
    with pytest.raises(ValueError, match=r"finite values in \[0, 1\]"):
        plot.rates({"lif": 1.5})
    with pytest.raises(ValueError, match="integer labels y"):
        plot.latency(model, x)
    with pytest.raises(ValueError, match="no 'chaos_z'"):
        plot.chaos({"loss": [1.0, 0.5]})


def test_import_without_matplotlib_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r'pip install "snnzoo\[plot\]"'):
        plot.rates({"lif": 0.1})


@pytest.mark.parametrize("name", ["raster", "membrane", "rates", "latency", "chaos"])
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    import inspect
    import re

    monkeypatch.chdir(tmp_path)
    fn = getattr(plot, name)
    (code,) = re.findall(r"^```python\n(.*?)^```", inspect.cleandoc(fn.__doc__), re.S | re.M)
    exec(compile(code, f"snnzoo.plot.{name} example", "exec"), {})
    _png_ok(tmp_path / f"{name}.png")
