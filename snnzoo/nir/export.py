"""Export a Keras/snnzoo model to a NIR graph (Neuromorphic Intermediate Representation; Pedersen
et al., Nature Communications 2024).

NIR nodes are continuous-time, channels-first and without batch or time axes; snnzoo runs
[batch, time, ..., channels] in discrete steps. The export discretises with ``dt`` (forward
Euler; docs/nir.md has the table both ways)::

    snnzoo LIF(τ, decay_input=True)   ↔  NIR LIF(tau=τ·dt, r=1, v_leak=0)   v ← v + (dt/tau)(v_leak − v + r·I)
    snnzoo LIF(τ, decay_input=False)  ↔  NIR LIF(tau=τ·dt, r=τ, v_leak=0)
    snnzoo PLIF                       ↔  NIR LIF with its learned τ = 1/sigmoid(w)
    snnzoo IF                         ↔  NIR IF(r=1/dt)                      v ← v + dt·r·I
    snnzoo CubaLIF(τs, τm, decay_input=True)   ↔  NIR CubaLIF(tau_syn=τs·dt, tau_mem=τm·dt, w_in=1, r=1)
    snnzoo CubaLIF(τs, τm, decay_input=False)  ↔  NIR CubaLIF(tau_syn=τs·dt, tau_mem=τm·dt, w_in=τs, r=τm)
        i ← i + (dt/tau_syn)(w_in·x − i);   v ← v + (dt/tau_mem)(v_leak − v + r·i)
    spike  S = Θ(v − v_threshold), hard reset to 0 (NIR has no reset field before nir 1.0.5)

Layers: Conv1D/Conv2D (zero padding folded into the NIR padding; asymmetric "same" refused),
Dense (Affine), average pooling (AvgPool2d, or SumPool2d with ``pooling="sum"``: the 1/k² goes
into the next affine layer), Flatten (NIR flattens C·H·W: the next Affine's columns are permuted
from Keras' H·W·C order), SEW ADD / ``keras.layers.Add`` (several edges into one node; NIR sums
them), inference batch norm folded into the neighbouring conv/dense weights, Dropout as identity,
and the IDE ``FeedbackEquilibrium`` as a recurrent cycle. Everything else is refused with one
:class:`NIRExportError` naming the layer and the reason — nothing is approximated in silence.

What the graph cannot say goes to ``graph.metadata["snnzoo"]``: ``subtract_reset`` (node names;
with ``subtract_reset=True``), ``readout`` (the time average the model takes of the graph's
per-step output, with ``per_step_readout=True``), ``input`` (a static image is fed at every
step: ``repeat``; normalisation kept outside the graph) and ``dt``.
"""
import dataclasses
from typing import Optional

import numpy as np

from snnzoo.nir.fold import (bn_affine, fold_after, fold_before_conv, fold_before_dense,
                             normalization_affine)

__all__ = ["NIRExportError", "nir_exportability", "to_nir"]


class NIRExportError(ValueError):
    """A model (layer) that NIR cannot express exactly."""


def _refuse(layer, reason):
    name = getattr(layer, "name", str(layer))
    raise NIRExportError(f"to_nir: cannot export layer '{name}' ({type(layer).__name__}) to NIR: {reason}")


def _np(v):
    from keras import ops

    return np.asarray(ops.convert_to_numpy(v), dtype=np.float64)


@dataclasses.dataclass
class _Lin:
    """A conv / dense node not emitted yet (a following batch norm may still fold into it)."""
    name: str
    kind: str              # "conv" | "dense"
    weight: np.ndarray     # NIR layout (out, in, *k) / (out, in)
    bias: np.ndarray
    sources: tuple
    in_nir_shape: tuple
    stride: tuple = ()
    padding: tuple = ()
    dilation: tuple = ()
    groups: int = 1
    emitted: Optional[str] = None


@dataclasses.dataclass
class _Port:
    """A value of the exported graph: the sum of the outputs of ``sources`` (NIR sums the edges
    into a node), or a pending node / map folded into the next layer."""
    sources: tuple
    shape: tuple                    # Keras per-frame shape (no batch, no time)
    layout: str = "cl"              # "cl": channels last (NIR: channels first), "cf": already C-first, "flat"
    perm: Optional[np.ndarray] = None   # flat: NIR index j -> Keras index perm[j]
    temporal: bool = False
    pending: Optional[_Lin] = None
    pre: Optional[tuple] = None     # pending element-wise (a, b): value = a·x + b (Keras layout)
    pre_origin: str = ""
    scale: float = 1.0              # pending factor (sum pooling)
    pad: Optional[tuple] = None     # pending symmetric zero padding per spatial axis
    after_readout: bool = False
    consumers: int = 1

    def nir_shape(self):
        if self.layout == "cl" and len(self.shape) > 1:
            return (self.shape[-1],) + tuple(self.shape[:-1])
        return tuple(self.shape)


class _Exporter:
    def __init__(self, nir, dt, subtract_reset, per_step_readout, pooling, input_normalization):
        self.nir = nir
        self.dt = float(dt)
        if not self.dt > 0:
            raise ValueError(f"to_nir: dt must be > 0, got {dt}")
        if pooling not in ("avg", "sum"):
            raise ValueError(f"to_nir: pooling must be 'avg' or 'sum', got {pooling!r}")
        if input_normalization not in ("fold", "outside"):
            raise ValueError(f"to_nir: input_normalization must be 'fold' or 'outside', got "
                             f"{input_normalization!r}")
        self.subtract_reset = bool(subtract_reset)
        self.per_step_readout = bool(per_step_readout)
        self.pooling = pooling
        self.input_normalization = input_normalization
        self.nodes, self.edges = {}, []
        self.soft = []
        self.readout = {"kind": "none"}
        self.input_meta = {"layout": "channels_first", "repeat": 0}
        self.time_steps = 0
        self.consumers = {}

    # -- graph bookkeeping --------------------------------------------------------------------
    def _unique(self, name):
        base, i = name, 1
        while name in self.nodes:
            name = f"{base}_{i}"
            i += 1
        return name

    def add(self, name, node, sources):
        name = self._unique(name)
        self.nodes[name] = node
        self.edges += [(s, name) for s in sources]
        return name

    def _typed(self, node, shape_in, shape_out):
        node.input_type = {"input": np.array(shape_in, dtype=np.int64)}
        node.output_type = {"output": np.array(shape_out, dtype=np.int64)}
        return node

    def emit(self, lin):
        """Emit a pending conv / dense node (once) and return its name."""
        if lin.emitted:
            return lin.emitted
        nir = self.nir
        w, b = lin.weight.astype(np.float32), lin.bias.astype(np.float32)
        if lin.kind == "dense":
            node = nir.Affine(weight=w, bias=b)
            node.input_type = {"input": np.array(lin.in_nir_shape)}
            node.output_type = {"output": np.array([w.shape[0]])}
        elif w.ndim == 4:
            node = nir.Conv2d(input_shape=tuple(int(s) for s in lin.in_nir_shape[1:]), weight=w,
                              stride=tuple(lin.stride), padding=tuple(lin.padding),
                              dilation=tuple(lin.dilation), groups=int(lin.groups), bias=b)
        else:
            node = nir.Conv1d(input_shape=int(lin.in_nir_shape[1]), weight=w, stride=int(lin.stride[0]),
                              padding=int(lin.padding[0]), dilation=int(lin.dilation[0]),
                              groups=int(lin.groups), bias=b)
        lin.emitted = self.add(lin.name, node, lin.sources)
        return lin.emitted

    def ready(self, port, layer, what="this layer"):
        """``port`` with nothing pending except (possibly) nothing: a conv/dense is emitted; a
        pending normalisation / pooling factor / padding that has no affine layer to go into is
        refused."""
        if port.pre is not None:
            _refuse(layer, f"the per-channel affine map of '{port.pre_origin}' (batch norm or input "
                           f"normalisation) reaches {what} without a convolution or dense layer to "
                           "fold into; NIR has no per-channel affine node")
        if port.scale != 1.0:
            _refuse(layer, f"the 1/k² factor of sum pooling (pooling='sum') reaches {what} without an "
                           "affine layer to fold into; use pooling='avg'")
        if port.pad is not None:
            _refuse(layer, "zero padding (ZeroPadding) that is not followed by a convolution has no "
                           "NIR node")
        if port.pending is not None:
            name = self.emit(port.pending)
            port = dataclasses.replace(port, sources=(name,), pending=None)
        return port

    # -- the walk -----------------------------------------------------------------------------
    def count_consumers(self, model):
        seen = set()

        def visit(tensor):
            op, node_index, _ = tensor._keras_history
            key = (id(op), node_index)
            if key in seen:
                return
            seen.add(key)
            node = op._inbound_nodes[node_index]
            for t in node.input_tensors:
                self.consumers[id(t)] = self.consumers.get(id(t), 0) + 1
                visit(t)
            if _is_functional(op):
                for t in op.outputs:
                    visit(t)

        for t in model.outputs:
            visit(t)

    def _shared(self, port):
        """A pending conv/dense whose output has several users is emitted as is (a batch norm
        after it in one branch must not fold into what the other branch sees)."""
        if port.consumers > 1 and port.pending is not None:
            name = self.emit(port.pending)
            return dataclasses.replace(port, sources=(name,), pending=None)
        return port

    def run_model(self, model, input_ports):
        memo = {id(t): p for t, p in zip(model.inputs, input_ports)}

        def value(tensor):
            key = id(tensor)
            if key in memo:
                return memo[key]
            op, node_index, tensor_index = tensor._keras_history
            node = op._inbound_nodes[node_index]
            ins = [self._shared(value(t)) for t in node.input_tensors]
            if _is_functional(op):
                outs = self.run_model(op, ins)
            else:
                out = self.layer(op, ins, getattr(op, "name", "op"))
                outs = [out]
            for t, o in zip(node.output_tensors, outs):
                memo[id(t)] = dataclasses.replace(o, consumers=self.consumers.get(id(t), 1))
            return memo[key]

        return [value(t) for t in model.outputs]

    # -- layers -------------------------------------------------------------------------------
    def layer(self, layer, ins, name):
        import keras

        from snnzoo.ide.equilibrium import FeedbackEquilibrium
        from snnzoo.ide.batch_norm import RateBatchNorm
        from snnzoo.layers.ndropout import NDropout
        from snnzoo.layers.neurons import BaseNeuron
        from snnzoo.layers.normalization import TEBN
        from snnzoo.layers.sew_connect import SEWConnect
        from snnzoo.layers.time import MeanOverTime, RepeatTime, TimeFold
        from snnzoo.layers.voting import VotingLayer
        from snnzoo.layers.warmup_switch import WarmupSwitch

        L = keras.layers
        if isinstance(layer, TimeFold):
            if not ins[0].temporal:
                _refuse(layer, "TimeFold on a value without a time axis")
            return self.frame_layer(layer.layer, ins[0], name, outer=layer)
        if isinstance(layer, (L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D, L.SpatialDropout3D,
                              L.GaussianDropout, L.GaussianNoise, L.AlphaDropout, L.ActivityRegularization,
                              L.Identity, NDropout)):
            return ins[0]  # identity in inference
        if isinstance(layer, WarmupSwitch):
            if float(_np(layer.ann_mode)) > 0.5:
                _refuse(layer, "the ANN warm-up bypass is on (ann_mode=1): the layer passes the "
                               "analog pre-activation, not spikes")
            return ins[1]
        if isinstance(layer, TEBN):
            _refuse(layer, "TEBN scales every time step by its own learned p[t]; NIR nodes have no "
                           "time-dependent parameters")
        if isinstance(layer, (L.BatchNormalization, RateBatchNorm)):
            return self.batch_norm(layer, ins[0])
        if isinstance(layer, BaseNeuron):
            return self.neuron(layer, ins[0])
        if isinstance(layer, RepeatTime):
            if ins[0].temporal:
                _refuse(layer, "RepeatTime on a value that already has a time axis")
            self._steps(layer, layer.time_steps)
            self.input_meta["repeat"] = 1
            return dataclasses.replace(ins[0], temporal=True)
        if isinstance(layer, MeanOverTime):
            return self.time_mean(layer, ins[0], None)
        if isinstance(layer, SEWConnect):
            if layer.connect_f != "ADD":
                _refuse(layer, f"SEW connect function {layer.connect_f} (element-wise product of "
                               "spikes) has no NIR node; only ADD (the sum of two edges) is exportable")
            return self.add_ports(layer, ins)
        if isinstance(layer, L.Add):
            return self.add_ports(layer, ins)
        if isinstance(layer, VotingLayer):
            _refuse(layer, "the population voting readout (a mean over groups of neurons) has no NIR "
                           "node")
        if isinstance(layer, FeedbackEquilibrium):
            return self.equilibrium(layer, ins[0])
        if isinstance(layer, (L.Rescaling, L.Normalization)):
            return self.normalization(layer, ins[0])
        if isinstance(layer, L.Dense):
            return self.dense(layer, ins[0], name)
        framed = ins[0].temporal and not ins[0].after_readout  # Keras sees [B, T, ...]
        if isinstance(layer, L.Flatten) and framed:
            _refuse(layer, "Flatten on [batch, time, ...] also flattens the time axis; wrap it in "
                           "TimeFold")
        if isinstance(layer, (L.Conv1D, L.Conv2D, L.ZeroPadding1D, L.ZeroPadding2D, L.AveragePooling2D,
                              L.GlobalAveragePooling2D, L.Flatten, L.Permute, L.MaxPooling2D,
                              L.MaxPooling1D, L.GlobalMaxPooling2D)):
            if framed:
                _refuse(layer, "a per-frame layer applied to [batch, time, ...] outside TimeFold")
            return self.frame_layer(layer, ins[0], name)
        if isinstance(layer, L.InputLayer):
            return ins[0]
        _refuse(layer, _unsupported_reason(layer))

    def frame_layer(self, layer, port, name, outer=None):
        import keras

        L = keras.layers
        owner = outer or layer
        if isinstance(layer, (L.Dropout, L.SpatialDropout2D, L.SpatialDropout1D)):
            return port
        if isinstance(layer, L.Dense):
            return self.dense(layer, port, name, owner)
        if isinstance(layer, (L.Conv1D, L.Conv2D)) and not isinstance(layer, L.Conv2DTranspose):
            return self.conv(layer, port, name, owner)
        if isinstance(layer, (L.ZeroPadding1D, L.ZeroPadding2D)):
            return self.zero_pad(layer, port, owner)
        if isinstance(layer, L.AveragePooling2D):
            return self.avg_pool(layer, port, name, owner)
        if isinstance(layer, L.GlobalAveragePooling2D):
            return self.global_avg_pool(layer, port, name, owner)
        if isinstance(layer, L.Flatten):
            return self.flatten(layer, port, name, owner)
        if isinstance(layer, L.Permute):
            return self.permute(layer, port, owner)
        if isinstance(layer, (L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.GlobalMaxPooling2D)):
            _refuse(owner, "max pooling has no NIR node (NIR pools by sum or average only)")
        if isinstance(layer, L.BatchNormalization):
            return self.batch_norm(owner, port, bn=layer)
        _refuse(owner, _unsupported_reason(layer))

    # -- affine layers ------------------------------------------------------------------------
    def _lin_input(self, port, layer):
        """Materialise a pending conv/dense before another one (no BN between them)."""
        if port.pending is not None:
            name = self.emit(port.pending)
            port = dataclasses.replace(port, sources=(name,), pending=None)
        return port

    def dense(self, layer, port, name, owner=None):
        owner = owner or layer
        if len(port.shape) != 1:
            _refuse(owner, f"Dense on a per-step value of shape {port.shape} (NIR Affine takes a "
                           "vector; flatten first)")
        port = self._lin_input(port, owner)
        kernel = _np(layer.kernel)                                   # (in, out), Keras order
        bias = _np(layer.bias) if layer.use_bias else np.zeros(kernel.shape[1])
        if port.pad is not None:
            _refuse(owner, "zero padding before a Dense layer")
        if port.pre is not None:  # input-side affine map (Keras order)
            w, bias = fold_before_dense(kernel.T, bias, *port.pre)
            kernel = w.T
        kernel = kernel * port.scale
        if port.perm is not None:
            kernel = kernel[port.perm]
        if layer.activation not in (None,) and getattr(layer.activation, "__name__", "") != "linear":
            _refuse(owner, f"the Dense activation '{layer.activation.__name__}' has no NIR node")
        lin = _Lin(name, "dense", kernel.T.copy(), bias, port.sources, (kernel.shape[0],))
        return _Port((), (kernel.shape[1],), "flat", None, port.temporal, pending=lin,
                     after_readout=port.after_readout)

    def conv(self, layer, port, name, owner):
        rank = len(layer.kernel_size)
        if layer.data_format != "channels_last":
            _refuse(owner, "only channels_last convolutions are exported")
        if port.layout != "cl" or len(port.shape) != rank + 1:
            _refuse(owner, f"convolution input of shape {port.shape} in layout {port.layout}")
        if getattr(layer.activation, "__name__", "linear") != "linear":
            _refuse(owner, f"the convolution's activation '{layer.activation.__name__}' has no NIR node")
        port = self._lin_input(port, owner)
        spatial = tuple(int(s) for s in port.shape[:-1])
        strides, dil = tuple(layer.strides), tuple(layer.dilation_rate)
        ks = tuple(layer.kernel_size)
        pads = []
        for i in range(rank):
            if layer.padding == "valid":
                before = after = 0
            elif layer.padding == "same":
                n, s, k, d = spatial[i], strides[i], ks[i], dil[i]
                total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
                before, after = total // 2, total - total // 2
                if before != after:
                    _refuse(owner, f"'same' padding is asymmetric here ({before} before, {after} after "
                                   f"on spatial axis {i}: even kernel or stride); NIR Conv pads both "
                                   "sides equally. Pad explicitly (ZeroPadding) with a 'valid' conv")
            else:
                _refuse(owner, f"padding '{layer.padding}' has no NIR equivalent")
            extra = port.pad[i] if port.pad is not None else 0
            pads.append(before + extra)
        in_spatial = tuple(s - 2 * (port.pad[i] if port.pad else 0) for i, s in enumerate(spatial))
        kernel = _np(layer.kernel)  # (*k, in/groups, out)
        weight = np.transpose(kernel, (rank + 1, rank) + tuple(range(rank)))  # (out, in, *k)
        bias = _np(layer.bias) if layer.use_bias else np.zeros(weight.shape[0])
        if port.pre is not None:
            a, b = port.pre
            a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
            if a.size not in (1, weight.shape[1] * layer.groups) or b.size not in (1, weight.shape[1] * layer.groups):
                _refuse(owner, f"the affine map of '{port.pre_origin}' is not per channel")
            if layer.groups != 1:
                _refuse(owner, f"folding '{port.pre_origin}' into a grouped convolution")
            if any(pads) and np.any(b != 0):
                _refuse(owner, f"the offset of '{port.pre_origin}' cannot be folded into a zero-padded "
                               "convolution (a padded zero would become −offset/scale at the border). "
                               "For the input normalisation pass input_normalization='outside' (the "
                               "graph then takes normalised inputs)")
            weight, bias = fold_before_conv(weight, bias, a.reshape(-1), b.reshape(-1))
        weight = weight * port.scale
        out_spatial = tuple((in_spatial[i] + 2 * pads[i] - dil[i] * (ks[i] - 1) - 1) // strides[i] + 1
                            for i in range(rank))
        nir_in = (int(port.shape[-1]),) + in_spatial
        lin = _Lin(name, "conv", weight, bias, port.sources, nir_in, strides, tuple(pads), dil,
                   int(layer.groups))
        return _Port((), out_spatial + (int(layer.filters),), "cl", None, port.temporal, pending=lin,
                     after_readout=port.after_readout)

    def zero_pad(self, layer, port, owner):
        pads = np.asarray(layer.padding).reshape(-1, 2)
        if np.any(pads[:, 0] != pads[:, 1]):
            _refuse(owner, f"asymmetric zero padding {layer.padding}; NIR pads both sides equally")
        if port.pad is not None or port.layout != "cl":
            _refuse(owner, "zero padding twice / on a non-image value")
        port = self._lin_input(port, owner)
        p = tuple(int(v) for v in pads[:, 0])
        shape = tuple(s + 2 * q for s, q in zip(port.shape[:-1], p)) + (port.shape[-1],)
        return dataclasses.replace(port, shape=shape, pad=p)

    def batch_norm(self, layer, port, bn=None):
        bn = bn or layer
        a, b = bn_affine(bn)
        if port.pending is not None and port.consumers == 1 and port.pending.emitted is None:
            lin = port.pending
            if lin.kind == "dense" or len(port.shape) > 1:
                w, c = fold_after(lin.weight, lin.bias, a, b)
                return dataclasses.replace(port, pending=dataclasses.replace(lin, weight=w, bias=c))
        if port.pre is not None:
            a0, b0 = port.pre
            return dataclasses.replace(port, pre=(a * np.asarray(a0), a * np.asarray(b0) + b))
        if len(port.shape) != 1 and port.layout != "cl":
            _refuse(layer, "batch norm on a channels-first value")
        if port.layout == "flat" and port.perm is not None:
            _refuse(layer, "batch norm after a flatten")
        port = self.ready(port, layer)
        return dataclasses.replace(port, pre=(a, b), pre_origin=layer.name)

    def normalization(self, layer, port):
        try:
            a, b = normalization_affine(layer)
        except ValueError:
            _refuse(layer, "an inverted Normalization")
        if (self.input_normalization == "outside" and port.sources == ("input",)
                and port.pending is None and port.pre is None and not port.temporal):
            norm = self.input_meta.setdefault("normalization", {"scale": np.ones(1), "offset": np.zeros(1)})
            s0, o0 = norm["scale"], norm["offset"]
            norm["scale"], norm["offset"] = a * s0, a * o0 + b
            return port
        if port.pre is not None:
            a0, b0 = port.pre
            return dataclasses.replace(port, pre=(a * np.asarray(a0), a * np.asarray(b0) + b))
        port = self.ready(port, layer)
        return dataclasses.replace(port, pre=(a, b), pre_origin=layer.name)

    # -- shape layers -------------------------------------------------------------------------
    def avg_pool(self, layer, port, name, owner):
        if layer.data_format != "channels_last" or port.layout != "cl" or len(port.shape) != 3:
            _refuse(owner, "average pooling needs a channels-last [H, W, C] frame")
        k, s = tuple(layer.pool_size), tuple(layer.strides)
        h, w = port.shape[:2]
        out = ((h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1)
        if layer.padding == "same":
            need = [max((-(-n // st) - 1) * st + kk - n, 0) for n, st, kk in zip((h, w), s, k)]
            if any(need):
                _refuse(owner, "'same' average pooling with padding (Keras excludes the padded "
                               "cells from the average; NIR pools have no such mode)")
        return self._pool(port, owner, name, k, s, out)

    def _pool(self, port, owner, name, k, s, out):
        nir = self.nir
        pre = port.pre
        if pre is not None:  # a per-channel affine map commutes with an average (not a sum)
            port = dataclasses.replace(port, pre=None)
        port = self.ready(port, owner)
        c = int(port.shape[-1])
        args = dict(kernel_size=np.array(k), stride=np.array(s), padding=np.array([0, 0]))
        if self.pooling == "sum":
            node, scale = nir.SumPool2d(**args), port.scale / float(k[0] * k[1])
        else:
            node, scale = nir.AvgPool2d(**args), 1.0
        if pre is not None and self.pooling == "sum":
            _refuse(owner, "sum pooling after a pending batch norm / normalisation")
        self._typed(node, (c,) + tuple(port.shape[:2]), (c,) + out)
        nm = self.add(name, node, port.sources)
        return _Port((nm,), out + (c,), "cl", None, port.temporal, pre=pre, pre_origin=port.pre_origin,
                     scale=scale, after_readout=port.after_readout)

    def global_avg_pool(self, layer, port, name, owner):
        if layer.data_format != "channels_last" or port.layout != "cl" or len(port.shape) != 3:
            _refuse(owner, "global average pooling needs a channels-last [H, W, C] frame")
        if getattr(layer, "keepdims", False):
            _refuse(owner, "keepdims=True")
        h, w, c = port.shape
        pooled = self._pool(port, owner, name, (h, w), (h, w), (1, 1))
        node = self.nir.Flatten(input_type={"input": np.array([c, 1, 1])}, start_dim=0, end_dim=-1)
        nm = self.add(f"{name}_flatten", node, pooled.sources)
        return dataclasses.replace(pooled, sources=(nm,), shape=(c,), layout="flat", perm=None)

    def flatten(self, layer, port, name, owner):
        if len(port.shape) == 1:
            return port
        if port.pad is not None:
            _refuse(owner, "flatten after zero padding")
        port = self._lin_input(port, owner)
        if port.layout == "cl":
            idx = np.arange(int(np.prod(port.shape))).reshape(port.shape)
            perm = np.moveaxis(idx, -1, 0).reshape(-1)
        else:
            perm = None
        pre = port.pre
        if pre is not None:  # broadcast to the full shape, flattened in Keras order
            pre = tuple(np.broadcast_to(np.asarray(v, np.float64), port.shape).reshape(-1) for v in pre)
        node = self.nir.Flatten(input_type={"input": np.array(port.nir_shape())}, start_dim=0, end_dim=-1)
        nm = self.add(name, node, port.sources)
        if perm is not None and np.array_equal(perm, np.arange(perm.size)):
            perm = None
        return dataclasses.replace(port, sources=(nm,), shape=(int(np.prod(port.shape)),), layout="flat",
                                   perm=perm, pre=pre)

    def permute(self, layer, port, owner):
        dims = tuple(layer.dims)
        if port.layout == "cl" and len(port.shape) == 3 and dims == (3, 1, 2):
            shape = (port.shape[2], port.shape[0], port.shape[1])
            if port.pre is not None or port.pad is not None:
                _refuse(owner, "permute after a pending normalisation / padding")
            return dataclasses.replace(port, shape=shape, layout="cf")
        _refuse(owner, f"Permute{dims}: only the channels-first permutation (3, 1, 2) of an image "
                       "frame before Flatten is exported (NIR is channels-first already)")

    def add_ports(self, layer, ins):
        ports = [self.ready(p, layer, "the sum") for p in ins]
        first = ports[0]
        for p in ports[1:]:
            if p.shape != first.shape or p.layout != first.layout or p.temporal != first.temporal:
                _refuse(layer, "summed values of different shapes or layouts")
            pa = first.perm if first.perm is not None else None
            pb = p.perm if p.perm is not None else None
            if (pa is None) != (pb is None) or (pa is not None and not np.array_equal(pa, pb)):
                _refuse(layer, "summed values in different flatten orders")
            if p.after_readout != first.after_readout:
                _refuse(layer, "the sum of a time-averaged value and a per-step value")
        sources = tuple(s for p in ports for s in p.sources)
        return dataclasses.replace(first, sources=sources,
                                   after_readout=any(p.after_readout for p in ports))

    # -- time ---------------------------------------------------------------------------------
    def _steps(self, layer, steps):
        steps = int(steps)
        if self.time_steps and self.time_steps != steps:
            _refuse(layer, f"{steps} time steps, but an earlier layer uses {self.time_steps}")
        self.time_steps = steps

    def time_mean(self, layer, port, weights, what=None):
        what = what or ("the time-mean readout (MeanOverTime) has no NIR node")
        if not self.per_step_readout:
            _refuse(layer, f"{what}. Pass per_step_readout=True to export the layers after it per "
                           "step (the model's output is then the time average of the graph's "
                           "Output, recorded in graph.metadata['snnzoo']['readout'])")
        if port.after_readout:
            _refuse(layer, "a second time average")
        if not port.temporal:
            _refuse(layer, "a time average of a value without a time axis")
        if weights is None:
            self.readout = {"kind": "mean"}
        else:
            self.readout = {"kind": "weighted_mean", "weights": np.asarray(weights, np.float64)}
        return dataclasses.replace(port, after_readout=True)

    # -- neurons ------------------------------------------------------------------------------
    def _neuron_node(self, layer, shape, ts, decay_input, v_threshold, soft, ts_syn=None):
        nir = self.nir
        ones = np.ones(shape, np.float32)
        vth = ones * np.float32(v_threshold)
        if ts is None:
            node = nir.IF(r=ones / np.float32(self.dt), v_threshold=vth)
        elif ts_syn is not None:  # CubaLIF: w_in, r = 1 (decay_input) or τ_syn, τ_mem (docs/nir.md)
            kwargs = {}
            if "v_reset" in getattr(nir.CubaLIF, "__dataclass_fields__", {}) and not soft:
                kwargs["v_reset"] = ones * 0
            node = nir.CubaLIF(tau_syn=ones * np.float32(ts_syn * self.dt),
                               tau_mem=ones * np.float32(ts * self.dt), r=ones if decay_input else ones * np.float32(ts), v_leak=ones * 0,
                               v_threshold=vth, w_in=ones if decay_input else ones * np.float32(ts_syn),
                               **kwargs)
        else:
            r = ones if decay_input else ones * np.float32(ts)
            kwargs = {}
            if "v_reset" in getattr(nir.LIF, "__dataclass_fields__", {}) and not soft:
                kwargs["v_reset"] = ones * 0
            node = nir.LIF(tau=ones * np.float32(ts * self.dt), r=r, v_leak=ones * 0, v_threshold=vth,
                           **kwargs)
        if soft and not self.subtract_reset:
            _refuse(layer, "soft (subtract) reset (v_reset=None) cannot be said by NIR (its neurons "
                           "reset to zero). Pass subtract_reset=True to export it anyway and record "
                           "the node names in graph.metadata['snnzoo']['subtract_reset'] (importers "
                           "that ignore it, e.g. snnTorch, reset to zero)")
        return node

    def neuron(self, layer, port):
        from snnzoo.layers.neurons import IF, LIF, PLIF, CubaLIF

        if port.after_readout:
            _refuse(layer, "a spiking neuron after the time-mean readout")
        if layer.return_membrane:
            _refuse(layer, "return_membrane=True (NIR nodes output spikes only)")
        if layer.v_reset not in (None, 0.0):
            _refuse(layer, f"hard reset to v_reset={layer.v_reset} ≠ 0: NIR neurons start at and "
                           "reset to 0")
        port = self.ready(port, layer, "a spiking neuron")
        ts_syn = None
        if isinstance(layer, CubaLIF):
            ts, ts_syn, decay_input = layer.tau_mem, layer.tau_syn, layer.decay_input
        elif isinstance(layer, PLIF):
            w = float(_np(layer.w))
            ts, decay_input = 1.0 + np.exp(-w), layer.decay_input  # 1/sigmoid(w)
        elif isinstance(layer, LIF):
            ts, decay_input = layer.tau, layer.decay_input
        elif isinstance(layer, IF):
            ts, decay_input = None, True
        else:
            _refuse(layer, "an unknown neuron model")
        soft = layer.v_reset is None
        node = self._neuron_node(layer, port.nir_shape(), ts, decay_input, layer.v_threshold, soft, ts_syn)
        nm = self.add(layer.name, node, port.sources)
        if soft:
            self.soft.append(nm)
        return dataclasses.replace(port, sources=(nm,))

    # -- IDE ----------------------------------------------------------------------------------
    def equilibrium(self, layer, port):
        """The IDE feedback SNN (snnzoo.ide.simulation) as a recurrent cycle: layer 0 gets the
        input current and the feedback of the last layer's spikes of the previous step."""
        from snnzoo.ide.decay import time_weights

        if layer.forward_mode != "spiking":
            _refuse(layer, "forward_mode='analog' is not a spiking network")
        if port.after_readout:
            _refuse(layer, "an equilibrium layer after the time-mean readout")
        spec_fb = layer.feedback
        if spec_fb["kind"] == "conv_transpose":
            _refuse(layer, "the transposed-convolution feedback has no NIR node (NIR has Conv1d/Conv2d "
                           "only)")
        if any(m["kind"] == "conv_transpose" for m in layer.chain):
            _refuse(layer, "a transposed-convolution chain module has no NIR node")
        if spec_fb["use_bias"] and np.any(_np(layer.feedback_module.bias) != 0):
            _refuse(layer, "the feedback bias is gated off at t = 0 (no feedback in the first "
                           "step), which NIR cannot express; it is exportable only when the bias is "
                           "zero")
        steps = layer.time_steps
        self._steps(layer, steps)
        if layer.input_mode == "constant":
            if port.temporal:
                _refuse(layer, "input_mode='constant' on a value with a time axis")
            self.input_meta["repeat"] = 1
        elif not port.temporal:
            _refuse(layer, "input_mode='sequence' on a value without a time axis")
        port = self.ready(port, layer, "the equilibrium layer")
        k = layer.decay
        ts = None if k is None else 1.0 / (1.0 - k)
        shapes = layer.layer_shapes
        base = layer.name

        def nir_shape(shape):
            return (shape[-1],) + tuple(shape[:-1]) if len(shape) > 1 else tuple(shape)

        def neuron(i, sources):
            node = self._neuron_node(layer, nir_shape(shapes[i]), ts, False, layer.v_threshold, True)
            nm = self.add(f"{base}.layer{i}", node, sources)
            self.soft.append(nm)
            return nm

        def module(spec, ide_module, kernel, in_shape, name, sources):
            if spec["kind"] == "dense":
                weight = kernel.T
            else:
                weight = np.transpose(kernel, (3, 2, 0, 1))
            has_bias = ide_module is not None and ide_module.bias is not None  # None: the feedback
            bias = _np(ide_module.bias) if has_bias else np.zeros(weight.shape[0])
            if spec.get("batch_norm"):
                m = ide_module
                scale = _np(m.gamma) / np.sqrt(_np(m.moving_variance) + layer.bn_epsilon)
                shift = _np(m.beta) - _np(m.moving_mean) * scale
                weight, bias = fold_after(weight, bias, scale, shift)
            p, s = spec["padding"], spec["strides"]
            lin = _Lin(name, spec["kind"] if spec["kind"] == "dense" else "conv", weight, bias, sources,
                       nir_shape(in_shape), (s, s), (p, p), (1, 1), 1)
            return self.emit(lin)

        layer0 = neuron(0, port.sources)  # the feedback edge is added below
        last = layer0
        for i, spec in enumerate(layer.chain):
            chain_module = layer.chain_modules[i]
            lin = module(spec, chain_module, _np(chain_module.kernel), shapes[i], f"{base}.chain{i}",
                         (last,))
            last = neuron(i + 1, (lin,))
        fb_kernel = _np(layer.feedback_kernel(False)[0])
        fb_spec = dict(spec_fb, use_bias=False, batch_norm=False)
        fb = module(fb_spec, None, fb_kernel, shapes[-1], f"{base}.feedback", (last,))
        self.edges.append((fb, layer0))
        out = _Port((last,), tuple(shapes[-1]), "flat" if len(shapes[-1]) == 1 else "cl", None, True)
        what = ("the IDE layer outputs the " + ("time-mean" if k is None else "decay-weighted time average")
                + " of its last layer's spikes, which has no NIR node")
        return self.time_mean(layer, out, None if k is None else time_weights(k, steps), what)

    # -- top level ----------------------------------------------------------------------------
    def export(self, model):
        nir = self.nir
        if not _is_functional(model):
            raise NIRExportError(
                f"to_nir: model '{getattr(model, 'name', model)}' is not a functional Keras model "
                "(build it with keras.Input / keras.Model, as every snnzoo builder does)")
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise NIRExportError("to_nir: only models with one input and one output are exported")
        self.count_consumers(model)
        shape = tuple(model.inputs[0].shape[1:])
        static = not (len(shape) >= 2 and _takes_sequence(model))
        frame = shape if static else shape[1:]
        if not static:
            self._steps(model, shape[0])
        if any(d is None for d in frame):
            raise NIRExportError(f"to_nir: the input shape {tuple(model.inputs[0].shape)} must be static")
        port = _Port(("input",), tuple(int(d) for d in frame), "cl" if len(frame) > 1 else "flat", None,
                     not static)
        self.input_meta["repeat"] = 0
        (out,) = self.run_model(model, [port])
        out = self.ready(out, model, "the model output")
        if out.perm is not None:
            raise NIRExportError("to_nir: the model output is a flattened frame in Keras' H·W·C order, "
                                 "which differs from NIR's C·H·W order")
        if not out.temporal:
            raise NIRExportError("to_nir: the model has no time axis (no spiking layer)")
        self.nodes["input"] = nir.Input(input_type={"input": np.array(port.nir_shape())})
        self.nodes = {"input": self.nodes.pop("input"), **self.nodes}
        self.nodes["output"] = nir.Output(output_type={"output": np.array(out.nir_shape())})
        self.edges += [(s, "output") for s in out.sources]
        meta = {"dt": self.dt, "time_steps": int(self.time_steps), "input": self.input_meta,
                "readout": self.readout, "subtract_reset": list(self.soft),
                "pooling": self.pooling, "layout": "channels_first"}
        return nir.NIRGraph(nodes=self.nodes, edges=self.edges, metadata={"snnzoo": meta})


def _takes_sequence(model):
    """Whether the model's input carries a time axis [B, T, ...]: the time axis comes from the
    input unless a RepeatTime or a constant-input equilibrium layer makes it."""
    from snnzoo.ide.equilibrium import FeedbackEquilibrium
    from snnzoo.layers.find import find_layers
    from snnzoo.layers.time import RepeatTime

    if find_layers(model, RepeatTime):
        return False
    return not any(eq.input_mode == "constant" for eq in find_layers(model, FeedbackEquilibrium))


def _is_functional(op):
    import keras

    return isinstance(op, keras.Model) and hasattr(op, "_inbound_nodes") and hasattr(op, "outputs") \
        and getattr(op, "outputs", None) is not None


def _unsupported_reason(layer):
    import keras

    L = keras.layers
    if isinstance(layer, (L.ReLU, L.Activation, L.LeakyReLU, L.ELU, L.Softmax)):
        return "an analog activation function has no NIR node (NIR nodes are linear maps and neurons)"
    if isinstance(layer, L.Conv2DTranspose):
        return "a transposed convolution has no NIR node"
    return "this layer type has no NIR equivalent in snnzoo's export"


def to_nir(model, dt=1e-4, subtract_reset=False, per_step_readout=False, pooling="avg",
           input_normalization="fold"):
    """Export ``model`` (a functional Keras/snnzoo model, nested models included) as a
    ``nir.NIRGraph``.

    Args:
        model: a functional ``keras.Model`` (``snnzoo.load(...)`` models included).
        dt: the time step of the forward-Euler discretisation (NIR time constants are τ·dt,
            IF's r = 1/dt; 1e-4 is snnTorch's convention, 1.0 reads as "one unit per step").
        subtract_reset: export soft-reset neurons (``v_reset=None``, all IDE models) and list them
            in ``graph.metadata["snnzoo"]["subtract_reset"]``; refused otherwise.
        per_step_readout: export the affine layers after a time-mean readout (``MeanOverTime``,
            the IDE rate) per step; the model's output is the (weighted) time average of the
            graph's Output (``graph.metadata["snnzoo"]["readout"]``); refused otherwise.
        pooling: ``"avg"`` (NIR AvgPool2d) or ``"sum"`` (SumPool2d; the 1/k² factor folds into the
            next conv/dense weights — for readers without AvgPool2d, e.g. Norse and Sinabs).
        input_normalization: ``"fold"`` (the input normalisation folds into the first layer when
            exact) or ``"outside"`` (the graph takes normalised inputs;
            ``metadata["snnzoo"]["input"]["normalization"]`` has the scale and offset).

    Returns:
        A ``nir.NIRGraph``: node names are the Keras layer names; input node ``"input"`` with the
        channels-first per-step shape, output node ``"output"``.

    Raises:
        NIRExportError (a ValueError): one message naming the layer that NIR cannot express and
            why (max pooling, unfoldable batch norm, TEBN, voting, time-mean readout without
            ``per_step_readout``, soft reset without ``subtract_reset``, ...).
    """
    from snnzoo.nir import require_nir

    nir = require_nir()
    return _Exporter(nir, dt, subtract_reset, per_step_readout, pooling, input_normalization).export(model)


def nir_exportability(model, subtract_reset=True, per_step_readout=True, input_normalization="outside",
                      **options):
    """``(True, note)`` if ``to_nir(model, ...)`` succeeds with these options (by default the
    permissive ones; the note names those the model needs), else ``(False, reason)``."""
    try:
        graph = to_nir(model, subtract_reset=subtract_reset, per_step_readout=per_step_readout,
                       input_normalization=input_normalization, **options)
    except NIRExportError as err:
        return False, str(err).replace("to_nir: ", "")
    meta = graph.metadata["snnzoo"]
    needs = []
    if meta["readout"]["kind"] != "none":
        needs.append("per_step_readout=True (time-average readout)")
    if meta["subtract_reset"]:
        needs.append("subtract_reset=True (soft-reset neurons)")
    if "normalization" in meta["input"]:
        needs.append("input_normalization='outside' (the graph takes normalised inputs)")
    note = "NIR-exportable" + (" with " + ", ".join(needs) if needs else "")
    return True, note
