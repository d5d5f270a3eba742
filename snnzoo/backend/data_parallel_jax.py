"""Data parallelism on JAX: ``keras.distribution.DataParallel`` over the devices.

One jitted program runs over all devices (GSPMD): Keras places every batch split along its batch
axis and replicates the variables; means over the batch (losses, batch-norm moments, CSBP's
chaotic loss) are reductions over the global batch by construction, so nothing is synchronised by
hand. Simulated devices on a CPU host: ``jax_num_cpu_devices`` (set before JAX's backend starts).
Multi-host: call ``jax.distributed.initialize()`` in every host's process before training (see
docs/distributed.md); ``jax.devices()`` then lists every host's devices.
"""
import jax
import keras

from snnzoo.backend.data_parallel import DataParallelEngine, DistributionError

__all__ = ["JaxDataParallel", "start"]


def _split_host(count):
    """Ask for ``count`` CPU devices; False where JAX's backend has started already (then the
    device count is fixed) or the host has accelerators."""
    if getattr(jax.config, "jax_num_cpu_devices", None) == count:
        return True
    try:
        jax.config.update("jax_num_cpu_devices", int(count))
    except RuntimeError:  # JAX: "should be updated before backends are initialized"
        return False
    return True


def _devices(count):
    if count is not None:
        _split_host(count)  # before jax.devices() starts the backend; no-op with accelerators
    devices = jax.devices()
    platform = devices[0].platform
    if count is None:
        return devices
    if count > len(devices):
        hint = ("JAX's CPU backend started before the devices were split: pass --devices to the "
                "training command (it splits the host before JAX starts) or set "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={count}"
                if platform == "cpu" else f"this host has {len(devices)} {platform} device(s)")
        raise DistributionError(f"--devices {count}: JAX sees {len(devices)} device(s) "
                                f"({hint})")
    return devices[:count]


class JaxDataParallel(DataParallelEngine):
    strategy = "jax DataParallel"

    def __init__(self, devices, sync_batch_norm):
        super().__init__(len(devices), [str(d) for d in devices], sync_batch_norm)
        self.distribution = keras.distribution.DataParallel(devices=devices)
        self._previous = keras.distribution.distribution()
        keras.distribution.set_distribution(self.distribution)

    def close(self):
        keras.distribution.set_distribution(self._previous)


def start(devices, sync_batch_norm):
    if not sync_batch_norm:
        raise DistributionError("--no-sync-bn is not available on JAX: its data parallelism is "
                                "one program over the global batch, so batch statistics are "
                                "always global")
    return JaxDataParallel(_devices(devices), sync_batch_norm)
