"""Running a classifier on inputs: the helpers that ``snnzoo eval`` (:mod:`snnzoo.evaluate`),
``snnzoo predict`` (:mod:`snnzoo.predict`) and the training loop's evaluation share.

* :func:`input_geometry` — what a model takes, read from its input: event frames
  [B, T, H, W, C] or images [B, H, W, C].
* :func:`mean_logits` — the class scores of a model output as a NumPy array [B, C]; per-step
  logits [B, T, C] are averaged over T, the protocol of the zoo's seeds (TET):

      z[b, c] = (1/T) Σ_t o[b, t, c]
"""
from __future__ import annotations

import numpy as np

__all__ = ["input_geometry", "mean_logits"]


def input_geometry(model):
    """``(kind, T, shape)`` of ``model``'s first input: ``("event_frames", T, (H, W, C))`` for a
    5-D input [B, T, H, W, C], ``("image", None, (H, W, C))`` otherwise, and ``(None, None,
    None)`` for a model without a known input."""
    shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else None
    if shape is None:
        return None, None, None
    if len(shape) == 5:
        return "event_frames", int(shape[1]), tuple(int(s) for s in shape[2:])
    return "image", None, tuple(int(s) for s in shape[1:])


def mean_logits(output):
    """A model ``output`` (a tensor, or a list / tuple whose first entry is the logits) as a
    NumPy array [B, C]; per-step logits [B, T, C] are averaged over T."""
    from keras import ops

    out = ops.convert_to_numpy(output[0] if isinstance(output, (tuple, list)) else output)
    if out.ndim == 3:  # per-step logits [B, T, C]
        out = out.mean(axis=1)
    return np.asarray(out)
