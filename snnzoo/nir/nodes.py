"""Per-step math of the NIR node types, in ``keras.ops`` (channels last, with a batch axis).

NIR (Pedersen et al., "Neuromorphic intermediate representation", Nature Communications 15,
8122, 2024; the ``nir`` package's node docstrings) defines every node in continuous time,
channels first and without batch or time axes. Here each node type becomes one step function on
``[batch, *shape]`` tensors in the channels-last layout (NIR ``(C, H, W)`` is ``(H, W, C)``;
``(C, L)`` is ``(L, C)``; 1-D shapes are unchanged), discretised with forward Euler at the step
``dt`` (the input of step t acts during that step, as snnTorch and Norse discretise them)::

    LI          v[t] = v[t-1] + (dt/τ)·(v_leak − v[t-1] + r·x[t])                   out: v[t]
    I           v[t] = v[t-1] + dt·r·x[t]                                           out: v[t]
    LIF         h    = v[t-1] + (dt/τ)·(v_leak − v[t-1] + r·x[t])
    IF          h    = v[t-1] + dt·r·x[t]
    CubaLIF     i[t] = i[t-1] + (dt/τ_syn)·(−i[t-1] + w_in·x[t])
                h    = v[t-1] + (dt/τ_mem)·(v_leak − v[t-1] + r·i[t])
    fire        s[t] = Θ(h − v_threshold)       (NIR: v > v_threshold; see ``strict``)
    reset       hard: v[t] = h·(1 − s) + v_reset·s     subtract: v[t] = h − v_threshold·s
                (``spec["reset"]``: "zero" = hard to 0, "value" = hard to the node's v_reset)
    Threshold   y = Θ(x − threshold)
    Affine      y = W·x + b        Linear  y = W·x        Scale  y = s ⊙ x
    Conv1d/2d   torch's convolution (cross-correlation) with stride, padding (int, pair, "same",
                "valid"), dilation and groups; SumPool2d / AvgPool2d (zero padding counted,
                torch's ``count_include_pad=True``); Flatten in NIR's (channels-first) order
    Delay       y[t] = x[t − d], d = delay/dt steps (an integer; zeros before the start)

The membrane starts at rest: v[-1] = v_leak (0 for IF and I), i[-1] = 0. Spikes carry a
surrogate gradient (:mod:`snnzoo.surrogates`), so an imported graph can be fine-tuned.

Every node is described by a JSON-able *spec* (``type``, NIR ``input_shape``/``output_shape``,
static attributes) and a dict of parameter arrays in the NIR layout; :func:`to_keras_layout`
converts the arrays once, :func:`initial_state` and :func:`step` run the node.
"""
import numpy as np
from keras import ops

__all__ = ["NODE_TYPES", "NEURON_TYPES", "STATEFUL_TYPES", "TRAINABLE_PARAMS", "channels_last_shape",
           "to_keras_layout", "state_shapes", "initial_state", "step"]

#: Array parameters of each supported node type (NIR field names).
NODE_TYPES = {
    "Input": (), "Output": (),
    "Affine": ("weight", "bias"), "Linear": ("weight",), "Scale": ("scale",),
    "Conv1d": ("weight", "bias"), "Conv2d": ("weight", "bias"),
    "SumPool2d": (), "AvgPool2d": (), "Flatten": (),
    "Threshold": ("threshold",),
    "LI": ("tau", "r", "v_leak"), "I": ("r",),
    "IF": ("r", "v_threshold", "v_reset"),
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in", "v_reset"),
    "Delay": (),
}
#: Parameters that are trainable Keras weights (the synapses); neuron constants are not.
TRAINABLE_PARAMS = {"Affine": ("weight", "bias"), "Linear": ("weight",), "Scale": ("scale",),
                    "Conv1d": ("weight", "bias"), "Conv2d": ("weight", "bias")}
#: Spiking nodes (the reset option applies to them).
NEURON_TYPES = ("IF", "LIF", "CubaLIF")
#: Nodes with a state carried from step to step (a cycle through one is cut at its output).
STATEFUL_TYPES = ("LI", "I", "IF", "LIF", "CubaLIF")


def channels_last_shape(shape):
    """NIR shape ``(C, *spatial)`` -> Keras ``(*spatial, C)``; 0-D and 1-D shapes unchanged."""
    shape = tuple(int(s) for s in shape)
    return shape if len(shape) < 2 else shape[1:] + shape[:1]


def _elementwise_to_keras(array):
    array = np.asarray(array)
    return array if array.ndim < 2 else np.moveaxis(array, 0, -1)


def to_keras_layout(spec, params):
    """NIR-layout arrays of one node -> the arrays its Keras weights hold.

    Affine/Linear ``W (out, in)`` -> kernel ``(in, out)``; ConvNd ``(out, in/groups, *k)`` ->
    ``(*k, in/groups, out)``; element-wise parameters of shape ``(C, *spatial)`` -> channels last.
    """
    kind = spec["type"]
    out = {}
    for name, value in params.items():
        value = np.asarray(value, dtype="float64")
        if kind in ("Affine", "Linear") and name == "weight":
            value = value.T
        elif kind in ("Conv1d", "Conv2d") and name == "weight":
            value = np.moveaxis(value, (0, 1), (-1, -2))
        elif kind not in ("Affine", "Linear", "Conv1d", "Conv2d"):
            value = _elementwise_to_keras(value)
        out[name] = value
    return out


# -- state ------------------------------------------------------------------------------------
def state_shapes(spec):
    """Shapes (without batch, channels last) of the node's state tensors, in order."""
    kind = spec["type"]
    shape = channels_last_shape(spec["output_shape"])
    if kind in ("LI", "I", "IF", "LIF"):
        return (shape,)
    if kind == "CubaLIF":
        return (shape, shape)  # i, v
    if kind == "Delay" and spec["steps"] > 0:
        return ((spec["steps"],) + shape,)
    return ()


def initial_state(spec, params, zeros):
    """The node's state at t = -1 (``zeros(shape)`` makes a [batch, *shape] zero tensor)."""
    kind = spec["type"]
    shapes = state_shapes(spec)
    states = [zeros(s) for s in shapes]
    if kind == "LI" or kind == "LIF":
        states[0] = states[0] + params["v_leak"]
    elif kind == "CubaLIF":
        states[1] = states[1] + params["v_leak"]
    return tuple(states)


# -- one step ---------------------------------------------------------------------------------
def _spike(h, v_threshold, surrogate, strict):
    """Θ(h − v_th) with the surrogate's gradient; strict: 0 at h == v_th (NIR's v > v_th)."""
    x = h - v_threshold
    s = surrogate(x)
    if strict:
        s = s + ops.stop_gradient(ops.cast(ops.greater(x, 0.0), s.dtype) - s)
    return s


def _reset(h, s, params, reset):
    """``reset``: "zero" (v = 0), "value" (v = v_reset, NIR >= 1.0.5's field) or "subtract"."""
    if reset == "subtract":
        return h - params["v_threshold"] * s
    if reset == "value":
        return h * (1.0 - s) + params["v_reset"] * s
    return h * (1.0 - s)


def _pads(spec, kernel):
    """Explicit (before, after) zero padding per spatial axis for a conv or pooling node."""
    padding = spec["padding"]
    dilation = spec.get("dilation", [1] * len(kernel))
    if padding == "valid":
        return [(0, 0)] * len(kernel)
    if padding == "same":  # torch: total = d·(k−1), before = total // 2
        pads = []
        for d, k in zip(dilation, kernel):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
        return pads
    return [(int(p), int(p)) for p in padding]


def _pad(x, pads):
    if not any(a or b for a, b in pads):
        return x
    return ops.pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)])


def _conv(spec, params, x):
    kernel = params["weight"]
    ksize = tuple(kernel.shape[:-2])
    x = _pad(x, _pads(spec, ksize))
    strides = tuple(spec["stride"])
    dilation = tuple(spec["dilation"])
    groups = int(spec["groups"])
    # TensorFlow has no convolution with both a stride and a dilation > 1: convolve with stride
    # 1 and keep every stride-th output (the same values)
    subsample = max(strides) > 1 and max(dilation) > 1
    conv_strides = (1,) * len(strides) if subsample else strides

    def conv(a, k):
        return ops.conv(a, k, strides=conv_strides, padding="valid", dilation_rate=dilation)

    if groups == 1:
        y = conv(x, kernel)
    else:  # one convolution per group (grouped convolution on every backend and device)
        xs = ops.split(x, groups, axis=-1)
        ks = ops.split(kernel, groups, axis=-1)
        y = ops.concatenate([conv(a, k) for a, k in zip(xs, ks)], axis=-1)
    if subsample:
        y = y[(slice(None),) + tuple(slice(None, None, s) for s in strides)]
    return y + params["bias"]


def _pool(spec, x, total):
    kernel = tuple(spec["kernel_size"])
    x = _pad(x, [(int(p), int(p)) for p in spec["padding"]])
    y = ops.average_pool(x, pool_size=kernel, strides=tuple(spec["stride"]), padding="valid")
    return y * float(np.prod(kernel)) if total else y


def _flatten(spec, x):
    """NIR Flatten over the channels-first axes ``start_dim..end_dim`` of ``input_shape``."""
    nir_shape = tuple(spec["input_shape"])
    rank = len(nir_shape)
    if rank >= 2:  # back to channels first, as NIR orders the flattened elements
        x = ops.transpose(x, [0, rank] + list(range(1, rank)))
    start, end = spec["start_dim"], spec["end_dim"]
    out = nir_shape[:start] + (int(np.prod(nir_shape[start:end + 1])),) + nir_shape[end + 1:]
    x = ops.reshape(x, (-1,) + out)
    if len(out) >= 2:
        x = ops.transpose(x, [0] + list(range(2, len(out) + 1)) + [1])
    return x


def step(spec, params, state, x, *, dt, surrogate, strict):
    """One step of one node: ``(new_state, y)``. ``x`` is the summed input [batch, *shape]."""
    kind = spec["type"]
    if kind in ("Input", "Output"):
        return state, x
    if kind == "Affine":
        return state, ops.matmul(x, params["weight"]) + params["bias"]
    if kind == "Linear":
        return state, ops.matmul(x, params["weight"])
    if kind == "Scale":
        return state, x * params["scale"]
    if kind in ("Conv1d", "Conv2d"):
        return state, _conv(spec, params, x)
    if kind == "SumPool2d":
        return state, _pool(spec, x, total=True)
    if kind == "AvgPool2d":
        return state, _pool(spec, x, total=False)
    if kind == "Flatten":
        return state, _flatten(spec, x)
    if kind == "Threshold":
        return state, _spike(x, params["threshold"], surrogate, strict)
    if kind == "Delay":
        if spec["steps"] == 0:
            return state, x
        buffer = state[0]  # [B, d, ...]: x[t-d], ..., x[t-1]
        y = buffer[:, 0]
        buffer = ops.concatenate([buffer[:, 1:], ops.expand_dims(x, 1)], axis=1)
        return (buffer,), y
    if kind == "I":
        v = state[0] + (dt * params["r"]) * x
        return (v,), v
    if kind == "LI":
        v = state[0]
        v = v + (dt / params["tau"]) * (params["v_leak"] - v + params["r"] * x)
        return (v,), v
    if kind == "IF":
        h = state[0] + (dt * params["r"]) * x
    elif kind == "LIF":
        v = state[0]
        h = v + (dt / params["tau"]) * (params["v_leak"] - v + params["r"] * x)
    elif kind == "CubaLIF":
        i, v = state
        i = i + (dt / params["tau_syn"]) * (params["w_in"] * x - i)
        h = v + (dt / params["tau_mem"]) * (params["v_leak"] - v + params["r"] * i)
    else:
        raise ValueError(f"unsupported NIR node type {kind!r}")
    s = _spike(h, params["v_threshold"], surrogate, strict)
    v = _reset(h, s, params, spec["reset"])
    return ((i, v) if kind == "CubaLIF" else (v,)), s
