"""Converter for SEW ResNet PyTorch checkpoints (Fang et al., NeurIPS 2021) into the models of
:mod:`snnzoo.models.sew_resnet` — ``convert(state_dict, model) -> None`` (registered as
``"sew_resnet"``).

SEW ResNet (ImageNet) — both key layouts are accepted (``module`` path segments are dropped first,
see :class:`~snnzoo.convert.torch_checkpoint.StateDict`):

* original SEW code (also the CSBP ImageNet checkpoints): ``layerX.Y.conv1.module.0.weight`` (conv),
  ``layerX.Y.conv1.module.1.*`` (BN), ``layerX.0.downsample.0.module.{0,1}.*``;
* SpikingJelly ``activation_based``: ``layerX.Y.conv1.weight``, ``layerX.Y.bn1.*``,
  ``layerX.0.downsample.{0,1}.*``;

plus ``conv1.weight``, ``bn1.*`` (stem) and ``fc.*`` in both.
"""
import re

from snnzoo.convert.torch_checkpoint import (ConversionError, StateDict, assign_bn, assign_conv,
                                             assign_dense)


def convert(state_dict, model):
    """Assign a SEW ResNet checkpoint (original SEW or SpikingJelly ``activation_based`` naming)
    to a model from :mod:`snnzoo.models.sew_resnet`."""
    sd = StateDict(state_dict, layout="SEW ResNet")
    ordered = [layer.name for layer in model.layers]
    names = set(ordered)
    assign_conv(model, "conv1", sd, "conv1.weight")
    assign_bn(model, "bn1", sd, "bn1")
    blocks = [m.groups() for m in (re.match(r"^layer(\d+)_(\d+)_conv1$", n) for n in ordered) if m]
    if not blocks:
        raise ConversionError(f"model '{model.name}' has no SEW ResNet blocks (layerX_Y_conv1)")
    for stage, index in blocks:
        ours, theirs = f"layer{stage}_{index}", f"layer{stage}.{index}"
        for k in (1, 2, 3):
            if f"{ours}_conv{k}" not in names:
                continue
            conv_key = sd.require(f"{theirs}.conv{k}.0.weight", f"{theirs}.conv{k}.weight")
            assign_conv(model, f"{ours}_conv{k}", sd, conv_key)
            assign_bn(model, f"{ours}_bn{k}", sd, sd.require(f"{theirs}.conv{k}.1", f"{theirs}.bn{k}"))
        if f"{ours}_downsample_conv" in names:
            conv_key = sd.require(f"{theirs}.downsample.0.0.weight", f"{theirs}.downsample.0.weight")
            assign_conv(model, f"{ours}_downsample_conv", sd, conv_key)
            bn = sd.require(f"{theirs}.downsample.0.1", f"{theirs}.downsample.1")
            assign_bn(model, f"{ours}_downsample_bn", sd, bn)
    assign_dense(model, "fc", sd, "fc")
    sd.mark_chaos_copies()
    sd.check_all_used()
