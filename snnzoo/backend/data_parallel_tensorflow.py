"""Data parallelism on TensorFlow: ``tf.distribute.MirroredStrategy``.

One replica per device in one process; Keras builds the model and optimizer inside the strategy's
scope, splits every global batch over the replicas, scales each replica's task loss by 1/R and
sums the gradients across replicas. Batch-norm statistics are summed across replicas with the
replica context's ``all_reduce`` (differentiable: its gradient is the all-reduce of the
gradients); Keras scales losses that layers add by 1/R like the task loss.

Simulated devices on a CPU host: logical CPU devices (set before TensorFlow's runtime starts).
Multi-worker: ``tf.distribute.MultiWorkerMirroredStrategy`` is used when ``TF_CONFIG`` describes
a cluster (see docs/distributed.md).
"""
import json
import os

import tensorflow as tf

from snnzoo.backend.data_parallel import DataParallelEngine, DistributionError

__all__ = ["MirroredDataParallel", "start"]


def _split_host(count):
    """Split the first CPU into ``count`` logical devices (before the runtime starts: listing
    logical devices starts it)."""
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError as exc:  # "Virtual devices cannot be modified after being initialized"
        if len(tf.config.list_logical_devices("CPU")) >= count:
            return
        raise DistributionError(
            f"--devices {count}: TensorFlow's runtime started before the host could be split into "
            f"{count} devices; pass --devices to the training command (it splits the host first) "
            "or call tf.config.set_logical_device_configuration before any TensorFlow op") from exc


def _device_names(count):
    if tf.config.list_physical_devices("GPU"):
        gpus = tf.config.list_logical_devices("GPU")
        if count is not None and count > len(gpus):
            raise DistributionError(f"--devices {count}: TensorFlow sees {len(gpus)} GPU(s)")
        return [d.name for d in gpus[: count or len(gpus)]]
    if count is None:
        count = len(tf.config.list_logical_devices("CPU"))
    else:
        _split_host(count)
    return [d.name for d in tf.config.list_logical_devices("CPU")[:count]]


class MirroredDataParallel(DataParallelEngine):
    strategy = "tf MirroredStrategy"
    replicas_in_threads = True

    def __init__(self, count, sync_batch_norm):
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster")
        if cluster:
            self.strategy = "tf MultiWorkerMirroredStrategy"
            self.tf_strategy = tf.distribute.MultiWorkerMirroredStrategy()
            task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
            rank, world = int(task.get("index", 0)), sum(len(v) for v in cluster.values())
            names = [d.name for d in self.tf_strategy.extended.worker_devices]
        else:
            names = _device_names(count)
            self.tf_strategy = tf.distribute.MirroredStrategy(
                devices=names, cross_device_ops=None if "GPU" in names[0].upper() else
                tf.distribute.ReductionToOneDevice())
            rank, world = 0, 1
        super().__init__(self.tf_strategy.num_replicas_in_sync, names, sync_batch_norm,
                         rank=rank, world_size=world)

    def scope(self):
        return self.tf_strategy.scope()

    def replica_sum(self, x):
        ctx = tf.distribute.get_replica_context()
        if ctx is None or ctx.num_replicas_in_sync == 1:  # cross-replica context: nothing to do
            return x
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)



def start(devices, sync_batch_norm):
    return MirroredDataParallel(devices, sync_batch_norm)
