"""Keras' float64 type promotion on torch, made to keep float64."""
from snnzoo.backend._keras_compat import float64_demotion_table
from snnzoo.backend.dispatch import backend_name

__all__ = ["keep_float64_on_torch"]


def keep_float64_on_torch():
    """Torch: make Keras' type promotion keep float64 (as it does on TensorFlow).

    Keras 3 (``keras.backend.result_type``) maps every float64 result to float32 on all backends
    but TensorFlow, "to align with JAX's default" (JAX without x64 has no float64). On torch the
    ops that take their output dtype from it then compute in float32 on float64 inputs, among
    them ``ops.matmul`` (so ``Dense``: its bias add casts the float32 product back to float64)
    and ``ops.maximum`` (so ``Normalization``: ``(x − μ)/max(√σ², ε)``), and a float64 model is
    float64 in name only: measured on SEW ResNet-34, logits 2e-6 off TensorFlow's. Keras issues
    keras-team/keras#23223 and #23704 report it. Torch computes float64 natively, so float64
    stays float64 there, which is TensorFlow's rule and torch's own promotion (a float32 ⊕
    float64 operation gives float64 on all three). Float32 and mixed-precision models are
    unaffected: the rule concerns only results whose promoted type is float64. Called once on
    import of :mod:`snnzoo.backend`; does nothing on other backends.
    """
    if backend_name() != "torch":
        return
    table = float64_demotion_table()
    if table is not None and table.get("float64") == "float32":
        table["float64"] = "float64"
