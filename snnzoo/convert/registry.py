"""The converter registry: one name per PyTorch checkpoint layout.

Every converter is a module ``snnzoo.convert.<name>`` exposing

    convert(state_dict, model) -> None

which reads ``state_dict`` (a flat ``{key: array}`` dict or a loaded checkpoint wrapping one)
through :class:`snnzoo.convert.torch_checkpoint.StateDict`, assigns every weight of the Keras
``model`` in place and raises :class:`~snnzoo.convert.torch_checkpoint.ConversionError` (a
``ValueError``) on missing / unexpected keys or mismatched shapes.

A zoo manifest names its architecture's converter in ``architecture.converter``
(``zoo_weights/README.md``): one of :data:`CONVERTERS`, or a ``"module:function"`` string for a
converter that lives outside snnzoo. ``snnzoo.load`` (a ``.pth`` weights file, external
weights) and ``snnzoo convert`` find it through :func:`converter_spec`. The table holds strings,
so nothing is imported before a checkpoint is converted.
"""

__all__ = ["CONVERTERS", "converter_spec"]

#: registered name -> ``"module:function"`` of its converter
CONVERTERS = {
    "ide_fsnn": "snnzoo.convert.ide_fsnn:convert",          # IDE-FSNN (snnzoo.models.fsnn)
    "sew7bnet": "snnzoo.convert.sew7bnet:convert",          # SEW / CSBP 7B-Net, Wide-7B-Net
    "sew_resnet": "snnzoo.convert.sew_resnet:convert",      # SEW ResNet-18/34/50 (SEW, SpikingJelly)
    "tet_resnet19": "snnzoo.convert.tet_resnet19:convert",  # TET / CSBP ResNet-19
}


def converter_spec(name):
    """``"module:function"`` of the converter ``name``: a key of :data:`CONVERTERS`, or a
    ``"module:function"`` string (returned as it is). Anything else raises ``ValueError``."""
    name = str(name)
    if name in CONVERTERS:
        return CONVERTERS[name]
    if ":" in name:
        return name
    raise ValueError(f"unknown converter {name!r}: use one of {sorted(CONVERTERS)} or a "
                     "'module:function' string")
