"""Building blocks shared by the SEW (spike-element-wise) networks (Fang et al., "Deep Residual
Learning in Spiking Neural Networks", NeurIPS 2021). The SEW connection itself is the layer
:class:`snnzoo.layers.SEWConnect`.

Neurons used by the SEW models (SpikingJelly, as in the authors' code):

* ImageNet SEW ResNets: multi-step IF, V_th = 1, hard reset to 0, detached reset, ATan(α = 2).
* DVS 7B-Nets: multi-step PLIF, init τ = 2, decay_input, V_th = 1, hard reset to 0, detached
  reset, ATan(α = 2).

Convolutions (bias-free, kaiming_normal(fan_out, relu) as in the reference) and BN act on every
frame (time folded into the batch); BN statistics pool over N·T·H·W with PyTorch's momentum /
epsilon so converted checkpoints reproduce.
"""
import keras

from snnzoo._deprecation import moved_names
from snnzoo.layers.neurons import IF, PLIF
from snnzoo.layers.normalization import TDBatchNorm
from snnzoo.layers.time import TimeFold
from snnzoo.models._torch_init import kaiming_normal_fan_out
from snnzoo.surrogates import ATan

__all__ = ["batch_norm", "conv", "if_neuron", "pad", "plif_neuron"]

# moved names, importable from here with a DeprecationWarning
__getattr__ = moved_names(__name__, {
    "SEWConnect": "snnzoo.layers.sew_connect:SEWConnect",
    "check_connect": "snnzoo.layers.sew_connect:check_connect",
    "CONNECT_FUNCTIONS": "snnzoo.layers.sew_connect:CONNECT_FUNCTIONS",
    "kaiming_fan_out": "snnzoo.models._torch_init:kaiming_normal_fan_out",
})


def batch_norm(name):
    """BN over N·T·H·W (per channel) with PyTorch momentum 0.1 (≡ Keras 0.9) and eps 1e-5."""
    return TDBatchNorm(momentum=0.9, epsilon=1e-5, name=name)


def if_neuron(name):
    """SEW ImageNet neuron: IF, V_th = 1, hard reset to 0, detached reset, ATan(α = 2)."""
    return IF(v_threshold=1.0, v_reset=0.0, surrogate=ATan(alpha=2.0), detach_reset=True, name=name)


def plif_neuron(name, init_tau=2.0):
    """SEW DVS neuron: PLIF(init_tau = 2), decay_input, V_th = 1, hard reset to 0, detached reset,
    ATan(α = 2)."""
    return PLIF(init_tau=init_tau, v_threshold=1.0, v_reset=0.0, surrogate=ATan(alpha=2.0),
                detach_reset=True, decay_input=True, name=name)


def conv(filters, kernel_size, name, strides=1, padding="same"):
    """A bias-free per-frame Conv2D on [B, T, H, W, C] (time folded into the batch)."""
    return TimeFold(
        keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False,
                            kernel_initializer=kaiming_normal_fan_out(), name=f"{name}_2d"),
        name=name,
    )


def pad(amount, name):
    """PyTorch-style symmetric zero padding of every frame (for strided convs / pools)."""
    return TimeFold(keras.layers.ZeroPadding2D(amount, name=f"{name}_2d"), name=name)
