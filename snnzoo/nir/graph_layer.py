"""``NIRGraphLayer``: a whole NIR graph simulated step by step as one Keras layer.

Per time step the nodes run in a topological order (:mod:`snnzoo.nir.nodes` holds each node's
math); a node's input is the sum of its sources' outputs. A cycle (a recurrent connection) cannot
run within one step, so one edge of each cycle carries its source's output of the *previous*
step: the edge leaving the last stateful node (a neuron, LI or integrator) on the cycle, with
zero spikes before the first step. For the recurrent CuBa-LIF of the NIR paper's Braille graphs
(``lif -> w_rec -> lif``) this is ``syn[t] = α·syn[t-1] + W_in·x[t] + (W_rec·s[t-1] + b_rec)``:
snnTorch's ``RSynaptic`` (whose recurrent layer sees the previous spikes, zero at t = 0). Norse
(through nirtorch's executor) cuts the same cycle at the ``w_rec -> lif`` edge instead, which
differs only in leaving the recurrent bias out at t = 0. A cycle through no stateful node (an
algebraic loop) is cut at the edge that closes it in a depth-first walk from the inputs.

The layer holds the graph's structure in its config (JSON: node types, shapes, static attributes)
and every parameter array as a Keras weight: synapse weights and biases (Affine, Linear, Scale,
Conv) trainable, neuron constants (τ, r, v_leak, v_threshold, ...) not. Built by
:func:`snnzoo.nir.from_nir`; the state (all neurons' membranes and currents, the delayed outputs)
lives inside one call, on :func:`snnzoo.backend.time_loop` (unrolled, or the backend's compiled
loop under ``jit_compile``).
"""
import re

import keras
import numpy as np
from keras import ops

from snnzoo import surrogates as surrogate_lib
from snnzoo.backend import time_loop
from snnzoo.nir import nodes as node_lib

__all__ = ["NIRGraphLayer", "schedule"]


def _find_cycle(names, succ, order_hint):
    """One cycle ``[v0, ..., vk]`` (with the edge vk -> v0) of the graph, or None."""
    color = {n: 0 for n in names}  # 0 new, 1 on the stack, 2 done
    stack = []

    def visit(n):
        color[n] = 1
        stack.append(n)
        for m in succ[n]:
            if color[m] == 1:
                return stack[stack.index(m):]
            if color[m] == 0:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        color[n] = 2
        return None

    for start in order_hint:
        if color[start] == 0:
            found = visit(start)
            if found:
                return found
    return None


def schedule(nodes, edges, inputs):
    """``(order, delayed_edges)`` for one step: a topological order of ``nodes`` once the
    ``delayed_edges`` (one per cycle, see the module docstring) read the previous step.

    ``nodes``: {name: spec}; ``edges``: [(source, target)]; ``inputs``: the Input node names.
    Raises ValueError for a Delay node on a cycle (not supported).
    """
    names = list(nodes)
    hint = list(inputs) + [n for n in names if n not in inputs]
    delayed = []
    while True:
        live = [e for e in edges if e not in delayed]
        succ = {n: [] for n in names}
        for a, b in live:
            succ[a].append(b)
        cycle = _find_cycle(names, succ, hint)
        if cycle is None:
            break
        if any(nodes[n]["type"] == "Delay" for n in cycle):
            raise ValueError(f"NIR import: a Delay node on a recurrent cycle ({' -> '.join(cycle)}) is not "
                             "supported; only feed-forward Delay nodes are")
        cut = (cycle[-1], cycle[0])  # algebraic loop: the closing edge
        for k in range(len(cycle) - 1, -1, -1):
            if nodes[cycle[k]]["type"] in node_lib.STATEFUL_TYPES:
                cut = (cycle[k], cycle[(k + 1) % len(cycle)])
                break
        delayed.append(cut)
    # Kahn's algorithm, stable in the nodes' order (inputs first)
    live = [e for e in edges if e not in delayed]
    indegree = {n: 0 for n in names}
    succ = {n: [] for n in names}
    for a, b in live:
        indegree[b] += 1
        succ[a].append(b)
    ready = [n for n in hint if indegree[n] == 0]
    order = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for m in succ[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                ready.append(m)
    return order, delayed


def _weight_name(node, param, taken):
    base = re.sub(r"[^A-Za-z0-9_]", "_", f"{node}_{param}")
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


@keras.saving.register_keras_serializable(package="snnzoo")
class NIRGraphLayer(keras.layers.Layer):
    """A NIR graph run step by step: ``[batch, time, *input] -> [batch, time, *output]``.

    Args:
        graph: the graph's structure (JSON-able dict): ``nodes`` {name: spec} where a spec has
            ``type``, the NIR (channels-first) ``input_shape`` / ``output_shape``, the shapes of
            its parameter arrays (``params`` {field: shape}), ``reset`` for spiking nodes and
            the static attributes of its type (stride, padding, ...); ``edges`` [[source,
            target]]; ``inputs`` (one Input node name) and ``outputs`` (Output node names).
            Written by :func:`snnzoo.nir.from_nir`, which also sets the weights.
        dt: the Euler step in the graph's time unit (seconds for snnTorch/Norse graphs).
        surrogate: surrogate gradient of the spikes (a :mod:`snnzoo.surrogates` name/object).
        strict_threshold: spike where ``v > v_threshold`` (NIR's definition, snnTorch, Norse);
            False: ``v >= v_threshold`` (snnzoo's neurons, Sinabs).
        record: names of stateful nodes whose membrane ``v`` (after the reset) is returned too,
            after the graph's outputs, as ``[batch, time, *shape]`` (e.g. to plot a trace).
        **kwargs: standard Keras layer arguments.

    Call arguments:
        inputs: ``[batch, time, *input]``, channels last, static time axis.

    Returns:
        ``[batch, time, *output]``; a list of them for a graph with several Output nodes or with
        ``record``.
    """

    def __init__(self, graph, dt=1e-4, surrogate="atan", strict_threshold=True, record=(), **kwargs):
        super().__init__(**kwargs)
        self.graph = _jsonable(graph)
        self.dt = float(dt)
        if not self.dt > 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        self.surrogate = surrogate_lib.get(surrogate)
        self.strict_threshold = bool(strict_threshold)
        nodes = self.graph["nodes"]
        self._edges = [tuple(e) for e in self.graph["edges"]]
        inputs = list(self.graph["inputs"])
        if len(inputs) != 1:
            raise ValueError(f"NIRGraphLayer runs graphs with exactly one Input node, got {inputs}")
        self._input = inputs[0]
        self._outputs = list(self.graph["outputs"])
        self.record = [str(n) for n in record]
        for n in self.record:
            if n not in nodes or not node_lib.state_shapes(nodes[n]) or nodes[n]["type"] == "Delay":
                stateful = [m for m in nodes if node_lib.state_shapes(nodes[m]) and nodes[m]["type"] != "Delay"]
                raise ValueError(f"record: {n!r} is not a neuron node of the graph; its neurons: {stateful}")
        self._order, self._delayed = schedule(nodes, self._edges, inputs)
        missing = [n for n in nodes if n not in self._order]
        if missing:
            raise ValueError(f"NIR graph: nodes {missing} cannot be ordered (no path from the Input node)")
        self._sources = {n: [] for n in nodes}
        for a, b in self._edges:
            self._sources[b].append((a, (a, b) in self._delayed))
        self._delayed_sources = sorted({a for a, _ in self._delayed}, key=self._order.index)
        self._weights_of = {}

    # -- weights ---------------------------------------------------------------------------
    def build(self, input_shape):
        taken = set()
        for name in self._order:
            spec = self.graph["nodes"][name]
            trainable = node_lib.TRAINABLE_PARAMS.get(spec["type"], ())
            holders = {}
            for param, shape in spec.get("params", {}).items():
                layout = node_lib.to_keras_layout(spec, {param: np.zeros(shape)})[param]
                holders[param] = self.add_weight(
                    name=_weight_name(name, param, taken), shape=layout.shape, initializer="zeros",
                    trainable=param in trainable)
            self._weights_of[name] = holders
        super().build(input_shape)

    def set_nir_params(self, arrays):
        """Assign ``{node: {field: NIR-layout array}}`` to the weights (after ``build``)."""
        for name, params in arrays.items():
            spec = self.graph["nodes"][name]
            for param, value in node_lib.to_keras_layout(spec, params).items():
                variable = self._weights_of[name][param]
                if tuple(variable.shape) != value.shape:
                    raise ValueError(f"NIR node {name!r}: {param} has shape {value.shape}, expected "
                                     f"{tuple(variable.shape)} (Keras layout)")
                variable.assign(value.astype(variable.dtype))

    # -- shapes ----------------------------------------------------------------------------
    def _output_shape(self, name):
        return node_lib.channels_last_shape(self.graph["nodes"][name]["output_shape"])

    def compute_output_shape(self, input_shape):
        shapes = [tuple(input_shape[:2]) + self._output_shape(o) for o in self._outputs + self.record]
        return shapes[0] if len(shapes) == 1 else shapes

    # -- simulation ------------------------------------------------------------------------
    def call(self, inputs):
        expected = node_lib.channels_last_shape(self.graph["nodes"][self._input]["output_shape"])
        if tuple(inputs.shape[2:]) != expected:
            raise ValueError(f"NIR graph input must be [batch, time, *{expected}] (channels last), "
                             f"got shape {tuple(inputs.shape)}")
        dtype = self.compute_dtype
        nodes = self.graph["nodes"]
        params = {n: {k: ops.cast(v, dtype) for k, v in w.items()} for n, w in self._weights_of.items()}
        stateful = [n for n in self._order if node_lib.state_shapes(nodes[n])]
        options = dict(dt=self.dt, surrogate=self.surrogate, strict=self.strict_threshold)

        def initial():
            ref = ops.zeros_like(inputs[:, 0])
            ref = ops.sum(ref, axis=tuple(range(1, len(ref.shape)))) if len(ref.shape) > 1 else ref

            def zeros(shape):
                return ops.reshape(ref, (-1,) + (1,) * len(shape)) + ops.zeros(shape, dtype=dtype)

            state = []
            for n in stateful:
                state.extend(node_lib.initial_state(nodes[n], params[n], zeros))
            for n in self._delayed_sources:
                y = zeros(self._output_shape(n))
                if nodes[n]["type"] == "LI":  # its output is v, at rest v_leak
                    y = y + params[n]["v_leak"]
                state.append(y)
            return tuple(state)

        def step(state, x_t):
            state = list(state)
            own, k = {}, 0
            for n in stateful:
                count = len(node_lib.state_shapes(nodes[n]))
                own[n], k = tuple(state[k:k + count]), k + count
            previous = dict(zip(self._delayed_sources, state[k:]))
            out, new_own = {}, {}
            for n in self._order:
                if n == self._input:
                    x = x_t
                else:
                    terms = [previous[a] if delayed else out[a] for a, delayed in self._sources[n]]
                    if not terms:
                        raise ValueError(f"NIR node {n!r} has no incoming edge")
                    x = terms[0]
                    for term in terms[1:]:
                        x = x + term
                new_own[n], out[n] = node_lib.step(nodes[n], params[n], own.get(n, ()), x, **options)
            new_state = []
            for n in stateful:
                new_state.extend(new_own[n])
            new_state.extend(out[n] for n in self._delayed_sources)
            ys = tuple(out[o] for o in self._outputs) + tuple(new_own[n][-1] for n in self.record)
            return tuple(new_state), (ys[0] if len(ys) == 1 else ys)

        if inputs.shape[1] is None:
            outputs = self._dynamic_loop(step, initial(), inputs)
        else:
            _, outputs = time_loop(step, initial, inputs)
        return list(outputs) if isinstance(outputs, tuple) else outputs

    def _dynamic_loop(self, step, state, inputs):
        """The time loop for a time axis unknown while tracing (TensorFlow's predict and fit
        trace a model built with ``time_steps=None`` so): ``ops.while_loop`` writing each
        step's outputs into [time, batch, ...] buffers."""
        steps = ops.shape(inputs)[1]
        time_major = ops.moveaxis(inputs, 1, 0)
        batch = ops.shape(inputs)[0]
        names = self._outputs + self.record
        buffers = tuple(ops.zeros((steps, batch) + self._output_shape(n), dtype=inputs.dtype) for n in names)

        def body(t, state, buffers):
            state, ys = step(state, ops.take(time_major, t, axis=0))
            ys = ys if isinstance(ys, tuple) else (ys,)
            buffers = tuple(ops.slice_update(b, (t,) + (0,) * (len(b.shape) - 1), ops.expand_dims(y, 0))
                            for b, y in zip(buffers, ys))
            return t + 1, state, buffers

        _, _, buffers = ops.while_loop(lambda t, state, buffers: t < steps, body,
                                       (ops.convert_to_tensor(0, "int32"), state, buffers))
        outputs = tuple(ops.moveaxis(b, 0, 1) for b in buffers)
        return outputs if len(outputs) > 1 else outputs[0]

    def get_config(self):
        config = super().get_config()
        config.update(graph=self.graph, dt=self.dt, surrogate=surrogate_lib.serialize(self.surrogate),
                      strict_threshold=self.strict_threshold, record=list(self.record))
        return config


def _jsonable(value):
    """Plain Python (lists, ints, floats, str) of a nested structure with numpy values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf8")
    return value
