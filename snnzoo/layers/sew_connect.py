"""The SEW (spike-element-wise) residual connection (Fang et al., "Deep Residual Learning in
Spiking Neural Networks", NeurIPS 2021, Eq. 6 / Table 1), applied to the spikes ``A`` of the
residual branch and ``S`` of the shortcut::

    ADD:  g(A, S) = A + S
    AND:  g(A, S) = A · S
    IAND: g(A, S) = (1 − A) · S        (the original code's ``identity * (1 - out)``)
"""
import keras

__all__ = ["CONNECT_FUNCTIONS", "SEWConnect", "check_connect"]

CONNECT_FUNCTIONS = ("ADD", "AND", "IAND")


def check_connect(connect_f):
    """``connect_f`` upper-cased, after checking it is one of :data:`CONNECT_FUNCTIONS`."""
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
