"""Latency: how many time steps a spiking classifier needs before its answer is settled.

The model is run one step at a time by :class:`snnzoo.streaming.Streamer`, whose output after
step t is the model's readout over the first t steps (a running time mean, IDE's running
weighted rate). With p_t the predicted class after t steps (t = 1…T),

    latency(sample) = min { t : p_{t'} = p_T for every t' ≥ t }        (1 ≤ latency ≤ T)

the first step from which the prediction no longer changes, and with labels y

    accuracy(t) = (1/N) Σ_n [p_t(n) = y_n]        (percent; accuracy(T) is the model's accuracy)

the accuracy when the simulation is stopped after t steps (the BPSA paper's Fig. 3 axis).
"""
from __future__ import annotations

import numpy as np

from snnzoo.inference import mean_logits

__all__ = ["settle_step", "step_predictions"]


def step_predictions(model, x):
    """Predicted classes after each step, ``[B, T]`` (int), from the Streamer's running readout.

    ``x`` is one batch as ``model`` takes it: images (direct encoding: the same image every step)
    or event frames ``[B, T, ...]`` (frame t at step t). Raises ``ValueError`` for a model the
    Streamer cannot run step by step (the message names the layer)."""
    from snnzoo.streaming import Streamer

    s = Streamer(model)
    T = s.time_steps
    batch = int(x.shape[0])
    per_step_input = x.ndim == len(s.step_input_shape) + 2
    if T is None:
        if not per_step_input:
            raise ValueError(f"latency: model '{model.name}' does not state its number of time "
                             "steps (no RepeatTime / time_steps); profile(..., latency=False)")
        T = int(x.shape[1])
    state = s.initial_state(batch)
    preds = np.zeros((batch, T), dtype=np.int64)
    for t in range(T):
        x_t = x[:, t] if per_step_input else x
        out, state = s.step(x_t, state)
        preds[:, t] = mean_logits(out).argmax(axis=-1)
    return preds


def settle_step(preds):
    """Per sample, the first step (1-based) from which the prediction equals the final one."""
    preds = np.asarray(preds)
    T = preds.shape[1]
    differs = preds != preds[:, -1:]
    # last step that differs from the final prediction; latency is the step after it
    last_diff = np.where(differs.any(axis=1), T - 1 - np.argmax(differs[:, ::-1], axis=1), -1)
    return last_diff + 2  # 0-based index of the last differing step + 1, then 1-based
