"""Accuracy against the number of time steps used, read from :class:`snnzoo.streaming.Streamer`.

After k steps the Streamer's outputs are the model's readout over the first k steps (a time mean
as its running mean, IDE's weighted rate in its running form); the prediction after k steps is
its argmax (:func:`snnzoo.profiling.latency.step_predictions`). Two curves per model:
accuracy(k) = mean over samples of [prediction after k steps == label], and the fraction of
samples whose prediction after k steps is already their final one (the prediction no longer
changes from step k on: :func:`snnzoo.profiling.latency.settle_step` ≤ k).
"""
import numpy as np

from snnzoo.plot._style import figure, finish, suptitle, to_numpy

__all__ = ["latency"]


def latency(source, x=None, y=None, batch_size=256, path=None, title=None):
    """Plot accuracy (%) against the number of time steps used.

    Args:
        source: accuracy per step (a sequence; fractions in [0, 1] or percent), a
            :func:`snnzoo.profile` ``Profile`` made with labels, or a Keras model (then pass ``x``
            and the labels ``y``).
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

    settled, n = None, None
    lat = getattr(source, "latency", None)
    if isinstance(source, keras.Model):
        if x is None or y is None:
            raise ValueError("latency(model, x, y): pass the inputs x and their integer labels y")
        from snnzoo.profiling.latency import settle_step, step_predictions

        xs = x if hasattr(x, "shape") else np.asarray(x)
        preds = np.concatenate([step_predictions(source, xs[i:i + int(batch_size)])
                                for i in range(0, int(xs.shape[0]), int(batch_size))])
        labels = np.asarray(to_numpy(y)).reshape(-1)
        if labels.shape[0] != preds.shape[0]:
            raise ValueError(f"y has {labels.shape[0]} labels for {preds.shape[0]} samples")
        acc = 100.0 * np.mean(preds == labels[:, None].astype(preds.dtype), axis=0)
        settle = settle_step(preds)
        n = preds.shape[0]
    elif isinstance(lat, dict) and "per_sample" in lat:  # a snnzoo.profile Profile
        if not lat.get("accuracy_vs_steps"):
            raise ValueError("latency: the Profile has no accuracy per step; profile with labels "
                             "(snnzoo.profile(model, x, y=labels))")
        acc = np.asarray(lat["accuracy_vs_steps"], dtype=np.float64)
        settle = np.asarray(lat["per_sample"])
        n = settle.size
    else:
        if x is not None or y is not None:
            raise ValueError("latency: x and y are only for latency(model, x, y); an accuracy-per-"
                             "step sequence or a Profile goes alone")
        if isinstance(lat, dict) and "error" in lat:
            raise ValueError(f"latency: the Profile has no latency ({lat['error']})")
        acc = to_numpy(source, "accuracy per step").reshape(-1)
        if acc.size == 0 or not np.all(np.isfinite(acc)) or acc.min() < 0 or acc.max() > 100:
            raise ValueError("accuracy per step must be a non-empty sequence of fractions in [0, 1] "
                             f"or percentages in [0, 100], got {acc.tolist()}")
        if acc.max() <= 1.0:
            acc = 100.0 * acc
        settle = None
    if settle is not None:  # settled after t steps: the predictions of steps t..T equal the final one
        settled = 100.0 * np.mean(settle[:, None] <= np.arange(1, acc.size + 1)[None, :], axis=0)
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
