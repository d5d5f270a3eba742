"""ONNX export of a Python function of tensors on the torch backend (the streaming step of
:mod:`snnzoo.deploy.onnx_file`): ``torch.onnx.export`` of a module wrapping the function,
TorchScript tracer (``dynamo=False``, which takes dynamic axes), weights as initializers."""
import warnings

import torch

__all__ = ["onnx_export_function"]


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
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        torch.onnx.export(module, sample_args, str(path), input_names=list(input_names),
                          output_names=list(output_names), dynamic_axes=dynamic_axes,
                          opset_version=opset_version, do_constant_folding=True,
                          export_params=True, dynamo=False)
    return path
