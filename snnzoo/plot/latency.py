"""Accuracy against the number of time steps used, read from :class:`snnzoo.streaming.Streamer`.

After k steps the Streamer's outputs are the model's readout over the first k steps (a time mean
as its running mean, IDE's weighted rate in its running form); the prediction after k steps is
its argmax. Two curves per model: accuracy(k) = mean over samples of [prediction after k steps ==
label], and the fraction of samples whose prediction after k steps is already their final one
(the prediction no longer changes from step k on).
"""
import numpy as np

from snnzoo.plot._style import figure, finish, suptitle, to_numpy

__all__ = ["latency", "step_predictions"]


def step_predictions(model, x, batch_size=256):
    """``[samples, T]`` class predictions of ``model`` after each time step (Streamer readout).

    Args:
        model: a functional snnzoo model with one input and class logits out.
        x: inputs: images ``[N, ...]`` for direct-encoding models (the image at every step) or
            sequences ``[N, T, ...]`` for event-frame models.
        batch_size: samples streamed together.
    """
    from snnzoo.streaming import Streamer

    s = Streamer(model)
    x = np.asarray(x) if not hasattr(x, "shape") else x
    rank = len(s.step_input_shape) + 1
    if len(x.shape) == rank + 1:
        sequence, steps = True, int(x.shape[1])
    elif len(x.shape) == rank and s.time_steps:
        sequence, steps = False, int(s.time_steps)
    else:
        raise ValueError(f"x has shape {tuple(x.shape)}; model '{model.name}' takes one step of shape "
                         f"{s.step_input_shape}: pass [N, {', '.join(map(str, s.step_input_shape))}] "
                         "(image models) or [N, T, ...] (event frames)")
    preds = []
    for start in range(0, int(x.shape[0]), int(batch_size)):
        xb = x[start:start + int(batch_size)]
        state = s.initial_state(int(xb.shape[0]))
        per_step = []
        for t in range(steps):
            out, state = s.step(xb[:, t] if sequence else xb, state)
            if isinstance(out, (list, tuple)):
                out = out[0]
            per_step.append(np.argmax(to_numpy(out).reshape(int(xb.shape[0]), -1), axis=-1))
        preds.append(np.stack(per_step, axis=1))
    return np.concatenate(preds, axis=0)


def latency(source, x=None, y=None, batch_size=256, path=None, title=None):
    """Plot accuracy (%) against the number of time steps used.

    Args:
        source: accuracy per step (a sequence; fractions in [0, 1] or percent), or a Keras model
            (then pass ``x`` and the labels ``y``; accuracy and the fraction of settled
            predictions come from :func:`step_predictions`).
        x: inputs for the model.
        y: integer labels ``[N]``.
        batch_size: samples streamed together.
        path: write the figure as a PNG there.
        title: figure title.

    Returns:
        matplotlib Figure.

    Example:

    ```python
    from snnzoo.plot import latency

    fig = latency([0.62, 0.81, 0.87, 0.89, 0.90], path="latency.png")   # accuracy after 1..5 steps
    ```
    """
    import keras

    settled = None
    if isinstance(source, keras.Model):
        if x is None or y is None:
            raise ValueError("latency(model, x, y): pass the inputs x and their integer labels y")
        preds = step_predictions(source, x, batch_size)
        labels = np.asarray(to_numpy(y)).reshape(-1)
        if labels.shape[0] != preds.shape[0]:
            raise ValueError(f"y has {labels.shape[0]} labels for {preds.shape[0]} samples")
        acc = 100.0 * np.mean(preds == labels[:, None].astype(preds.dtype), axis=0)
        # settled after k steps: the predictions of steps k..T all equal the final one
        same = preds == preds[:, -1:]
        settled = 100.0 * np.mean(np.flip(np.cumprod(np.flip(same, 1), axis=1), 1), axis=0)
        n = preds.shape[0]
    else:
        if x is not None or y is not None:
            raise ValueError("latency: x and y are only for latency(model, x, y); an accuracy-per-"
                             "step sequence goes alone")
        acc = to_numpy(source, "accuracy per step").reshape(-1)
        if acc.size == 0 or not np.all(np.isfinite(acc)) or acc.min() < 0 or acc.max() > 100:
            raise ValueError("accuracy per step must be a non-empty sequence of fractions in [0, 1] "
                             f"or percentages in [0, 100], got {acc.tolist()}")
        if acc.max() <= 1.0:
            acc = 100.0 * acc
        n = None
    steps = np.arange(1, acc.size + 1)
    fig, ax = figure(figsize=(6.4, 3.8))
    ax.plot(steps, acc, marker="o", color="C0", label="accuracy")
    for t, a in zip(steps, acc):
        if acc.size <= 12:
            ax.annotate(f"{a:.1f}", (t, a), textcoords="offset points", xytext=(0, -13), ha="center",
                        fontsize="x-small")
    if settled is not None:
        ax.plot(steps, settled, marker="s", ms=4, ls="--", color="C2",
                label="predictions already final")
    ax.set_xlabel("time steps used")
    ax.set_ylabel("%")
    low = float(acc.min()) if settled is None else float(min(acc.min(), settled.min()))
    ax.set_ylim(max(0.0, low - 10.0), 102)
    if acc.size <= 20:
        ax.set_xticks(steps)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    suptitle(fig, title or ("accuracy vs time steps" + (f" ({n} samples)" if n else "")))
    return finish(fig, path)
