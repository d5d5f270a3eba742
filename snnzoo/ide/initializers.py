"""IDE-FSNN's weight initialisation (Xiao et al., NeurIPS 2021; the authors' code): every weight
drawn from U(−1, 1), then every output filter w_o scaled to unit L2 norm, w_o ← w_o / ‖w_o‖₂."""
import keras
from keras import ops

__all__ = ["UnitNormUniform"]


@keras.saving.register_keras_serializable(package="snnzoo")
class UnitNormUniform(keras.initializers.Initializer):
    """U(−1, 1), then every output filter scaled to unit L2 norm (IDE-FSNN's initialisation).

    ``axis`` is the output-channel axis of the Keras kernel: −1 for dense and conv kernels,
    −2 for conv-transpose kernels (kh, kw, out, in).
    """

    def __init__(self, axis=-1, seed=None):
        self.axis = int(axis)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        w = keras.random.uniform(shape, -1.0, 1.0, dtype=dtype, seed=self.seed)
        axis = self.axis % len(shape)
        other = tuple(i for i in range(len(shape)) if i != axis)
        return w / ops.sqrt(ops.sum(ops.square(w), axis=other, keepdims=True))

    def get_config(self):
        return {"axis": self.axis, "seed": self.seed}
