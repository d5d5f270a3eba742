"""What every exported file records about the model it holds.

Each export (``snnzoo.export``) writes one flat dictionary of strings into the file, where the
format has a place for it:

==================  ==============================================================
format              where
==================  ==============================================================
``keras``           ``snnzoo_metadata.json`` inside the ``.keras`` zip archive
``saved_model``     ``assets.extra/snnzoo_metadata.json`` in the SavedModel folder
                    (TF Serving's folder for files the model does not load)
``onnx``            the model's ``metadata_props`` (key → string)
``nir``             ``graph.metadata``
==================  ==============================================================

Keys (all values are strings; structured values are JSON): ``snnzoo_version``,
``keras_version``, ``format``, ``model_name``, ``time_steps`` (T, or ``""`` when the model has
no time axis snnzoo knows of), ``inputs`` / ``outputs`` (JSON lists of ``{"name", "shape",
"dtype"}``, ``null`` for a dynamic dimension), ``input_range`` (how inputs are scaled), and
``exported_with`` (the Keras backend that traced the graph). Step exports add ``step`` (JSON:
the state tensors' names, shapes and dtypes and the initial state). Read them back with
:func:`read_metadata`.
"""
import json

__all__ = ["METADATA_FILE", "build_metadata", "infer_time_steps", "read_metadata", "tensor_spec"]

#: file name of the metadata inside a .keras archive and a SavedModel's assets.extra folder
METADATA_FILE = "snnzoo_metadata.json"


def tensor_spec(name, shape, dtype):
    """``{"name", "shape", "dtype"}`` with ``None`` for dynamic dimensions."""
    return {"name": str(name), "shape": [None if d is None else int(d) for d in shape],
            "dtype": str(dtype)}


def infer_time_steps(model):
    """T of ``model``: the ``time_steps`` its layers are configured with (``RepeatTime``,
    ``FeedbackEquilibrium``, ``TEBN``, ...), else None. Several different values raise."""
    import keras

    from snnzoo.layers.find import find_layers

    found = set()
    for layer in find_layers(model, keras.layers.Layer, include_self=True):
        value = getattr(layer, "time_steps", None)
        if value is None and layer is not model:
            try:
                value = layer.get_config().get("time_steps")
            except Exception:  # a layer without a complete config tells us nothing
                value = None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            found.add(int(value))
    if len(found) > 1:
        raise ValueError(f"model '{model.name}' has layers with different time_steps {sorted(found)}; "
                         "pass time_steps=... to snnzoo.export")
    return found.pop() if found else None


def _model_inputs(model):
    inputs = getattr(model, "inputs", None) or []
    return [tensor_spec(getattr(x, "name", f"input_{i}"), x.shape, x.dtype)
            for i, x in enumerate(inputs)]


def _model_outputs(model, names=None):
    outputs = getattr(model, "outputs", None) or []
    return [tensor_spec((names or {}).get(i, f"output_{i}"), y.shape, y.dtype)
            for i, y in enumerate(outputs)]


def build_metadata(model, format, *, model_name=None, time_steps=None, exported_with=None,
                   inputs=None, outputs=None, step=None):
    """The metadata dictionary (strings only) for ``model`` exported as ``format``."""
    import keras

    import snnzoo

    if time_steps is None:
        time_steps = infer_time_steps(model)
    inputs = _model_inputs(model) if inputs is None else inputs
    image = any(len(spec["shape"]) == 4 for spec in inputs)
    meta = {
        "snnzoo_version": snnzoo.__version__,
        "keras_version": keras.__version__,
        "format": format,
        "model_name": str(model_name or model.name),
        "time_steps": "" if time_steps is None else str(int(time_steps)),
        "inputs": json.dumps(inputs),
        "outputs": json.dumps(_model_outputs(model) if outputs is None else outputs),
        "input_range": ("images float32 in [0, 1], channels last (normalisation and time "
                        "repetition are inside the graph)" if image else
                        "as the Keras model's inputs"),
        "exported_with": str(exported_with or keras.backend.backend()),
    }
    if step is not None:
        meta["step"] = json.dumps(step)
    return meta


def _decoded(value):
    """HDF5 (NIR) strings come back as bytes; nested entries as dicts."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    return value


def read_metadata(path):
    """The snnzoo metadata recorded in an exported file or folder (any format), as a dict of
    strings."""
    import zipfile
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        file = path / "assets.extra" / METADATA_FILE
        if not file.is_file():
            raise ValueError(f"{path} holds no snnzoo metadata (no assets.extra/{METADATA_FILE})")
        return json.loads(file.read_text())
    if not path.is_file():
        raise FileNotFoundError(f"exported file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".keras":
        with zipfile.ZipFile(path) as archive:
            if METADATA_FILE not in archive.namelist():
                raise ValueError(f"{path} holds no snnzoo metadata ({METADATA_FILE})")
            return json.loads(archive.read(METADATA_FILE))
    if suffix == ".onnx":
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        return {p.key: p.value for p in model.metadata_props}
    if suffix == ".nir":
        from snnzoo.nir import require_nir

        graph = require_nir().read(str(path))
        return {k: _decoded(v) for k, v in dict(graph.metadata or {}).items()}
    raise ValueError(f"cannot read metadata from {path.name!r}: expected a .keras, .onnx or .nir "
                     "file or a SavedModel folder")
