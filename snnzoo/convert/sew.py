"""Converters for the SEW networks' PyTorch checkpoints (``convert(state_dict, model) -> None``).

SEW ResNet (ImageNet) — both key layouts are accepted (``module`` path segments are dropped first,
see :class:`~snnzoo.convert.torch_checkpoint.StateDict`):

* original SEW code (also the CSBP ImageNet checkpoints): ``layerX.Y.conv1.module.0.weight`` (conv),
  ``layerX.Y.conv1.module.1.*`` (BN), ``layerX.0.downsample.0.module.{0,1}.*``;
* SpikingJelly ``activation_based``: ``layerX.Y.conv1.weight``, ``layerX.Y.bn1.*``,
  ``layerX.0.downsample.{0,1}.*``;

plus ``conv1.weight``, ``bn1.*`` (stem) and ``fc.*`` in both.

SEW DVS nets (7B-Net, Wide-7B-Net) — a ``conv`` ``nn.Sequential`` whose entries are either a
conv-BN-PLIF unit (``conv.i.0.0.weight`` conv, ``conv.i.0.1.*`` BN, ``conv.i.1.w`` PLIF) or a
SEW block (``conv.i.conv.{0,1}.<unit>``); pools have no keys; the classifier is ``out.*``. The
CSBP DVS-Gesture checkpoint pulls the first unit out as ``conv0.weight`` / ``bn0.*`` / ``act0.w``
and stores it a second time as ``conv0_.0.{0,1}.*`` (the module its chaotic loss reads); such
``<name>_`` copies are accepted only if every tensor equals one already converted.
The modules found are matched in order against the model's units, so both the SEW layout and the
CSBP layout load into either network.
"""
import re

import numpy as np

from snnzoo.convert.torch_checkpoint import (ConversionError, StateDict, assign, conv_kernel,
                                             dense_kernel)


def _layer_names(model):
    return [layer.name for layer in model.layers]


def _get(model, name):
    try:
        return model.get_layer(name)
    except ValueError as err:
        raise ConversionError(f"model '{model.name}' has no layer '{name}'") from err


def _assign_conv(model, name, sd, key):
    assign(_get(model, name), [conv_kernel(sd.take(key))], key)


def _assign_bn(model, name, sd, prefix):
    assign(_get(model, name), sd.take_bn(prefix), f"{prefix}.*")


def _assign_dense(model, name, sd, prefix):
    layer = _get(model, name)
    weight = sd.take(f"{prefix}.weight")
    kernel = dense_kernel(weight)
    flatten = next((l for l in model.layers if l.name == "flatten"), None)
    if flatten is not None:  # PyTorch flattens (C, H, W), Keras (H, W, C)
        shape = tuple(flatten.input.shape[2:])
        if len(shape) == 3 and shape[0] * shape[1] > 1 and weight.shape[1] == int(np.prod(shape)):
            h, w, c = shape
            kernel = weight.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(weight.shape[0], -1).T
    arrays = [kernel, sd.take(f"{prefix}.bias")] if layer.use_bias else [kernel]
    assign(layer, arrays, f"{prefix}.*")


def _mark_chaos_copies(sd):
    for top in sorted({k.split(".", 1)[0] for k in sd.keys()}):
        if top.endswith("_"):
            sd.mark_duplicates(top)


# -- SEW ResNet ----------------------------------------------------------------------------------
def _require(sd, *candidates):
    found = sd.first(*candidates)
    if found is None:
        raise ConversionError(f"missing keys in the {sd.layout} state dict: none of {list(candidates)}")
    return found


def convert_sew_resnet(state_dict, model):
    """Assign a SEW ResNet checkpoint (original SEW or SpikingJelly ``activation_based`` naming)
    to a model from :mod:`snnzoo.models.sew_resnet`."""
    sd = StateDict(state_dict, layout="SEW ResNet")
    names = set(_layer_names(model))
    _assign_conv(model, "conv1", sd, "conv1.weight")
    _assign_bn(model, "bn1", sd, "bn1")
    blocks = [m.groups() for m in (re.match(r"^layer(\d+)_(\d+)_conv1$", n) for n in _layer_names(model)) if m]
    if not blocks:
        raise ConversionError(f"model '{model.name}' has no SEW ResNet blocks (layerX_Y_conv1)")
    for stage, index in blocks:
        ours, theirs = f"layer{stage}_{index}", f"layer{stage}.{index}"
        for k in (1, 2, 3):
            if f"{ours}_conv{k}" not in names:
                continue
            conv_key = _require(sd, f"{theirs}.conv{k}.0.weight", f"{theirs}.conv{k}.weight")
            _assign_conv(model, f"{ours}_conv{k}", sd, conv_key)
            _assign_bn(model, f"{ours}_bn{k}", sd, _require(sd, f"{theirs}.conv{k}.1", f"{theirs}.bn{k}"))
        if f"{ours}_downsample_conv" in names:
            conv_key = _require(sd, f"{theirs}.downsample.0.0.weight", f"{theirs}.downsample.0.weight")
            _assign_conv(model, f"{ours}_downsample_conv", sd, conv_key)
            bn = _require(sd, f"{theirs}.downsample.0.1", f"{theirs}.downsample.1")
            _assign_bn(model, f"{ours}_downsample_bn", sd, bn)
    _assign_dense(model, "fc", sd, "fc")
    _mark_chaos_copies(sd)
    sd.check_all_used()


# -- SEW DVS nets (7B-Net, Wide-7B-Net) ----------------------------------------------------------
def _model_units(model):
    """[("unit", (conv, bn, sn)) | ("sew", ((conv, bn, sn), (conv, bn, sn)))] in forward order."""
    units = []
    for name in _layer_names(model):
        m = re.match(r"^conv(\d+)$", name)
        if m:
            i = m.group(1)
            units.append(("unit", (f"conv{i}", f"bn{i}", f"sn{i}")))
            continue
        m = re.match(r"^block(\d+)_conv1$", name)
        if m:
            b = m.group(1)
            units.append(("sew", tuple((f"block{b}_conv{k}", f"block{b}_bn{k}", f"block{b}_sn{k}") for k in (1, 2))))
    return units


def _unit_keys(prefix):
    return (f"{prefix}.0.0.weight", f"{prefix}.0.1", f"{prefix}.1.w")


def _checkpoint_units(sd):
    units = []
    if "conv0.weight" in sd:  # CSBP 7B-Net: first unit pulled out of the Sequential
        units.append(("unit", ("conv0.weight", "bn0", "act0.w")))
    indices = sorted({int(m.group(1)) for m in (re.match(r"^conv\.(\d+)\.", k) for k in sd.keys()) if m})
    for i in indices:
        keys = [k for k in sd.keys() if k.startswith(f"conv.{i}.")]
        if any(k.startswith(f"conv.{i}.conv.") for k in keys):
            units.append(("sew", (_unit_keys(f"conv.{i}.conv.0"), _unit_keys(f"conv.{i}.conv.1"))))
        elif f"conv.{i}.0.0.weight" in sd:
            units.append(("unit", _unit_keys(f"conv.{i}")))
        else:
            raise ConversionError(f"unrecognised module 'conv.{i}' in the SEW DVS state dict: keys {keys[:8]}")
    return units


def convert_7bnet(state_dict, model):
    """Assign a SEW 7B-Net / Wide-7B-Net checkpoint (SEW ``smodels.py`` layout or the CSBP
    DVS-Gesture layout) to a model from :mod:`snnzoo.models.sew7bnet`."""
    sd = StateDict(state_dict, layout="SEW DVS-net")
    if "conv0.weight" in sd:
        sd.layout = "CSBP 7B-Net"
    ours, theirs = _model_units(model), _checkpoint_units(sd)
    if [u[0] for u in ours] != [u[0] for u in theirs]:
        raise ConversionError(
            f"the {sd.layout} checkpoint has the module sequence {[u[0] for u in theirs]}, but model "
            f"'{model.name}' expects {[u[0] for u in ours]}: wrong architecture for this checkpoint"
        )

    def one(layer_names, keys):
        conv_name, bn_name, sn_name = layer_names
        conv_key, bn_prefix, w_key = keys
        _assign_conv(model, conv_name, sd, conv_key)
        _assign_bn(model, bn_name, sd, bn_prefix)
        assign(_get(model, sn_name), [np.reshape(sd.take(w_key), ())], w_key)

    for (kind, layer_names), (_, keys) in zip(ours, theirs):
        if kind == "unit":
            one(layer_names, keys)
        else:
            for names_k, keys_k in zip(layer_names, keys):
                one(names_k, keys_k)
    _assign_dense(model, "fc", sd, _require(sd, "out", "fc"))
    _mark_chaos_copies(sd)
    sd.check_all_used()
