"""The model registry: one JSON manifest per zoo entry in ``zoo_weights/<name>.json``.

Manifests are discovered generically (every ``*.json`` in the registry folders); ``builder`` and
``converter`` are ``"module:function"`` strings imported only when a model is built, so an entry
whose module is missing is still listed (``load`` then raises :class:`ModelUnavailableError`).
Schema: ``zoo_weights/README.md``.

Registry folders, first match wins: ``$SNNZOO_ZOO_DIR`` (``os.pathsep``-separated), then the
``zoo_weights/`` folder next to the ``snnzoo`` package (a source checkout), then
``snnzoo/zoo_weights/`` inside the package (an installed copy, if packaged).
"""
import copy
import difflib
import importlib
import json
import os
from pathlib import Path

ENV_ZOO_DIR = "SNNZOO_ZOO_DIR"
_PACKAGE = Path(__file__).resolve().parents[1]
_REQUIRED = ("name", "architecture", "input", "time_steps", "num_classes", "weights")
_INPUT_KINDS = ("image", "event_frames")


class ModelUnavailableError(ImportError):
    """A registered model's builder or converter cannot be imported in this installation."""


def zoo_dirs():
    """Registry folders searched, in priority order (existing ones only)."""
    dirs = [Path(p).expanduser() for p in os.environ.get(ENV_ZOO_DIR, "").split(os.pathsep) if p]
    dirs += [_PACKAGE.parent / "zoo_weights", _PACKAGE / "zoo_weights"]
    seen, out = set(), []
    for d in dirs:
        key = str(d.resolve()) if d.exists() else str(d)
        if d.is_dir() and key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _check(entry, path):
    def bad(msg):
        return ValueError(f"invalid zoo manifest {path}: {msg} (schema: zoo_weights/README.md)")

    if not isinstance(entry, dict):
        raise bad("the top level must be a JSON object")
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise bad(f"missing keys {missing}")
    if entry["name"] != path.stem:
        raise bad(f"name {entry['name']!r} differs from the file name {path.stem!r}")
    arch = entry["architecture"]
    if not isinstance(arch, dict) or ":" not in str(arch.get("builder", "")):
        raise bad("architecture.builder must be a 'module:function' string")
    if not isinstance(arch.get("config", {}), dict):
        raise bad("architecture.config must be an object")
    if entry["input"].get("kind") not in _INPUT_KINDS:
        raise bad(f"input.kind must be one of {_INPUT_KINDS}")
    spec = entry["weights"]
    if spec is not None:
        if not isinstance(spec, dict):
            raise bad("weights must be null or an object")
        if "file" in spec:
            if not spec.get("sha256"):
                raise bad("shipped weights need a sha256")
        elif "origin" in spec:
            if not (spec.get("sha256") or spec.get("git_blob_sha1")):
                raise bad("external weights need a sha256 or git_blob_sha1")
            if ":" not in str(spec.get("converter", "")):
                raise bad("external weights need a 'module:function' converter")
        else:
            raise bad("weights must have either 'file' or 'origin'")


def _read(path):
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read zoo manifest {path}: {err}") from err
    _check(entry, path)
    entry = copy.deepcopy(entry)
    entry["architecture"].setdefault("config", {})
    entry.setdefault("description", "")
    entry.setdefault("method", None)
    entry.setdefault("dataset", None)
    accuracy = entry.setdefault("accuracy", {})
    accuracy.setdefault("claimed", None)
    accuracy.setdefault("measured", None)
    entry.setdefault("source", {})
    entry.setdefault("license", "unstated")
    entry["_manifest"] = str(path)
    return entry


def entries():
    """``{name: manifest dict}`` for every registered model (private ``_manifest`` = its path)."""
    found = {}
    for d in zoo_dirs():
        for path in sorted(d.glob("*.json")):
            if path.stem not in found:
                found[path.stem] = _read(path)
    return found


def names():
    """Sorted registry names."""
    return sorted(entries())


def unknown_name_error(name, known):
    close = difflib.get_close_matches(str(name), known, n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see snnzoo.list_models()"
    return ValueError(f"unknown model {name!r}{hint}")


def get(name):
    """The manifest of ``name`` (a copy); unknown names raise ``ValueError`` with close matches."""
    found = entries()
    if name not in found:
        raise unknown_name_error(name, list(found))
    return copy.deepcopy(found[name])


def resolve_callable(spec, what="builder", model=None):
    """Import ``"module:function"``; a missing module raises :class:`ModelUnavailableError`."""
    module_name, _, attr = str(spec).partition(":")
    owner = f" of model '{model}'" if model else ""
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # missing module, or one that fails to import
        raise ModelUnavailableError(
            f"the {what}{owner} ({spec}) is not available in this installation: {err}"
        ) from err
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ModelUnavailableError(f"the {what}{owner}: module {module_name} has no function {attr!r}")
    return fn


def is_available(entry):
    """Whether the entry's builder can be imported."""
    try:
        resolve_callable(entry["architecture"]["builder"])
    except ModelUnavailableError:
        return False
    return True


def manifest_dir(entry):
    return Path(entry["_manifest"]).parent


def input_shape(entry):
    """The model's input shape without the batch axis: [H, W, C] for images, [T, H, W, 2] for
    event frames."""
    shape = list(entry["input"].get("shape") or [])
    if entry["input"]["kind"] == "event_frames":
        return [entry["time_steps"]] + shape
    return shape
