"""Converter for the SEW DVS nets' PyTorch checkpoints (Fang et al., NeurIPS 2021; CSBP, Wang et
al. 2024) into the models of :mod:`snnzoo.models.sew7bnet` — ``convert(state_dict, model) -> None``
(registered as ``"sew7bnet"``).

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

from snnzoo.convert.torch_checkpoint import (ConversionError, StateDict, assign, assign_bn, assign_conv,
                                             assign_dense, get_layer)


def _model_units(model):
    """[("unit", (conv, bn, sn)) | ("sew", ((conv, bn, sn), (conv, bn, sn)))] in forward order."""
    units = []
    for name in (layer.name for layer in model.layers):
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


def convert(state_dict, model):
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
        assign_conv(model, conv_name, sd, conv_key)
        assign_bn(model, bn_name, sd, bn_prefix)
        assign(get_layer(model, sn_name), [np.reshape(sd.take(w_key), ())], w_key)

    for (kind, layer_names), (_, keys) in zip(ours, theirs):
        if kind == "unit":
            one(layer_names, keys)
        else:
            for names_k, keys_k in zip(layer_names, keys):
                one(names_k, keys_k)
    assign_dense(model, "fc", sd, sd.require("out", "fc"))
    sd.mark_chaos_copies()
    sd.check_all_used()
