"""SEW 7B-Net (DVS128 Gesture) and Wide-7B-Net (CIFAR10-DVS) (Fang et al., "Deep Residual
Learning in Spiking Neural Networks", NeurIPS 2021, Sec. 4.2; the authors' ``smodels.py``).

Input: event frames [B, T, 128, 128, 2] (polarity channel last). Per stage with ``c`` channels::

    if c_in != c:  x = PLIF(BN(conv1x1(x)))            # transition unit conv{k} / bn{k} / sn{k}
    out = PLIF(BN(conv3x3(x))) ; out = PLIF(BN(conv3x3(out)))    # SEW block{s}
    x = maxpool2(g(out, x))                              # g ∈ {ADD, AND, IAND}
    logits = fc(mean_T(flatten(x)))

* 7B-Net:       c32k1 - [SEW(32) - MP2] × 7 - Linear(32, 11)
* Wide-7B-Net:  c64k1 - [SEW(64) - MP2] × 4 - c128k1 - [SEW(128) - MP2] × 3 - Linear(128, 10)

PLIF: init τ = 2 (w = 0), decay_input, V_th = 1, hard reset to 0, detached reset, ATan(α = 2);
conv bias-free; BN over N·T·H·W (PyTorch momentum/eps). The first unit is named ``conv0`` /
``bn0`` / ``sn0``: CSBP's chaotic loss on the DVS-Gesture model uses h = ``bn0``'s output.
"""
import keras

from snnzoo.layers.sew_connect import SEWConnect, check_connect
from snnzoo.layers.time import MeanOverTime, TimeFold
from snnzoo.models._checks import check_time_steps
from snnzoo.models.sew_blocks import batch_norm, conv, plif_neuron

__all__ = ["sew7bnet", "sew_dvs_net", "sew_wide7bnet"]


def _unit(x, filters, kernel_size, conv_name, bn_name, sn_name):
    x = conv(filters, kernel_size, conv_name)(x)
    x = batch_norm(bn_name)(x)
    return plif_neuron(sn_name)(x)


def sew_dvs_net(stages, num_classes, time_steps=16, input_shape=(128, 128, 2), connect_f="ADD",
                in_channels=2, name="sew_dvs_net"):
    """Generic SEW DVS network: one SEW block + max-pool 2 per entry of ``stages`` (its channels),
    preceded by a conv1x1 unit whenever the channel count changes. Returns a ``keras.Model``
    mapping event frames [B, time_steps, H, W, in_channels] to logits [B, num_classes]."""
    time_steps = check_time_steps(time_steps, name)
    connect_f = check_connect(connect_f)
    stages = [int(c) for c in stages]
    if not stages:
        raise ValueError("stages must list at least one block width")
    height, width = (int(s) for s in input_shape[:2])
    if len(input_shape) == 3 and int(input_shape[2]) != in_channels:
        raise ValueError(f"input_shape {tuple(input_shape)} disagrees with in_channels={in_channels}")
    if height >> len(stages) < 1 or width >> len(stages) < 1:
        raise ValueError(f"input {height}x{width} is too small for {len(stages)} max-pools of 2")
    inputs = keras.Input(shape=(int(time_steps), height, width, int(in_channels)), name="event_frames")
    x = inputs
    channels, transition = int(in_channels), 0
    for block, c in enumerate(stages, start=1):
        if c != channels:
            x = _unit(x, c, 1, f"conv{transition}", f"bn{transition}", f"sn{transition}")
            transition += 1
            channels = c
        out = _unit(x, c, 3, f"block{block}_conv1", f"block{block}_bn1", f"block{block}_sn1")
        out = _unit(out, c, 3, f"block{block}_conv2", f"block{block}_bn2", f"block{block}_sn2")
        x = SEWConnect(connect_f, name=f"block{block}_connect")([out, x])
        x = TimeFold(keras.layers.MaxPooling2D(2, name=f"pool{block}_2d"), name=f"pool{block}")(x)
    x = TimeFold(keras.layers.Flatten(name="flatten_2d"), name="flatten")(x)
    x = MeanOverTime(name="mean_time")(x)
    outputs = keras.layers.Dense(num_classes, name="fc")(x)
    return keras.Model(inputs, outputs, name=name)


def sew7bnet(num_classes=11, time_steps=16, input_shape=(128, 128, 2), connect_f="ADD", channels=32):
    """SEW 7B-Net for DVS128 Gesture: c32k1-[SEW(32)-MP2]×7-Linear(32, 11)."""
    return sew_dvs_net([channels] * 7, num_classes, time_steps=time_steps, input_shape=input_shape,
                       connect_f=connect_f, name="sew7bnet")


def sew_wide7bnet(num_classes=10, time_steps=16, input_shape=(128, 128, 2), connect_f="ADD"):
    """SEW Wide-7B-Net for CIFAR10-DVS: c64k1-[SEW(64)-MP2]×4-c128k1-[SEW(128)-MP2]×3-Linear(128, 10)."""
    return sew_dvs_net([64] * 4 + [128] * 3, num_classes, time_steps=time_steps, input_shape=input_shape,
                       connect_f=connect_f, name="sew_wide7bnet")
