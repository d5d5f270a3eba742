"""Annealing of the CSBP chaos strength: z ← β·z after every batch or every epoch (Wang et al.,
NSR 2024; the authors' code anneals once per epoch by default, per step with ``batch_anneal``).

The callback computes z exactly as ``z_start · β^k`` (k = number of updates since the start of
``fit``, in float64, then stored as float32), so the z used in the k-th step is reproducible and
does not drift by float32 rounding. It reaches the variables through ``self.model`` (on JAX this
synchronises the compiled state, so the next step sees the new z;
see docs/backends.md).
"""
import keras
from keras import ops

from snnzoo.chaos.attach import track_activity_regularizers
from snnzoo.chaos.probe import chaos_probes, chaotic_regularizers


@keras.saving.register_keras_serializable(package="snnzoo")
class ChaosAnnealing(keras.callbacks.Callback):
    """``z ← β·z`` for every :class:`ChaoticRegularizer` of the model.

    Args:
        beta: multiplicative decay β in (0, 1].
        every: ``"batch"`` (after every training step; with ``steps_per_execution > 1`` after
            every execution) or ``"epoch"``.

    Logs (epoch logs, hence ``History``): ``"chaos_z"`` = z used in the last training step of
    the epoch (``"chaos_z_1"``, ``"chaos_z_2"``, … for further regularizers with their own z),
    and ``"chaos_loss"`` = mean over the epoch's training steps of the summed chaotic loss of all
    :class:`ChaosProbe` layers (absent when the regularizer is used as ``activity_regularizer``).
    Batch logs carry ``"chaos_z"`` too.

    Example:

    ```python
    import keras
    import numpy as np
    from snnzoo.chaos import ChaosAnnealing, attach_chaos
    from snnzoo.layers import LIF, MeanOverTime, RepeatTime, TimeFold

    inp = keras.Input((4,))
    x = LIF(name="lif")(TimeFold(keras.layers.Dense(8))(RepeatTime(2)(inp)))
    model = keras.Model(inp, keras.layers.Dense(2)(MeanOverTime()(x)))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    attach_chaos(model, ["lif"], z0=1.0, reduction="mean")
    history = model.fit(np.random.rand(8, 4), np.arange(8) % 2, epochs=2, verbose=0,
                        callbacks=[ChaosAnnealing(beta=0.5, every="epoch")])
    history.history["chaos_z"]   # [1.0, 0.5]
    ```
    """

    def __init__(self, beta=0.999, every="batch"):
        super().__init__()
        beta = float(beta)
        if not 0.0 < beta <= 1.0:
            raise ValueError(f"beta must lie in (0, 1], got {beta}")
        if every not in ("batch", "epoch"):
            raise ValueError(f"every must be 'batch' or 'epoch', got {every!r}")
        self.beta = beta
        self.every = every
        self._regs = []
        self._z_start = []
        self._k = 0

    # -- schedule --------------------------------------------------------------------------------
    def _z(self, i, k=None):
        return self._z_start[i] * self.beta ** (self._k if k is None else k)

    def _step(self):
        model = self.model  # JAX: syncs the compiled state into the variables
        del model
        self._k += 1
        for i, reg in enumerate(self._regs):
            reg.z.assign(self._z(i))

    def _z_logs(self, logs, k):
        for i in range(len(self._regs)):
            logs["chaos_z" if i == 0 else f"chaos_z_{i}"] = self._z(i, k)

    # -- callback hooks ------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        model = self.model
        track_activity_regularizers(model)
        self._regs = chaotic_regularizers(model)
        if not self._regs:
            raise ValueError(
                "ChaosAnnealing found no ChaoticRegularizer in the model; add one with "
                "snnzoo.chaos.attach_chaos(model, layers=[...]) first"
            )
        self._z_start = [float(ops.convert_to_numpy(r.z)) for r in self._regs]
        self._k = 0

    def on_epoch_begin(self, epoch, logs=None):
        for probe in chaos_probes(self.model):
            probe.reset_statistics()

    def on_train_batch_end(self, batch, logs=None):
        if self.every == "batch":
            self._step()
            if logs is not None:
                self._z_logs(logs, self._k - 1)
        elif logs is not None:
            self._z_logs(logs, self._k)

    def on_epoch_end(self, epoch, logs=None):
        model = self.model
        if logs is not None:
            self._z_logs(logs, self._k - 1 if self.every == "batch" else self._k)
            means = [p.mean_loss() for p in chaos_probes(model)]
            means = [m for m in means if m is not None]
            if means:
                logs["chaos_loss"] = float(sum(means))
        if self.every == "epoch":
            self._step()

    def get_config(self):
        return {"beta": self.beta, "every": self.every}

    @classmethod
    def from_config(cls, config):
        # Keras callbacks have no from_config; Keras' deserialisation needs one
        return cls(**config)
