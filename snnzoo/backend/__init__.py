"""The only backend-aware code in snnzoo.

Portable primitives that Keras 3 does not provide uniformly (what differs per backend:
docs/backends.md), each written in ``keras.ops``, with optional per-backend fast paths in
``torch.py`` / ``jax.py`` / ``tensorflow.py`` behind one dispatch (:mod:`.dispatch`: asked at
call time, a fast path may decline and the generic path runs; each is tested against its
generic path in tests/test_fast_paths.py and tests/test_chaos_fused_torch.py):

* :func:`custom_gradient` — ``keras.ops.custom_gradient`` with one gradient signature on every
  backend (:mod:`.gradient`).
* :func:`time_loop` — a differentiable loop over the time axis that works under ``jit_compile``
  on every backend: unrolled for short sequences (and always on torch), the backend's compiled
  loop for long ones (:mod:`.loop`); it takes the time slices a producer offers
  (:func:`offer_time_slices`, :mod:`.time_slices`).
* :func:`batch_norm_grad` — the batch-norm backward (torch: one fused ATen call; :mod:`.batch_norm`).
* :func:`call_on_frames` — per-frame layers under ``TimeFold`` (torch: channels-last conv and
  pooling without Keras' layout copies; :mod:`.frames`).
* :func:`keep_float64_on_torch` — Keras' float64 promotion on torch (:mod:`.dtypes`).
* The CSBP chaotic loss's torch fast path (:mod:`.torch_chaos`), asked for by
  :class:`snnzoo.chaos.ChaoticRegularizer` and the chaos probes.

Keras' private API is used only in :mod:`._keras_compat` (version-guarded).
"""
from snnzoo.backend.batch_norm import batch_norm_grad
from snnzoo.backend.dispatch import backend_name, fast_path, preload, run_fast_path
from snnzoo.backend.dtypes import keep_float64_on_torch
from snnzoo.backend.frames import call_on_frames
from snnzoo.backend.gradient import custom_gradient
from snnzoo.backend.loop import UNROLL_MAX, _compiled_loop, time_loop  # noqa: F401 - settable here
from snnzoo.backend.time_slices import (clear_time_slices, offer_time_slices,  # noqa: F401
                                        set_time_slices, take_time_slices)  # (deprecated: set, clear)

__all__ = ["UNROLL_MAX", "backend_name", "batch_norm_grad", "call_on_frames", "custom_gradient",
           "fast_path", "keep_float64_on_torch", "offer_time_slices", "run_fast_path",
           "take_time_slices", "time_loop"]

keep_float64_on_torch()
preload()
