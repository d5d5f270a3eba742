"""ONNX export of a Python function of tensors on the torch backend (the streaming step of
:mod:`snnzoo.deploy.onnx_file`): ``torch.onnx.export`` of a module wrapping the function,
TorchScript tracer (``dynamo=False``, which takes dynamic axes), weights as initializers."""
import contextlib
import warnings

import torch

__all__ = ["onnx_alias_symbolics", "onnx_export_function"]

#: aten aliases keras.ops emits (torch.greater_equal, ...) -> the op whose ONNX symbolic exists.
#: The TorchScript exporter normalises aliases in the traced graph but not inside the recorded
#: sub-graph of an autograd Function (keras.ops.custom_gradient: every spiking neuron's
#: surrogate), so inlining that sub-graph fails with "Exporting the operator
#: 'aten::greater_equal' to ONNX ... is not supported" and the graph keeps a PythonOp.
_ALIASES = {"greater_equal": "ge", "greater": "gt", "less_equal": "le", "less": "lt",
            "not_equal": "ne", "multiply": "mul", "subtract": "sub", "divide": "div"}
_ALIAS_OPSET = 9


def _ravel(g, x):
    # aten::ravel (keras.ops.ravel; TEBN's per-step scale) has no ONNX symbolic: Reshape(x, [-1])
    return g.op("Reshape", x, g.op("Constant", value_t=torch.tensor([-1], dtype=torch.int64)))


@contextlib.contextmanager
def onnx_alias_symbolics():
    """Register the ONNX symbolics of :data:`_ALIASES` (and ``aten::ravel``) for the duration of
    one export."""
    from torch.onnx import symbolic_opset9

    symbolics = {alias: getattr(symbolic_opset9, op) for alias, op in _ALIASES.items()}
    symbolics["ravel"] = _ravel
    registered = []
    try:
        for alias, symbolic in symbolics.items():
            torch.onnx.register_custom_op_symbolic(f"aten::{alias}", symbolic, _ALIAS_OPSET)
            registered.append(alias)
        yield
    finally:
        for alias in registered:
            torch.onnx.unregister_custom_op_symbolic(f"aten::{alias}", _ALIAS_OPSET)


class _FunctionModule(torch.nn.Module):
    def __init__(self, fn, owner):
        super().__init__()
        self._fn = fn
        # the Keras model (a torch Module on this backend) as a sub-module: its variables are the
        # traced graph's parameters (ONNX initializers), not tensors the tracer refuses to inline
        self.owner = owner

    def forward(self, *args):
        return tuple(self._fn(*args))


def onnx_export_function(fn, owner, sample_args, path, input_names, output_names, dynamic_axes,
                         opset_version=None):
    """Trace ``fn(*sample_args) -> tuple of tensors`` into the ONNX file ``path``; ``owner``: the
    Keras model whose variables ``fn`` reads."""
    module = _FunctionModule(fn, owner).eval()
    sample_args = tuple(torch.as_tensor(a) for a in sample_args)
    with warnings.catch_warnings(), torch.no_grad(), onnx_alias_symbolics():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        torch.onnx.export(module, sample_args, str(path), input_names=list(input_names),
                          output_names=list(output_names), dynamic_axes=dynamic_axes,
                          opset_version=opset_version, do_constant_folding=True,
                          export_params=True, dynamo=False)
    return path
