"""A differentiable loop over the time axis that works under ``jit_compile`` on every backend."""
import sys

from keras import ops

from snnzoo.backend.dispatch import fast_path, run_fast_path
from snnzoo.backend.time_slices import take_time_slices

__all__ = ["time_loop", "UNROLL_MAX"]

#: Sequences up to this length are unrolled (fastest for small T on every backend). Read from
#: :mod:`snnzoo.backend` at call time: ``snnzoo.backend.UNROLL_MAX = 16`` applies to later loops.
UNROLL_MAX = 8


def _settings():
    """The package :mod:`snnzoo.backend`, where ``UNROLL_MAX`` and ``_compiled_loop`` are set."""
    return sys.modules[__name__.rpartition(".")[0]]


def time_loop(step, state, inputs, unroll_max=None, first_step=None, length=None):
    """Run ``step(state, x_t) -> (state, y_t)`` over ``inputs`` [B, T, ...] along axis 1.

    ``inputs=None`` with ``length=T``: T steps without a per-step input (``x_t`` is None; the
    step reads what it needs itself, e.g. a constant input current). A step that returns
    ``y_t = None`` has no outputs: ``outputs`` is then None.

    ``state`` is a tuple of tensors, or a zero-argument callable returning it (evaluated only if
    needed). ``first_step(x_0) -> (state, y_0)``, if given, must equal ``step(state, x_0)``; the
    unrolled loop uses it for t = 0 instead (e.g. charging from a constant resting state without
    materialising it), the compiled loops use ``step`` throughout. Returns ``(final_state,
    outputs)`` with outputs stacked to [B, T, ...] — a tuple of such tensors if ``step`` returns a
    tuple ``y_t``.

    Sequences longer than ``unroll_max`` (default :data:`UNROLL_MAX`) take the backend's compiled
    loop where it has one: ``scan`` on JAX, ``while_loop(maximum_iterations=T)`` on TensorFlow
    (``ops.scan`` has no XLA gradient on TF; ``while_loop`` has no reverse-mode gradient on JAX).
    Otherwise (and always on torch) the loop is unrolled in Python; it iterates over the time
    slices offered for ``inputs`` (:func:`~snnzoo.backend.offer_time_slices`) if any.
    """
    settings = _settings()
    unroll_max = settings.UNROLL_MAX if unroll_max is None else unroll_max
    if inputs is None:
        if length is None:
            raise ValueError("time_loop needs inputs [B, T, ...] or length=T")
        steps = int(length)
    else:
        steps = inputs.shape[1]
    if steps is None:
        raise ValueError("the time axis (axis 1) must have a static length")
    if steps > unroll_max:
        compiled = settings._compiled_loop(step, state, inputs, steps)
        if compiled is not None:
            return compiled
    outs = []
    if inputs is None:
        xs = [None] * steps
    else:
        xs = take_time_slices(inputs, steps) or ops.unstack(inputs, num=steps, axis=1)
    for t, x_t in enumerate(xs):
        if t == 0 and first_step is not None:
            state, y = first_step(x_t)
        else:
            state, y = step(state() if callable(state) else state, x_t)
        outs.append(y)
    if outs[0] is None:
        return state, None
    if isinstance(outs[0], tuple):
        return state, tuple(_stack_time(list(o)) for o in zip(*outs))
    return state, _stack_time(outs)


def _compiled_loop(step, state, inputs, steps):
    """The backend's compiled loop (fast path ``compiled_time_loop``), or None where it has none
    (torch: the unrolled loop is the fast one)."""
    loop = fast_path("compiled_time_loop")
    if loop is None:
        return None
    return loop(step, state() if callable(state) else state, inputs, steps)


def _stack_time(tensors):
    """``ops.stack(tensors, axis=1)``, or the backend's ``stack_time`` fast path."""
    out = run_fast_path("stack_time", tensors)
    return ops.stack(tensors, axis=1) if out is None else out
