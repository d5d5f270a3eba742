"""Batch normalisation for spiking sequences [B, T, ..., C] (channels last).

Both layers take their statistics per channel over batch, time and space together (N·T·H·W), as
the multi-step BN of SpikingJelly / TET does when it folds time into the batch.

Defaults follow PyTorch (``momentum=0.9`` here ≡ PyTorch ``momentum=0.1``; ``epsilon=1e-5``) so
that converted checkpoints reproduce. One PyTorch difference remains: PyTorch updates the running
variance with the unbiased batch variance, Keras with the biased one (training only). Batch
statistics and moving averages: :mod:`snnzoo.layers.batch_stats`.
"""
import keras
from keras import ops

from snnzoo.backend import batch_norm_grad, custom_gradient
from snnzoo.backend.data_parallel import syncing_batch_statistics
from snnzoo.layers.batch_stats import channel_moments, update_moving_average
from snnzoo.layers.time import check_sequence


def _normalize_with_batch_stats(epsilon, has_gamma, has_beta):
    """y = γ·(x − μ)/√(σ² + ε) + β, channels last, with (μ, σ²) the batch moments (passed in,
    computed by the caller without gradient) and the closed-form BN backward
    (:func:`snnzoo.backend.batch_norm_grad`; Ioffe & Szegedy, ICML 2015, Sec. 3).

    The forward is Keras' own ``ops.batch_normalization`` (bit-identical to
    ``keras.layers.BatchNormalization`` on every backend); only the backward is fused, instead
    of differentiating through the moments (~14 element-wise passes on torch eager).
    """

    def fwd(x, mean, variance, *affine):
        gamma = affine[0] if has_gamma else None
        beta = affine[-1] if has_beta else None
        y = ops.batch_normalization(x, mean, variance, axis=-1, offset=beta, scale=gamma, epsilon=epsilon)

        def vjp(g):
            dx, dgamma, dbeta = batch_norm_grad(g, x, mean, variance, gamma, epsilon,
                                                across_replicas=syncing_batch_statistics())
            grads = [dx, ops.zeros_like(mean), ops.zeros_like(variance)]
            if has_gamma:
                grads.append(dgamma)
            if has_beta:
                grads.append(dbeta)
            return tuple(grads)

        return y, vjp

    return custom_gradient(fwd)


def _batch_norm_train(layer, inputs):
    """Training-mode forward of a channels-last ``keras.layers.BatchNormalization`` (moving
    statistics updated as Keras does), with the fused backward above."""
    inputs = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
    mean, variance = channel_moments(ops.stop_gradient(inputs))
    update_moving_average(layer.moving_mean, mean, layer.momentum, inputs.dtype)
    update_moving_average(layer.moving_variance, variance, layer.momentum, inputs.dtype)
    affine = []
    if layer.scale:
        affine.append(ops.cast(layer.gamma.value, inputs.dtype))
    if layer.center:
        affine.append(ops.cast(layer.beta.value, inputs.dtype))
    return ops.cast(layer._normalize(inputs, mean, variance, *affine), layer.compute_dtype)


def _bn_call(layer, inputs, training, mask):
    """Keras BN semantics; the plain training case takes the fused-backward path."""
    if (training and layer.trainable and mask is None and not layer.renorm and not layer.synchronized
            and layer.axis in (-1, len(inputs.shape) - 1)):
        return _batch_norm_train(layer, inputs)
    return keras.layers.BatchNormalization.call(layer, inputs, training=training, mask=mask)


def synchronize_batch_norm(model):
    """Make the plain ``keras.layers.BatchNormalization`` layers of ``model`` take their training
    statistics the way snnzoo's own BN layers do (:func:`_bn_call`: global-batch moments while
    batch statistics are synchronised across replicas, the fused backward with all-reduced sums);
    Keras synchronises BN on TensorFlow only (``synchronized=True``). Cases that path does not
    take (axis not last, masks, renorm) stay Keras'. Returns the number of layers."""
    from snnzoo.layers.find import find_layers

    n = 0
    for layer in find_layers(model, keras.layers.BatchNormalization, include_self=False):
        if type(layer) is keras.layers.BatchNormalization:
            object.__setattr__(layer, "_normalize",
                               _normalize_with_batch_stats(layer.epsilon, layer.scale, layer.center))
            object.__setattr__(layer, "call", lambda inputs, training=None, mask=None, _l=layer:
                               _bn_call(_l, inputs, training, mask))
            n += 1
    return n


@keras.saving.register_keras_serializable(package="snnzoo")
class TDBatchNorm(keras.layers.BatchNormalization):
    """Threshold-dependent BN (Zheng et al., AAAI 2021, Eq. 7–8):
    y = λ·(x − μ)/√(σ² + ε) + β with μ, σ² over (N, T, H, W) and λ initialised to α·V_th.

    ``alpha=1, v_threshold=1`` (the default) is plain BN over N·T — what the TET code calls tdBN.

    Args:
        alpha: α of the initial scale λ = α·V_th.
        v_threshold: V_th of the neurons that follow.
        momentum: momentum of the moving statistics (0.9 = PyTorch's 0.1).
        epsilon: ε added to the variance.
        **kwargs: further ``keras.layers.BatchNormalization`` arguments (not ``axis``: the
            channels are the last axis).

    Call arguments:
        inputs: tensor ``[batch, time, ...features, channels]``.
        training: batch statistics (and moving-average updates) if true, moving statistics
            otherwise.
        mask: as in ``keras.layers.BatchNormalization``.

    Returns:
        The normalised tensor, same shape.

    Example:

    ```python
    import numpy as np
    from snnzoo.layers import TDBatchNorm

    x = np.random.rand(4, 2, 8, 8, 16).astype("float32")   # [B, T, H, W, C]
    y = TDBatchNorm()(x, training=True)                      # statistics over B·T·H·W per channel
    ```
    """

    def __init__(self, alpha=1.0, v_threshold=1.0, momentum=0.9, epsilon=1e-5, **kwargs):
        self.alpha = float(alpha)
        self.v_threshold = float(v_threshold)
        if self.v_threshold <= 0:
            raise ValueError(f"v_threshold must be > 0, got {self.v_threshold}")
        kwargs.setdefault("gamma_initializer", keras.initializers.Constant(self.alpha * self.v_threshold))
        super().__init__(axis=-1, momentum=momentum, epsilon=epsilon, **kwargs)

    def build(self, input_shape):
        check_sequence(self, input_shape, "...features, channels")
        super().build(input_shape)
        self._normalize = _normalize_with_batch_stats(self.epsilon, self.scale, self.center)

    def call(self, inputs, training=None, mask=None):
        return _bn_call(self, inputs, training, mask)

    def get_config(self):
        config = super().get_config()
        config.pop("axis", None)
        config.update(alpha=self.alpha, v_threshold=self.v_threshold)
        return config


@keras.saving.register_keras_serializable(package="snnzoo")
class TEBN(keras.layers.BatchNormalization):
    """Temporal effective BN (Duan et al., NeurIPS 2022, Eq. 9): y[t] = p[t]·BN(x)[t], with BN
    statistics pooled over (N, T, H, W) and one learnable scale p[t] per time step (init 1).
    p also scales BN's β, as in the reference code.

    Args:
        time_steps: T, the number of learnable scales p[t]; inputs must have exactly T steps.
        momentum: momentum of the moving statistics.
        epsilon: ε added to the variance.
        **kwargs: further ``keras.layers.BatchNormalization`` arguments (not ``axis``).

    Call arguments:
        inputs: tensor ``[batch, time_steps, ...features, channels]``.
        training: batch statistics if true, moving statistics otherwise.
        mask: as in ``keras.layers.BatchNormalization``.

    Returns:
        ``p[t]·BN(x)[t]``, same shape.

    Example:

    ```python
    import numpy as np
    from snnzoo.layers import TEBN

    y = TEBN(time_steps=4)(np.random.rand(2, 4, 8, 8, 16).astype("float32"), training=True)
    ```
    """

    def __init__(self, time_steps, momentum=0.9, epsilon=1e-5, **kwargs):
        self.time_steps = int(time_steps)
        if self.time_steps < 1:
            raise ValueError(f"time_steps must be >= 1, got {time_steps}")
        super().__init__(axis=-1, momentum=momentum, epsilon=epsilon, **kwargs)

    def build(self, input_shape):
        check_sequence(self, input_shape, "...features, channels")
        if input_shape[1] != self.time_steps:
            raise ValueError(
                f"TEBN(time_steps={self.time_steps}) got {input_shape[1]} time steps in input "
                f"shape {tuple(input_shape)}"
            )
        super().build(input_shape)
        self._normalize = _normalize_with_batch_stats(self.epsilon, self.scale, self.center)
        self.p = self.add_weight(name="p", shape=(self.time_steps,), initializer="ones")

    def call(self, inputs, training=None, mask=None):
        y = _bn_call(self, inputs, training, mask)
        shape = (1, self.time_steps) + (1,) * (len(inputs.shape) - 2)
        return y * ops.reshape(ops.cast(self.p, y.dtype), shape)

    def get_config(self):
        config = super().get_config()
        config.pop("axis", None)
        config["time_steps"] = self.time_steps
        return config
