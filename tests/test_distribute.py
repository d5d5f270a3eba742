"""Data-parallel training (``--distribute``, :mod:`snnzoo.backend.data_parallel`) keeps the
single-device math: the same recipe, seed, data and global batch on 1 device and on 2 devices give
the same final weights (float tolerance); unsynchronised batch norm would not. Each backend's
engine runs in the CI job of that backend (JAX DataParallel and TF MirroredStrategy on 2 simulated
CPU devices, torch DDP as 2 processes under torchrun with gloo)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

pytestmark = pytest.mark.parity

ROOT = Path(__file__).resolve().parents[1]
RECIPE = "tiny_conv_fmnist_csbp"  # 2 × conv → tdBN → LIF, CSBP on both, z annealed per batch
BACKEND = keras.backend.backend()


def _train(out, *extra, ranks=None, epochs=1, limit=96, check=True):
    env = dict(os.environ, KERAS_BACKEND=BACKEND, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    cmd = ["-m", "snnzoo.cli", "train", RECIPE, "--limit", str(limit), "--epochs", str(epochs),
           "--batch-size", "32", "--out", str(out), "-q", *extra]
    if ranks:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={ranks}", *cmd]
    else:
        cmd = [sys.executable, *cmd]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return r


def _weights(path):
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda n, o: out.__setitem__(n, np.array(o)) if isinstance(o, h5py.Dataset)
                     else None)
    return out


def _max_diff(a, b):
    wa, wb = _weights(a / "final.weights.h5"), _weights(b / "final.weights.h5")
    assert wa.keys() == wb.keys() and wa
    return max(float(np.max(np.abs(wa[k] - wb[k]))) for k in wa)


def _distributed(out, *extra, **kw):
    if BACKEND == "torch":
        return _train(out, "--distribute", *extra, ranks=2, **kw)
    return _train(out, "--distribute", "--devices", "2", *extra, **kw)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Single-device runs of 1 and 2 epochs, and a 2-device run stopped after epoch 1 (copied to
    ``two_epoch1``) and continued with ``--resume`` (shared by the tests below: CI time)."""
    root = tmp_path_factory.mktemp("dist")
    _train(root / "single1", epochs=1)
    _train(root / "single", epochs=2)
    _distributed(root / "two", epochs=1)
    (root / "two_epoch1").mkdir()
    for name in ("final.weights.h5", "results.json"):
        (root / "two_epoch1" / name).write_bytes((root / "two" / name).read_bytes())
    _distributed(root / "two", "--resume", epochs=2)
    return root


def test_two_devices_give_the_single_device_weights(runs):
    single, two = runs / "single1", runs / "two_epoch1"
    assert _max_diff(single, two) < 2e-5
    results = json.loads((two / "results.json").read_text())
    reference = json.loads((single / "results.json").read_text())
    assert results["distribution"]["devices"] == 2
    assert results["distribution"]["strategy"].split()[0] == {"jax": "jax", "tensorflow": "tf",
                                                              "torch": "torch"}[BACKEND]
    assert reference["distribution"] == {"strategy": "single", "devices": 1}
    # z annealed per batch identically on every replica
    assert results["history"][0]["chaos_z"] == pytest.approx(reference["history"][0]["chaos_z"])
    assert results["history"][0]["chaos_z"] < 1.0


def test_resumed_distributed_run_gives_the_two_epoch_single_device_weights(runs):
    single, two = runs / "single", runs / "two"
    results = json.loads((two / "results.json").read_text())
    assert [r["epoch"] for r in results["history"]] == [1, 2]  # epoch 2 came from --resume
    reference = json.loads((single / "results.json").read_text())
    assert results["history"][1]["chaos_z"] == pytest.approx(reference["history"][1]["chaos_z"])
    assert _max_diff(single, two) < 2e-5


@pytest.mark.skipif(BACKEND == "jax", reason="JAX's DataParallel is one program over the global "
                    "batch: batch statistics are global by construction")
def test_unsynchronised_batch_norm_breaks_the_equality(runs, tmp_path):
    out = tmp_path / "local_bn"
    _distributed(out, "--no-sync-bn", epochs=1)
    assert _max_diff(runs / "two_epoch1", out) > 1e-3  # (synchronised: < 2e-5, test above)


def test_bad_device_requests_give_one_error(tmp_path, monkeypatch):
    from snnzoo.backend import data_parallel
    from snnzoo.training.train import train

    with pytest.raises(ValueError, match="--devices needs --distribute"):
        train(RECIPE, devices=2, out=str(tmp_path / "a"))
    with pytest.raises(data_parallel.DistributionError, match="--devices must be >= 1"):
        data_parallel.start(0)
    keras.ops.convert_to_numpy(keras.ops.zeros(1))  # this process's backend has started
    try:
        if BACKEND == "torch":
            monkeypatch.delenv("WORLD_SIZE", raising=False)
            with pytest.raises(data_parallel.DistributionError,
                               match="torchrun --nproc_per_node=3"):
                data_parallel.start(3)
        else:  # started with one CPU device: the host cannot be split any more
            with pytest.raises(data_parallel.DistributionError, match="--devices 3"):
                data_parallel.start(3)
        assert data_parallel.active() is None
    finally:
        data_parallel.stop()
    assert not (tmp_path / "a").exists()  # nothing half-written


@pytest.mark.skipif(BACKEND != "torch", reason="one process per device: torch DDP only")
def test_a_killed_rank_ends_the_run_with_one_error(tmp_path):
    import signal
    import time

    env = dict(os.environ, KERAS_BACKEND="torch", OMP_NUM_THREADS="1")
    out = tmp_path / "killed"
    p = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node=2", "-m", "snnzoo.cli", "train", RECIPE, "--limit",
                          "30000", "--out", str(out), "--distribute", "-q"],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        rank1 = None
        deadline = time.time() + 240
        while rank1 is None and time.time() < deadline:  # rank 1, once it trains
            time.sleep(1)
            for pid in subprocess.run(["pgrep", "-f", str(out)], capture_output=True,
                                      text=True).stdout.split():
                try:
                    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                except OSError:
                    continue
                if b"RANK=1" in environ and out.exists():  # the chief has started
                    rank1 = int(pid)
        assert rank1 is not None, "rank 1 did not start"
        time.sleep(5)
        os.kill(rank1, signal.SIGKILL)
        _, err = p.communicate(timeout=240)
    finally:
        p.kill()
    assert p.returncode != 0
    line = [x for x in err.splitlines() if x.startswith("snnzoo: error: ")]
    assert len(line) == 1 and "rank 0 of 2" in line[0] and "--resume" in line[0], err[-3000:]
    assert not out.exists()  # no epoch completed: nothing half-written is left
