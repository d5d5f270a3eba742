"""Step rules: how each layer of a snnzoo model runs ONE time step (used by
:class:`snnzoo.streaming.Streamer`).

Every tensor of a model's graph has a *kind*:

* ``static`` — no time axis and the same at every step (an image before ``RepeatTime``);
* ``sequence`` — ``[B, T, ...]`` in the model; while streaming, its slice ``x[:, t]`` ``[B, ...]``;
* ``aggregate`` — a readout over the time axis (``MeanOverTime``, the IDE equilibrium rate);
  while streaming, its running value over the steps seen so far, so that the layers after it
  (``Dense``, ``Flatten``, …) give the readout so far and, after T steps, the model's output.

A rule holds the state of one call site (graph node) of a layer and maps the inputs of step t
(and its state after step t − 1) to the outputs of step t. With the step counter n (steps done
before this one)::

    neurons (IF/LIF/PLIF, BPSA/BPTA):  H = charge(V, X[t]); S = fire(H); V = reset(H, S)
                                       (the layer's own methods; V[-1] = V_reset, 0 for soft reset)
    CubaLIF:                           I = synapse(I, X[t]), then as above with I for X[t]; I[-1] = 0
    TimeFold(inner):                   Y[t] = inner(X[t])
    RepeatTime:                        Y[t] = x   (the static input, every step)
    TDBatchNorm / BN (channels last):  Y[t] = γ·(X[t] − μ_run)/√(σ²_run + ε) + β   (inference)
    TEBN:                              Y[t] = p[t]·BN(X[t])    (p[min(n, T − 1)])
    MeanOverTime:                      A = A + X[t];  Y = A / (n + 1)          (running mean)
    FeedbackEquilibrium:               one step of its simulation (snnzoo.ide.simulation), and the
                                       running weighted rate a = Σ_s k^{n−s}·s_last[s] / Σ_{s≤n} k^s
    dropout layers:                    identity (inference)
    per-step layers (Dense on the last axis, activations, Add, SEWConnect, VotingLayer,
    WarmupSwitch, RateBatchNorm in inference, ...): applied to X[t]
    any layer on static / aggregate inputs only: applied as it is (it does not see time)

A layer that sees a whole ``[B, T, ...]`` sequence and is none of the above (a ``Flatten`` or
``Conv3D`` across time, a recurrent layer, ...) may mix future steps into step t: it cannot
stream, and :func:`make_rule` raises one ``ValueError`` naming it.
"""
import keras
from keras import ops

from snnzoo.backend import call_on_frames
from snnzoo.ide.equilibrium import FeedbackEquilibrium
from snnzoo.ide.batch_norm import RateBatchNorm
from snnzoo.ide.simulation import simulation_step
from snnzoo.layers.ndropout import NDropout
from snnzoo.layers.neurons import BaseNeuron
from snnzoo.layers.normalization import TEBN, TDBatchNorm
from snnzoo.layers.sew_connect import SEWConnect
from snnzoo.layers.time import MeanOverTime, RepeatTime, TimeFold
from snnzoo.layers.voting import VotingLayer
from snnzoo.layers.warmup_switch import WarmupSwitch

__all__ = ["AGGREGATE", "KINDS", "NeedsSequence", "Rule", "SEQUENCE", "STATIC", "make_rule"]

STATIC, SEQUENCE, AGGREGATE = "static", "sequence", "aggregate"
KINDS = (STATIC, SEQUENCE, AGGREGATE)

#: Identity at inference (dropout family): the step passes its input through.
_IDENTITY = (keras.layers.Dropout, keras.layers.SpatialDropout1D, keras.layers.SpatialDropout2D,
             keras.layers.SpatialDropout3D, keras.layers.GaussianDropout, keras.layers.GaussianNoise,
             keras.layers.AlphaDropout, NDropout)

#: Layers that act on each time step on its own (element-wise or on the last axis only): on a
#: sequence they are applied to the step's slice.
_PER_STEP = (keras.layers.Dense, keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
             keras.layers.ELU, keras.layers.Add, keras.layers.Subtract, keras.layers.Multiply,
             keras.layers.Average, keras.layers.Maximum, keras.layers.Minimum, keras.layers.Rescaling,
             keras.layers.Identity, SEWConnect, VotingLayer, WarmupSwitch, RateBatchNorm)

#: Layers that are per-step when their axis is the last one.
_PER_STEP_LAST_AXIS = (keras.layers.Softmax, keras.layers.Concatenate, keras.layers.LayerNormalization,
                       keras.layers.Normalization)


#: snnzoo layers defined on sequences only (besides neurons, TimeFold and MeanOverTime).
_SEQUENCE_ONLY = (TDBatchNorm, TEBN, NDropout, RateBatchNorm)


class NeedsSequence(ValueError):
    """A temporal layer got an input that has no time axis (the Streamer then tries the model's
    input as a sequence)."""


def _describe(layer):
    return f"layer '{getattr(layer, 'name', layer)}' ({type(layer).__name__})"


def feature_shape(tensor, kind, layer):
    """Per-sample, per-step shape of a symbolic tensor of the given kind (static dimensions)."""
    shape = tuple(tensor.shape)
    shape = shape[2:] if kind == SEQUENCE else shape[1:]
    if any(d is None for d in shape):
        raise ValueError(f"Streamer: {_describe(layer)} has a dynamic feature shape {tuple(tensor.shape)}; "
                         "streaming needs static per-sample shapes (build the model with a fixed input size)")
    return tuple(int(d) for d in shape)


def _float_dtype(layer):
    dtype = getattr(layer, "compute_dtype", None) or keras.config.floatx()
    return dtype if "float" in dtype else keras.config.floatx()


class Rule:
    """One call site of a layer, one step at a time.

    Attributes:
        out_kinds: the kind of each (flattened) output.
        state_spec: list of ``(per_sample_shape, dtype, fill)`` of this rule's state tensors
            (each ``[batch, *per_sample_shape]``, initialised to ``fill``).
    """

    state_spec = ()

    def __init__(self, layer, out_kinds):
        self.layer = layer
        self.out_kinds = list(out_kinds)

    def step(self, args, kwargs, states, counter):
        """``(flat outputs, new states)`` of one step (``counter``: steps done before it)."""
        raise NotImplementedError

    def layers(self):
        """The layers this rule runs (nested rules included)."""
        return [self.layer]


class ApplyRule(Rule):
    """The layer applied as it is: to static / aggregate inputs, or to a step's slice."""

    def step(self, args, kwargs, states, counter):
        return keras.tree.flatten(self.layer(*args, **kwargs)), []


class IdentityRule(Rule):
    """Dropout at inference: the input passes through."""

    def step(self, args, kwargs, states, counter):
        return [args[0]], []


class FoldRule(Rule):
    """``TimeFold(inner)``: ``inner`` on the step's frame (the same per-frame path as the layer)."""

    def step(self, args, kwargs, states, counter):
        extra = {"training": kwargs["training"]} if kwargs.get("training") is not None else {}
        return [call_on_frames(self.layer.layer, args[0], **extra)], []


class RepeatRule(Rule):
    """``RepeatTime``: the static input is step t's input, for every t."""

    def step(self, args, kwargs, states, counter):
        return [args[0]], []


class NeuronRule(Rule):
    """A :class:`~snnzoo.layers.BaseNeuron`: one charge → fire → reset with the layer's own
    :meth:`~snnzoo.layers.BaseNeuron.step`; the state is the layer's (V, and CubaLIF's synaptic
    current I), at rest :meth:`~snnzoo.layers.BaseNeuron.rest_values`."""

    def __init__(self, layer, out_kinds, shape):
        super().__init__(layer, out_kinds)
        self.dtype = _float_dtype(layer)
        self.state_spec = [(shape, self.dtype, fill) for fill in layer.rest_values()]

    def step(self, args, kwargs, states, counter):
        layer = self.layer
        x = ops.cast(args[0], self.dtype)
        state = tuple(ops.cast(s, self.dtype) for s in states)
        state, out = layer.step(state, x, layer.dynamics_params())
        return keras.tree.flatten(out), list(state)


class BatchNormRule(Rule):
    """Channels-last batch norm on a step (inference: moving statistics), the layer's own
    ``keras.layers.BatchNormalization.call``; TEBN also scales by p[n] (n clipped to T − 1)."""

    def __init__(self, layer, out_kinds):
        super().__init__(layer, out_kinds)
        self.dtype = _float_dtype(layer)

    def step(self, args, kwargs, states, counter):
        layer = self.layer
        y = keras.layers.BatchNormalization.call(layer, ops.cast(args[0], self.dtype), training=False)
        if isinstance(layer, TEBN):
            index = ops.minimum(counter, layer.time_steps - 1)
            y = y * ops.take(ops.cast(layer.p, y.dtype), index)
        return [y], []


class MeanRule(Rule):
    """``MeanOverTime`` as a running mean: A = A + X[t]; Y = A / (n + 1)."""

    def __init__(self, layer, out_kinds, shape, dtype):
        super().__init__(layer, out_kinds)
        self.state_spec = [(shape, dtype, 0.0)]

    def step(self, args, kwargs, states, counter):
        total = states[0] + ops.cast(args[0], states[0].dtype)
        steps = ops.cast(counter + 1, total.dtype)
        return [total / steps], [total]


class EquilibriumRule(Rule):
    """:class:`~snnzoo.ide.FeedbackEquilibrium`, one step of its simulation (module
    :mod:`snnzoo.ide.simulation`; Xiao et al., NeurIPS 2021, Eq. 1–2), inference::

        u_0 ← u_0 + F_s(s_last[t−1]) (+ b·1[t > 0]) + x[t];   s_0 = Θ(u_0 − V_th);   u_0 ← k·(u_0 − V_th·s_0)
        u_i ← u_i + S_i(s_{i−1});  s_i = Θ(u_i − V_th);  u_i ← k·(u_i − V_th·s_i)   (chain, BN in inference)
        acc ← k·acc + s_last;      a = acc / Σ_{s≤n} k^s      (IF: k = 1, a = running mean)

    State: the membranes u_i, the last layer's spikes s_last and acc.
    """

    def __init__(self, layer, out_kinds):
        super().__init__(layer, out_kinds)
        self.dtype = _float_dtype(layer)
        shapes = [tuple(s) for s in layer.layer_shapes]
        self.n_layers = len(shapes)
        self.state_spec = ([(s, self.dtype, 0.0) for s in shapes]
                           + [(shapes[-1], self.dtype, 0.0), (shapes[-1], self.dtype, 0.0)])

    def step(self, args, kwargs, states, counter):
        layer = self.layer
        dtype = self.dtype
        decay = layer.decay
        x = ops.stop_gradient(ops.cast(args[0], dtype))
        us, s_last, acc = states[:self.n_layers], states[self.n_layers], states[self.n_layers + 1]
        fb_kernel = ops.stop_gradient(layer.feedback_kernel()[0])
        bias = None
        if layer.feedback["use_bias"]:  # no feedback at t = 0: its bias is gated off
            bias = ops.stop_gradient(layer.feedback_module.bias.value) * ops.cast(ops.greater(counter, 0), dtype)
        new_us, spikes = simulation_step(
            us, s_last, x, lambda s: layer.feedback_module.linear(s, fb_kernel),
            [layer.chain_module(i, spec) for i, spec in enumerate(layer.chain)], layer.v_threshold, decay,
            feedback_bias=bias)
        s = spikes[-1]
        acc = acc * decay + s if decay is not None else acc + s
        steps = ops.cast(counter + 1, dtype)
        lam = 1.0 if decay is None else decay
        norm = steps if decay is None else (1.0 - ops.power(ops.convert_to_tensor(lam, dtype=dtype), steps)) / (1.0 - lam)
        return [ops.stop_gradient(acc / norm)], new_us + [s, acc]


def _merge_kinds(layer, kinds):
    """Output kind of a layer applied as it is: sequences stay sequences (per step), otherwise
    aggregate if any input is one, else static. Mixing a sequence with a non-sequence is refused."""
    if SEQUENCE in kinds:
        if any(k != SEQUENCE for k in kinds):
            raise ValueError(f"Streamer: {_describe(layer)} mixes a time sequence with a tensor without "
                             "time axis; it cannot stream")
        return SEQUENCE
    return AGGREGATE if AGGREGATE in kinds else STATIC


def _last_axis(layer):
    axis = getattr(layer, "axis", -1)
    if isinstance(axis, (list, tuple)):
        return len(axis) == 1 and axis[0] == -1
    return axis == -1


def _cannot_stream(layer, why):
    return ValueError(
        f"Streamer: {_describe(layer)} cannot stream: {why}. Streaming runs one time step at a time, "
        "so every layer that sees a sequence [B, T, ...] must compute step t from steps <= t only: "
        "snnzoo neurons, TimeFold(per-frame layer), TDBatchNorm/TEBN, MeanOverTime, "
        "FeedbackEquilibrium, and per-step layers (Dense, activations, Add, SEWConnect, VotingLayer, "
        "dropout). Wrap per-frame layers in snnzoo.layers.TimeFold."
    )


def _needs(layer, kinds, wanted, what):
    if kinds[0] != wanted:
        have = "a time sequence" if kinds[0] == SEQUENCE else (
            "a readout over time" if kinds[0] == AGGREGATE else "a tensor without time axis")
        error = NeedsSequence if wanted == SEQUENCE and kinds[0] == STATIC else ValueError
        raise error(f"Streamer: {_describe(layer)} takes {what}, but its input here is {have}")


def make_rule(layer, node, kinds, graph_rule):
    """The step rule of ``layer`` at graph ``node`` whose inputs have ``kinds``.

    ``graph_rule(model, kinds)`` builds the rule of a nested functional model.
    """
    outputs = node.outputs
    if isinstance(layer, keras.Model):
        return graph_rule(layer, kinds)
    if isinstance(layer, BaseNeuron):
        _needs(layer, kinds, SEQUENCE, "a time sequence [B, T, ...]")
        return NeuronRule(layer, [SEQUENCE] * len(outputs), feature_shape(node.input_tensors[0], SEQUENCE, layer))
    if isinstance(layer, TimeFold):
        _needs(layer, kinds, SEQUENCE, "a time sequence [B, T, ...]")
        return FoldRule(layer, [SEQUENCE])
    if isinstance(layer, RepeatTime):
        _needs(layer, kinds, STATIC, "a tensor without time axis (it adds the time axis)")
        return RepeatRule(layer, [SEQUENCE])
    if isinstance(layer, MeanOverTime):
        _needs(layer, kinds, SEQUENCE, "a time sequence [B, T, ...]")
        return MeanRule(layer, [AGGREGATE], feature_shape(outputs[0], AGGREGATE, layer), _float_dtype(layer))
    if isinstance(layer, FeedbackEquilibrium):
        sequence = layer.input_mode == "sequence"
        if layer.forward_mode != "spiking":
            if sequence:
                raise _cannot_stream(layer, "forward_mode='analog' with input_mode='sequence' needs the "
                                            "time average of the whole input sequence")
            _needs(layer, kinds, STATIC, "a tensor without time axis (input_mode='constant')")
            return ApplyRule(layer, [STATIC])
        if sequence:
            _needs(layer, kinds, SEQUENCE, "a time sequence [B, T, ...] (input_mode='sequence')")
        else:
            _needs(layer, kinds, STATIC, "a tensor without time axis (input_mode='constant')")
        return EquilibriumRule(layer, [AGGREGATE])
    if isinstance(layer, _SEQUENCE_ONLY):
        _needs(layer, kinds, SEQUENCE, "a time sequence [B, T, ...]")
    if isinstance(layer, _IDENTITY):
        return IdentityRule(layer, [kinds[0]])
    if SEQUENCE not in kinds:  # static or aggregate inputs only: the layer does not see time
        return ApplyRule(layer, [_merge_kinds(layer, kinds)] * len(outputs))
    if isinstance(layer, keras.layers.BatchNormalization):  # TDBatchNorm, TEBN, plain BN
        if not _last_axis(layer):
            raise _cannot_stream(layer, f"batch norm on axis {layer.axis} of a sequence (streaming "
                                        "needs channels-last batch norm, axis=-1)")
        return BatchNormRule(layer, [SEQUENCE])
    if isinstance(layer, _PER_STEP) or (isinstance(layer, _PER_STEP_LAST_AXIS) and _last_axis(layer)):
        return ApplyRule(layer, [_merge_kinds(layer, kinds)] * len(outputs))
    raise _cannot_stream(layer, "it sees the whole time axis of its input [B, T, ...] at once (step t "
                                "could depend on later steps)")
