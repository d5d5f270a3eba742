"""``snnzoo.export`` and ``snnzoo export``: the shipped ``fsnn_fmnist_ide`` exported to ONNX and
SavedModel predicts like Keras on 1000 real Fashion-MNIST test images (onnxruntime and the TF
serving signature, CPU); the step exports reproduce the streamed outputs; metadata in every
file; atomic writes; one clear error for bad input.

Tolerance for the exported logits: the exported graphs run the same float32 arithmetic in
another order (onnxruntime's / XLA's / TF's matmul and reduction kernels), so each logit moves
by float32 rounding, |Δ| ≲ n·eps·|terms| ≈ 1e-5 for the 784- and 400-term sums (measured max
5.7e-6 on torch, TF and JAX). A spike that flipped because a membrane potential sat within
rounding of the threshold would move a logit by |w|·k^j/Σk^t ≈ 1e-2, so ``atol = 1e-4``
separates rounding from a changed spike train; the predicted classes must agree exactly.
"""
import json

import numpy as np
import pytest

import keras
import snnzoo
from snnzoo.cli import main
from snnzoo.deploy.metadata import read_metadata

NAME = "fsnn_fmnist_ide"
N_IMAGES = 1000
ATOL = 1e-4


@pytest.fixture(scope="module")
def zoo_model():
    return snnzoo.load(NAME)


@pytest.fixture(scope="module")
def test_images():
    """The first 1000 real Fashion-MNIST test images (float32 in [0, 1]) and labels, through the
    project's loader ($SNNZOO_DATA, set by conftest)."""
    from snnzoo.data import load_fashion_mnist

    x, y = load_fashion_mnist("test")
    return x[:N_IMAGES].astype("float32") / 255.0, np.asarray(y[:N_IMAGES])


@pytest.fixture(scope="module")
def keras_logits(zoo_model, test_images):
    return np.asarray(zoo_model.predict(test_images[0], batch_size=250, verbose=0))


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("export")


def _same_predictions(logits, reference, labels):
    logits = np.asarray(logits)
    assert logits.shape == reference.shape == (N_IMAGES, 10)
    np.testing.assert_array_equal(logits.argmax(1), reference.argmax(1))
    np.testing.assert_allclose(logits, reference, rtol=0, atol=ATOL)
    assert (logits.argmax(1) == labels).mean() > 0.85  # the real model on real images (90.07 % claimed)


def _check_metadata(meta, fmt):
    assert meta["model_name"] == NAME and meta["format"] == fmt
    assert meta["time_steps"] == "5" and meta["snnzoo_version"] == snnzoo.__version__
    assert json.loads(meta["inputs"])[0]["shape"] == [None, 28, 28, 1]


@pytest.mark.parity
def test_onnx_predicts_like_keras_on_real_test_images(zoo_model, test_images, keras_logits, out_dir):
    ort = pytest.importorskip("onnxruntime")
    path = snnzoo.export(zoo_model, out_dir / "fsnn.onnx", format="onnx", model_name=NAME)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    assert session.get_inputs()[0].shape[0] == "batch"  # any batch size: all 1000 at once
    (logits,) = session.run(None, {"image": test_images[0]})
    _same_predictions(logits, keras_logits, test_images[1])
    meta = read_metadata(path)
    assert dict(session.get_modelmeta().custom_metadata_map) == meta  # what a runtime sees
    _check_metadata(meta, "onnx")
    assert json.loads(meta["outputs"]) == [{"name": "logits", "shape": [None, 10], "dtype": "float32"}]


@pytest.mark.parity
def test_saved_model_serving_signature_predicts_like_keras(zoo_model, test_images, keras_logits, out_dir):
    tf = pytest.importorskip("tensorflow")
    path = snnzoo.export(zoo_model, out_dir / "fsnn_saved_model", format="saved_model", model_name=NAME)
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    (name, spec), = serve.structured_input_signature[1].items()
    assert name == "image" and spec.shape.as_list() == [None, 28, 28, 1]
    logits = serve(image=tf.constant(test_images[0]))["output_0"].numpy()
    _same_predictions(logits, keras_logits, test_images[1])
    _check_metadata(read_metadata(path), "saved_model")


def test_keras_file_keeps_model_and_metadata(zoo_model, test_images, keras_logits, out_dir):
    path = snnzoo.export(zoo_model, out_dir / "fsnn.keras", format="keras", model_name=NAME)
    _check_metadata(read_metadata(path), "keras")
    reloaded = keras.saving.load_model(str(path))  # the extra metadata file is ignored by Keras
    np.testing.assert_allclose(np.asarray(reloaded.predict(test_images[0][:100], verbose=0)),
                               keras_logits[:100], rtol=0, atol=1e-6)
    # a .keras file is a model source too; its recorded name carries over
    onnx_path = snnzoo.export(str(path), out_dir / "from_file.onnx", format="onnx")
    assert read_metadata(onnx_path)["model_name"] == NAME


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("snnzoo: error:")
    return err[-1]


def test_cli_export(tmp_path, capsys, test_images, keras_logits):
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "cli.onnx"
    assert main(["export", NAME, "--format", "onnx", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"wrote {out} (onnx; model {NAME}, T = 5")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"image": test_images[0][:50]})
    np.testing.assert_allclose(logits, keras_logits[:50], rtol=0, atol=ATOL)
    # the format follows from the extension; a .keras file as the source
    keras_file = tmp_path / "m.keras"
    assert main(["export", NAME, str(keras_file)]) == 0
    assert main(["export", str(keras_file), str(tmp_path / "again.onnx")]) == 0
    capsys.readouterr()
    assert read_metadata(tmp_path / "again.onnx")["model_name"] == NAME
    # bad input: one line, non-zero exit, nothing written
    assert main(["export", NAME, "--format", "tflite", str(tmp_path / "m.tflite")]) == 2
    assert "error: argument --format/-f: invalid choice: 'tflite'" in capsys.readouterr().err
    assert main(["export", NAME, "--format", "onnx", str(tmp_path / "m.keras2")]) == 1
    assert "must end with .onnx" in _one_error_line(capsys)
    assert main(["export", "fsnn_fmnist_idee", str(tmp_path / "x.onnx")]) == 1
    assert "unknown model" in _one_error_line(capsys)
    assert main(["export", str(tmp_path / "missing.keras"), str(tmp_path / "y.onnx")]) == 1
    assert "not found" in _one_error_line(capsys)
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "y.onnx").exists()


def test_bad_input_gives_one_clear_error(zoo_model, tmp_path):
    with pytest.raises(ValueError, match="unknown export format 'tflite'.*keras, saved_model, onnx"):
        snnzoo.export(zoo_model, tmp_path / "m.tflite", format="tflite")
    with pytest.raises(ValueError, match="must end with .onnx, got 'm.keras'"):
        snnzoo.export(zoo_model, tmp_path / "m.keras", format="onnx")
    with pytest.raises(ValueError, match="SavedModel folder; give a folder path without the .onnx"):
        snnzoo.export(zoo_model, tmp_path / "m.onnx", format="saved_model")
    with pytest.raises(ValueError, match="takes a keras.Model, a .keras file or a registry name"):
        snnzoo.export(object(), tmp_path / "m.keras")
    # an existing folder that is not a SavedModel is never replaced
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match="not a SavedModel folder"):
        snnzoo.export(zoo_model, folder, format="saved_model")
    assert (folder / "notes.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_write_is_atomic(zoo_model, tmp_path, monkeypatch):
    import snnzoo.deploy.onnx_file as onnx_file

    target = tmp_path / "m.onnx"
    target.write_bytes(b"previous")

    def half_written(path, metadata, output_names=None):
        with open(path, "ab") as f:
            f.write(b"garbage")
        raise RuntimeError("disk full")

    monkeypatch.setattr(onnx_file, "add_metadata", half_written)
    with pytest.raises(RuntimeError, match="disk full"):
        snnzoo.export(zoo_model, target, format="onnx")
    assert target.read_bytes() == b"previous"  # untouched, and no temporary left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    with pytest.raises(RuntimeError, match="disk full"):
        snnzoo.export(zoo_model, tmp_path / "new" / "m.onnx", format="onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no empty folder either


def test_saved_model_folder_is_replaced_whole_or_not_at_all(zoo_model, tmp_path, monkeypatch):
    """A SavedModel is a folder: an earlier one is replaced as a whole (no stale files), and a
    failed export leaves it as it was."""
    import snnzoo.deploy.exporter as exporter
    from snnzoo.backend import export_support

    monkeypatch.setattr(export_support, "export_route", lambda fmt: None)

    def writer(fail):
        def write(format, model, path, metadata, **options):
            path.mkdir()
            (path / "saved_model.pb").write_text(metadata["model_name"])
            if fail:
                raise RuntimeError("exporter crashed")
        return write

    target = tmp_path / "sm"
    target.mkdir()
    (target / "saved_model.pb").write_text("old")
    (target / "stale.txt").write_text("from the old export")
    monkeypatch.setattr(exporter, "write_native", writer(fail=False))
    snnzoo.export(zoo_model, target, format="saved_model", model_name="new")
    assert sorted(p.name for p in target.iterdir()) == ["saved_model.pb"]
    assert (target / "saved_model.pb").read_text() == "new"
    monkeypatch.setattr(exporter, "write_native", writer(fail=True))
    with pytest.raises(RuntimeError, match="exporter crashed"):
        snnzoo.export(zoo_model, target, format="saved_model", model_name="newer")
    assert (target / "saved_model.pb").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm"]


@pytest.mark.parity
def test_missing_exporter_names_the_fix(monkeypatch):
    """On every backend one of SavedModel / ONNX is written by a child process under another
    backend; with that backend missing the error names what to install."""
    from snnzoo.backend import export_support

    routed = {fmt: export_support.export_route(fmt) for fmt in ("saved_model", "onnx", "onnx_step")}
    assert any(r is not None for r in routed.values())
    monkeypatch.setattr(export_support, "installed", lambda module: False)
    for fmt, route in routed.items():
        if route is None:
            continue
        with pytest.raises(ValueError, match=r"cannot (write a SavedModel|export onnx).*pip install"):
            export_support.export_route(fmt)


def test_child_process_failure_is_one_line(tmp_path):
    """A model the child cannot rebuild (an unregistered custom layer) fails with one line."""
    from snnzoo.backend import export_support

    if export_support.export_route("saved_model") is None:
        pytest.skip("this backend writes SavedModel itself (no child process)")

    class Unregistered(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    inputs = keras.Input((3,))
    model = keras.Model(inputs, Unregistered()(inputs))
    with pytest.raises(RuntimeError, match="under the tensorflow backend failed: the model could not be "
                                           "rebuilt from its .keras file"):
        snnzoo.export(model, tmp_path / "sm", format="saved_model")
    assert list(tmp_path.iterdir()) == []


def _streamed(model, x):
    """The Keras Streamer's outputs after each step (the reference for the step exports)."""
    from snnzoo.streaming import Streamer

    streamer = Streamer(model)
    state, outputs = streamer.initial_state(len(x)), []
    sequence = x.ndim == len(streamer.step_input_shape) + 2  # event frames: one frame per step
    for t in range(streamer.time_steps):
        out, state = streamer.step(x[:, t] if sequence else x, state)
        outputs.append(np.asarray(keras.ops.convert_to_numpy(out)))
    return outputs


@pytest.mark.parity
@pytest.mark.parametrize("fmt", ["onnx_step", "saved_model_step"])
def test_step_export_reproduces_streamed_outputs(fmt, zoo_model, test_images, keras_logits, out_dir):
    """Fed one step at a time with its own state fed back, the exported step gives the Keras
    Streamer's outputs after every step, and after T steps the whole model's predictions."""
    from snnzoo.backend import export_support

    if export_support.export_route(fmt) is not None and keras.backend.backend() != "torch":
        pytest.skip("written by a child process under another backend: covered in the torch run")
    x, labels = test_images
    streamed = _streamed(zoo_model, x)
    path = snnzoo.export(zoo_model, out_dir / ("step.onnx" if fmt == "onnx_step" else "step_sm"),
                         format=fmt, model_name=NAME)
    meta = read_metadata(path)
    assert meta["model_name"] == NAME and meta["time_steps"] == "5" and meta["format"] == fmt
    spec = json.loads(meta["step"])
    assert spec["initial_state"] == "zeros" and spec["x_t"]["shape"] == [None, 28, 28, 1]
    state = {s["name"]: np.zeros([len(x) if d is None else d for d in s["shape"]], s["dtype"])
             for s in spec["state"]}
    if fmt == "onnx_step":
        ort = pytest.importorskip("onnxruntime")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]

        def run(x_t, state):
            return dict(zip(names, session.run(None, {"x_t": x_t, **state})))
    else:
        tf = pytest.importorskip("tensorflow")
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]

        def run(x_t, state):
            out = serve(x_t=tf.constant(x_t), **{k: tf.constant(v) for k, v in state.items()})
            return {k: v.numpy() for k, v in out.items()}
    for t, reference in enumerate(streamed):
        result = run(x, state)
        np.testing.assert_allclose(result["outputs"], reference, rtol=0, atol=ATOL, err_msg=f"step {t}")
        state = {s["name"]: result[o["name"]] for s, o in zip(spec["state"], spec["state_out"])}
    assert int(state["state_0"]) == 5  # the step counter
    _same_predictions(result["outputs"], keras_logits, labels)


def test_step_export_refuses_a_model_that_cannot_stream(tmp_path):
    from snnzoo.layers import LIF, RepeatTime

    inputs = keras.Input((4,))
    x = LIF()(RepeatTime(3)(inputs))
    x = keras.layers.Flatten()(x)  # mixes the time steps: step t would need the later ones
    model = keras.Model(inputs, keras.layers.Dense(2)(x), name="flat_over_time")
    with pytest.raises(ValueError, match="'flat_over_time' cannot be exported step by step: Streamer: .*"
                                         "cannot stream"):
        snnzoo.export(model, tmp_path / "m.onnx", format="onnx_step")
    model_ok = snnzoo.export(model, tmp_path / "m.onnx", format="onnx")  # the whole sequence exports
    assert read_metadata(model_ok)["time_steps"] == "3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_nir_export_delegates_to_to_nir(zoo_model, tmp_path, capsys):
    nir = pytest.importorskip("nir")
    from snnzoo.nir import to_nir

    with pytest.raises(ValueError, match="subtract_reset=True"):  # IDE neurons reset by subtraction
        snnzoo.export(zoo_model, tmp_path / "f.nir", format="nir")
    with pytest.raises(ValueError, match="NIR options are for format 'nir' only"):
        snnzoo.export(zoo_model, tmp_path / "f.onnx", format="onnx", subtract_reset=True)
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "f.nir"
    assert main(["export", NAME, "--format", "nir", "--subtract-reset", "--per-step-readout", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out} (nir; model {NAME}, T = 5")
    graph = nir.read(str(out))
    direct = to_nir(zoo_model, subtract_reset=True, per_step_readout=True)
    assert set(graph.nodes) == set(direct.nodes)
    for name, node in direct.nodes.items():
        for key, value in vars(node).items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                np.testing.assert_array_equal(getattr(graph.nodes[name], key), value, err_msg=f"{name}.{key}")
    meta = read_metadata(out)
    assert meta["model_name"] == NAME and meta["time_steps"] == "5" and meta["format"] == "nir"
    assert meta["snnzoo"]["readout"]["kind"] == "weighted_mean"  # to_nir's own entry kept


# zoo architectures whose neurons fire through the surrogate's custom gradient (the ONNX
# trace must inline it), small random-weight variants: LIF + TEBN, BPSA/BPTA LIF + voting,
# PLIF + SEW ADD blocks
ZOO_SMALL = {
    "tebn_cnn7": dict(input_shape=(16, 16, 2), time_steps=3),
    "bpsta_convnet_nmnist": dict(widths=(8, 8, 8, 8), input_shape=(32, 32, 2), time_steps=3),
    "sew7bnet": dict(channels=4, time_steps=3),
}


@pytest.mark.parametrize("name", sorted(ZOO_SMALL))
def test_spiking_zoo_architectures_export_to_onnx(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    keras.utils.set_random_seed(0)
    model = snnzoo.load(name, weights=None, **ZOO_SMALL[name])
    x = (np.random.default_rng(1).random((3,) + tuple(model.inputs[0].shape[1:])) * 30).astype("float32")
    reference = np.asarray(keras.ops.convert_to_numpy(model(x)))
    assert reference.std() > 1e-3  # spikes reach the readout: the comparison can fail
    session = ort.InferenceSession(str(snnzoo.export(model, tmp_path / "m.onnx", format="onnx")),
                                   providers=["CPUExecutionProvider"])
    assert "PythonOp" not in {n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node}
    np.testing.assert_allclose(session.run(None, {session.get_inputs()[0].name: x})[0], reference,
                               rtol=0, atol=ATOL)
    step_path = snnzoo.export(model, tmp_path / "s.onnx", format="onnx_step")
    spec = json.loads(read_metadata(step_path)["step"])
    assert spec["initial_state"] == "zeros"
    step = ort.InferenceSession(str(step_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in step.get_outputs()]
    state = {s["name"]: np.zeros([3 if d is None else d for d in s["shape"]], s["dtype"]) for s in spec["state"]}
    for t, streamed in enumerate(_streamed(model, x)):
        result = dict(zip(names, step.run(None, {"x_t": x[:, t], **state})))
        np.testing.assert_allclose(result["outputs"], streamed, rtol=0, atol=ATOL, err_msg=f"step {t}")
        state = {s["name"]: result[o["name"]] for s, o in zip(spec["state"], spec["state_out"])}
    np.testing.assert_allclose(result["outputs"], reference, rtol=0, atol=ATOL)
