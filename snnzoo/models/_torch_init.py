"""PyTorch's default parameter initialisation as Keras initialisers (so models built here start
from the same distributions as the original PyTorch code).

* ``nn.Conv2d`` / ``nn.Linear`` weight: kaiming_uniform(a=√5) = U(−1/√fan_in, 1/√fan_in)
  → ``VarianceScaling(scale=1/3, mode="fan_in", distribution="uniform")``.
* their bias: U(−1/√fan_in, 1/√fan_in).
* ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``: N(0, 2/fan_out).
"""
import math

import keras

__all__ = ["conv_kwargs", "dense_kwargs", "kaiming_normal_fan_out", "torch_bias", "torch_weight"]


def torch_weight():
    """``nn.Conv2d`` / ``nn.Linear`` default weight init, kaiming_uniform(a=√5):
    U(−1/√fan_in, 1/√fan_in)."""
    return keras.initializers.VarianceScaling(scale=1.0 / 3.0, mode="fan_in", distribution="uniform")


def torch_bias(fan_in):
    """``nn.Conv2d`` / ``nn.Linear`` default bias init: U(−1/√fan_in, 1/√fan_in)."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def kaiming_normal_fan_out():
    """PyTorch ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``: N(0, 2 / fan_out)."""
    return keras.initializers.VarianceScaling(scale=2.0, mode="fan_out", distribution="untruncated_normal")


def conv_kwargs(in_channels, kernel_size, use_bias, weight="torch"):
    """Initialiser kwargs for a Conv2D that mimics ``nn.Conv2d`` (``weight``: "torch" default or
    "kaiming_fan_out")."""
    kw = {"kernel_initializer": torch_weight() if weight == "torch" else kaiming_normal_fan_out(),
          "use_bias": use_bias}
    if use_bias:
        kw["bias_initializer"] = torch_bias(in_channels * kernel_size * kernel_size)
    return kw


def dense_kwargs(in_features):
    """Initialiser kwargs for a Dense that mimics ``nn.Linear``."""
    return {"kernel_initializer": torch_weight(), "bias_initializer": torch_bias(in_features)}
