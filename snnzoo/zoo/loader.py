"""``snnzoo.load``: build a registered architecture and put weights into it.

``weights="default"`` uses the registry's weights (shipped, or external: downloaded, verified,
converted and cached by :mod:`snnzoo.zoo.weights`); ``None`` keeps the random initialisation; a
path loads a Keras ``.weights.h5`` / ``.keras`` file, or converts an original PyTorch checkpoint
(``.pth`` / ``.pt`` / ``.tar``) of the same architecture on the fly.
"""
import inspect
import warnings
from pathlib import Path

from snnzoo.zoo import registry
from snnzoo.zoo import weights as weights_lib

KERAS_SUFFIXES = (".weights.h5", ".h5", ".keras")
TORCH_SUFFIXES = (".pth", ".pt", ".tar", ".ckpt", ".bin")


def list_models():
    """Names of every registered model (sorted)."""
    return registry.names()


def model_info(name):
    """Everything the registry says about ``name`` (a plain dict; see API.md)."""
    entry = registry.get(name)
    spec = entry["weights"]
    if spec is None:
        weights = None
    elif "file" in spec:
        weights = {"kind": "shipped", "file": spec["file"], "sha256": spec["sha256"],
                   "path": str(registry.manifest_dir(entry) / spec["file"])}
    else:
        weights = {"kind": "external", "origin": spec["origin"], "filename": spec.get("filename"),
                   "size": spec.get("size"), "converter": spec["converter"],
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
        return builder(**config)
    except TypeError as err:
        if "unexpected keyword argument" in str(err):
            raise ValueError(f"bad option for model '{entry['name']}': {err}") from err
        raise


def torch_converter(entry):
    """The converter for PyTorch checkpoints of ``entry``'s architecture: its own, else one of an
    entry with the same builder, else the builder module's ``TORCH_CONVERTER``."""
    spec = entry["weights"] or {}
    if spec.get("converter"):
        return registry.resolve_callable(spec["converter"], "converter", entry["name"])
    builder = entry["architecture"]["builder"]
    for other in registry.entries().values():
        other_spec = other["weights"] or {}
        if other["architecture"]["builder"] == builder and other_spec.get("converter"):
            return registry.resolve_callable(other_spec["converter"], "converter", entry["name"])
    module = registry.resolve_callable(builder, "builder", entry["name"])
    module = inspect.getmodule(module)
    if getattr(module, "TORCH_CONVERTER", None):
        return registry.resolve_callable(module.TORCH_CONVERTER, "converter", entry["name"])
    raise ValueError(f"no PyTorch checkpoint converter is registered for model '{entry['name']}'")


def convert_checkpoint(entry, model, path, trust_checkpoint=False):
    """Read a PyTorch checkpoint safely and convert it into ``model`` (in place)."""
    from snnzoo.convert.torch_checkpoint import read_state_dict

    converter = torch_converter(entry)
    converter(read_state_dict(path, trust_checkpoint=trust_checkpoint), model)
    return model


def _load_file(entry, model, path, trust_checkpoint):
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    name = path.name.lower()
    if name.endswith(KERAS_SUFFIXES):
        model.load_weights(str(path))
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

    ``overrides`` go to the architecture builder (e.g. ``time_steps=8``, ``input_shape=...``).
    ``trust_checkpoint=True`` allows a full (code-executing) unpickle of a PyTorch file that the
    safe loader refuses. Returns a ``keras.Model`` mapping RAW inputs to logits [B, classes].
    """
    entry = registry.get(name)
    model = build(entry, **overrides)
    if weights is None:
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
            weights_lib.verify_file(path, spec, delete=False, what="shipped weights")
            model.load_weights(str(path))
        else:
            _load_external(entry, model, progress, trust_checkpoint, overrides)
        return model
    if isinstance(weights, (str, Path)):
        _load_file(entry, model, weights, trust_checkpoint)
        return model
    raise ValueError(f"weights must be 'default', None or a file path, got {weights!r}")
