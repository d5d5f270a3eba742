"""A custom gradient that takes the same gradient function on every backend."""
from keras import ops

__all__ = ["custom_gradient"]


def custom_gradient(fwd):
    """Wrap ``fwd(*tensors) -> (out, vjp)`` into a function with a custom gradient.

    ``keras.ops.custom_gradient`` calls the gradient function with a different signature on each
    backend (TF/JAX: ``grad(upstream)``; torch: ``grad(*saved_inputs, upstream=...)``); this
    wrapper hides that. ``vjp(upstream)`` returns the gradient for the single input, or a tuple
    with one gradient per input. Single output only (a torch constraint). Constraints that hold on
    every backend: tensors only as positional arguments (constants go in the closure), and layer
    weights must be passed in as ``variable.value`` (never captured), otherwise torch silently
    drops their gradient.
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
