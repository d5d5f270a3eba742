"""The model class ``snnzoo.load`` returns for image models: it states and enforces the input
contract of every zoo image model.

Contract: images are float (``float16``/``float32``/``float64``/``bfloat16``) with values in
[0, 1] (the normalisation each manifest describes runs inside the model), or ``uint8`` with
values 0..255, which the model scales by 1/255 first:

    x_model = x / 255        if x.dtype == uint8
    x_model = x              if x.dtype is a float type

so ``model.predict(x_test)`` on the uint8 arrays that MNIST, Fashion-MNIST and CIFAR are stored
as, or a ``tf.data`` pipeline of decoded uint8 images, gives the published accuracy (the same
convention as ``tf.image.convert_image_dtype`` and torchvision's ``ToTensor``). Every other
integer type (``int32``, ``int64``, ``uint16``, ...) and ``bool`` has no agreed image range and
is refused with a ``ValueError`` naming the accepted dtypes and ranges.

Only the dtype is checked: it is known when a ``jit``/``tf.function``/``torch.compile`` trace is
made, on every backend. The *values* are not: a range or finiteness test would be a
data-dependent branch inside compiled code. Float images in 0..255 or with NaN/inf therefore
give meaningless outputs without an error; ``snnzoo.evaluate.evaluate``, ``snnzoo.predict`` and
the ``snnzoo eval``/``predict`` commands check the values of every batch and refuse them.

Keras' functional models convert every input to the ``keras.Input`` dtype before the first
layer runs, so a layer could never see the uint8 dtype; the check therefore lives in the model's
``call``. The class is a functional model (same layers, weights and weight-file layout as the
builder's ``keras.Model``), registered as ``snnzoo>ZooImageModel`` so ``model.save("m.keras")``
and ``keras.saving.load_model`` keep the contract.
"""
import keras
from keras import ops

__all__ = ["ZooImageModel", "as_zoo_image_model"]

_FLOATS = ("float16", "float32", "float64", "bfloat16")


@keras.saving.register_keras_serializable(package="snnzoo")
class ZooImageModel(keras.Model):
    """A functional image model taking float images in [0, 1] or uint8 images 0..255.

    Construct it like a functional ``keras.Model``: ``ZooImageModel(inputs, outputs, name=...)``
    (or wrap an existing one with :func:`as_zoo_image_model`).

    Call arguments:
        inputs: images [B, H, W, C]; float in [0, 1], or uint8 in 0..255 (divided by 255).
        training: as for ``keras.Model``.

    Returns:
        The wrapped graph's outputs (class logits).

    Raises:
        ValueError: integer images other than uint8, or boolean images.
    """

    def _check(self, x):
        dtype = getattr(x, "dtype", None)
        if dtype is None:  # a Python list etc.: the functional model converts it as before
            return
        dtype = keras.backend.standardize_dtype(dtype)
        if dtype not in _FLOATS and dtype != "uint8":
            raise ValueError(
                f"model '{self.name}' takes images as float in [0, 1] or uint8 in 0..255, got "
                f"dtype {dtype}; convert them, e.g. x.astype('float32') / 255 for values 0..255"
            )

    def prepare_input(self, x):
        """``x`` as the graph inside takes it: the dtype checked, uint8 divided by 255 (the model's
        own first step; :class:`snnzoo.streaming.Streamer` applies it to each step's input)."""
        self._check(x)
        return self._scaled(ops.convert_to_tensor(x))

    def _scaled(self, x):
        dtype = getattr(x, "dtype", None)
        if dtype is None or keras.backend.standardize_dtype(dtype) != "uint8":
            return x
        target = self.inputs[0].dtype
        return ops.divide(ops.cast(x, target), ops.cast(255.0, target))

    def __call__(self, *args, **kwargs):
        # the dtype check runs before Keras wraps errors raised in call() into a page-long
        # report of the arguments
        self._check_all(args[0] if args else kwargs.get("inputs"))
        return super().__call__(*args, **kwargs)

    def _check_all(self, inputs):
        for x in (inputs.values() if isinstance(inputs, dict)
                  else inputs if isinstance(inputs, (list, tuple)) else (inputs,)):
            self._check(x)

    def call(self, inputs, training=None, mask=None):
        self._check_all(inputs)  # JAX's fit/predict reach call() through stateless_call
        if isinstance(inputs, dict):
            inputs = {k: self._scaled(v) for k, v in inputs.items()}
        elif isinstance(inputs, (list, tuple)):
            inputs = type(inputs)(self._scaled(v) for v in inputs)
        else:
            inputs = self._scaled(inputs)
        return super().call(inputs, training=training, mask=mask)


def as_zoo_image_model(model):
    """``model`` (a functional ``keras.Model`` with one image input) as a :class:`ZooImageModel`
    sharing its layers and weights; other models are returned unchanged."""
    if isinstance(model, ZooImageModel) or len(getattr(model, "inputs", None) or ()) != 1:
        return model
    if not hasattr(model, "outputs") or len(model.inputs[0].shape) != 4:
        return model
    return ZooImageModel(model.input, model.output, name=model.name)
