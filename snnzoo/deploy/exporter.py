"""``snnzoo.export(model, path, format=...)``: write a model in a deployable format.

>>> import snnzoo
>>> model = snnzoo.load("fsnn_fmnist_ide")                                # doctest: +SKIP
>>> snnzoo.export(model, "fsnn.onnx", format="onnx", model_name="fsnn_fmnist_ide")  # doctest: +SKIP

==================== ========= ===================================================================
format               path      what is written
==================== ========= ===================================================================
``keras``            .keras    the Keras archive (config + weights)
``saved_model``      folder    TF SavedModel, signature ``serving_default``: image → logits, the
                               whole time loop inside
``onnx``             .onnx     ONNX, time loop inside (unrolled), runs in onnxruntime
``nir``              .nir      NIR graph (:func:`snnzoo.nir.to_nir`)
``saved_model_step`` folder    SavedModel of one streaming step: (x_t, state) → (outputs, state)
``onnx_step``        .onnx     ONNX of one streaming step
==================== ========= ===================================================================

Every file records the model name, T, the input and output specs and the snnzoo version
(:mod:`snnzoo.deploy.metadata`). Writing is atomic (:mod:`snnzoo._atomic`).

Which backend writes what (:mod:`snnzoo.backend.export_support`): a format the current backend
cannot write itself is written by a child process under a backend that can
(:mod:`snnzoo.deploy.worker`), from the model's ``.keras`` file — SavedModel from torch under
TensorFlow; ONNX from TensorFlow/JAX (without tf2onnx/jax2onnx) and every ONNX step under torch.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from snnzoo._atomic import atomic_output
from snnzoo.deploy.metadata import build_metadata

__all__ = ["FORMATS", "check_target", "export", "write_native"]

#: format -> required file suffix (None: a folder)
FORMATS = {"keras": ".keras", "saved_model": None, "onnx": ".onnx", "nir": ".nir",
           "saved_model_step": None, "onnx_step": ".onnx"}
STEP_FORMATS = ("saved_model_step", "onnx_step")
_FILE_SUFFIXES = (".keras", ".onnx", ".nir", ".h5", ".pb", ".zip", ".tflite")


def _check_format(format):
    if not isinstance(format, str) or format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    return format


def _check_path(path, format):
    path = Path(os.fspath(path))
    suffix = FORMATS[format]
    if suffix is None:
        if path.suffix.lower() in _FILE_SUFFIXES:
            raise ValueError(f"format {format!r} writes a SavedModel folder; give a folder path "
                             f"without the {path.suffix} extension (e.g. {path.with_suffix('')})")
    elif path.suffix.lower() != suffix:
        raise ValueError(f"format {format!r} writes a {suffix} file; the path must end with {suffix}, "
                         f"got {path.name!r}")
    return path


def check_target(path, format):
    """``(format, path)`` checked: a known format and a path with its extension (ValueError)."""
    format = _check_format(format)
    return format, _check_path(path, format)


def _resolve_model(model, model_name):
    """A keras.Model from a model, a ``.keras`` path or a registry name, and its name."""
    import keras

    if isinstance(model, (str, os.PathLike)):
        text = os.fspath(model)
        if text.lower().endswith(".keras"):
            file = Path(text)
            if not file.is_file():
                raise FileNotFoundError(f"model file not found: {file}")
            loaded = keras.saving.load_model(str(file), compile=False)
            if model_name is None:
                from snnzoo.deploy.metadata import read_metadata

                try:
                    model_name = read_metadata(file).get("model_name")
                except ValueError:
                    model_name = None
            return loaded, model_name or file.name[: -len(".keras")]
        from snnzoo.zoo import load

        return load(text), model_name or text
    if not isinstance(model, keras.Model):
        raise ValueError(f"snnzoo.export takes a keras.Model, a .keras file or a registry name, got "
                         f"{type(model).__name__}")
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(f"model '{model.name}' has no known inputs; build it as a functional model "
                         "(keras.Input) or call it once on data before exporting")
    return model, model_name or model.name


def write_native(format, model, path, metadata, dt=1e-4, **nir_options):
    """Write ``model`` as ``format`` at ``path`` with the current backend (no routing)."""
    metadata = dict(metadata)
    from snnzoo.backend.export_support import current_backend

    metadata["exported_with"] = metadata.get("exported_with") or current_backend()
    if format == "keras":
        from snnzoo.deploy.keras_file import write_keras

        return write_keras(model, path, metadata)
    if format == "nir":
        from snnzoo.deploy.nir_file import write_nir

        return write_nir(model, path, metadata, dt=dt, **nir_options)
    if format == "saved_model":
        from snnzoo.deploy.saved_model import write_saved_model

        return write_saved_model(model, path, metadata)
    if format == "onnx":
        from snnzoo.deploy.onnx_file import write_onnx

        return write_onnx(model, path, metadata)
    from snnzoo.deploy.step_spec import make_streamer, step_spec

    streamer = make_streamer(model)
    spec = step_spec(streamer, model)
    metadata["step"] = json.dumps(spec)
    if spec["time_steps"] is not None and not metadata.get("time_steps"):
        metadata["time_steps"] = str(spec["time_steps"])
    metadata["inputs"] = json.dumps([spec["x_t"]] + spec["state"])
    metadata["outputs"] = json.dumps([spec["outputs"]] + spec["state_out"])
    if format == "saved_model_step":
        from snnzoo.deploy.saved_model import write_saved_model_step

        return write_saved_model_step(model, streamer, path, metadata, spec)
    if format == "onnx_step":
        from snnzoo.deploy.onnx_file import write_onnx_step

        return write_onnx_step(model, streamer, path, metadata, spec)
    raise ValueError(f"unknown export format {format!r}")  # pragma: no cover - checked before


def _write_in_child(format, model, path, metadata, backend, reason, dt):
    from snnzoo.backend.export_support import current_backend

    metadata = dict(metadata, exported_with=f"{backend} (rebuilt from the {current_backend()} "
                                            "model's .keras file)")
    with tempfile.TemporaryDirectory(prefix="snnzoo-export-") as tmp:
        keras_file = Path(tmp) / "model.keras"
        model.save(str(keras_file))
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({"format": format, "keras_file": str(keras_file), "out": str(path),
                                   "metadata": metadata, "options": {"dt": dt}}))
        env = dict(os.environ, KERAS_BACKEND=backend)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        done = subprocess.run([sys.executable, "-m", "snnzoo.deploy.worker", str(job)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        from snnzoo.deploy.worker import ERROR_PREFIX

        lines = [l for l in done.stderr.splitlines() if l.strip()]
        marked = [l[len(ERROR_PREFIX):] for l in lines if l.startswith(ERROR_PREFIX)]
        detail = marked[-1] if marked else (lines[-1] if lines else f"exit code {done.returncode}")
        raise RuntimeError(f"exporting {format} under the {backend} backend failed: {detail}")
    return path


def export(model, path, format="keras", *, model_name=None, time_steps=None, dt=1e-4, **nir_options):
    """Write ``model`` to ``path`` in ``format`` (table in the module docstring).

    Args:
        model: a ``keras.Model``, a ``.keras`` file, or a registry name (loaded with its
            default weights).
        path: output file (``.keras``, ``.onnx``, ``.nir``) or folder (SavedModel formats).
        format: ``"keras"``, ``"saved_model"``, ``"onnx"``, ``"nir"``, ``"saved_model_step"``
            or ``"onnx_step"``.
        model_name: name recorded in the metadata (default: the registry name, or
            ``model.name``).
        time_steps: T recorded in the metadata (default: the model's layers' ``time_steps``).
        dt: time step of the NIR graph (``format="nir"``).
        **nir_options: further options of :func:`snnzoo.nir.to_nir` (``format="nir"`` only),
            e.g. ``subtract_reset=True`` for soft-reset neurons (all IDE models).

    Returns:
        The written path (a ``pathlib.Path``).

    Raises:
        ValueError: unknown format, a path with the wrong extension, a model that cannot stream
            (step formats), or no installed backend that can write the format.
        RuntimeError: the backend's exporter failed (its first line).
    """
    format = _check_format(format)
    path = _check_path(path, format)
    if nir_options and format != "nir":
        raise ValueError(f"unexpected option(s) {sorted(nir_options)} for format {format!r} (NIR "
                         "options are for format 'nir' only)")
    model, model_name = _resolve_model(model, model_name)
    if format in STEP_FORMATS:  # refuse a model that cannot stream before any work
        from snnzoo.deploy.step_spec import make_streamer

        make_streamer(model)
    metadata = build_metadata(model, format, model_name=model_name, time_steps=time_steps)
    from snnzoo.backend.export_support import export_route

    route = export_route(format)
    with atomic_output(path, directory=FORMATS[format] is None) as tmp:
        if route is None:
            write_native(format, model, tmp, metadata, dt=dt, **nir_options)
        else:
            _write_in_child(format, model, tmp, metadata, route[0], route[1], dt)
    return path
