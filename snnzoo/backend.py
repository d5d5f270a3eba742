"""The only backend-aware code in snnzoo.

Two portable primitives that Keras 3 does not provide uniformly (measured facts are in the
project's KERAS_NOTES):

* :func:`custom_gradient` — ``keras.ops.custom_gradient`` calls the gradient function with a
  different signature on each backend (TF/JAX: ``grad(upstream)``; torch:
  ``grad(*saved_inputs, upstream=...)``). The wrapper hides that. Constraints that hold on every
  backend: tensors only as positional arguments (constants go in the closure), and layer weights
  must be passed in as ``variable.value`` (never captured), otherwise torch silently drops
  their gradient.
* :func:`time_loop` — a differentiable loop over the time axis that works under ``jit_compile``
  on every backend: an unrolled Python loop for short sequences (and always on torch), ``scan``
  on JAX and ``while_loop(maximum_iterations=T)`` on TensorFlow for long ones (``ops.scan`` has
  no XLA gradient on TF; ``while_loop`` has no reverse-mode gradient on JAX).
"""
import keras
from keras import ops

#: Sequences up to this length are unrolled (fastest for small T on every backend).
UNROLL_MAX = 8


def backend_name() -> str:
    return keras.backend.backend()


def custom_gradient(fwd):
    """Wrap ``fwd(*tensors) -> (out, vjp)`` into a function with a custom gradient.

    ``vjp(upstream)`` returns the gradient for the single input, or a tuple with one gradient per
    input. Single output only (a torch constraint).
    """

    @ops.custom_gradient
    def wrapped(*args):
        out, vjp = fwd(*args)

        def grad(*g, upstream=None):
            if upstream is None:  # TensorFlow / JAX
                upstream = g[0] if len(g) == 1 else g
            return vjp(upstream)  # torch: g are the saved inputs, ignored

        return out, grad

    return wrapped


def time_loop(step, state, inputs, unroll_max=None):
    """Run ``step(state, x_t) -> (state, y_t)`` over ``inputs`` [B, T, ...] along axis 1.

    ``state`` is a tuple of tensors. Returns ``(final_state, outputs)`` with outputs stacked to
    [B, T, ...] — a tuple of such tensors if ``step`` returns a tuple ``y_t``.
    """
    unroll_max = UNROLL_MAX if unroll_max is None else unroll_max
    steps = inputs.shape[1]
    if steps is None:
        raise ValueError("the time axis (axis 1) must have a static length")
    backend = backend_name()
    if steps <= unroll_max or backend not in ("jax", "tensorflow"):
        outs = []
        for x_t in ops.unstack(inputs, num=steps, axis=1):
            state, y = step(state, x_t)
            outs.append(y)
        if isinstance(outs[0], tuple):
            return state, tuple(ops.stack(list(o), axis=1) for o in zip(*outs))
        return state, ops.stack(outs, axis=1)

    xs = ops.moveaxis(inputs, 1, 0)
    if backend == "jax":
        state, ys = ops.scan(lambda c, x: step(c, x), state, xs)
        if isinstance(ys, (tuple, list)):
            return state, tuple(ops.moveaxis(y, 0, 1) for y in ys)
        return state, ops.moveaxis(ys, 0, 1)

    import tensorflow as tf  # TF: XLA-differentiable bounded while loop

    probe = step(state, xs[0])[1]
    multi = isinstance(probe, tuple)
    probes = probe if multi else (probe,)
    arrays = tuple(tf.TensorArray(p.dtype, size=steps, element_shape=p.shape) for p in probes)

    def body(t, carry, bufs):
        carry, y = step(carry, xs[t])
        ys = y if multi else (y,)
        return t + 1, carry, tuple(b.write(t, v) for b, v in zip(bufs, ys))

    _, state, arrays = tf.while_loop(
        lambda t, c, b: t < steps, body, (tf.constant(0), state, arrays), maximum_iterations=steps
    )
    outs = tuple(tf.transpose(a.stack(), [1, 0] + list(range(2, len(a.element_shape) + 1))) for a in arrays)
    return state, outs if multi else outs[0]
