"""Convert a PyTorch state dict of TET's spiking ResNet-19 (Deng et al., ICLR 2022, code
``models/resnet_models.py``; also the CSBP CIFAR-100 ``T=*.pt`` checkpoints) into
:func:`snnzoo.models.resnet19.resnet19` (``variant="tet"``; ``"tdbn"`` for a 128-channel stem).

Accepted layouts:

* a bare state dict, or a dict holding it under ``model`` / ``state_dict`` / ``net`` / ``network``;
* keys with a ``module.`` prefix (``DataParallel``);
* TET's aliased modules: the same tensors appear as ``conv1.weight`` and
  ``conv1_s.layer.module.weight``; BN as ``bn1.bn.*``, ``bn1.seqbn.module.*``, ``conv1_s.bn.bn.*``,
  ...; shortcuts as ``layer{i}.{j}.downsample.layer.module.weight`` + ``...downsample.bn.bn.*``
  (also the ``downsample.0`` / ``downsample.1`` form). Duplicates must be identical.

Weight layouts: conv [O, I, kh, kw] → [kh, kw, I, O]; linear [O, I] → [I, O]; BN weight, bias,
running_mean, running_var → gamma, beta, moving_mean, moving_variance
(``num_batches_tracked`` is ignored).
"""
import re

import numpy as np

_CONTAINER_KEYS = ("model", "state_dict", "net", "network")
_BN_FIELDS = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
              ("running_var", "moving_variance"))
_BN_INNER = ("bn.", "seqbn.module.", "")


def _to_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def unwrap_state_dict(obj):
    """The flat {key: array} dict inside ``obj`` with any ``module.`` prefix removed."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a state dict (dict of arrays), got {type(obj).__name__}")
    for key in _CONTAINER_KEYS:
        if key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    out = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise ValueError(f"state dict keys must be strings, got {key!r}")
        while key.startswith("module."):
            key = key[len("module."):]
        if key.endswith("num_batches_tracked"):
            continue
        out[key] = _to_numpy(value)
    return out


class _Reader:
    """Fetch tensors by alternative key names, checking that duplicates agree."""

    def __init__(self, sd):
        self.sd = sd
        self.used = set()
        self.missing = []

    def get(self, candidates, what):
        found = [k for k in candidates if k in self.sd]
        if not found:
            self.missing.append(f"{what} (one of {candidates})")
            return None
        first = self.sd[found[0]]
        for k in found[1:]:
            if self.sd[k].shape != first.shape or not np.array_equal(self.sd[k], first):
                raise ValueError(f"checkpoint holds different tensors for the aliases {found[0]!r} and {k!r}")
        self.used.update(found)
        return first


def _torch_paths(name):
    """(conv/linear weight candidates' base paths, BN base paths) for a Keras layer name."""
    m = re.fullmatch(r"layer(\d+)_(\d+)_(conv|bn)(\d)", name)
    if m:
        i, j, kind, k = m.groups()
        base = f"layer{i}.{j}."
        if kind == "conv":
            return [base + f"conv{k}.", base + f"conv{k}_s.layer.module."]
        return [base + f"bn{k}.", base + f"conv{k}_s.bn."]
    m = re.fullmatch(r"layer(\d+)_(\d+)_downsample_(conv|bn)", name)
    if m:
        i, j, kind = m.groups()
        base = f"layer{i}.{j}.downsample."
        if kind == "conv":
            return [base + "layer.module.", base + "0.", base + "0.module."]
        return [base + "bn.", base + "1."]
    if name in ("conv1", "fc1", "fc2"):
        return [name + ".", name + "_s.layer.module."]
    if name == "bn1":
        return ["bn1.", "conv1_s.bn."]
    return None


def _check_shape(layer_name, got, expected, hint=""):
    if tuple(got) != tuple(expected):
        raise ValueError(
            f"layer {layer_name!r}: checkpoint shape {tuple(got)} does not fit the model's "
            f"{tuple(expected)}{hint}"
        )


def convert(state_dict, model):
    """Assign a TET ResNet-19 state dict to a snnzoo ``resnet19`` Keras model (in place).

    Raises ``ValueError`` naming missing keys, unexpected keys or mismatched shapes.
    """
    import keras

    sd = unwrap_state_dict(state_dict)
    reader = _Reader(sd)
    assignments = []
    for layer in model.layers:
        paths = _torch_paths(layer.name)
        if paths is None:
            continue
        inner = getattr(layer, "layer", layer)  # TimeFold wraps the conv
        if isinstance(inner, keras.layers.Conv2D):
            w = reader.get([p + "weight" for p in paths], f"{layer.name} weight")
            if w is not None:
                w = np.transpose(w, (2, 3, 1, 0))
                hint = ""
                if layer.name == "conv1" and w.shape[-1] != inner.kernel.shape[-1]:
                    hint = (f"; the checkpoint stem has {w.shape[-1]} channels: build the model with "
                            f"variant={'tdbn' if w.shape[-1] == 128 else 'tet'!r}")
                _check_shape(layer.name, w.shape, inner.kernel.shape, hint)
                assignments.append((inner.kernel, w))
        elif isinstance(inner, keras.layers.Dense):
            w = reader.get([p + "weight" for p in paths], f"{layer.name} weight")
            b = reader.get([p + "bias" for p in paths], f"{layer.name} bias")
            if w is not None and b is not None:
                hint = "; check num_classes" if layer.name == "fc2" else ""
                _check_shape(layer.name, w.T.shape, inner.kernel.shape, hint)
                _check_shape(layer.name, b.shape, inner.bias.shape, hint)
                assignments += [(inner.kernel, w.T), (inner.bias, b)]
        elif isinstance(inner, keras.layers.BatchNormalization):
            for torch_field, keras_field in _BN_FIELDS:
                cands = [p + sub + torch_field for p in paths for sub in _BN_INNER]
                v = reader.get(cands, f"{layer.name} {torch_field}")
                if v is not None:
                    var = getattr(inner, keras_field)
                    _check_shape(layer.name, v.shape, var.shape)
                    assignments.append((var, v))
    unexpected = sorted(set(sd) - reader.used)
    if reader.missing or unexpected:
        parts = []
        if reader.missing:
            parts.append(f"missing {len(reader.missing)}: " + "; ".join(reader.missing[:5]))
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: " + ", ".join(unexpected[:8]))
        raise ValueError(
            "state dict does not match TET ResNet-19 (" + " | ".join(parts) + "); is this a TET "
            "resnet19 checkpoint, and is the model built with the same variant and num_classes?"
        )
    for var, value in assignments:
        var.assign(value.astype(var.dtype))
