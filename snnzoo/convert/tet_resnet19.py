"""Convert a PyTorch state dict of TET's spiking ResNet-19 (Deng et al., ICLR 2022, code
``models/resnet_models.py``; also the CSBP CIFAR-100 ``T=*.pt`` checkpoints) into
:func:`snnzoo.models.resnet19.resnet19` (``variant="tet"``; ``"tdbn"`` for a 128-channel stem).

Accepted layouts:

* a bare state dict, or a checkpoint holding it (``model`` / ``state_dict`` / ``net`` ...: the
  wrappers of :func:`snnzoo.convert.torch_checkpoint.extract_state_dict`);
* keys with a ``module.`` prefix (``DataParallel``) or ``module`` path segments;
* TET's aliased modules: the same tensors appear as ``conv1.weight`` and
  ``conv1_s.layer.module.weight``; BN as ``bn1.bn.*``, ``bn1.seqbn.module.*``, ``conv1_s.bn.bn.*``,
  ...; shortcuts as ``layer{i}.{j}.downsample.layer.module.weight`` + ``...downsample.bn.bn.*``
  (also the ``downsample.0`` / ``downsample.1`` form). Duplicates must be identical.

Weight layouts: conv [O, I, kh, kw] → [kh, kw, I, O]; linear [O, I] → [I, O]; BN weight, bias,
running_mean, running_var → gamma, beta, moving_mean, moving_variance
(``num_batches_tracked`` is ignored).
"""
import re
import warnings

import numpy as np

from snnzoo.convert.torch_checkpoint import (CheckpointLoadError, ConversionError, StateDict, assign_variable,
                                             extract_state_dict)

_BN_FIELDS = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
              ("running_var", "moving_variance"))
_BN_INNER = ("bn.", "seqbn.module.", "")


def unwrap_state_dict(obj):
    """Deprecated: :func:`snnzoo.convert.torch_checkpoint.extract_state_dict` (without the
    ``num_batches_tracked`` counters); converters accept wrapped checkpoints themselves."""
    warnings.warn("snnzoo.convert.tet_resnet19.unwrap_state_dict is deprecated; use "
                  "snnzoo.convert.torch_checkpoint.extract_state_dict", DeprecationWarning, stacklevel=2)
    try:
        flat = extract_state_dict(obj)
    except CheckpointLoadError as err:
        raise ConversionError(str(err)) from None
    return {k: v for k, v in flat.items() if not k.endswith("num_batches_tracked")}


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
        raise ConversionError(
            f"layer {layer_name!r}: checkpoint shape {tuple(got)} does not fit the model's "
            f"{tuple(expected)}{hint}"
        )


def convert(state_dict, model):
    """Assign a TET ResNet-19 state dict to a snnzoo ``resnet19`` Keras model (in place; nothing
    is assigned unless every tensor fits).

    Raises :class:`~snnzoo.convert.torch_checkpoint.ConversionError` (a ``ValueError``) naming
    missing keys, unexpected keys or mismatched shapes.
    """
    import keras

    sd = StateDict(state_dict, layout="TET ResNet-19")
    missing = []

    def take(candidates, what):
        value = sd.take_alias(candidates)
        if value is None:
            missing.append(f"{what} (one of {candidates})")
        return value

    assignments = []
    for layer in model.layers:
        paths = _torch_paths(layer.name)
        if paths is None:
            continue
        inner = getattr(layer, "layer", layer)  # TimeFold wraps the conv
        if isinstance(inner, keras.layers.Conv2D):
            w = take([p + "weight" for p in paths], f"{layer.name} weight")
            if w is not None:
                w = np.transpose(w, (2, 3, 1, 0))
                hint = ""
                if layer.name == "conv1" and w.shape[-1] != inner.kernel.shape[-1]:
                    hint = (f"; the checkpoint stem has {w.shape[-1]} channels: build the model with "
                            f"variant={'tdbn' if w.shape[-1] == 128 else 'tet'!r}")
                _check_shape(layer.name, w.shape, inner.kernel.shape, hint)
                assignments.append((inner.kernel, w, f"{layer.name} weight"))
        elif isinstance(inner, keras.layers.Dense):
            w = take([p + "weight" for p in paths], f"{layer.name} weight")
            b = take([p + "bias" for p in paths], f"{layer.name} bias")
            if w is not None and b is not None:
                hint = "; check num_classes" if layer.name == "fc2" else ""
                _check_shape(layer.name, w.T.shape, inner.kernel.shape, hint)
                _check_shape(layer.name, b.shape, inner.bias.shape, hint)
                assignments += [(inner.kernel, w.T, f"{layer.name} weight"), (inner.bias, b, f"{layer.name} bias")]
        elif isinstance(inner, keras.layers.BatchNormalization):
            for torch_field, keras_field in _BN_FIELDS:
                cands = [p + sub + torch_field for p in paths for sub in _BN_INNER]
                v = take(cands, f"{layer.name} {torch_field}")
                if v is not None:
                    var = getattr(inner, keras_field)
                    _check_shape(layer.name, v.shape, var.shape)
                    assignments.append((var, v, f"{layer.name} {torch_field}"))
    unexpected = sd.unused()
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: " + "; ".join(missing[:5]))
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: " + ", ".join(unexpected[:8]))
        raise ConversionError(
            "state dict does not match TET ResNet-19 (" + " | ".join(parts) + "); is this a TET "
            "resnet19 checkpoint, and is the model built with the same variant and num_classes?"
        )
    for var, value, source in assignments:
        assign_variable(var, value, source)
