"""Which Keras backend can write which deployment format itself (for :mod:`snnzoo.deploy`).

Measured with Keras 3.15 (docs/export.md):

* SavedModel: TensorFlow natively; JAX through ``jax2tf`` (needs TensorFlow installed); torch
  only through ``torch_xla`` (StableHLO), which is not a CPU dependency snnzoo can assume and
  whose ``torch.export`` step refuses dynamic batch sizes of the zoo models, so torch models
  are rebuilt from their ``.keras`` file under TensorFlow (or JAX) instead.
* ONNX: torch natively (``torch.onnx``); TensorFlow needs ``tf2onnx``, JAX needs ``jax2onnx``;
  without them the model is rebuilt from its ``.keras`` file under torch.
"""
import importlib.util

import keras

__all__ = ["current_backend", "export_route", "onnx_export_context", "installed", "native_onnx", "native_onnx_step",
           "native_saved_model"]


def current_backend():
    """Keras' backend name now."""
    return keras.backend.backend()


def installed(module):
    """Whether ``module`` (a top-level package name) can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def native_saved_model():
    """``None`` if the current backend writes a SavedModel itself, else the reason it cannot."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return None
    if backend == "jax":
        return None if installed("tensorflow") else "the JAX backend needs TensorFlow (jax2tf) to write a SavedModel"
    if backend == "torch":
        return ("Keras writes a SavedModel from torch only through torch_xla's StableHLO bridge, whose "
                "torch.export step refuses a dynamic batch size")
    return f"Keras cannot write a SavedModel from the {backend} backend"


def native_onnx():
    """``None`` if the current backend writes ONNX itself, else the reason it cannot."""
    backend = keras.backend.backend()
    if backend == "torch":
        return None
    if backend == "tensorflow":
        return None if installed("tf2onnx") else "Keras exports ONNX from TensorFlow through tf2onnx, which is not installed"
    if backend == "jax":
        return None if installed("jax2onnx") else "Keras exports ONNX from JAX through jax2onnx, which is not installed"
    return f"Keras cannot export ONNX from the {backend} backend"


def native_onnx_step():
    """``None`` if the current backend writes the ONNX streaming step itself (torch: traced by
    ``torch.onnx``), else the reason it cannot."""
    backend = keras.backend.backend()
    if backend == "torch":
        return None
    return f"snnzoo traces the ONNX streaming step with torch.onnx, not under {backend}"


def export_route(format):
    """How ``format`` gets written: ``None`` (by the current backend) or ``(backend, reason)``:
    by a child process under ``backend`` (:mod:`snnzoo.deploy.worker`). Raises one ValueError
    naming what to install when no installed backend can write it."""
    if format in ("keras", "nir"):
        return None
    backend = keras.backend.backend()
    if format.startswith("saved_model"):
        reason = native_saved_model()
        if reason is None:
            return None
        if installed("tensorflow"):
            return "tensorflow", reason
        raise ValueError(f"cannot write a SavedModel: {reason}; install TensorFlow "
                         "(pip install tensorflow) so snnzoo can rebuild the model under it")
    reason = native_onnx() if format == "onnx" else native_onnx_step()
    if reason is None:
        return None
    if backend != "torch" and installed("torch"):
        return "torch", reason
    fix = {"tensorflow": ", or pip install tf2onnx", "jax": ", or pip install jax2onnx"}.get(backend, "")
    raise ValueError(f"cannot export {format}: {reason}; install torch (pip install torch) so snnzoo "
                     "can rebuild the model under it" + (fix if format == "onnx" else ""))


def onnx_export_context():
    """A context for Keras' ``model.export(format="onnx")`` on the current backend: on torch,
    the ONNX symbolics of the aten aliases inside the neurons' custom-gradient functions
    (:func:`snnzoo.backend.export_torch.onnx_alias_symbolics`); elsewhere nothing."""
    import contextlib

    if keras.backend.backend() == "torch":
        from snnzoo.backend.export_torch import onnx_alias_symbolics

        return onnx_alias_symbolics()
    return contextlib.nullcontext()
