"""Why the chaotic loss costs a training step more than its own kernels on a CPU: one spiking
layer's forward (a BN-like op writes the pre-activation x, then the LIF neuron reads it) with and
without the CSBP loss's compiled kernel on x, against that kernel alone (torch backend, CPU).

    KERAS_BACKEND=torch python -m benchmarks.chaos_layer_sequence [--shape 32 2 32 32 128]

Reported: median milliseconds of each (alternating, ``--repeats`` times) and the extra time of
the sequence with the loss over the plain one; an extra larger than the kernel alone is the cost
the additional pass over x inflicts on its neighbours (memory traffic, cache).
"""
import argparse
import json
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", type=int, nargs="+", default=[32, 2, 32, 32, 128],
                   help="[B, T, ...] of the pre-activation (default: ResNet-19's largest layers)")
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args(argv)
    if keras.backend.backend() != "torch":
        raise SystemExit("run with KERAS_BACKEND=torch (the compiled loss kernel is torch's)")
    import torch

    from snnzoo.chaos import ChaoticRegularizer
    from snnzoo.backend.torch_chaos import Precomputed
    from snnzoo.layers import LIF

    torch.manual_seed(0)
    reg = ChaoticRegularizer(z0=10.0)
    lif = LIF(tau=2.0)
    source = torch.randn(args.shape)
    scale = torch.randn(args.shape[-1])

    def run(mode):
        with torch.no_grad():
            x = source * scale + 0.1  # the BN-like op writes x
            if mode == "loss alone":
                t0 = time.perf_counter()
                entry = reg._fast_entry(x, split_time=True)
                return time.perf_counter() - t0, entry
            t0 = time.perf_counter()
            entry = reg._fast_entry(x, split_time=True) if mode == "with loss" else None
            out = lif(x)
            return time.perf_counter() - t0, (entry, out)

    modes = ("plain", "with loss", "loss alone")
    for mode in modes:  # warm-up (compiles the kernel)
        run(mode)
    assert isinstance(run("loss alone")[1], Precomputed), "the compiled CPU path did not apply"
    times = {mode: [] for mode in modes}
    for _ in range(args.repeats):
        for mode in modes:
            times[mode].append(run(mode)[0])
    ms = {mode: 1e3 * statistics.median(t) for mode, t in times.items()}
    result = {"shape": args.shape, "ms": ms, "extra_ms": ms["with loss"] - ms["plain"],
              "loss_alone_ms": ms["loss alone"]}
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
