"""``snnzoo.load``: build a registered architecture and put weights into it.

``weights="default"`` uses the registry's weights (shipped, or external: downloaded, verified,
converted and cached by :mod:`snnzoo.zoo.weights`); ``None`` (or the string ``"none"``, as on the
command line) keeps the random initialisation; a path loads a Keras ``.weights.h5`` / ``.keras``
file, or converts an original PyTorch checkpoint (``.pth`` / ``.pt`` / ``.tar``) of the same
architecture on the fly (a file literally called ``none`` is given as ``"./none"``). A weights
file of another architecture is refused with one line comparing the file's layer structure with
the model's.

Image models are returned as :class:`snnzoo.zoo.image_model.ZooImageModel`: float images in
[0, 1] or uint8 images 0..255 (scaled by 1/255 inside the model); other integer dtypes raise. The
values are not checked inside the model (impossible under jit): NaN/inf or float images in
0..255 give meaningless outputs, while ``snnzoo.evaluate``/``snnzoo.predict`` refuse them.
"""
import inspect
import warnings
from pathlib import Path

from snnzoo.zoo import registry
from snnzoo.zoo import weights as weights_lib
from snnzoo.zoo.image_model import as_zoo_image_model

KERAS_SUFFIXES = (".weights.h5", ".h5", ".keras")
TORCH_SUFFIXES = (".pth", ".pt", ".tar", ".ckpt", ".bin")


def list_models():
    """Names of every registered model (sorted)."""
    return registry.names()


def model_info(name):
    """Everything the registry says about ``name`` (a plain dict; schema: zoo_weights/README.md)."""
    entry = registry.get(name)
    spec = entry["weights"]
    if spec is None:
        weights = None
    elif "file" in spec:
        weights = {"kind": "shipped", "file": spec["file"], "sha256": spec["sha256"],
                   "path": str(registry.manifest_dir(entry) / spec["file"])}
    else:
        weights = {"kind": "external", "origin": spec["origin"], "filename": spec.get("filename"),
                   "size": spec.get("size"), "converter": entry["architecture"]["converter"],
                   "checkpoint_cache": str(weights_lib.checkpoint_cache_path(name, spec)),
                   "converted_cache": str(weights_lib.converted_weights_path(name, spec))}
        for key in ("sha256", "git_blob_sha1"):
            if spec.get(key):
                weights[key] = spec[key]
    return {
        "name": entry["name"],
        "description": entry["description"],
        "architecture": dict(entry["architecture"]),
        "dataset": entry["dataset"],
        "input": dict(entry["input"]),
        "input_shape": registry.input_shape(entry),
        "time_steps": entry["time_steps"],
        "num_classes": entry["num_classes"],
        "method": entry["method"],
        "accuracy": dict(entry["accuracy"]),
        "source": dict(entry["source"]),
        "license": entry["license"],
        "weights": weights,
        "pretrained": spec is not None,
        "available": registry.is_available(entry),
    }


def build(entry, **overrides):
    """Build the entry's architecture with its config, ``time_steps`` and ``overrides``."""
    builder = registry.resolve_callable(entry["architecture"]["builder"], "builder", entry["name"])
    config = dict(entry["architecture"]["config"])
    params = inspect.signature(builder).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if "time_steps" not in config and ("time_steps" in params or takes_any):
        config["time_steps"] = entry["time_steps"]
    if not takes_any:
        unknown = sorted(set(overrides) - set(params))
        if unknown:
            raise ValueError(
                f"unknown option(s) {unknown} for model '{entry['name']}'; its builder "
                f"{entry['architecture']['builder']} accepts {sorted(params)}"
            )
    config.update(overrides)
    try:
        model = builder(**config)
    except TypeError as err:
        if "unexpected keyword argument" in str(err):
            raise ValueError(f"bad option for model '{entry['name']}': {err}") from err
        raise
    if entry["input"]["kind"] == "image":
        model = as_zoo_image_model(model)
    return model


def torch_converter(entry):
    """The converter for PyTorch checkpoints of ``entry``'s architecture: the one its manifest
    names in ``architecture.converter`` (:mod:`snnzoo.convert.registry`)."""
    from snnzoo.convert.registry import converter_spec

    name = entry["architecture"].get("converter")
    if not name:
        raise ValueError(f"no PyTorch checkpoint converter is registered for model '{entry['name']}'")
    return registry.resolve_callable(converter_spec(name), "converter", entry["name"])


def convert_checkpoint(entry, model, path, trust_checkpoint=False):
    """Read a PyTorch checkpoint safely and convert it into ``model`` (in place)."""
    from snnzoo.convert.torch_checkpoint import read_state_dict

    converter = torch_converter(entry)
    converter(read_state_dict(path, trust_checkpoint=trust_checkpoint), model)
    return model


def _h5_layout(source):
    """``{dataset path: shape}`` of the layer weights in a Keras weights file (path or file
    object); a ``.keras`` archive is read through its ``model.weights.h5``."""
    import io
    import zipfile

    import h5py

    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            source = io.BytesIO(archive.read("model.weights.h5"))
    layout = {}
    with h5py.File(source, "r") as f:
        if "layers" in f:
            f["layers"].visititems(lambda n, o: layout.__setitem__(n, tuple(o.shape))
                                   if isinstance(o, h5py.Dataset) else None)
    return layout


def _model_layout(model):
    import io
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.weights.h5"
        model.save_weights(str(path))
        return _h5_layout(io.BytesIO(path.read_bytes()))


def _describe_layout(layout):
    import math

    layers = sorted({key.split("/")[0] for key in layout})
    values = sum(math.prod(shape) for shape in layout.values())
    return f"{len(layers)} layers, {len(layout)} arrays, {values:,} values"


def _layout_owner(layout, skip):
    """The zoo entry whose shipped or cached converted weights have ``layout``, if any."""
    candidates = []
    for other in registry.entries().values():
        spec = other["weights"]
        if other["name"] == skip or not spec:
            continue
        if "file" in spec:
            candidates.append((other["name"], registry.manifest_dir(other) / spec["file"]))
        else:
            candidates.append((other["name"], weights_lib.converted_weights_path(other["name"], spec)))
    for owner, path in candidates:
        try:
            if path.is_file() and _h5_layout(path) == layout:
                return owner
        except Exception:  # an unreadable candidate only means no match
            continue
    return None


def _first_difference(file_layout, model_layout):
    for key in sorted(set(file_layout) | set(model_layout)):
        if key not in file_layout:
            return f"{key} {model_layout[key]} is in the model, not in the file"
        if key not in model_layout:
            return f"{key} {file_layout[key]} is in the file, not in the model"
        if file_layout[key] != model_layout[key]:
            return f"{key} has shape {file_layout[key]} in the file, {model_layout[key]} in the model"
    return "none in the layer structure"


def mismatch_error(entry, model, path, err):
    """One-line ``ValueError`` for a Keras weights file that does not fit ``model``: the file's
    layer structure (and the zoo entry it belongs to, when recognised) against the model's."""
    try:
        file_layout = _h5_layout(path)
    except Exception as read_err:
        first = str(read_err).strip().splitlines()[0] if str(read_err).strip() else ""
        return ValueError(f"cannot read weights file {path}: {type(read_err).__name__}: {first}")
    model_layout = _model_layout(model)
    owner = _layout_owner(file_layout, entry["name"])
    builder = entry["architecture"]["builder"].rpartition(":")[2]
    return ValueError(
        f"weights file {path} does not fit model '{entry['name']}' ({builder}): the file holds "
        + (f"the architecture of '{owner}' " if owner else "another architecture ")
        + f"({_describe_layout(file_layout)}), the model has {_describe_layout(model_layout)}; "
        f"first difference: {_first_difference(file_layout, model_layout)}"
    )


def _load_file(entry, model, path, trust_checkpoint):
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    name = path.name.lower()
    if name.endswith(KERAS_SUFFIXES):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model.load_weights(str(path))
            except Exception as err:  # keras raises ValueError, KeyError, ... over pages
                failed = err
            else:
                failed = None
        if failed is not None:  # the warnings of a failed load only repeat the mismatch
            raise mismatch_error(entry, model, path, failed) from failed
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    elif name.endswith(TORCH_SUFFIXES):
        convert_checkpoint(entry, model, path, trust_checkpoint=trust_checkpoint)
    else:
        raise ValueError(
            f"unsupported weights file {path.name!r}: use a Keras {'/'.join(KERAS_SUFFIXES)} file or a "
            f"PyTorch {'/'.join(TORCH_SUFFIXES)} checkpoint"
        )


def _readable_h5(path):
    try:
        import h5py

        with h5py.File(path, "r"):
            return True
    except Exception:
        return False


def _load_external(entry, model, progress, trust_checkpoint, overrides):
    name, spec = entry["name"], entry["weights"]
    converted = weights_lib.converted_weights_path(name, spec)
    if converted.is_file():
        try:
            model.load_weights(str(converted))
            return
        except Exception as err:
            if overrides and _readable_h5(converted):  # a sound file that does not fit the options
                raise ValueError(
                    f"the weights of '{name}' do not fit the model built with {overrides}: {err}"
                ) from err
            # an unreadable cache entry: convert again from the verified checkpoint (replaces it)
            warnings.warn(f"cannot use cached weights {converted} ({err}); converting the checkpoint again")
    checkpoint = weights_lib.fetch_checkpoint(name, spec, progress=progress)
    convert_checkpoint(entry, model, checkpoint, trust_checkpoint=trust_checkpoint)
    weights_lib.save_weights_atomic(model, converted)


def load(name, weights="default", *, progress=True, trust_checkpoint=False, **overrides):
    """Build registry model ``name`` and load its weights (see module docstring).

    Args:
        name: registry name (``snnzoo.list_models()``).
        weights: ``"default"`` (the registry's weights), ``None`` or ``"none"`` (random
            initialisation, as ``--weights none`` on the command line), or a weights file
            (Keras ``.weights.h5``/``.keras`` or a PyTorch checkpoint of the architecture).
        progress: show download/conversion progress.
        trust_checkpoint: allow a full (code-executing) unpickle of a PyTorch file that the safe
            loader refuses.
        **overrides: go to the architecture builder (e.g. ``time_steps=8``, ``input_shape=...``).

    Returns:
        A ``keras.Model`` mapping RAW inputs to logits [B, classes]. Image models take float
        images in [0, 1] or uint8 images 0..255 (scaled by 1/255 inside the model); other
        integer dtypes raise ``ValueError``. Input values are not checked inside the model: NaN,
        inf or float images in 0..255 give meaningless logits without an error (check with
        ``numpy.isfinite`` / the range first; ``snnzoo.evaluate`` and ``snnzoo.predict`` do).

    Raises:
        ValueError: unknown name or option, a weights file of another architecture (one line:
            the file's layer structure against the model's).
    """
    entry = registry.get(name)
    model = build(entry, **overrides)
    if weights is None or (isinstance(weights, str) and weights.lower() == "none"):
        return model
    if isinstance(weights, str) and weights == "default":
        spec = entry["weights"]
        if spec is None:
            warnings.warn(
                f"'{name}' is an untrained architecture entry: returning randomly initialised weights "
                "(pass weights=None to silence this, or a checkpoint path)", stacklevel=2)
        elif "file" in spec:
            path = registry.manifest_dir(entry) / spec["file"]
            if not path.is_file():
                raise FileNotFoundError(f"shipped weights of '{name}' are missing: {path}")
            weights_lib.verify_weights(path, spec, delete=False, what="shipped weights")
            model.load_weights(str(path))
        else:
            _load_external(entry, model, progress, trust_checkpoint, overrides)
        return model
    if isinstance(weights, (str, Path)):
        _load_file(entry, model, weights, trust_checkpoint)
        return model
    raise ValueError(f"weights must be 'default', None (or 'none') or a file path, got {weights!r}")
