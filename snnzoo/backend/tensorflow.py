"""TensorFlow fast paths (see :mod:`snnzoo.backend.dispatch`)."""
import tensorflow as tf
from keras import ops

__all__ = ["compiled_time_loop"]


def compiled_time_loop(step, state, inputs, steps):
    """:func:`snnzoo.backend.time_loop` as a bounded ``tf.while_loop(maximum_iterations=T)``
    writing each step's output into a ``TensorArray``: XLA-differentiable (``ops.scan`` has no
    XLA gradient on TF)."""
    xs = None if inputs is None else ops.moveaxis(inputs, 1, 0)
    probe = step(state, None if xs is None else xs[0])[1]
    multi = isinstance(probe, tuple)
    probes = () if probe is None else probe if multi else (probe,)
    arrays = tuple(tf.TensorArray(p.dtype, size=steps, element_shape=p.shape) for p in probes)

    def body(t, carry, bufs):
        carry, y = step(carry, None if xs is None else xs[t])
        ys = () if y is None else y if multi else (y,)
        return t + 1, carry, tuple(b.write(t, v) for b, v in zip(bufs, ys))

    _, state, arrays = tf.while_loop(
        lambda t, c, b: t < steps, body, (tf.constant(0), state, arrays), maximum_iterations=steps
    )
    if probe is None:
        return state, None
    outs = tuple(tf.transpose(a.stack(), [1, 0] + list(range(2, len(a.element_shape) + 1))) for a in arrays)
    return state, outs if multi else outs[0]
