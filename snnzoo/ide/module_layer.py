"""One linear module of an IDE feedback network as a Keras layer.

Xiao et al. (NeurIPS 2021, IDE-FSNN, Eq. 5/7) build the equivalent map f of a feedback SNN from
linear modules: the feed-forward modules S_1…S_{n−1} and the feedback module F_s. Each is a
dense / conv / conv-transpose map y = W ∗ x (PyTorch geometry, :mod:`snnzoo.ide.modules`), with
an optional bias and an optional batch norm:

    inference:  y ← γ (y − μ_run) / √(σ²_run + ε) + β
    training:   y ← γ (y − μ_B) / √(σ²_B + ε) + β,   μ_run ← m·μ_run + (1 − m)·μ_B,
                σ²_run ← m·σ²_run + (1 − m)·σ²_B·N/(N − 1)      (PyTorch's BN; m = 0.9 ≙ 0.1)

:class:`IDEModule` owns these weights (kernel U(−1, 1) with unit-norm filters, the authors'
initialisation; bias; γ, β; running mean and variance) and the two forwards. The kernel can be
passed in (the spectral-normalised feedback kernel, a stop-gradient copy); the equilibrium layer
(:class:`snnzoo.ide.FeedbackEquilibrium`) creates one per module, builds them in its ``build``
and calls their methods from the simulation, the equivalent map and the adjoint.
"""
import keras
from keras import ops

from snnzoo.ide.initializers import UnitNormUniform
from snnzoo.ide.modules import kernel_shape, module_apply, module_spec, out_shape
from snnzoo.layers.batch_stats import channel_moments, unbiased_variance, update_moving_average

__all__ = ["IDEModule"]


@keras.saving.register_keras_serializable(package="snnzoo")
class IDEModule(keras.layers.Layer):
    """A feed-forward S_i or feedback F_s module of an IDE network (module docstring).

    Args:
        spec: module description (:func:`snnzoo.ide.modules.module_spec`), e.g.
            ``{"kind": "conv", "filters": 64, "kernel_size": 3, "padding": 1, "batch_norm": True}``.
        seed: seed of the kernel initialiser (None: Keras' global seed stream).
        bn_momentum, bn_epsilon: running-statistics momentum (Keras convention) and ε of the BN.

    Variables (in creation order): ``kernel``; ``bias`` (``use_bias``); ``gamma``, ``beta``,
    ``moving_mean``, ``moving_variance`` (``batch_norm``).

    Calling the layer, ``module(x, training=...)``, runs the module on a per-step input
    ``[B, *in_shape]``: BN on batch statistics (and a running-statistics update) when training,
    on the running statistics otherwise.
    """

    def __init__(self, spec, seed=None, bn_momentum=0.9, bn_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.spec = module_spec(spec, self.name)
        self.seed = seed
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)

    def build(self, input_shape):
        spec, in_shape = self.spec, tuple(input_shape[1:])
        axis = -2 if spec["kind"] == "conv_transpose" else -1
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape(spec, in_shape),
                                      initializer=UnitNormUniform(axis, self.seed))
        n = spec["filters"]
        self.bias = self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        if spec["use_bias"]:
            self.bias = self.add_weight(name="bias", shape=(n,), initializer="zeros")
        if spec["batch_norm"]:
            self.gamma = self.add_weight(name="gamma", shape=(n,), initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(n,), initializer="zeros")
            self.moving_mean = self.add_weight(name="moving_mean", shape=(n,), initializer="zeros",
                                               trainable=False)
            self.moving_variance = self.add_weight(name="moving_variance", shape=(n,),
                                                   initializer="ones", trainable=False)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(out_shape(self.spec, tuple(input_shape[1:])))

    def linear(self, x, kernel=None):
        """W ∗ x, with ``kernel`` in place of the module's own when given."""
        return module_apply(self.spec, x, self.kernel.value if kernel is None else kernel)

    def bn_affine(self, dtype):
        """Inference BN as y·scale + shift: scale = γ/√(σ²_run + ε), shift = β − μ_run·scale."""
        scale = self.gamma.value / ops.sqrt(self.moving_variance.value + self.bn_epsilon)
        shift = self.beta.value - self.moving_mean.value * scale
        return ops.cast(scale, dtype), ops.cast(shift, dtype)

    def inference(self, x, kernel=None, stop=False):
        """Module output with BN on the running statistics; ``stop``: no gradient to the
        module's weights (the simulation, the adjoint's Jacobian point)."""
        get = ops.stop_gradient if stop else (lambda t: t)
        y = self.linear(x, get(self.kernel.value if kernel is None else kernel))
        if self.bias is not None:
            y = y + get(self.bias.value)
        if self.gamma is not None:
            scale, shift = self.bn_affine(y.dtype)
            y = y * get(scale) + get(shift)
        return y

    def training_forward(self, x, kernel=None):
        """Module output with BN on batch statistics; updates the running statistics."""
        y = self.linear(x, kernel)
        if self.bias is not None:
            y = y + self.bias.value
        if self.gamma is not None:
            mean, var = channel_moments(y)
            y = (y - mean) / ops.sqrt(var + self.bn_epsilon) * self.gamma.value + self.beta.value
            update_moving_average(self.moving_mean, mean, self.bn_momentum)
            update_moving_average(self.moving_variance, unbiased_variance(var, y), self.bn_momentum)
        return y

    def call(self, x, training=None):
        return self.training_forward(x) if training else self.inference(x)

    def load_own_variables(self, store):
        """Keras' loader; a file in the older single-layer layout has no entry for this module
        (its parent, :class:`~snnzoo.ide.FeedbackEquilibrium`, has assigned its variables)."""
        if getattr(self, "loaded_by_parent", False) and not len(store.keys()):
            self.loaded_by_parent = False
            return
        super().load_own_variables(store)

    def get_config(self):
        config = super().get_config()
        config.update(spec=dict(self.spec), seed=self.seed, bn_momentum=self.bn_momentum,
                      bn_epsilon=self.bn_epsilon)
        return config
