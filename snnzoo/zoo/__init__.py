"""The snnzoo model zoo: registry (``zoo_weights/*.json``), ``load``, weights cache.

>>> import snnzoo
>>> snnzoo.list_models()                       # doctest: +SKIP
>>> model = snnzoo.load("sew7bnet_csbp_dvsgesture")   # doctest: +SKIP
"""
from snnzoo.zoo.loader import list_models, load, model_info
from snnzoo.zoo.registry import ModelUnavailableError
from snnzoo.zoo.weights import WeightsIntegrityError, WeightsUnavailableError

__all__ = ["list_models", "model_info", "load", "ModelUnavailableError", "WeightsIntegrityError",
           "WeightsUnavailableError"]
