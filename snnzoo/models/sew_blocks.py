"""Building blocks shared by the SEW (spike-element-wise) networks.

SEW residual connection (Fang et al., "Deep Residual Learning in Spiking Neural Networks",
NeurIPS 2021, Eq. 6 / Table 1), applied to the spikes ``A`` of the residual branch and ``S`` of
the shortcut::

    ADD:  g(A, S) = A + S
    AND:  g(A, S) = A · S
    IAND: g(A, S) = (1 − A) · S        (the original code's ``identity * (1 - out)``)

Neurons used by the SEW models (SpikingJelly, as in the authors' code):

* ImageNet SEW ResNets: multi-step IF, V_th = 1, hard reset to 0, detached reset, ATan(α = 2).
* DVS 7B-Nets: multi-step PLIF, init τ = 2, decay_input, V_th = 1, hard reset to 0, detached
  reset, ATan(α = 2).

Convolutions and BN act on every frame (time folded into the batch); BN statistics pool over
N·T·H·W with PyTorch's momentum / epsilon so converted checkpoints reproduce.
"""
import keras

from snnzoo.layers.neurons import IF, PLIF
from snnzoo.layers.normalization import TDBatchNorm
from snnzoo.layers.time import TimeFold
from snnzoo.surrogates import ATan

CONNECT_FUNCTIONS = ("ADD", "AND", "IAND")


def check_connect(connect_f):
    connect_f = str(connect_f).upper()
    if connect_f not in CONNECT_FUNCTIONS:
        raise ValueError(f"connect_f must be one of {CONNECT_FUNCTIONS}, got {connect_f!r}")
    return connect_f


@keras.saving.register_keras_serializable(package="snnzoo")
class SEWConnect(keras.layers.Layer):
    """Element-wise SEW connection g(out, identity): ADD ``out + identity``, AND
    ``out · identity``, IAND ``identity · (1 − out)`` (Fang et al., NeurIPS 2021, Table 1).

    Called as ``SEWConnect(mode)([out, identity])``.
    """

    def __init__(self, connect_f="ADD", **kwargs):
        super().__init__(**kwargs)
        self.connect_f = check_connect(connect_f)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def call(self, inputs):
        out, identity = inputs
        if self.connect_f == "ADD":
            return out + identity
        if self.connect_f == "AND":
            return out * identity
        return identity * (1.0 - out)

    def get_config(self):
        config = super().get_config()
        config["connect_f"] = self.connect_f
        return config


def kaiming_fan_out():
    """PyTorch ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``: N(0, 2 / fan_out)."""
    return keras.initializers.VarianceScaling(2.0, mode="fan_out", distribution="untruncated_normal")


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
                            kernel_initializer=kaiming_fan_out(), name=f"{name}_2d"),
        name=name,
    )


def pad(amount, name):
    """PyTorch-style symmetric zero padding of every frame (for strided convs / pools)."""
    return TimeFold(keras.layers.ZeroPadding2D(amount, name=f"{name}_2d"), name=name)
