"""Spiking ResNet-19 for CIFAR (Zheng et al., "Going Deeper With Directly-Trained Larger Spiking
Neural Networks", AAAI 2021 — tdBN; as coded by Deng et al., TET, ICLR 2022, ``resnet19``).

Architecture (input raw images [B, H, W, 3] in [0, 1]; per-channel normalisation and the
repetition over T are inside the model)::

    normalise → repeat T → conv3x3(c0) → BN → LIF                      (stem; c0 = 64 "tet" / 128 "tdbn")
    layer1: 3 BasicBlocks, 128 ch, stride 1   (block 0 has a conv1x1+BN shortcut iff c0 ≠ 128)
    layer2: 3 BasicBlocks, 256 ch, stride 2   (block 0: conv1x1 stride 2 + BN shortcut)
    layer3: 2 BasicBlocks, 512 ch, stride 2
    BasicBlock: conv3x3-BN → LIF → conv3x3-BN, + shortcut, then LIF (spike after the add; no
                spiking neuron in the shortcut)
    global average pool → fc1 512→256 → LIF → fc2 256→C → logits [B, T, C] → mean over T

* BN is plain batch norm over N·T·H·W ("tdBN" in the TET code, :class:`TDBatchNorm` with α=1),
  PyTorch momentum/epsilon. Convolutions have no bias.
* LIF is TET's ``LIFSpike``: mem = 0.5·mem + x; s = Θ(mem − 1); mem = (1 − s)·mem, reset not
  detached, triangle surrogate γ = 1 ("ZIF") — ``LIF(tau=tau_from_decay(0.5), decay_input=False,
  v_threshold=1, v_reset=0, surrogate=Triangle(1))``.
* Stride-2 3×3 convolutions pad 1 on every side (PyTorch ``padding=1``), not Keras' asymmetric
  "same", so converted weights see the same pixels.
* Initialisation: PyTorch defaults (the TET code never reaches its kaiming init).

Layer names (used by converters and ``snnzoo.chaos.attach_chaos``): ``conv1, bn1, sn1``,
``layer{i}_{j}_{conv1,bn1,sn1,conv2,bn2,add,sn2}``, ``layer{i}_{j}_downsample_{conv,bn}``,
``layer{i}_{j}_pad`` (stride-2 padding), ``avgpool, fc1, fc1_sn, fc2``, ``mean_over_time``.
"""
import keras

from snnzoo import surrogates
from snnzoo.layers.neurons import LIF, tau_from_decay
from snnzoo.layers.normalization import TDBatchNorm
from snnzoo.layers.time import MeanOverTime, RepeatTime, TimeFold
from snnzoo.models._checks import check_time_steps
from snnzoo.models._stem import normalize_input
from snnzoo.models._torch_init import conv_kwargs, dense_kwargs

__all__ = ["NORMALIZATIONS", "VARIANTS", "resnet19"]

#: Per-channel (mean, std) used by the TET data loaders.
NORMALIZATIONS = {
    "cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
}

VARIANTS = {
    # stem channels, blocks per stage, stage channels
    "tet": (64, (3, 3, 2), (128, 256, 512)),
    "tdbn": (128, (3, 3, 2), (128, 256, 512)),
}


def _lif(name):
    return LIF(tau=tau_from_decay(0.5), v_threshold=1.0, v_reset=0.0, decay_input=False,
               detach_reset=False, surrogate=surrogates.Triangle(1.0), name=name)


def _conv(x, filters, kernel, stride, name, in_channels):
    if kernel == 3 and stride != 1:
        x = TimeFold(keras.layers.ZeroPadding2D(1), name=name.rsplit("_", 1)[0] + "_pad")(x)
        padding = "valid"
    else:
        padding = "same" if kernel == 3 else "valid"
    conv = keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding, name=name,
                               **conv_kwargs(in_channels, kernel, use_bias=False))
    return TimeFold(conv, name=name)(x)


def _basic_block(x, in_channels, channels, stride, prefix):
    out = _conv(x, channels, 3, stride, prefix + "_conv1", in_channels)
    out = TDBatchNorm(name=prefix + "_bn1")(out)
    out = _lif(prefix + "_sn1")(out)
    out = _conv(out, channels, 3, 1, prefix + "_conv2", channels)
    out = TDBatchNorm(name=prefix + "_bn2")(out)
    if stride != 1 or in_channels != channels:
        shortcut = _conv(x, channels, 1, stride, prefix + "_downsample_conv", in_channels)
        shortcut = TDBatchNorm(name=prefix + "_downsample_bn")(shortcut)
    else:
        shortcut = x
    out = keras.layers.Add(name=prefix + "_add")([out, shortcut])
    return _lif(prefix + "_sn2")(out)


def _mean_std(normalization):
    """(mean, std) of a ``normalization`` argument: a name of :data:`NORMALIZATIONS`, a pair, or
    None (no normalisation)."""
    if normalization is None:
        return None, None
    if isinstance(normalization, str):
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"unknown normalization {normalization!r}; use one of {sorted(NORMALIZATIONS)}, "
                "None, or a pair (mean, std)"
            )
        normalization = NORMALIZATIONS[normalization]
    mean, std = normalization
    return mean, std


def resnet19(num_classes=100, time_steps=2, variant="tet", per_step_logits=False,
             input_shape=(32, 32, 3), normalization="cifar100", name=None):
    """Build the spiking ResNet-19 (see the module docstring).

    Args:
      num_classes: classes of the final layer.
      time_steps: T (direct encoding: the normalised image is repeated T times).
      variant: ``"tet"`` (TET code: 64-channel stem, conv1x1 shortcut in layer1) or ``"tdbn"``
        (tdBN paper: 128-channel stem, identity shortcuts in layer1).
      per_step_logits: return logits [B, T, C] (for :class:`snnzoo.losses.TETLoss`) instead of
        their mean over T [B, C].
      input_shape: raw image shape (H, W, C).
      normalization: ``"cifar100"`` (default), ``"cifar10"``, ``None``, or ``(mean, std)`` per channel.
    """
    if variant not in VARIANTS:
        raise ValueError(f"resnet19: unknown variant {variant!r}; use one of {sorted(VARIANTS)}")
    time_steps = check_time_steps(time_steps, "resnet19")
    num_classes = int(num_classes)
    if num_classes < 1:
        raise ValueError(f"resnet19: num_classes must be >= 1, got {num_classes}")
    stem, blocks, widths = VARIANTS[variant]

    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x = normalize_input(inputs, *_mean_std(normalization))
    x = RepeatTime(time_steps, name="repeat_time")(x)
    x = _conv(x, stem, 3, 1, "conv1", input_shape[-1])
    x = TDBatchNorm(name="bn1")(x)
    x = _lif("sn1")(x)
    in_channels = stem
    for stage, (n_blocks, channels) in enumerate(zip(blocks, widths), start=1):
        for j in range(n_blocks):
            stride = 2 if (stage > 1 and j == 0) else 1
            x = _basic_block(x, in_channels, channels, stride, f"layer{stage}_{j}")
            in_channels = channels
    x = TimeFold(keras.layers.GlobalAveragePooling2D(name="avgpool"), name="avgpool")(x)
    x = keras.layers.Dense(256, name="fc1", **dense_kwargs(in_channels))(x)
    x = _lif("fc1_sn")(x)
    x = keras.layers.Dense(num_classes, name="fc2", **dense_kwargs(256))(x)
    if not per_step_logits:
        x = MeanOverTime(name="mean_over_time")(x)
    return keras.Model(inputs, x, name=name or f"resnet19_{variant}")
