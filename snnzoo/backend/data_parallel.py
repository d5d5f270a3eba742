"""Data-parallel training on each backend's own engine, and the two replica operations the
layers need from it.

Engines (one module each, chosen by Keras' backend when :func:`start` is called):

* JAX (:mod:`.data_parallel_jax`): ``keras.distribution.DataParallel`` — one program over all
  devices (GSPMD); every batch is split along its batch axis, and every reduction over the batch
  (losses, batch-norm moments) is already a reduction over the global batch.
* TensorFlow (:mod:`.data_parallel_tensorflow`): ``tf.distribute.MirroredStrategy`` — one replica
  per device, gradients summed across replicas (Keras scales each replica's loss by 1/R).
* torch (:mod:`.data_parallel_torch`): one process per device launched by ``torchrun``, a
  ``torch.distributed`` process group (gloo on CPU, nccl on GPU), gradients averaged across ranks
  before every optimizer step as DDP does, parameters broadcast from rank 0 at the start.

The single-device math is kept (the global batch is the batch of a single-device run, split
evenly): batch-norm statistics are taken over the global batch (:func:`cross_replica_sum`: an
all-reduce inside a TensorFlow replica or a torch rank, nothing on JAX where the arrays are
global). Losses that a layer adds itself (CSBP's chaotic loss) need nothing more: Keras scales
them per replica as it scales the task loss; where the replicas of one process run in threads of
their own (TF), a layer keeps what it adds per replica (:func:`replica_thread_key`).

Only one engine is active per process (as ``keras.distribution`` has one distribution);
:func:`active` returns it, :func:`stop` ends it.
"""
from __future__ import annotations

import contextlib
import importlib
import threading

from snnzoo.backend.dispatch import backend_name

__all__ = ["DataParallelEngine", "DistributionError", "active", "cross_replica_sum",
           "replica_thread_key", "start", "stop",
           "syncing_batch_statistics"]

_ENGINES = {"jax": "snnzoo.backend.data_parallel_jax",
            "tensorflow": "snnzoo.backend.data_parallel_tensorflow",
            "torch": "snnzoo.backend.data_parallel_torch"}
_active = []


class DistributionError(RuntimeError):
    """Data-parallel training cannot start or cannot go on (one message naming the fix)."""


class DataParallelEngine:
    """What the training loop asks of an engine (the generic, single-process defaults).

    Attributes: ``strategy`` (its name, recorded in ``results.json``), ``num_replicas`` (devices
    that share every global batch), ``rank`` / ``world_size`` (processes: torch only, else 0/1),
    ``device_names``, ``sync_batch_norm``."""

    strategy = "single"
    #: True where the replicas of one process run in threads of their own (TF's MirroredStrategy)
    replicas_in_threads = False

    def __init__(self, num_replicas=1, device_names=(), sync_batch_norm=True, rank=0,
                 world_size=1):
        self.num_replicas = int(num_replicas)
        self.device_names = list(device_names)
        self.sync_batch_norm = bool(sync_batch_norm)
        self.rank = int(rank)
        self.world_size = int(world_size)

    @property
    def is_chief(self):
        """True in the process that writes files and prints progress (rank 0)."""
        return self.rank == 0

    def scope(self):
        """Context in which the models and the optimizer are built and compiled."""
        return contextlib.nullcontext()

    def shard(self, sequence):
        """This process's part of every global batch of ``sequence`` (a ``PyDataset``)."""
        return sequence

    def prepare(self, model):
        """After ``compile`` (and any restore): make every replica start from the same state and
        hook the gradient reduction where the engine needs one."""

    def replica_sum(self, x):
        """The sum of ``x`` over the replicas, differentiable (inside a replica step)."""
        return x

    def translate_error(self, exc):
        """A :class:`DistributionError` for an exception that means a lost process, else None."""
        return None

    def close(self):
        """Release what :func:`start` set up (process group, distribution)."""

    def describe(self):
        """Plain data for ``results.json``."""
        return {"strategy": self.strategy, "devices": self.num_replicas,
                "device_names": self.device_names, "processes": self.world_size,
                "sync_batch_norm": self.sync_batch_norm}


def start(devices=None, sync_batch_norm=True):
    """Start the current backend's data-parallel engine over ``devices`` devices (default: all it
    sees; on a CPU-only machine the host is split into ``devices`` simulated devices where the
    backend can, which must happen before the backend has initialised). Returns the engine."""
    if devices is not None and int(devices) < 1:
        raise DistributionError(f"--devices must be >= 1, got {devices}")
    name = backend_name()
    if name not in _ENGINES:
        raise DistributionError(f"data-parallel training is not available on Keras backend "
                                f"{name!r}; use jax, tensorflow or torch")
    stop()
    engine = importlib.import_module(_ENGINES[name]).start(
        None if devices is None else int(devices), bool(sync_batch_norm))
    _active.append(engine)
    return engine


def active():
    """The engine started by :func:`start` in this process, or None."""
    return _active[-1] if _active else None


def stop():
    """End the active engine (if any)."""
    while _active:
        _active.pop().close()


def syncing_batch_statistics():
    """True while batch-norm statistics must be reduced over the replicas."""
    engine = active()
    return engine is not None and engine.sync_batch_norm and engine.num_replicas > 1


def cross_replica_sum(x):
    """``Σ_replicas x`` (differentiable: the gradient of a replica's sum is the sum of the
    replicas' gradients) when batch statistics are synchronised; ``x`` otherwise."""
    if not syncing_batch_statistics():
        return x
    return active().replica_sum(x)


def replica_thread_key():
    """A key for what a layer keeps during one replica's step: the thread where the engine runs
    replicas in threads of their own, else None (one step at a time)."""
    engine = active()
    if engine is None or not engine.replicas_in_threads or engine.num_replicas == 1:
        return None
    return threading.get_ident()

