"""The input-normalisation stem shared by every zoo builder: the models take RAW images in
[0, 1] and normalise them per channel inside, as the authors' data loaders did
(``torchvision.transforms.Normalize``)::

    x̂[..., c] = (x[..., c] − μ_c) / σ_c

* a sequence of per-channel ``mean`` / ``std`` → ``keras.layers.Normalization(mean=μ,
  variance=σ²)``;
* a scalar ``mean`` / ``std`` (one grey channel, e.g. MNIST's 0.1307 / 0.3081) →
  ``keras.layers.Rescaling(1/σ, offset=−μ/σ)``, i.e. x/σ − μ/σ;
* ``mean`` or ``std`` None → no normalisation.
"""
import numbers

import keras

__all__ = ["normalize_input"]


def normalize_input(x, mean, std, name="normalize"):
    """Apply the per-channel normalisation (x − mean) / std to the symbolic tensor ``x``.

    Args:
        x: a Keras tensor ``[B, H, W, C]``.
        mean: per-channel means (a sequence), one scalar, or None (no normalisation).
        std: per-channel standard deviations (a sequence), one scalar, or None.
        name: the layer's name (converters and tests look it up as ``"normalize"``).

    Returns:
        The normalised tensor (``x`` itself when ``mean`` or ``std`` is None).
    """
    if mean is None or std is None:
        return x
    if isinstance(mean, numbers.Real):
        return keras.layers.Rescaling(1.0 / std, offset=-mean / std, name=name)(x)
    return keras.layers.Normalization(mean=list(mean), variance=[float(s) ** 2 for s in std],
                                      name=name)(x)
