"""Converters from the authors' PyTorch checkpoints to snnzoo Keras models.

A converter is ``convert(state_dict: dict[str, numpy.ndarray], model: keras.Model) -> None``; it
assigns every weight of ``model`` and raises a clear error on missing / unexpected keys.
:func:`snnzoo.convert.torch_checkpoint.read_state_dict` loads a ``.pth``/``.pt``/``.tar`` file
safely. Family converters live beside this file (``sew``: SEW ResNets and 7B-Nets).
"""
