"""Deprecated module: the SEW converters are :mod:`snnzoo.convert.sew_resnet` and
:mod:`snnzoo.convert.sew7bnet` (each exposes ``convert(state_dict, model)``; registry names
``"sew_resnet"`` and ``"sew7bnet"``, see :mod:`snnzoo.convert.registry`)."""
from snnzoo._deprecation import warn_deprecated
from snnzoo.convert import sew7bnet, sew_resnet


def convert_sew_resnet(state_dict, model):
    """Deprecated alias of :func:`snnzoo.convert.sew_resnet.convert`."""
    warn_deprecated("snnzoo.convert.sew.convert_sew_resnet", "snnzoo.convert.sew_resnet.convert")
    return sew_resnet.convert(state_dict, model)


def convert_7bnet(state_dict, model):
    """Deprecated alias of :func:`snnzoo.convert.sew7bnet.convert`."""
    warn_deprecated("snnzoo.convert.sew.convert_7bnet", "snnzoo.convert.sew7bnet.convert")
    return sew7bnet.convert(state_dict, model)
