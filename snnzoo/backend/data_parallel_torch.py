"""Data parallelism on torch: one process per device, launched by ``torchrun``.

``torchrun --nproc_per_node=N -m training.train RECIPE --distribute`` starts N processes with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in their environment. Each
joins a ``torch.distributed`` process group (nccl on CUDA, gloo on CPU), takes its rows of every
global batch, and before every optimizer step the gradients are averaged across the ranks in one
flat all-reduce — what ``DistributedDataParallel``'s reducer does (Keras' ``fit`` calls the model
itself, so the model is not wrapped; the averaging sits where Keras hands the gradients to the
optimizer). Parameters and non-trainable state are broadcast from rank 0 before training, as DDP
does when it wraps a module. Batch-norm statistics are summed across ranks with a differentiable
all-reduce (synchronised BN; the gradient of the sum is the all-reduce of the gradients).
"""
import datetime
import os
import signal

import keras
import torch
import torch.distributed as dist

from snnzoo.backend.data_parallel import DataParallelEngine, DistributionError

__all__ = ["TorchDistributed", "start"]

_LAUNCH = ("torchrun --nproc_per_node=N -m training.train RECIPE --distribute "
           "(or: torchrun --nproc_per_node=N $(which snnzoo) train RECIPE --distribute)")


class _RankShard(keras.utils.PyDataset):
    """Rows ``[rank·b, (rank+1)·b)`` of every global batch (b = global batch / world size)."""

    def __init__(self, sequence, rank, world):
        self.sequence, self.rank, self.world = sequence, rank, world
        super().__init__()

    def __len__(self):
        return len(self.sequence)

    def __getattr__(self, name):  # batch_size, set_epoch, source, ... of the wrapped sequence
        if name == "sequence":
            raise AttributeError(name)
        return getattr(self.sequence, name)

    def on_epoch_end(self):
        self.sequence.on_epoch_end()

    def __getitem__(self, index):
        x, y = self.sequence[index][:2]
        n = len(y)
        if n % self.world:
            raise DistributionError(f"a batch of {n} samples cannot be split over {self.world} "
                                    "ranks; use a --batch-size that is a multiple of the ranks")
        b = n // self.world
        part = slice(self.rank * b, (self.rank + 1) * b)
        return x[part], y[part]


class _AllReduceSum(torch.autograd.Function):
    """y = Σ_ranks x; the gradient of a rank's x is Σ_ranks ∂L/∂y (every rank's loss reads y)."""

    @staticmethod
    def forward(ctx, x):
        y = x.detach().clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        grad = grad.detach().clone()
        dist.all_reduce(grad)
        return grad


class TorchDistributed(DataParallelEngine):
    strategy = "torch DDP (torchrun)"

    def __init__(self, devices, sync_batch_norm):
        world = int(os.environ["WORLD_SIZE"])
        rank = int(os.environ["RANK"])
        if devices is not None and devices != world:
            raise DistributionError(f"--devices {devices} but torchrun started {world} process(es); "
                                    f"use torchrun --nproc_per_node={devices} (or leave --devices "
                                    "out: on torch the device count is the number of processes)")
        local = int(os.environ.get("LOCAL_RANK", rank))
        cuda = torch.cuda.is_available()
        if cuda:
            if local >= torch.cuda.device_count():
                raise DistributionError(f"LOCAL_RANK {local} but this host has "
                                        f"{torch.cuda.device_count()} CUDA device(s)")
            torch.cuda.set_device(local)
        self.backend_name = "nccl" if cuda else "gloo"
        if not dist.is_initialized():
            timeout = datetime.timedelta(seconds=float(os.environ.get("SNNZOO_DIST_TIMEOUT", 1800)))
            dist.init_process_group(self.backend_name, timeout=timeout)
        super().__init__(world, [f"cuda:{i}" if cuda else f"cpu:{i}" for i in range(world)],
                         sync_batch_norm, rank=rank, world_size=world)
        # torchrun stops every rank with SIGTERM when one fails: end with one clear error (and
        # the training loop's clean-up) instead of a silent kill
        self._previous_sigterm = signal.signal(signal.SIGTERM, self._stopped)

    def _stopped(self, signum, frame):
        raise DistributionError(
            f"rank {self.rank} of {self.world_size} was stopped by torchrun (SIGTERM): another "
            "rank failed or was killed (torchrun's report names it). Completed epochs are kept in "
            "the run folder's backup/; start the same torchrun command again with --resume")
    def shard(self, sequence):
        return _RankShard(sequence, self.rank, self.world_size) if self.world_size > 1 else sequence

    def prepare(self, model):
        with torch.no_grad():
            for v in model.variables:  # rank 0's state everywhere (DDP's initial broadcast)
                dist.broadcast(v.value.data, src=0)
        optimizer = model.optimizer
        apply = optimizer.apply
        world = self.world_size

        def apply_averaged(grads, trainable_variables=None):
            present = [g for g in grads if g is not None]
            if present and world > 1:
                flat = torch.cat([g.reshape(-1) for g in present])
                dist.all_reduce(flat)
                flat /= world
                offset = 0
                for g in present:
                    n = g.numel()
                    g.copy_(flat[offset:offset + n].view_as(g))
                    offset += n
            return apply(grads, trainable_variables)

        optimizer.apply = apply_averaged

    def replica_sum(self, x):
        return _AllReduceSum.apply(x)

    def translate_error(self, exc):
        text = str(exc)
        lost = ("Connection closed by peer", "Connection reset by peer", "Broken pipe",
                "Socket Timeout", "Timed out", "NCCL", "gloo", "closed")
        if isinstance(exc, (RuntimeError, dist.DistBackendError)) and any(s in text for s in lost):
            cause = next((line.strip() for line in text.splitlines()
                          if any(s in line for s in lost)), text.strip().splitlines()[0])
            return DistributionError(
                f"rank {self.rank} of {self.world_size} lost the other ranks ({cause[:200]}): "
                "a process died or was killed. The run folder keeps the last finished epoch; start "
                f"the same torchrun command again with --resume")
        return None

    def close(self):
        signal.signal(signal.SIGTERM, self._previous_sigterm or signal.SIG_DFL)
        if dist.is_initialized():
            dist.destroy_process_group()


def start(devices, sync_batch_norm):
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        raise DistributionError("--distribute on torch runs one process per device under torchrun: "
                                + _LAUNCH.replace("N", str(devices or "N")))
    return TorchDistributed(devices, sync_batch_norm)
