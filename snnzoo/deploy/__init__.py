"""Deployable exports of snnzoo models: ``snnzoo.export(model, path, format=...)`` with
``format`` one of ``"keras"``, ``"saved_model"``, ``"onnx"``, ``"nir"`` (and the streaming-step
variants ``"saved_model_step"``, ``"onnx_step"``). Also the ``snnzoo export`` command.
"""

__all__ = ["export"]


def export(model, path, format="keras", **kwargs):
    """Write ``model`` to ``path`` in ``format`` (see :mod:`snnzoo.deploy.exporter`)."""
    from snnzoo.deploy.exporter import export as _export

    return _export(model, path, format=format, **kwargs)
