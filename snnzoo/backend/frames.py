"""Per-frame layers on folded frames, without layout copies where the backend can avoid them."""
from snnzoo.backend.dispatch import run_fast_path

__all__ = ["call_on_frames"]


def call_on_frames(layer, frames, **kwargs):
    """``layer(frames, **kwargs)`` for a per-frame layer on folded frames [N, ...] (``TimeFold``).

    Torch fast path: Keras' torch backend runs channels-last ``Conv2D`` / ``MaxPooling2D`` /
    ``AveragePooling2D`` by copying NHWC → NCHW → NHWC-strided NCHW (and back in the backward).
    Plain float32 instances of exactly these classes are run there on the NCHW *view* of the
    NHWC tensor (the same channels-last memory layout the Keras path ends up with), through the
    same ``keras.ops`` calls with ``data_format="channels_first"``: identical values, no copies.
    Anything else goes through ``layer.__call__``.
    """
    out = run_fast_path("call_on_frames", layer, frames)
    return layer(frames, **kwargs) if out is None else out
