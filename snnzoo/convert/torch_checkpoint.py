"""Safe reading of PyTorch checkpoints and helpers to map their tensors onto Keras layers.

Loading (never runs arbitrary pickled code unless the user opts in)::

    torch.load(path, map_location="cpu", weights_only=True)      # with argparse.Namespace allowed
    -> on failure: CheckpointLoadError, unless trust_checkpoint=True (then weights_only=False)

Layout conversions (PyTorch → Keras, channels last)::

    conv   weight [O, I, kh, kw]  -> kernel [kh, kw, I, O]
    linear weight [out, in]       -> kernel [in, out]
    BN     weight, bias, running_mean, running_var -> gamma, beta, moving_mean, moving_variance
    linear weight after a flatten [out, C·H·W] -> kernel [H·W·C, out] (PyTorch flattens C, H, W)

Every converter (:mod:`snnzoo.convert.registry`) reads its input through :class:`StateDict`,
assigns with :func:`assign` / :func:`assign_variable` and raises :class:`ConversionError`.
"""
import argparse
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: Keys under which training scripts nest the model's state dict.
WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "net", "state_dict_ema")
#: Key prefixes added by wrappers (DataParallel / DDP, torch.compile).
STRIP_PREFIXES = ("module.", "_orig_mod.")


class CheckpointLoadError(RuntimeError):
    """A checkpoint could not be read (missing torch, unsafe pickle, or no state dict in it)."""


class ConversionError(ValueError):
    """A state dict does not fit the model it is converted into (missing / unexpected keys)."""


def _import_torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - torch is a test dependency
        raise CheckpointLoadError(
            "reading a PyTorch checkpoint needs torch: pip install torch==2.13.0 "
            "--index-url https://download.pytorch.org/whl/cpu"
        ) from err
    return torch


def load_torch_checkpoint(path, trust_checkpoint=False):
    """Load a PyTorch file (zip or legacy format) on the CPU, safely.

    ``weights_only=True`` is tried first, allowing ``argparse.Namespace`` (training scripts store
    their arguments in it). ``trust_checkpoint=True`` permits a full unpickle (``weights_only=
    False``) — only for files from a source you trust, since unpickling can run code.
    """
    torch = _import_torch()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # the restricted unpickler met a global it does not allow
        if not trust_checkpoint:
            raise CheckpointLoadError(
                f"cannot load {path} safely (torch.load weights_only=True refused it: "
                f"{_first_line(err)}). If you trust this file, pass trust_checkpoint=True "
                "(CLI: --trust-checkpoint) to allow a full unpickle."
            ) from err
    except Exception as err:  # not a torch file, truncated zip, ...
        raise CheckpointLoadError(f"cannot load {path}: not a readable PyTorch checkpoint ({_first_line(err)})") from err
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise CheckpointLoadError(f"cannot load {path}: {_first_line(err)}") from err


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _is_tensor_like(value):
    return hasattr(value, "shape") and (hasattr(value, "numpy") or isinstance(value, np.ndarray))


def _to_numpy(value):
    if isinstance(value, np.ndarray):
        return value
    tensor = value.detach().cpu()
    if tensor.is_floating_point() and tensor.dtype not in (_import_torch().float32, _import_torch().float64):
        tensor = tensor.float()  # half / bfloat16 have no (or a lossy) numpy equivalent
    return tensor.numpy()


def extract_state_dict(obj):
    """Find the state dict in a loaded checkpoint and return it as ``{key: numpy array}``.

    Accepts a bare state dict, a dict wrapping it under one of :data:`WRAPPER_KEYS` (e.g. the
    SEW / CSBP scripts' ``{"model": ..., "optimizer": ..., "args": ...}``), or an ``nn.Module``.
    Leading ``module.`` / ``_orig_mod.`` prefixes are removed.
    """
    if hasattr(obj, "state_dict") and callable(obj.state_dict) and not isinstance(obj, dict):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise CheckpointLoadError(f"checkpoint holds a {type(obj).__name__}, not a state dict")
    for key in WRAPPER_KEYS:  # a training checkpoint: {"model": state_dict, "optimizer": ..., ...}
        if key in obj and not _is_tensor_like(obj[key]) and (
                isinstance(obj[key], dict) or hasattr(obj[key], "state_dict")):
            return extract_state_dict(obj[key])
    tensors = {k: v for k, v in obj.items() if _is_tensor_like(v)}
    if not tensors:
        raise CheckpointLoadError(
            f"no state dict found in checkpoint (top-level keys: {sorted(map(str, obj))[:12]}); "
            f"expected tensors or one of {WRAPPER_KEYS}"
        )
    out = {}
    for key, value in tensors.items():
        key = str(key)
        changed = True
        while changed:
            changed = False
            for prefix in STRIP_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = _to_numpy(value)
    return out


def read_state_dict(path, trust_checkpoint=False):
    """:func:`load_torch_checkpoint` + :func:`extract_state_dict`."""
    return extract_state_dict(load_torch_checkpoint(path, trust_checkpoint=trust_checkpoint))


# -- mapping tensors onto Keras layers -----------------------------------------------------------
def conv_kernel(weight):
    """PyTorch conv weight [O, I, kh, kw] → Keras kernel [kh, kw, I, O]."""
    weight = np.asarray(weight)
    if weight.ndim != 4:
        raise ConversionError(f"expected a 4-D conv weight, got shape {weight.shape}")
    return weight.transpose(2, 3, 1, 0)


def dense_kernel(weight):
    """PyTorch linear weight [out, in] → Keras kernel [in, out]."""
    weight = np.asarray(weight)
    if weight.ndim != 2:
        raise ConversionError(f"expected a 2-D linear weight, got shape {weight.shape}")
    return weight.T


def flatten_kernel(weight, hwc):
    """Linear weight [out, C·H·W] after a PyTorch flatten → Keras kernel [H·W·C, out] after a
    Keras (channels-last) flatten of a feature map of shape ``hwc`` = (H, W, C)."""
    weight = np.asarray(weight)
    h, w, c = hwc
    return weight.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(weight.shape[0], -1).T


def get_layer(model, name, hint=""):
    """``model.get_layer(name)``, raising :class:`ConversionError` (+ ``hint``) if it is absent."""
    try:
        return model.get_layer(name)
    except ValueError as err:
        raise ConversionError(f"model '{model.name}' has no layer '{name}'{hint}") from err


def inner_layer(layer):
    """The wrapped per-frame layer of a TimeFold, else the layer itself."""
    return getattr(layer, "layer", layer) if type(layer).__name__ == "TimeFold" else layer


def assign(layer, arrays, source):
    """``layer.set_weights(arrays)`` with a clear error naming ``source`` on a shape mismatch."""
    layer = inner_layer(layer)
    expected = [tuple(w.shape) for w in layer.weights]
    got = [tuple(np.shape(a)) for a in arrays]
    if expected != got:
        raise ConversionError(
            f"checkpoint tensors {source} have shapes {got}, but layer '{layer.name}' expects "
            f"{expected}: the checkpoint is for a different architecture/configuration"
        )
    layer.set_weights([np.asarray(a, dtype=w.dtype) for a, w in zip(arrays, layer.weights)])


def assign_variable(var, array, source):
    """``var.assign(array)`` with a clear error naming ``source`` on a shape mismatch."""
    array = np.asarray(array)
    if tuple(var.shape) != tuple(array.shape):
        raise ConversionError(f"checkpoint tensor '{source}' has shape {array.shape}, but the model "
                              f"variable '{var.path}' expects {tuple(var.shape)}: the checkpoint "
                              "is for a different architecture/configuration")
    var.assign(array.astype(var.dtype))


def assign_conv(model, name, sd, key):
    """Conv layer ``name`` (or its TimeFold) ← the PyTorch conv weight ``key`` of ``sd``."""
    assign(get_layer(model, name), [conv_kernel(sd.take(key))], key)


def assign_bn(model, name, sd, prefix):
    """BN layer ``name`` ← ``prefix.{weight, bias, running_mean, running_var}``."""
    assign(get_layer(model, name), sd.take_bn(prefix), f"{prefix}.*")


def assign_dense(model, name, sd, prefix):
    """Dense layer ``name`` ← ``prefix.weight`` (+ ``prefix.bias``); if the model has a layer named
    ``flatten`` whose input is a feature map, the kernel's rows follow Keras' (H, W, C) order."""
    layer = get_layer(model, name)
    weight = sd.take(f"{prefix}.weight")
    kernel = dense_kernel(weight)
    flatten = next((l for l in model.layers if l.name == "flatten"), None)
    if flatten is not None:  # PyTorch flattens (C, H, W), Keras (H, W, C)
        shape = tuple(flatten.input.shape[2:])
        if len(shape) == 3 and shape[0] * shape[1] > 1 and weight.shape[1] == int(np.prod(shape)):
            kernel = flatten_kernel(weight, shape)
    arrays = [kernel, sd.take(f"{prefix}.bias")] if layer.use_bias else [kernel]
    assign(layer, arrays, f"{prefix}.*")


def canonical_key(key):
    """``key`` without ``module`` path segments (old SpikingJelly ``SeqToANNContainer`` and
    DataParallel wrappers): ``layer1.0.conv1.module.0.weight`` → ``layer1.0.conv1.0.weight``."""
    return ".".join(p for p in str(key).split(".") if p != "module")


def _flat_arrays(state_dict):
    """``{key: array}`` of a flat state dict, or of the one inside a loaded checkpoint (see
    :func:`extract_state_dict`); anything else raises :class:`ConversionError`."""
    if isinstance(state_dict, Mapping) and all(isinstance(v, np.ndarray) for v in state_dict.values()):
        return state_dict
    try:
        return extract_state_dict(state_dict)
    except CheckpointLoadError as err:
        raise ConversionError(f"expected a state dict (a dict of arrays): {err}") from None


class StateDict:
    """The one reader every converter uses: a state dict whose reads are tracked, so converters
    can report missing and unused keys.

    Accepts a flat ``{key: array}`` dict or a loaded checkpoint that wraps one (see
    :func:`extract_state_dict`: ``{"model": ...}``, ``{"state_dict": ...}``, torch tensors,
    ``module.`` prefixes). Keys are stored in :func:`canonical_key` form.
    """

    IGNORED = re.compile(r"(^|\.)num_batches_tracked$")

    def __init__(self, state_dict, layout="checkpoint"):
        self.layout = layout
        self.arrays = {}
        for key, value in _flat_arrays(state_dict).items():
            canonical = canonical_key(key)
            if canonical in self.arrays:
                raise ConversionError(f"state dict has two tensors for '{canonical}'")
            self.arrays[canonical] = np.asarray(value)
        self.used = set()

    def __contains__(self, key):
        return key in self.arrays

    def keys(self):
        return self.arrays.keys()

    def first(self, *candidates):
        """The first of ``candidates`` (key prefixes or keys) present in the state dict."""
        for cand in candidates:
            if cand in self.arrays or any(k.startswith(cand + ".") for k in self.arrays):
                return cand
        return None

    def take(self, key):
        if key not in self.arrays:
            near = [k for k in self.arrays if k.rsplit(".", 1)[0] == key.rsplit(".", 1)[0]]
            raise ConversionError(
                f"missing key '{key}' in the {self.layout} state dict"
                + (f" (found {near[:6]})" if near else "")
            )
        self.used.add(key)
        return self.arrays[key]

    def require(self, *candidates):
        """:meth:`first` of ``candidates``; none present raises :class:`ConversionError`."""
        found = self.first(*candidates)
        if found is None:
            raise ConversionError(f"missing keys in the {self.layout} state dict: none of {list(candidates)}")
        return found

    def take_alias(self, candidates):
        """The tensor stored under any of ``candidates`` (aliases of one module, e.g. TET's
        ``conv1.weight`` and ``conv1_s.layer.module.weight``), or ``None`` if none is present.
        Every alias present is marked used and must hold the same tensor."""
        found = [k for k in dict.fromkeys(canonical_key(c) for c in candidates) if k in self.arrays]
        if not found:
            return None
        first = self.arrays[found[0]]
        for key in found[1:]:
            other = self.arrays[key]
            if other.shape != first.shape or not np.array_equal(other, first):
                raise ConversionError(f"checkpoint holds different tensors for the aliases {found[0]!r} and {key!r}")
        self.used.update(found)
        return first

    def take_bn(self, prefix):
        return [self.take(f"{prefix}.{n}") for n in ("weight", "bias", "running_mean", "running_var")]

    def mark_duplicates(self, prefix):
        """Mark every tensor under ``prefix`` as used if it equals a tensor already read (a shared
        module stored twice, e.g. CSBP's ``conv0_`` chaos copy); raise if one differs."""
        keys = [k for k in self.arrays if k == prefix or k.startswith(prefix + ".")]
        used_arrays = [self.arrays[k] for k in self.used]
        for key in keys:
            if self.IGNORED.search(key):
                continue
            value = self.arrays[key]
            if not any(u.shape == value.shape and np.array_equal(u, value) for u in used_arrays):
                raise ConversionError(
                    f"'{key}' is not a copy of any converted tensor: the checkpoint holds a module "
                    f"'{prefix}' that this architecture does not have"
                )
        self.used.update(keys)
        return keys

    def mark_chaos_copies(self):
        """:meth:`mark_duplicates` for every top-level module ``<name>_`` (CSBP stores the module
        its chaotic loss reads a second time under that name)."""
        for top in sorted({k.split(".", 1)[0] for k in self.arrays}):
            if top.endswith("_"):
                self.mark_duplicates(top)

    def unused(self):
        """Sorted keys not read yet (``num_batches_tracked`` counters excluded)."""
        return sorted(k for k in self.arrays if k not in self.used and not self.IGNORED.search(k))

    def check_all_used(self):
        left = self.unused()
        if left:
            raise ConversionError(
                f"unexpected keys in the {self.layout} state dict (not part of this architecture): "
                f"{left[:12]}{' ...' if len(left) > 12 else ''}"
            )
