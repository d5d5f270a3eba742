"""Folding per-channel affine maps (inference batch norm, input normalisation) into the weights of
the neighbouring convolution or dense layer, in numpy, for the NIR export.

A batch norm in inference mode is the per-channel affine map (Ioffe & Szegedy, ICML 2015, Alg. 2)::

    BN(y) = a·y + b,    a = γ / √(σ²_run + ε),    b = β − μ_run·a

After a layer y = W∗x + c it folds exactly into the layer: W' = a·W (per output channel),
c' = a·c + b. Before a layer (x̂ = a·x + b per input channel) it folds into W' = W·a (per input
channel), c' = c + W∗b — exact only where the layer sees no zero padding (a padded zero of x̂ is
−b/a in x), or where b = 0.
"""
import numpy as np

__all__ = ["bn_affine", "fold_after", "fold_before_conv", "fold_before_dense", "normalization_affine"]


def _np(v):
    from keras import ops

    return np.asarray(ops.convert_to_numpy(v), dtype=np.float64)


def bn_affine(layer):
    """(a, b) per channel of a ``keras.layers.BatchNormalization`` (or subclass: tdBN) or an IDE
    ``RateBatchNorm``, in inference (moving statistics)."""
    c = int(layer.moving_mean.shape[-1])
    gamma = _np(layer.gamma) if getattr(layer, "scale", True) else np.ones(c)
    beta = _np(layer.beta) if getattr(layer, "center", True) else np.zeros(c)
    a = gamma / np.sqrt(_np(layer.moving_variance) + float(layer.epsilon))
    return a, beta - _np(layer.moving_mean) * a


def normalization_affine(layer):
    """(a, b) of ``keras.layers.Rescaling`` (x·s + o) or ``keras.layers.Normalization``
    ((x − μ) / max(√σ², ε_keras)), as per-channel arrays (or scalars)."""
    import keras

    if isinstance(layer, keras.layers.Rescaling):
        return np.asarray(layer.scale, np.float64), np.asarray(layer.offset, np.float64)
    if layer.invert:
        raise ValueError("inverted Normalization")
    std = np.maximum(np.sqrt(_np(layer.variance)), keras.backend.epsilon())
    a = 1.0 / std
    return a.reshape(-1), (-_np(layer.mean) * a).reshape(-1)


def fold_after(weight, bias, a, b):
    """(W', c') of ``a·(W∗x + c) + b``; ``weight`` in NIR layout (out first)."""
    a = np.broadcast_to(np.asarray(a, np.float64), (weight.shape[0],))
    b = np.broadcast_to(np.asarray(b, np.float64), (weight.shape[0],))
    w = weight * a.reshape((-1,) + (1,) * (weight.ndim - 1))
    return w, bias * a + b


def fold_before_conv(weight, bias, a, b):
    """(W', c') of ``W∗(a·x + b) + c`` for a convolution without zero padding; ``weight`` (out,
    in, *k) with per-input-channel ``a``, ``b`` (scalars broadcast)."""
    cin = weight.shape[1]
    a = np.broadcast_to(np.asarray(a, np.float64), (cin,))
    b = np.broadcast_to(np.asarray(b, np.float64), (cin,))
    shape = (1, -1) + (1,) * (weight.ndim - 2)
    w = weight * a.reshape(shape)
    return w, bias + (weight * b.reshape(shape)).sum(axis=tuple(range(1, weight.ndim)))


def fold_before_dense(weight, bias, a, b):
    """(W', c') of ``W·(a ⊙ x + b) + c``; ``weight`` (out, in), ``a``/``b`` broadcast to (in,)."""
    a = np.broadcast_to(np.asarray(a, np.float64), (weight.shape[1],))
    b = np.broadcast_to(np.asarray(b, np.float64), (weight.shape[1],))
    return weight * a[None, :], bias + weight @ b
