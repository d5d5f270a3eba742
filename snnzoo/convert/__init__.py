"""Converters from the authors' PyTorch checkpoints to snnzoo Keras models.

A converter is a module ``snnzoo.convert.<name>`` with ``convert(state_dict, model) -> None``,
registered by name in :mod:`snnzoo.convert.registry` (``ide_fsnn``, ``sew7bnet``,
``sew_resnet``, ``tet_resnet19``); zoo manifests name theirs in ``architecture.converter``. It
assigns every weight of ``model`` and raises
:class:`~snnzoo.convert.torch_checkpoint.ConversionError` on missing / unexpected keys.
:func:`snnzoo.convert.torch_checkpoint.read_state_dict` loads a ``.pth``/``.pt``/``.tar`` file
safely; :class:`~snnzoo.convert.torch_checkpoint.StateDict` and the ``assign*`` helpers there
are the shared reading/assignment infrastructure of every converter.

The sub-modules are imported on use (they are not imported by ``import snnzoo``).
"""

__all__ = ["ide_fsnn", "registry", "sew7bnet", "sew_resnet", "tet_resnet19", "torch_checkpoint"]
