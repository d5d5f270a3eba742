"""TEBN 7-layer CNN for DVS-CIFAR10 (Duan et al., "Temporal Effective Batch Normalization in
Spiking Neural Networks", NeurIPS 2022; the architecture of CSBP's TEBN reproduction, ``CNN7``).

Input: event frames [B, T, 48, 48, 2] (T = ``time_steps``). Layers::

    [conv3x3(64)+TEBN, LIF, AvgPool2]                      48 → 24
    [conv3x3(128)+TEBN, LIF], [conv3x3(128)+TEBN, LIF, AvgPool2]      → 12
    [conv3x3(128)+TEBN, LIF, AvgPool2]                               → 6
    [conv3x3(256)+TEBN, LIF], [conv3x3(256)+TEBN, LIF, AvgPool2]      → 3
    flatten (C, H, W order, as PyTorch) → Dropout(0.25) → fc1 2304→1024 → Dropout(0.25) → fc2 1024→C
    logits [B, T, C] → mean over T      (no spiking neuron between fc1 and fc2)

* TEBN: y[t] = p[t]·BN(x)[t], statistics over N·T·H·W (:class:`snnzoo.layers.TEBN`).
* LIF: mem = 0.25·mem + x; s = Θ(mem − 1); mem = (1 − s)·mem, reset not detached, triangle
  surrogate γ = 1 — ``LIF(tau=tau_from_decay(0.25), decay_input=False, surrogate=Triangle(1))``.
* Convolutions have a bias; their weights use kaiming_normal(fan_out, relu) as in the reference.
* ``decay`` is the per-step membrane decay factor k = 1 − 1/τ (0.25 here), the name used for it
  across snnzoo (``tau`` is the time constant of :class:`~snnzoo.layers.LIF`).

Layer names: ``conv{i}, bn{i}, sn{i}`` (i = 1..6), ``pool{1..4}``, ``flatten, drop1, fc1, drop2, fc2``.
"""
import keras

from snnzoo import surrogates
from snnzoo._deprecation import renamed_keyword
from snnzoo.layers.neurons import LIF, tau_from_decay
from snnzoo.layers.normalization import TEBN
from snnzoo.layers.time import MeanOverTime, TimeFold
from snnzoo.models._checks import check_time_steps
from snnzoo.models._torch_init import conv_kwargs, dense_kwargs

__all__ = ["CNN7_LAYERS", "tebn_cnn7"]

#: (channels, average-pool after the block?)
CNN7_LAYERS = ((64, True), (128, False), (128, True), (128, True), (256, False), (256, True))


def tebn_cnn7(num_classes=10, time_steps=10, input_shape=(48, 48, 2), dropout=0.25, decay=0.25,
              per_step_logits=False, name="tebn_cnn7", **deprecated):
    """Build the TEBN 7-layer CNN (see the module docstring).

    Args:
      num_classes: classes of fc2.
      time_steps: T of the input frames [B, T, H, W, 2] (TEBN has one scale per step).
      input_shape: frame shape (H, W, 2); 48×48 gives the reference fc1 width 2304.
      dropout: rate of the two dropouts before fc1 and fc2.
      decay: LIF membrane decay factor k = 1 − 1/τ (mem = k·mem + x). ``tau_decay``, its former
        name, is still accepted with a DeprecationWarning.
      per_step_logits: return [B, T, C] instead of the mean over T.
    """
    decay = renamed_keyword(deprecated, "tau_decay", "decay", decay, "tebn_cnn7")
    time_steps = check_time_steps(time_steps, name)
    inputs = keras.Input(shape=(time_steps,) + tuple(input_shape), name="frames")
    x = inputs
    in_channels = input_shape[-1]
    pool = 0
    for i, (channels, pooled) in enumerate(CNN7_LAYERS, start=1):
        conv = keras.layers.Conv2D(channels, 3, padding="same", name=f"conv{i}",
                                   **conv_kwargs(in_channels, 3, use_bias=True, weight="kaiming_fan_out"))
        x = TimeFold(conv, name=f"conv{i}")(x)
        x = TEBN(time_steps, name=f"bn{i}")(x)
        x = LIF(tau=tau_from_decay(decay), v_threshold=1.0, v_reset=0.0, decay_input=False,
                detach_reset=False, surrogate=surrogates.Triangle(1.0), name=f"sn{i}")(x)
        if pooled:
            pool += 1
            x = TimeFold(keras.layers.AveragePooling2D(2), name=f"pool{pool}")(x)
        in_channels = channels
    x = TimeFold(keras.layers.Permute((3, 1, 2)), name="to_channels_first")(x)
    x = TimeFold(keras.layers.Flatten(), name="flatten")(x)
    features = x.shape[-1]
    x = keras.layers.Dropout(dropout, name="drop1")(x)
    x = keras.layers.Dense(1024, name="fc1", **dense_kwargs(features))(x)
    x = keras.layers.Dropout(dropout, name="drop2")(x)
    x = keras.layers.Dense(int(num_classes), name="fc2", **dense_kwargs(1024))(x)
    if not per_step_logits:
        x = MeanOverTime(name="mean_over_time")(x)
    return keras.Model(inputs, x, name=name)
