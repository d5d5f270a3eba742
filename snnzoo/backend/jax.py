"""JAX fast paths (see :mod:`snnzoo.backend.dispatch`)."""
from keras import ops

__all__ = ["compiled_time_loop"]


def compiled_time_loop(step, state, inputs, steps):
    """:func:`snnzoo.backend.time_loop` as one ``scan`` over the time axis (differentiable under
    ``jax.jit``; ``while_loop`` has no reverse-mode gradient on JAX)."""
    xs = None if inputs is None else ops.moveaxis(inputs, 1, 0)
    state, ys = ops.scan(lambda c, x: step(c, x), state, xs, length=steps)
    if ys is None:
        return state, None
    if isinstance(ys, (tuple, list)):
        return state, tuple(ops.moveaxis(y, 0, 1) for y in ys)
    return state, ops.moveaxis(ys, 0, 1)
