"""``format="onnx"`` and ``"onnx_step"``: ONNX graphs that run in onnxruntime.

``onnx``: the whole model, time loop inside (the T steps unrolled into the graph): input
``image`` [batch, H, W, C] (float32 in [0, 1]; or the model's own input), output ``logits``
[batch, classes]. Written by Keras' ``model.export(format="onnx")`` on the backend that can
(:mod:`snnzoo.backend.export_support`), dynamic batch size.

``onnx_step``: one streaming step (:class:`snnzoo.streaming.Streamer`): inputs ``x_t`` and
``state_0`` … ``state_{n-1}``, outputs ``outputs`` (the readout over the steps seen so far) and
``state_out_0`` … (the next state); the runtime feeds ``state_out_i`` back as ``state_i``.
The initial state is recorded in the metadata (``step``).

The metadata (:mod:`snnzoo.deploy.metadata`) goes into ``metadata_props``.
"""
import json
import warnings

__all__ = ["add_metadata", "write_onnx", "write_onnx_step"]


def _require_onnx():
    try:
        import onnx
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('ONNX export needs the onnx package: pip install "snnzoo[onnx]"') from err
    return onnx


def add_metadata(path, metadata, output_names=None):
    """Write ``metadata`` into the ONNX file's ``metadata_props`` and rename its graph outputs
    to ``output_names`` (the exporters name them after internal nodes)."""
    onnx = _require_onnx()

    model = onnx.load(str(path))
    if output_names is not None:
        outputs = list(model.graph.output)
        if len(outputs) != len(output_names):
            raise RuntimeError(f"the ONNX graph has {len(outputs)} outputs, expected {len(output_names)}")
        renames = {o.name: new for o, new in zip(outputs, output_names) if o.name != new}
        for node in model.graph.node:
            for i, name in enumerate(node.output):
                if name in renames:
                    node.output[i] = renames[name]
            for i, name in enumerate(node.input):
                if name in renames:
                    node.input[i] = renames[name]
        for out in model.graph.output:
            out.name = renames.get(out.name, out.name)
            dims = out.type.tensor_type.shape.dim
            if dims and dims[0].dim_param:  # the exporters name the batch after a node
                dims[0].dim_param = "batch"
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {str(k): str(v) for k, v in metadata.items()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def write_onnx(model, path, metadata):
    """Whole-sequence ONNX of ``model`` at ``path`` (current backend must export ONNX)."""
    import keras

    from snnzoo.backend.export_support import onnx_export_context

    _require_onnx()  # before the trace, not after it
    # an explicit signature: Keras infers one only for a model that has been called
    signature = [keras.InputSpec(shape=tuple(x.shape), dtype=x.dtype, name=x.name) for x in model.inputs]
    with warnings.catch_warnings(), onnx_export_context():
        warnings.simplefilter("ignore")  # the tracers' warnings about constants folded in the trace
        model.export(str(path), format="onnx", verbose=False, input_signature=signature)
    names = ["logits"] if len(model.outputs) == 1 else None
    if names:
        outputs = json.loads(metadata["outputs"])
        metadata = dict(metadata, outputs=json.dumps([dict(outputs[0], name="logits")]))
    return add_metadata(path, metadata, output_names=names)


def write_onnx_step(model, streamer, path, metadata, step_spec):
    """ONNX of ``streamer.step`` at ``path`` (torch backend: traced by torch.onnx)."""
    import numpy as np

    from snnzoo.backend.export_torch import onnx_export_function
    from snnzoo.deploy.step_spec import initial_state_numpy

    _require_onnx()
    names = [s["name"] for s in step_spec["state"]]
    out_names = [s["name"] for s in step_spec["state_out"]]
    x_spec = step_spec["x_t"]
    sample = [np.zeros([1 if d is None else d for d in x_spec["shape"]], x_spec["dtype"])]
    sample += [np.asarray(v) for v in initial_state_numpy(streamer, 1)]
    dynamic = {x_spec["name"]: {i: "batch" for i, d in enumerate(x_spec["shape"]) if d is None}}
    for spec in step_spec["state"] + step_spec["state_out"]:
        axes = {i: "batch" for i, d in enumerate(spec["shape"]) if d is None}
        if axes:
            dynamic[spec["name"]] = axes
    dynamic["outputs"] = {i: "batch" for i, d in enumerate(step_spec["outputs"]["shape"]) if d is None}

    def step(x_t, *state):
        outputs, new_state = streamer.step(x_t, tuple(state))
        return (outputs,) + tuple(new_state)

    onnx_export_function(step, model, sample, path, [x_spec["name"]] + names, ["outputs"] + out_names,
                         dynamic)
    return add_metadata(path, metadata)

