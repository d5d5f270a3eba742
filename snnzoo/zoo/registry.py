"""The model registry: one JSON manifest per zoo entry in ``zoo_weights/<name>.json``.

Manifests are discovered generically (every ``*.json`` in the registry folders); ``builder`` and
``converter`` are ``"module:function"`` strings imported only when a model is built, so an entry
whose module is missing is still listed (``load`` then raises :class:`ModelUnavailableError`).
Schema: ``zoo_weights/README.md``.

Registry folders, first match wins: ``$SNNZOO_ZOO_DIR`` (``os.pathsep``-separated), then the
``zoo_weights/`` folder next to the ``snnzoo`` package (a source checkout), then
``snnzoo/zoo_weights/`` inside the package (an installed copy, if packaged).

The parsed manifests are cached: a lookup only lists the registry folders and compares each
manifest's path, size and modification time with the cached ones; any change (a manifest
added, removed or edited, another ``$SNNZOO_ZOO_DIR``) re-reads them all. A manifest modified
less than :data:`SETTLE_S` seconds ago is not trusted to the cache yet (a second edit within
the file system's time-stamp resolution would keep size and time), so lookups re-read until it
has settled. :func:`clear_cache` forgets the cache.

``architecture.converter`` names the converter of the architecture's PyTorch checkpoints (see
:mod:`snnzoo.convert.registry`); manifests that still give it as ``weights.converter`` are
read as if it were there.
"""
import copy
import difflib
import importlib
import json
import os
import time
from pathlib import Path

ENV_ZOO_DIR = "SNNZOO_ZOO_DIR"
_PACKAGE = Path(__file__).resolve().parents[1]
_REQUIRED = ("name", "architecture", "input", "time_steps", "num_classes", "weights")
_INPUT_KINDS = ("image", "event_frames")
#: seconds after its last modification before a manifest's parsed form is cached
SETTLE_S = 2.0


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
            if not (arch.get("converter") or spec.get("converter")):
                raise bad("external weights need a converter (architecture.converter)")
        else:
            raise bad("weights must have either 'file' or 'origin'")
    converter = arch.get("converter") or (spec or {}).get("converter")
    if converter is not None:
        from snnzoo.convert.registry import converter_spec

        try:
            converter_spec(converter)
        except ValueError as err:
            raise bad(str(err)) from None


def _read(path):
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read zoo manifest {path}: {err}") from err
    _check(entry, path)
    entry = copy.deepcopy(entry)
    entry["architecture"].setdefault("config", {})
    legacy = (entry["weights"] or {}).pop("converter", None)  # the former place of the field
    entry["architecture"].setdefault("converter", legacy)
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


_cache = {"signature": None, "entries": None}


def _manifest_paths():
    """``{name: path}`` of the manifests in effect (the first folder holding a name wins)."""
    found = {}
    for d in zoo_dirs():
        for path in sorted(d.glob("*.json")):
            found.setdefault(path.stem, path)
    return found


def _signature(paths):
    """(name, path, size, mtime, inode) of every manifest; ``None`` (do not cache) if one is
    gone or was modified less than :data:`SETTLE_S` seconds ago."""
    out = []
    settled = time.time_ns() - int(SETTLE_S * 1e9)
    for name, path in paths.items():
        try:
            stat = path.stat()
        except OSError:  # removed meanwhile: no cache hit, the read reports it
            return None
        if stat.st_mtime_ns > settled:
            return None
        out.append((name, str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return tuple(out)


def _parsed():
    """The cached ``{name: manifest}``; re-read when a manifest file changed (see module doc)."""
    paths = _manifest_paths()
    signature = _signature(paths)
    if signature is None or signature != _cache["signature"]:
        parsed = {name: _read(path) for name, path in paths.items()}
        _cache.update(signature=signature, entries=parsed)
    return _cache["entries"]


def clear_cache():
    """Forget the parsed manifests; the next lookup reads every manifest file again."""
    _cache.update(signature=None, entries=None)


def entries():
    """``{name: manifest dict}`` for every registered model (private ``_manifest`` = its path);
    the dicts are copies, free to modify."""
    return copy.deepcopy(_parsed())


def names():
    """Sorted registry names."""
    return sorted(_parsed())


def unknown_name_error(name, known):
    close = difflib.get_close_matches(str(name), known, n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see snnzoo.list_models()"
    return ValueError(f"unknown model {name!r}{hint}")


def get(name):
    """The manifest of ``name`` (a copy); unknown names raise ``ValueError`` with close matches."""
    found = _parsed()
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
