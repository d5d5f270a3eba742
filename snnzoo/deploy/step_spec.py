"""The interface of an exported streaming step (``saved_model_step``, ``onnx_step``).

A step export is the pure function ``outputs, state' = Streamer(model).step(x_t, state)``
(:mod:`snnzoo.streaming`) with named tensors: input ``x_t`` (one time step; for direct-encoding
image models the image itself), inputs ``state_0`` … ``state_{n-1}``, outputs ``outputs`` (the
model's readout over the steps fed so far) and ``state_out_0`` … ``state_out_{n-1}`` (feed
them back as ``state_i``). After ``time_steps`` steps ``outputs`` equals the whole-sequence
model's output. A dimension that follows the batch size is dynamic (``None``): found by asking
the streamer for the state of batch sizes 1 and 2.
"""
__all__ = ["initial_state_numpy", "make_streamer", "step_spec"]


def make_streamer(model):
    """``Streamer(model)``, or one ValueError naming why the model cannot stream."""
    try:
        from snnzoo.streaming import Streamer
    except ImportError as err:  # pragma: no cover - streaming is part of snnzoo
        raise ValueError(f"step exports need snnzoo.streaming.Streamer: {err}") from err
    try:
        return Streamer(model)
    except (ValueError, TypeError, NotImplementedError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"model '{model.name}' cannot be exported step by step: {first}; export "
                         "the whole sequence instead (format 'onnx' or 'saved_model')") from err


def initial_state_numpy(streamer, batch_size):
    """``streamer.initial_state(batch_size)`` as a list of numpy arrays."""
    import keras
    import numpy as np

    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in streamer.initial_state(batch_size)]


def _dynamic(shape1, shape2):
    if len(shape1) != len(shape2):
        raise ValueError(f"the streamer's state changes rank with the batch size: {shape1} vs {shape2}")
    return [None if a != b else int(a) for a, b in zip(shape1, shape2)]


def step_spec(streamer, model):
    """Names, shapes (``None``: batch) and dtypes of the step's tensors, and its initial state:
    ``"zeros"`` or, per state tensor, the values of one sample (broadcast over the batch)."""
    import keras
    import numpy as np

    from snnzoo.deploy.metadata import tensor_spec

    spec1, spec2 = streamer.state_spec(1), streamer.state_spec(2)
    if len(spec1) != len(spec2):
        raise ValueError("the streamer's number of state tensors changes with the batch size")
    state = [tensor_spec(f"state_{i}", _dynamic(tuple(a[0]), tuple(b[0])),
                         keras.backend.standardize_dtype(a[1]))
             for i, (a, b) in enumerate(zip(spec1, spec2))]
    state_out = [dict(s, name=f"state_out_{i}") for i, s in enumerate(state)]
    inputs = getattr(model, "inputs", None) or []
    x_dtype = keras.backend.standardize_dtype(inputs[0].dtype) if inputs else "float32"
    x_t = tensor_spec("x_t", (None,) + tuple(streamer.step_input_shape), x_dtype)
    initial = initial_state_numpy(streamer, 1)
    if all(not np.any(v) for v in initial):
        init = "zeros"
    else:
        init = [np.asarray(v)[0].tolist() if s["shape"] and s["shape"][0] is None else np.asarray(v).tolist()
                for v, s in zip(initial, state)]
    # output shape: one step of batch 2 on zeros (shapes only)
    x2 = np.zeros([2] + [int(d) for d in x_t["shape"][1:]], x_dtype)
    out, _ = streamer.step(x2, streamer.initial_state(2))
    out_shape = list(keras.ops.shape(out))
    outputs = tensor_spec("outputs", [None] + [int(d) for d in out_shape[1:]],
                          keras.backend.standardize_dtype(out.dtype))
    return {"x_t": x_t, "state": state, "state_out": state_out, "outputs": outputs,
            "initial_state": init,
            "time_steps": None if streamer.time_steps is None else int(streamer.time_steps),
            "usage": "feed x_t and state_i (initial_state at t = 0; state_out_i afterwards); after "
                     "time_steps steps outputs equals the whole-sequence model's output"}
