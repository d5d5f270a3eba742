"""Counting rules: accumulate (AC) and multiply-accumulate (MAC) operations per layer kind.

An SNN layer driven by spikes does no multiplications: each incoming spike adds the weights of
its outgoing synapses to the targets' membranes, one accumulate (AC) per synapse it reaches. A
layer driven by real values (the encoding layer of a direct-encoded network, a classifier on
firing rates) multiplies every input element by each of its weights: one MAC per synapse. So,
for a synaptic layer with input x and fan-out F(i) of input element i (the number of
(output position, output channel) pairs that read it),

    AC  = Σ_i x_i · F(i)            if x holds non-negative integers (spikes, spike counts)
    MAC = Σ_i F(i)                  otherwise (every element, zeros included: a dense ANN layer)

(in a model with T > 1, a layer that runs once per sample on a tensor without a time axis — a
readout on a time mean — is always real-valued: MAC). An average pooling of spikes passes on
window means x = c / m (c spikes in a window of area m): the next synaptic layer counts them as
c events, AC = Σ_i m·x_i · F(i) — the pooling folded into that layer, which then acts on
spikes (as in SNN hardware, and in the papers' "all layers but the first are AC" convention).
summed over batch, time steps, positions and channels (the same rule as SpikingJelly's
``SynOpCounter`` for spike-driven convolutions and matrix products). The fan-out is exact at
the borders: for a convolution along one axis with input length n, kernel k, stride s,
dilation d and leading padding p,

    F_axis(i) = #{(o, j) : o·s + j·d − p = i, 0 ≤ o < n_out, 0 ≤ j < k}

and F(i) = Π_axes F_axis(i_axis) · (output channels per input channel); padded zeros cost
nothing. Dense: F = units. Pooling (average or max, window ⊂ one channel): the same with one
output channel per channel — every input spike is added into each window that contains it.
Global average pooling: F = 1. Element-wise merges (``Add``, SEW's ``SEWConnect``): one AC per
non-zero operand element when every operand is spikes (as SpikingJelly's ``ACCounter``), one per
output element otherwise.

Layers that count 0 ops: neurons (their membrane update is not a synaptic operation), batch
norm / normalisation / rescaling (folded into the neighbouring synaptic layer at inference),
reshapes, padding, dropout, time repetition and time means.

The **ANN** count of a layer (``ann_mac``, ``ann_ac``) is what the same layer costs in an ANN
evaluated once: its dense count for a single time step, MAC for synaptic layers, adds for
merges.
"""
from __future__ import annotations

import keras
import numpy as np

from snnzoo.ide.modules import out_shape as module_out_shape
from snnzoo.layers.neurons import BaseNeuron
from snnzoo.layers.sew_connect import SEWConnect
from snnzoo.layers.time import TimeFold
from snnzoo.layers.voting import VotingLayer

__all__ = ["axis_fanout", "conv_fanout", "count_feedback_equilibrium", "count_layer",
           "feedback_equilibrium_spikes", "is_neuron", "is_spiking", "layer_kind",
           "module_fanout", "neuron_stats", "per_frame_inputs", "pool_scales"]


def axis_fanout(n_in, kernel, stride, dilation, pad_before, n_out):
    """F_axis(i) for i in 0…n_in−1 (module docstring): how many (output, tap) pairs read i."""
    f = np.zeros(n_in, dtype=np.int64)
    for o in range(n_out):
        for j in range(kernel):
            i = o * stride + j * dilation - pad_before
            if 0 <= i < n_in:
                f[i] += 1
    return f


def _keras_geometry(n, k, s, d, padding):
    """(n_out, pad_before) of Keras' "valid" / "same" padding along one axis."""
    eff = (k - 1) * d + 1
    if padding == "same":
        n_out = -(-n // s)
        total = max((n_out - 1) * s + eff - n, 0)
        return n_out, total // 2
    if padding == "valid":
        return (n - eff) // s + 1, 0
    raise ValueError(f"profile: padding {padding!r} is not counted (only 'valid' and 'same')")


def conv_fanout(spatial, kernel, strides, dilation, padding):
    """The spatial fan-out map Π_axes F_axis for a Keras convolution / pooling window."""
    maps = []
    for n, k, s, d in zip(spatial, kernel, strides, dilation):
        n_out, pb = _keras_geometry(int(n), int(k), int(s), int(d), padding)
        maps.append(axis_fanout(int(n), int(k), int(s), int(d), pb, n_out))
    f = maps[0]
    for m in maps[1:]:
        f = np.multiply.outer(f, m)
    return f


def module_fanout(spec, in_shape):
    """Fan-out map of an IDE module (:mod:`snnzoo.ide.modules`, PyTorch geometry) for a per-sample
    input ``in_shape``: dense → ``units`` everywhere; conv → Π_axes F_axis · filters over
    ``[H, W, 1]``; conv-transpose: input i writes output o = i·s + j − p, counted where
    0 ≤ o < n_out."""
    if spec["kind"] == "dense":
        return np.full(in_shape, spec["filters"], dtype=np.int64)
    k, s, p = spec["kernel_size"], spec["strides"], spec["padding"]
    out = module_out_shape(spec, in_shape)
    maps = []
    for axis in (0, 1):
        n, n_out = int(in_shape[axis]), int(out[axis])
        if spec["kind"] == "conv":
            maps.append(axis_fanout(n, k, s, 1, p, n_out))
        else:
            f = np.zeros(n, dtype=np.int64)
            for i in range(n):
                f[i] = sum(1 for j in range(k) if 0 <= i * s + j - p < n_out)
            maps.append(f)
    return np.multiply.outer(maps[0], maps[1])[..., None] * spec["filters"]


def is_spiking(x):
    """True when every value of ``x`` is a non-negative integer (spikes or spike counts)."""
    x = np.asarray(x)
    return bool(x.size) and bool(np.all(x >= 0)) and bool(np.all(x == np.round(x)))


def _event_driven(x, steps, time_steps, scales=()):
    """The spike scale m of input ``x``: 1 for non-negative integers (spikes, spike counts); the
    pool area m of an average pooling of spikes (``scales``, smallest first) when m·x holds
    non-negative integers (the spike count in each window); ``None`` for real-valued input. In
    a model with T > 1 steps, a layer called once on a tensor without a time axis (a readout on
    a time mean or on IDE's rate) is real-valued even if a batch holds only integers."""
    if time_steps and time_steps > 1 and steps == 1:
        return None
    if is_spiking(x):
        return 1
    x = np.asarray(x, dtype=np.float64)
    if not x.size or np.any(x < 0):
        return None
    for m in scales:
        xm = x * m
        if np.allclose(xm, np.round(xm), rtol=0, atol=1e-4):
            return m
    return None


def pool_scales(layers):
    """Candidate spike scales: the window areas of the average-pooling layers among ``layers``
    (global pooling: its input's spatial size where the layer's input shape is known)."""
    out = set()
    for layer in layers:
        inner = _inner(layer)
        if isinstance(inner, (keras.layers.AveragePooling1D, keras.layers.AveragePooling2D,
                              keras.layers.AveragePooling3D)):
            out.add(int(np.prod(inner.pool_size)))
        elif isinstance(inner, _GLOBAL_POOL):
            try:
                shape = tuple(layer.input.shape)
            except (AttributeError, ValueError):
                continue
            rank = {keras.layers.GlobalAveragePooling1D: 1, keras.layers.GlobalAveragePooling2D: 2,
                    keras.layers.GlobalAveragePooling3D: 3}[type(inner)]
            spatial = shape[-(rank + 1):-1]
            if all(d is not None for d in spatial):
                out.add(int(np.prod(spatial)))
    return tuple(sorted(m for m in out if m > 1))


def _inner(layer):
    return layer.layer if isinstance(layer, TimeFold) else layer


_CONV = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_POOL = (keras.layers.AveragePooling1D, keras.layers.AveragePooling2D,
         keras.layers.AveragePooling3D, keras.layers.MaxPooling1D, keras.layers.MaxPooling2D,
         keras.layers.MaxPooling3D)
_GLOBAL_POOL = (keras.layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling2D,
                keras.layers.GlobalAveragePooling3D)
_MERGE = (keras.layers.Add, keras.layers.Subtract, SEWConnect)


def layer_kind(layer):
    """A short kind: ``"LIF"`` (neurons), ``"Conv2D"``, ``"TimeFold(Conv2D)"``, ``"Add"``, …"""
    if isinstance(layer, TimeFold):
        return f"TimeFold({type(layer.layer).__name__})"
    return type(layer).__name__


def _natural_rank(layer):
    inner = _inner(layer)
    if isinstance(inner, _CONV + _POOL):
        return inner.rank + 2 if hasattr(inner, "rank") else len(inner.pool_size) + 2
    if isinstance(inner, keras.layers.Dense):
        return 2
    return None


def _steps(layer, x, time_steps):
    """How many time steps one call of ``layer`` on ``x`` covers (the ANN count divides by it)."""
    if isinstance(layer, TimeFold):
        return int(x.shape[1])
    rank = _natural_rank(layer)
    if rank is not None:
        return int(x.shape[1]) if x.ndim > rank else 1
    if time_steps and x.ndim >= 3 and x.shape[1] == time_steps:
        return int(time_steps)
    return 1


def _synaptic(inner, x):
    """(fan-out summed over one frame of one sample, Σ x·F over the whole tensor) for a synaptic /
    pooling layer; ``x`` has the layer's natural rank plus leading batch/time axes."""
    if isinstance(inner, keras.layers.Dense):
        units = int(inner.units)
        return int(x.shape[-1]) * units, float(np.sum(x, dtype=np.float64)) * units
    if isinstance(inner, _GLOBAL_POOL):
        rank = {keras.layers.GlobalAveragePooling1D: 1, keras.layers.GlobalAveragePooling2D: 2,
                keras.layers.GlobalAveragePooling3D: 3}[type(inner)]
        per_frame = int(np.prod(x.shape[-(rank + 1):]))
        return per_frame, float(np.sum(x, dtype=np.float64))
    if getattr(inner, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"profile: layer '{inner.name}' uses data_format="
                         f"{inner.data_format!r}; only channels_last is counted")
    if isinstance(inner, _CONV):
        rank = inner.rank
        spatial = x.shape[-(rank + 1):-1]
        fmap = conv_fanout(spatial, inner.kernel_size, inner.strides, inner.dilation_rate,
                           inner.padding)
        per_in = int(inner.filters) // int(getattr(inner, "groups", 1) or 1)
    else:  # pooling
        rank = len(inner.pool_size)
        spatial = x.shape[-(rank + 1):-1]
        fmap = conv_fanout(spatial, inner.pool_size, inner.strides, (1,) * rank, inner.padding)
        per_in = 1
    channels = int(x.shape[-1])
    per_frame = int(fmap.sum()) * per_in * channels
    lead = tuple(range(x.ndim - rank - 1))
    summed = np.sum(x, axis=lead + (x.ndim - 1,), dtype=np.float64)  # over batch, time, channels
    return per_frame, float(np.sum(summed * fmap)) * per_in


def count_layer(layer, x, y, batch, time_steps, scales=()):
    """Operations of one call of ``layer`` with input ``x`` and output ``y`` (NumPy; ``x`` a list
    for merge layers), as totals over the batch: ``dict(ac, mac, ann_ac, ann_mac)`` where the
    ANN counts are per sample (one step). Neuron and IDE layers are handled by the profiler."""
    zero = dict(ac=0.0, mac=0.0, ann_ac=0.0, ann_mac=0.0)
    inner = _inner(layer)
    if isinstance(inner, keras.layers.Dense) or isinstance(inner, _CONV + _POOL + _GLOBAL_POOL):
        x = np.asarray(x[0] if isinstance(x, (list, tuple)) else x)
        steps = _steps(layer, x, time_steps)
        per_frame, weighted = _synaptic(inner, x)
        frames = x.size // (per_frame_inputs(inner, x) or 1)
        out = dict(zero, ann_mac=float(per_frame) * frames / (batch * steps))
        m = _event_driven(x, steps, time_steps, scales)
        if m is not None:
            out["ac"] = weighted * m
        else:
            out["mac"] = float(per_frame) * frames
        return out
    if isinstance(inner, _MERGE + (VotingLayer,)):
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        xs = [np.asarray(v) for v in xs]
        y = np.asarray(y[0] if isinstance(y, (list, tuple)) else y)
        steps = _steps(layer, y, time_steps)
        if isinstance(inner, VotingLayer):  # a group mean: every input element is added once
            ann = xs[0].size / batch / steps
            spiking = _event_driven(xs[0], steps, time_steps) == 1
            ac = float(np.count_nonzero(xs[0])) if spiking else float(xs[0].size)
        else:
            ann = y.size / batch / steps
            spiking = all(_event_driven(v, steps, time_steps) == 1 for v in xs)
            ac = float(sum(np.count_nonzero(v) for v in xs)) if spiking else float(y.size)
        return dict(zero, ac=ac, ann_ac=float(ann))
    return zero


def per_frame_inputs(inner, x):
    """Number of input elements of one frame of one sample (the unit ``per_frame`` counts for)."""
    if isinstance(inner, keras.layers.Dense):
        return int(x.shape[-1])
    if isinstance(inner, _GLOBAL_POOL):
        rank = {keras.layers.GlobalAveragePooling1D: 1, keras.layers.GlobalAveragePooling2D: 2,
                keras.layers.GlobalAveragePooling3D: 3}[type(inner)]
        return int(np.prod(x.shape[-(rank + 1):]))
    rank = inner.rank if isinstance(inner, _CONV) else len(inner.pool_size)
    return int(np.prod(x.shape[-(rank + 1):]))


def neuron_stats(y):
    """(neurons per sample, spikes total, spikes per step [T], elements per step) of a neuron
    layer's spike output ``[B, T, ...]``."""
    s = np.asarray(y[0] if isinstance(y, (list, tuple)) else y)
    T = int(s.shape[1]) if s.ndim >= 3 else 1
    if s.ndim < 3:
        s = s[:, None]
    neurons = int(np.prod(s.shape[2:]))
    per_step = np.sum(s, axis=(0,) + tuple(range(2, s.ndim)), dtype=np.float64)
    return neurons, float(per_step.sum()), per_step, int(s.shape[0]) * T * neurons, T


def spikes_per_neuron(y):
    """Spike count of every neuron of a neuron layer's output ``[B, T, ...]`` (summed over the
    batch and the steps), shape ``[...]``."""
    s = np.asarray(y[0] if isinstance(y, (list, tuple)) else y)
    if s.ndim < 3:
        s = s[:, None]
    return np.sum(s, axis=(0, 1), dtype=np.float64)


def is_neuron(layer):
    return isinstance(_inner(layer), BaseNeuron)


def feedback_equilibrium_spikes(layer, x1):
    """Re-run the T-step simulation of an IDE :class:`~snnzoo.ide.FeedbackEquilibrium` on its
    input current ``x1`` (inference: BN on moving statistics, no dropout) and return
    ``(spikes, rate)``: ``spikes[t][i]`` the spikes ``[B, *shape_i]`` of layer i at step t
    (NumPy), and the layer's output rate computed from them (equal to ``layer(x1)``; the profile
    checks it). The step is :func:`snnzoo.ide.simulation.simulate`'s (Xiao et al. 2021, Eq. 1–2)::

        u_0 ← u_0 + F_s(s_last[t−1]) (+ bias from t = 1) + x_1[t];   u_i ← u_i + S_i(s_{i−1}[t])
        s_i = Θ(u_i − V_th);   u_i ← k·(u_i − V_th·s_i)
    """
    from keras import ops

    from snnzoo.ide.decay import rate_norm
    from snnzoo.ide.simulation import simulation_step

    fb_kernel, _ = layer.feedback_kernel()
    bias = None if layer.feedback_module.bias is None else layer.feedback_module.bias.value
    chain = [layer.chain_module(i, spec) for i, spec in enumerate(layer.chain)]
    shapes = layer.layer_shapes
    x1 = ops.convert_to_tensor(x1)
    sequence = layer.input_mode == "sequence"
    T, vth, k = layer.time_steps, layer.v_threshold, layer.decay
    batch = int(x1.shape[0])
    us = [ops.zeros((batch,) + tuple(s), dtype=x1.dtype) for s in shapes]
    s_last = ops.zeros((batch,) + tuple(shapes[-1]), dtype=x1.dtype)
    acc = np.zeros((batch,) + tuple(shapes[-1]))
    spikes = []
    for t in range(T):
        us, step = simulation_step(us, s_last, x1[:, t] if sequence else x1,
                                   lambda s: layer.feedback_module.linear(s, fb_kernel), chain, vth, k,
                                   feedback_bias=bias if t > 0 else None)
        s_last = step[-1]
        spikes.append([np.asarray(ops.convert_to_numpy(s)) for s in step])
        acc = acc * (1.0 if k is None else k) + spikes[-1][-1]
    rate = acc / rate_norm(k, T)
    return spikes, rate


def count_feedback_equilibrium(layer, spikes):
    """Operations of the IDE simulation from its recorded ``spikes`` (totals over the batch):
    at each step t the feedback module F_s reads the last layer's spikes of step t − 1 (none at
    t = 0) and each chain module S_i the spikes of layer i − 1 at step t, one AC per spike and
    synapse (:func:`module_fanout`). The input current x₁ (computed once by the layers before,
    or once per step for event input) enters the membrane of layer 0 each step: a neuron update,
    not counted. ANN count: every module once, dense."""
    shapes = layer.layer_shapes
    fb_map = module_fanout(layer.feedback, shapes[-1])
    chain_maps = [module_fanout(spec, shapes[i]) for i, spec in enumerate(layer.chain)]
    ac = 0.0
    for t, step in enumerate(spikes):
        if t > 0:
            ac += float(np.sum(np.sum(spikes[t - 1][-1], axis=0) * fb_map))
        for i, fmap in enumerate(chain_maps):
            ac += float(np.sum(np.sum(step[i], axis=0) * fmap))
    ann = float(np.broadcast_to(fb_map, shapes[-1]).sum()) + sum(
        float(np.broadcast_to(m, shapes[i]).sum()) for i, m in enumerate(chain_maps))
    return dict(ac=ac, mac=0.0, ann_ac=0.0, ann_mac=ann)
