"""``Streamer``: run a snnzoo model one time step at a time, with its state in a flat tuple.

Event cameras, microphones and robots deliver one time bin at a time. A snnzoo model computes a
whole sequence ``[B, T, ...]`` per call; its neurons are causal (step t depends on steps ≤ t), so
the same numbers come out of a loop over the steps that carries the neurons' membranes and the
running readouts from one step to the next::

    s = Streamer(model)
    state = s.initial_state(batch_size)
    for t in range(T):
        outputs, state = s.step(x[:, t], state)     # x_t: one step; for direct-encoding image
                                                    # models (RepeatTime, IDE): the image itself
    # outputs == model(x): the readout over the T steps (float64: to ~1e-15)

After k steps ``outputs`` is the model's readout over the steps seen so far: a time mean as its
running mean, the IDE decay-weighted rate as its running form, per-step outputs (voting, per-step
logits) as they are. ``step`` is pure — the state lives only in the tuple (a step counter
included), the Streamer keeps no Python state — so it can be compiled: ``jax.jit(s.step)``,
``tf.function(s.step)``, ``torch.compile(s.step)``.

The Streamer walks the model's functional graph (nested functional models too) once and gives
each call site a step rule (:mod:`snnzoo.streaming.rules`). A layer that cannot stream (one that
sees the whole time axis at once) raises one ``ValueError`` naming it. Streaming is inference:
batch norm uses its moving statistics, dropout is the identity.
"""
import keras
from keras import ops

from snnzoo.ide.equilibrium import FeedbackEquilibrium
from snnzoo.layers.normalization import TEBN
from snnzoo.layers.time import RepeatTime
from snnzoo.streaming.rules import SEQUENCE, STATIC, NeedsSequence, Rule, make_rule
from snnzoo.zoo.image_model import ZooImageModel

__all__ = ["Streamer"]

_COUNTER_DTYPE = "int32"


def _graph_of(model):
    """The functional graph of ``model`` (a built ``Sequential``'s inner functional model)."""
    graph = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    if graph is None or not hasattr(graph, "_nodes_by_depth") or not getattr(graph, "inputs", None):
        raise ValueError(
            f"Streamer: model '{model.name}' ({type(model).__name__}) is not a functional Keras model "
            "(built from keras.Input): streaming walks the layer graph; build the model with the "
            "functional API or keras.Sequential (built)")
    return graph


def _nodes(graph):
    """The graph's operation nodes in an order that computes every input first (Keras' own)."""
    by_depth = graph._nodes_by_depth
    return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]
            if node.operation is not None and not node.is_input]


class GraphRule(Rule):
    """A functional model (the streamed model itself, or one nested in it): its nodes' rules in
    order; its state is theirs, concatenated."""

    def __init__(self, model, kinds):
        super().__init__(model, [])
        self.graph = _graph_of(model)
        if len(self.graph.inputs) != len(kinds):
            raise ValueError(f"Streamer: model '{model.name}' takes {len(self.graph.inputs)} inputs, "
                             f"got {len(kinds)}")
        kind_of = {id(t): k for t, k in zip(self.graph.inputs, kinds)}
        self.items = []
        for node in _nodes(self.graph):
            if any(id(t) not in kind_of for t in node.input_tensors):
                continue  # not computable from the inputs (Keras skips it too)
            rule = make_rule(node.operation, node, [kind_of[id(t)] for t in node.input_tensors],
                             GraphRule)
            for t, k in zip(node.outputs, rule.out_kinds):
                kind_of[id(t)] = k
            self.items.append((node, rule, len(rule.state_spec)))
        missing = [t for t in self.graph.outputs if id(t) not in kind_of]
        if missing:
            raise ValueError(f"Streamer: an output of model '{model.name}' is not connected to its inputs")
        self.out_kinds = [kind_of[id(t)] for t in self.graph.outputs]
        self.state_spec = [spec for _, rule, _ in self.items for spec in rule.state_spec]

    def step(self, args, kwargs, states, counter):
        values = dict(zip((id(t) for t in self.graph.inputs), keras.tree.flatten((args, kwargs))))
        new_states, at = [], 0
        for node, rule, n in self.items:
            a, kw = node.arguments.fill_in(values)
            outs, updated = rule.step(a, kw, states[at:at + n], counter)
            at += n
            new_states.extend(updated)
            for t, value in zip(node.outputs, outs):
                values[id(t)] = value
        return [values[id(t)] for t in self.graph.outputs], new_states

    def layers(self):
        return [layer for _, rule, _ in self.items for layer in rule.layers()]


class Streamer:
    """Run ``model`` one time step at a time (module docstring).

    Args:
        model: a functional snnzoo / Keras model with one input (``snnzoo.load(...)``, a zoo
            builder's model, or your own): event-frame models ``[B, T, ...]`` stream one frame
            per step, direct-encoding image models (``RepeatTime``, IDE) take the image at every
            step.

    Attributes:
        time_steps: the T the model was built for (None if the model does not say).
        step_input_shape: per-sample shape of ``x_t`` (for image models: the image's).

    Raises:
        ValueError: a layer that cannot stream (named), a model that is not functional or has
            several inputs.

    Example:

    ```python
    import numpy as np
    import snnzoo
    from snnzoo.streaming import Streamer

    model = snnzoo.load("sew7bnet", weights=None, channels=4, time_steps=4)   # DVS 128x128x2
    s = Streamer(model)
    frames = np.random.poisson(0.5, (1, 4, 128, 128, 2)).astype("float32")
    state = s.initial_state(1)
    for t in range(s.time_steps):
        logits, state = s.step(frames[:, t], state)   # running readout after t + 1 frames
    np.testing.assert_allclose(logits, model.predict(frames, verbose=0), rtol=1e-5, atol=1e-5)
    ```
    """

    def __init__(self, model):
        if not isinstance(model, keras.Model):
            raise ValueError(f"Streamer takes a keras.Model, got {type(model).__name__}")
        graph = _graph_of(model)
        if len(graph.inputs) != 1:
            raise ValueError(f"Streamer: model '{model.name}' has {len(graph.inputs)} inputs; streaming "
                             "supports models with one input")
        self.model = model
        try:
            self._graph, kind = GraphRule(model, [STATIC]), STATIC
        except NeedsSequence:  # a temporal layer needs a time axis: the input is the sequence
            self._graph, kind = GraphRule(model, [SEQUENCE]), SEQUENCE
        self._input_kind = kind
        inp = graph.inputs[0]
        shape = tuple(inp.shape)
        self.step_input_shape = tuple(shape[2:] if kind == SEQUENCE else shape[1:])
        self._input_dtype = keras.backend.standardize_dtype(inp.dtype)
        self.time_steps = self._find_time_steps(shape)
        self._specs = self._graph.state_spec

    def _find_time_steps(self, input_shape):
        if self._input_kind == SEQUENCE and input_shape[1] is not None:
            return int(input_shape[1])
        for layer in self._graph.layers():
            if isinstance(layer, (RepeatTime, FeedbackEquilibrium, TEBN)):
                return int(layer.time_steps)
        return None

    # -- state --------------------------------------------------------------------------------
    def state_spec(self, batch_size):
        """``[(shape, dtype), ...]`` of the flat state for ``batch_size`` samples, in its fixed
        order: the step counter (``()``, int32: steps done) first, then every stateful call
        site's tensors in graph order."""
        batch = int(batch_size)
        return [((), _COUNTER_DTYPE)] + [((batch,) + tuple(shape), dtype) for shape, dtype, _ in self._specs]

    def initial_state(self, batch_size, dtype=None):
        """The state before the first step: counter 0, membranes at rest (V_reset), sums 0.

        Args:
            batch_size: samples per step.
            dtype: float dtype of the state tensors (default: each layer's compute dtype).
        """
        batch = int(batch_size)
        if batch < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        state = [ops.zeros((), dtype=_COUNTER_DTYPE)]
        for shape, own_dtype, fill in self._specs:
            state.append(ops.full((batch,) + tuple(shape), fill, dtype=dtype or own_dtype))
        return tuple(state)

    # -- one step -----------------------------------------------------------------------------
    def step(self, x_t, state):
        """One time step: ``(outputs, new_state)``; pure (no Python state is kept or changed).

        Args:
            x_t: the step's input ``[batch, *step_input_shape]`` (image models: the image;
                uint8 images of zoo models are scaled by 1/255 as the model does).
            state: the tuple from :meth:`initial_state` or the previous :meth:`step`.

        Returns:
            ``outputs`` with the structure of ``model(x)``'s output: the readout over the steps
            seen so far (per-step outputs: this step's), and the new state.
        """
        x = self._input(x_t)
        state = self._check_state(state, x)
        outputs, new = self._graph.step((x,), {}, list(state[1:]), state[0])
        counter = state[0] + ops.ones_like(state[0])
        # inference: no gradient links one step to the next (torch would otherwise keep every
        # step's autograd graph alive through the state)
        outputs = [ops.stop_gradient(o) for o in outputs]
        new = tuple(ops.stop_gradient(v) for v in new)
        return keras.tree.pack_sequence_as(self._graph.graph.output, outputs), (counter,) + new

    def _input(self, x_t):
        if isinstance(self.model, ZooImageModel):
            x = self.model.prepare_input(x_t)
        else:
            x = ops.convert_to_tensor(x_t)
        shape = tuple(x.shape)
        want = self.step_input_shape
        if len(shape) != len(want) + 1 or any(a is not None and b is not None and a != b
                                              for a, b in zip(shape[1:], want)):
            hint = ""
            if (self._input_kind == SEQUENCE and len(shape) == len(want) + 2
                    and tuple(shape[2:]) == tuple(want)):
                hint = "; pass one time step x[:, t], not the whole sequence"
            elif self._input_kind == STATIC:
                hint = " (the model repeats its input over time: pass the image at every step)"
            raise ValueError(f"Streamer.step: x_t has shape {shape}, expected one step of shape "
                             f"[batch, {', '.join(str(d) for d in want)}] for model "
                             f"'{self.model.name}'{hint}")
        if keras.backend.standardize_dtype(x.dtype) != self._input_dtype:
            x = ops.cast(x, self._input_dtype)
        return x

    def _check_state(self, state, x):
        state = tuple(state) if isinstance(state, (list, tuple)) else None
        if state is None or len(state) != len(self._specs) + 1:
            got = "not a tuple" if state is None else f"{len(state)} tensors"
            raise ValueError(f"Streamer.step: state has {got}, expected {len(self._specs) + 1} (make it with "
                             "Streamer.initial_state(batch_size) of this Streamer and pass on what step returns)")
        batch = x.shape[0]
        for i, (tensor, (shape, _, _)) in enumerate(zip(state[1:], self._specs), start=1):
            have = tuple(tensor.shape)
            if len(have) != len(shape) + 1 or any(a is not None and a != b for a, b in zip(have[1:], shape)):
                raise ValueError(f"Streamer.step: state[{i}] has shape {have}, expected [batch, "
                                 f"{', '.join(map(str, shape))}]: the state is not from this Streamer")
            if batch is not None and have[0] is not None and have[0] != batch:
                raise ValueError(f"Streamer.step: the state was made for batch size {have[0]} but x_t has "
                                 f"batch size {batch}; start with Streamer.initial_state({batch})")
        return state

    def __repr__(self):
        return (f"Streamer(model='{self.model.name}', time_steps={self.time_steps}, "
                f"step_input_shape={self.step_input_shape}, state_tensors={len(self._specs) + 1})")
