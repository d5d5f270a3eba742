"""``from_nir``: read and check a NIR graph, and build the Keras model that simulates it.

The model maps ``[batch, time, *input] -> [batch, time, *output]`` with NIR's channels-first
node types turned channels last (NIR ``(C, H, W)`` is ``(H, W, C)`` here). One
:class:`~snnzoo.nir.graph_layer.NIRGraphLayer` runs the whole graph; the step math of every node
type is in :mod:`snnzoo.nir.nodes`. Subgraphs are flattened (their nodes named
``"subgraph.node"``). Every problem with the graph is one ``ValueError`` that names the node or
edge and the fix; a missing ``nir`` package is :func:`snnzoo.nir.require_nir`'s ImportError.

Time: NIR is continuous-time; ``dt`` is the Euler step in the graph's unit. snnTorch, Norse and
SpikingJelly write graphs in seconds with dt = 1e-4 (snnTorch: τ = dt/(1 − β)); Sinabs writes
``IF(r=1)`` meaning "one unit of input per step", which reads with ``dt=1.0``.
"""
import os

import numpy as np

from snnzoo.nir import nodes as node_lib

__all__ = ["from_nir", "read_graph", "graph_spec"]

_RESETS = (None, "zero", "subtract")


def _nir():
    from snnzoo.nir import require_nir

    return require_nir()


# -- reading --------------------------------------------------------------------------------
def _unknown_types_in_file(path, known):
    """``[(node path, type)]`` of node types in the HDF5 file that the nir package cannot read."""
    import h5py

    found = []

    def walk(group, prefix):
        for key, item in group.items():
            if isinstance(item, h5py.Group) and "type" in item:
                kind = item["type"][()]
                kind = kind.decode("utf8") if isinstance(kind, bytes) else str(kind)
                if kind not in known:
                    found.append((prefix + key, kind))
                if kind == "NIRGraph" and "nodes" in item:
                    walk(item["nodes"], prefix + key + ".")

    with h5py.File(path, "r") as f:
        if "node" in f and "nodes" in f["node"]:
            walk(f["node"]["nodes"], "")
    return found


def read_graph(path):
    """``nir.read(path)`` with one clear error for a missing file, a file that is not HDF5, an
    HDF5 file that is not a NIR graph, and a node type the nir package does not know."""
    nir = _nir()
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"NIR file not found: {path}")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not a NIR file: NIR graphs are HDF5 files (written by nir.write)")
    with h5py.File(path, "r") as f:
        if "node" not in f or "type" not in f["node"]:
            raise ValueError(f"{path} is an HDF5 file but not a NIR graph (no 'node' group with a type); "
                             "write graphs with nir.write(path, graph)")
    try:
        return nir.read(path)
    except (AssertionError, KeyError, TypeError, ValueError) as err:
        known = set(node_lib.NODE_TYPES) | {"NIRGraph"}
        unknown = _unknown_types_in_file(path, known)
        if unknown:
            names = ", ".join(f"{n!r} ({k})" for n, k in unknown)
            raise ValueError(f"{path}: unknown NIR node type in node {names}; supported types: "
                             f"{sorted(known)}") from err
        raise ValueError(f"{path}: the nir package {getattr(nir, 'version', '')} cannot read this graph: "
                         f"{type(err).__name__}: {err}") from err


# -- flattening and checking ----------------------------------------------------------------
def _flatten_graph(graph, prefix=""):
    """``(nodes, edges, inputs, outputs)`` with subgraphs inlined as ``"sub.node"``."""
    nir = _nir()
    nodes, edges, inputs, outputs = {}, [], [], []
    entry, exit_ = {}, {}  # subgraph name -> its (flattened) Input / Output node names
    for name, node in graph.nodes.items():
        full = prefix + str(name)
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges, sub_in, sub_out = _flatten_graph(node, full + ".")
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
            entry[full], exit_[full] = sub_in, sub_out
            continue
        nodes[full] = node
        if isinstance(node, nir.Input):
            inputs.append(full)
        elif isinstance(node, nir.Output):
            outputs.append(full)
    for a, b in graph.edges:
        a, b = prefix + str(a), prefix + str(b)
        sources = exit_.get(a, [a])
        targets = entry.get(b, [b])
        for kind, group, name in (("source", sources, a), ("target", targets, b)):
            if len(group) != 1:
                raise ValueError(f"NIR edge {a!r} -> {b!r}: subgraph {name!r} has {len(group)} "
                                 f"{'Output' if kind == 'source' else 'Input'} nodes; name one of "
                                 f"{group} in the edge")
        edges.append((sources[0], targets[0]))
    # a subgraph's own Input/Output nodes stay in the flat graph as pass-through nodes
    return nodes, edges, inputs, outputs


def _shape(value):
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.dtype == object or arr.ndim != 1 or not np.issubdtype(arr.dtype, np.number):
        return None
    return tuple(int(v) for v in arr)


def _type_shape(types):
    if not types:
        return None
    if len(types) != 1:
        raise ValueError(f"NIR node types with several ports are not supported: {list(types)}")
    return _shape(next(iter(types.values())))


def _pair(value, n, name, node):
    arr = np.atleast_1d(np.asarray(value)).astype("int64").ravel()
    if arr.size == 1:
        arr = np.repeat(arr, n)
    if arr.size != n:
        raise ValueError(f"NIR node {node!r}: {name} must have {n} values, got {value!r}")
    return [int(v) for v in arr]


def _static_spec(name, node, kind):
    """The static attributes of one node (JSON) and its parameter arrays (NIR layout)."""
    spec = {"type": kind}
    params = {}
    for field in node_lib.NODE_TYPES[kind]:
        value = getattr(node, field, None)
        if value is None:
            if field == "v_reset":  # nir < 1.0.5 has no v_reset field
                continue
            raise ValueError(f"NIR node {name!r} ({kind}) has no {field}")
        params[field] = np.asarray(value, dtype="float64")
    if kind in ("Conv1d", "Conv2d"):
        n = 1 if kind == "Conv1d" else 2
        weight = params["weight"]
        if weight.ndim != n + 2:
            raise ValueError(f"NIR node {name!r} ({kind}): weight must be (out, in/groups, *kernel), "
                             f"got shape {weight.shape}")
        if "bias" not in params or np.asarray(params["bias"]).ndim == 0:
            params["bias"] = np.zeros(weight.shape[0]) + np.asarray(params.get("bias", 0.0))
        padding = node.padding
        if isinstance(padding, bytes):
            padding = padding.decode("utf8")
        if isinstance(padding, np.ndarray) and padding.dtype.kind in "SUO":
            padding = str(padding.item().decode("utf8") if isinstance(padding.item(), bytes) else padding.item())
        spec.update(stride=_pair(node.stride, n, "stride", name), dilation=_pair(node.dilation, n, "dilation", name),
                    groups=int(np.asarray(node.groups)),
                    padding=padding if isinstance(padding, str) else _pair(padding, n, "padding", name))
        if spec["padding"] not in ("same", "valid") and isinstance(spec["padding"], str):
            raise ValueError(f"NIR node {name!r}: padding {spec['padding']!r} is not 'same', 'valid' or integers")
    elif kind in ("SumPool2d", "AvgPool2d"):
        spec.update(kernel_size=_pair(node.kernel_size, 2, "kernel_size", name),
                    stride=_pair(node.stride, 2, "stride", name), padding=_pair(node.padding, 2, "padding", name))
    elif kind == "Flatten":
        spec.update(start_dim=int(node.start_dim), end_dim=int(node.end_dim))
    elif kind in ("Affine", "Linear"):
        if params["weight"].ndim != 2:
            raise ValueError(f"NIR node {name!r} ({kind}): only 2-D weights (out, in) are supported, "
                             f"got shape {params['weight'].shape}")
    return spec, params


def _infer_output(name, spec, in_shape):
    """NIR output shape of a node from its input shape (None where the input is unknown)."""
    kind = spec["type"]
    if in_shape is None:
        return None
    if kind in ("Conv1d", "Conv2d", "SumPool2d", "AvgPool2d"):
        n = 1 if kind == "Conv1d" else 2
        if len(in_shape) != n + 1:
            raise ValueError(f"NIR node {name!r} ({kind}) needs a (C, {'L' if n == 1 else 'H, W'}) input, "
                             f"got shape {in_shape}")
        spatial = in_shape[1:]
        if kind.endswith("Pool2d"):
            k, s, p, d, channels = spec["kernel_size"], spec["stride"], spec["padding"], [1, 1], in_shape[0]
        else:
            k = list(spec["_kernel"])
            s, d, channels = spec["stride"], spec["dilation"], spec["_out_channels"]
            p = spec["padding"]
            if p == "same":
                return (channels,) + tuple(spatial)
            if p == "valid":
                p = [0] * n
        out = [(spatial[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(n)]
        if min(out) < 1:
            raise ValueError(f"NIR node {name!r} ({kind}): input {in_shape} is too small for its kernel")
        return (channels,) + tuple(out)
    if kind == "Flatten":
        rank = len(in_shape)
        start = spec["start_dim"] + rank if spec["start_dim"] < 0 else spec["start_dim"]
        end = spec["end_dim"] + rank if spec["end_dim"] < 0 else spec["end_dim"]
        if not 0 <= start <= end < rank:
            raise ValueError(f"NIR node {name!r} (Flatten): dims {spec['start_dim']}..{spec['end_dim']} do not "
                             f"fit its input shape {in_shape}")
        spec["start_dim"], spec["end_dim"] = start, end
        return in_shape[:start] + (int(np.prod(in_shape[start:end + 1])),) + in_shape[end + 1:]
    if kind == "Affine" or kind == "Linear":
        return (spec["_out_features"],)
    return in_shape


def _own_shapes(name, node, spec, params):
    """(input, output) shapes a node states itself (None where it leaves them open)."""
    kind = spec["type"]
    if kind in ("Conv1d", "Conv2d"):
        w = params["weight"]
        spec["_kernel"], spec["_out_channels"] = list(w.shape[2:]), int(w.shape[0])
    if kind in ("Affine", "Linear"):
        spec["_out_features"] = int(params["weight"].shape[0])
        return (int(params["weight"].shape[1]),), (int(params["weight"].shape[0]),)
    in_shape = _type_shape(getattr(node, "input_type", None))
    out_shape = _type_shape(getattr(node, "output_type", None))
    if kind in ("Flatten", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d"):
        # computed from the input (nir 1.0.4 computes a Conv2d's output type from the first
        # kernel dimension only; a Flatten may count the batch axis: _batch_counted_flatten)
        out_shape = None
    if kind not in ("Input", "Output") and in_shape == () and out_shape in ((), None):
        in_shape = out_shape = None  # scalar parameters (Norse): the shape comes from the edges
    return in_shape, out_shape


_RANK = {"Conv1d": 2, "Conv2d": 3, "SumPool2d": 3, "AvgPool2d": 3, "Affine": 1, "Linear": 1}


def _batch_free(shape, consumer_ranks):
    """torch exporters (nirtorch's tracer, e.g. Norse's to_nir) write the Input/Output type with
    the sample's batch axis: drop it where the connected nodes take one axis less."""
    if shape and consumer_ranks and all(r == len(shape) - 1 for r in consumer_ranks):
        return shape[1:]
    return shape


def _batch_counted_flatten(name, spec, in_shape, consumers):
    """torch exporters write ``torch.nn.Flatten(1)``'s dims, which count the batch axis: if the
    nodes fed by this Flatten expect the shape that the dims shifted by one give (and not the
    unshifted one), shift them to NIR's batch-free input."""
    if in_shape is None or spec["start_dim"] < 1 or not consumers:
        return
    try:
        as_given = _infer_output(name, dict(spec), in_shape)
    except ValueError:
        as_given = None
    shifted = dict(spec, start_dim=spec["start_dim"] - 1,
                   end_dim=spec["end_dim"] - 1 if spec["end_dim"] > 0 else spec["end_dim"])
    try:
        as_batch = _infer_output(name, dict(shifted), in_shape)
    except ValueError:
        return
    if any(c == as_batch for c in consumers) and not any(c == as_given for c in consumers):
        spec["start_dim"], spec["end_dim"] = shifted["start_dim"], shifted["end_dim"]


def graph_spec(graph, dt=1e-4, reset=None):
    """``(spec, arrays, metadata)``: the JSON structure of :class:`NIRGraphLayer`, the parameter
    arrays {node: {field: NIR-layout array}} and the graph's metadata, checked node by node."""
    nir = _nir()
    if reset not in _RESETS:
        raise ValueError(f"reset must be None (the graph's own), 'zero' or 'subtract', got {reset!r}")
    if not isinstance(graph, nir.NIRGraph):
        raise ValueError(f"from_nir expects a nir.NIRGraph or a path to a .nir file, got {type(graph).__name__}")
    nodes, edges, inputs, outputs = _flatten_graph(graph)
    # unknown types and dangling edges
    kinds = {}
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind not in node_lib.NODE_TYPES:
            raise ValueError(f"NIR node {name!r} has type {kind}, which snnzoo cannot import; supported "
                             f"types: {sorted(node_lib.NODE_TYPES) + ['NIRGraph']}")
        kinds[name] = kind
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ValueError(f"NIR edge {a!r} -> {b!r} refers to a node {end!r} that is not in the "
                                 f"graph (nodes: {sorted(nodes)})")
    if len(inputs) != 1:
        raise ValueError(f"from_nir needs a graph with exactly one Input node, found {len(inputs)}: {inputs}")
    if not outputs:
        raise ValueError("the NIR graph has no Output node")
    metadata = _decode(getattr(graph, "metadata", None) or {})
    snnzoo_meta = metadata.get("snnzoo", {}) if isinstance(metadata.get("snnzoo"), dict) else {}
    subtract = set(_as_list(snnzoo_meta.get("subtract_reset", [])))

    specs, arrays, own = {}, {}, {}
    for name, node in nodes.items():
        spec, params = _static_spec(name, node, kinds[name])
        own[name] = _own_shapes(name, node, spec, params)
        if kinds[name] in node_lib.NEURON_TYPES:
            if reset is not None:
                spec["reset"] = reset
            elif name in subtract:
                spec["reset"] = "subtract"
            elif "v_reset" in params:
                spec["reset"] = "value"
            else:
                spec["reset"] = "zero"
            if spec["reset"] != "value":
                params.pop("v_reset", None)
        if kinds[name] == "Delay":
            steps = np.asarray(node.delay, dtype="float64") / float(dt)
            whole = np.round(steps)
            if steps.size == 0 or np.ptp(whole) != 0 or not np.allclose(steps, whole, atol=1e-6) or whole.min() < 0:
                raise ValueError(f"NIR node {name!r} (Delay): only one delay for all elements that is a whole "
                                 f"number of steps of dt={dt} is supported, got delay/dt = {steps}")
            spec["steps"] = int(whole.flat[0])
        specs[name], arrays[name] = spec, params


    def infer(n):
        if kinds[n] == "Flatten" and not specs[n].get("_dims_checked"):
            consumers = [own[b][0] for a, b in edges if a == n and own[b][0] is not None]
            _batch_counted_flatten(n, specs[n], in_shapes[n], consumers)
            specs[n]["_dims_checked"] = True
        return _infer_output(n, specs[n], in_shapes[n])

    # shapes: propagate from the Input along the edges, checking every edge
    in_shapes = {n: own[n][0] for n in nodes}
    out_shapes = {n: own[n][1] for n in nodes}
    stated_outputs = {n: in_shapes[n] or out_shapes[n] for n in outputs}
    for n in inputs:
        shape = in_shapes[n] or out_shapes[n]
        ranks = [len(own[b][0]) if own[b][0] is not None else _RANK.get(kinds[b])
                 for a, b in edges if a == n]
        in_shapes[n] = out_shapes[n] = _batch_free(shape, [r for r in ranks if r is not None])
    for n in outputs:  # an Output takes its shape from the edge (checked against its type below)
        in_shapes[n] = out_shapes[n] = None
    if in_shapes[inputs[0]] is None:
        raise ValueError(f"the NIR Input node {inputs[0]!r} has no shape")
    for _ in range(len(nodes) + 1):
        changed = False
        for a, b in edges:
            src = out_shapes[a]
            if src is None:
                continue
            if in_shapes[b] is None:
                in_shapes[b], changed = src, True
            if out_shapes[b] is None:
                out_shapes[b] = infer(b)
                changed = changed or out_shapes[b] is not None
        for n in nodes:
            if out_shapes[n] is None and in_shapes[n] is not None and kinds[n] not in ("Input",):
                out_shapes[n] = infer(n)
                changed = changed or out_shapes[n] is not None
        if not changed:
            break
    for a, b in edges:
        if out_shapes[a] is None or in_shapes[b] is None:
            raise ValueError(f"NIR edge {a!r} -> {b!r}: the shapes cannot be determined (is {a!r} reachable "
                             "from the Input node?)")
        if tuple(out_shapes[a]) != tuple(in_shapes[b]):
            raise ValueError(f"NIR graph fails type checking: edge {a!r} -> {b!r} carries shape "
                             f"{tuple(out_shapes[a])} but {b!r} ({kinds[b]}) expects {tuple(in_shapes[b])}")
    for n in outputs:
        stated, arrived = stated_outputs[n], out_shapes[n]
        if arrived is None:
            raise ValueError(f"the NIR Output node {n!r} is not reachable from the Input node")
        if stated and tuple(stated) != tuple(arrived) and _batch_free(stated, [len(arrived)]) != tuple(arrived):
            raise ValueError(f"NIR graph fails type checking: the Output node {n!r} states shape {tuple(stated)}, "
                             f"but receives {tuple(arrived)}")
    for n in nodes:
        if kinds[n] in ("Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Flatten"):
            expected = infer(n)
            if out_shapes[n] is not None and tuple(out_shapes[n]) != tuple(expected):
                raise ValueError(f"NIR graph fails type checking: node {n!r} ({kinds[n]}) maps {in_shapes[n]} to "
                                 f"{expected}, but its output type says {out_shapes[n]}")
            out_shapes[n] = expected
        _check_params(n, kinds[n], arrays[n], in_shapes[n], out_shapes[n], specs[n].get("groups", 1))
    for n in nodes:
        spec = specs[n]
        for key in [k for k in spec if k.startswith("_")]:
            del spec[key]
        spec["input_shape"], spec["output_shape"] = list(in_shapes[n]), list(out_shapes[n])
        spec["params"] = {k: list(np.shape(v)) for k, v in arrays[n].items()}
    structure = {"nodes": specs, "edges": [list(e) for e in edges], "inputs": inputs, "outputs": outputs}
    return structure, arrays, metadata


def _check_params(name, kind, params, in_shape, out_shape, spec_groups=1):
    if kind in ("Affine", "Linear"):
        w = params["weight"]
        if (w.shape[1],) != tuple(in_shape):
            raise ValueError(f"NIR graph fails type checking: {kind} node {name!r} has weight {w.shape} "
                             f"(out, in) but receives shape {tuple(in_shape)}")
        if kind == "Affine" and np.shape(params["bias"]) not in ((w.shape[0],), ()):
            raise ValueError(f"NIR node {name!r}: bias shape {np.shape(params['bias'])} does not match "
                             f"weight {w.shape}")
        if kind == "Affine" and np.ndim(params["bias"]) == 0:
            params["bias"] = np.full(w.shape[0], float(params["bias"]))
        return
    if kind in ("Conv1d", "Conv2d"):
        w = params["weight"]
        if w.shape[1] * spec_groups != in_shape[0] or w.shape[0] % spec_groups:
            raise ValueError(f"NIR graph fails type checking: {kind} node {name!r} has weight {w.shape} "
                             f"(out, in/groups, ...) with groups={spec_groups} but receives {in_shape[0]} channels")
        return
    for field, value in params.items():
        shape = np.shape(value)
        if shape != () and tuple(shape) != tuple(out_shape):
            if np.size(value) == 1:
                params[field] = np.full(out_shape, float(np.ravel(value)[0]))
                continue
            raise ValueError(f"NIR graph fails type checking: node {name!r} ({kind}) has {field} of shape "
                             f"{tuple(shape)}, but its input/output shape is {tuple(out_shape)}")


def _as_list(value):
    if isinstance(value, (list, tuple)):
        return [_decode(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_decode(v) for v in value.ravel().tolist()]
    return [_decode(value)]


def _decode(value):
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, dict):
        return {str(k): _decode(v) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO":
        return [_decode(v) for v in value.ravel().tolist()]
    return value


# -- the model ------------------------------------------------------------------------------
def from_nir(graph_or_path, dt=1e-4, reset=None, strict_threshold=None, surrogate="atan", time_steps=None,
             record=(), name=None):
    """Import a NIR graph (a ``nir.NIRGraph`` or a ``.nir`` file) as a Keras model.

    Args:
        graph_or_path: ``nir.NIRGraph``, or a path to a file written by ``nir.write``.
        dt: Euler step in the graph's time unit (1e-4 s for graphs from snnTorch, Norse and
            SpikingJelly; 1.0 for Sinabs, whose ``IF(r=1)`` adds one unit of input per step).
        reset: ``None``: each neuron's own reset (NIR >= 1.0.5's ``v_reset`` field, else the
            subtract list in ``graph.metadata["snnzoo"]``, else to zero); ``"zero"`` or
            ``"subtract"`` forces one reset for every neuron (NIR 1.0.4 cannot say which reset
            a graph means: the Braille "subtract" graph needs ``reset="subtract"``).
        strict_threshold: spike at ``v > v_threshold`` (True: NIR's definition, snnTorch,
            Norse) or ``v >= v_threshold`` (False: snnzoo, Sinabs). None: False for graphs
            written by snnzoo (``graph.metadata["snnzoo"]``), True otherwise.
        surrogate: surrogate gradient of the spikes (:mod:`snnzoo.surrogates`), for fine-tuning.
        time_steps: fix the model's time axis (None: any length).
        record: names of neuron nodes (flattened names, ``"subgraph.node"``) whose membrane
            ``v`` after each step's reset is returned too, after the graph's outputs.
        name: the model's name (default ``"nir_graph"``).

    Returns:
        A ``keras.Model`` mapping ``[batch, time, *input]`` to ``[batch, time, *output]``,
        channels last (NIR's ``(C, H, W)`` input is ``(H, W, C)``); a list of outputs if the
        graph has several Output nodes or ``record`` is given. Its one layer is a
        :class:`~snnzoo.nir.graph_layer.NIRGraphLayer`.
    """
    import keras

    from snnzoo.nir.graph_layer import NIRGraphLayer

    nir = _nir()
    if isinstance(graph_or_path, (str, os.PathLike)):
        graph = read_graph(graph_or_path)
    elif isinstance(graph_or_path, nir.NIRGraph):
        graph = graph_or_path
    else:
        raise ValueError(f"from_nir expects a nir.NIRGraph or a path to a .nir file, got "
                         f"{type(graph_or_path).__name__}")
    if not float(dt) > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    structure, arrays, metadata = graph_spec(graph, dt=dt, reset=reset)
    if strict_threshold is None:
        strict_threshold = "snnzoo" not in metadata
    layer = NIRGraphLayer(structure, dt=dt, surrogate=surrogate, strict_threshold=strict_threshold,
                          record=record, name="nir_graph")
    in_shape = node_lib.channels_last_shape(structure["nodes"][structure["inputs"][0]]["output_shape"])
    inputs = keras.Input((time_steps,) + in_shape, name="nir_input")
    outputs = layer(inputs)
    layer.set_nir_params(arrays)
    return keras.Model(inputs, outputs, name=name or "nir_graph")
