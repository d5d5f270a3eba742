"""Training-step time of a small spiking conv net on every Keras backend, and the same net in
SpikingJelly 2.x (torch, multi-step mode), measured side by side in one run.

Net: 32×32×3 input repeated T=4 times → 3 × [conv3×3 (no bias) → BN over N·T → LIF(τ=2, hard
reset, detached, ATan α=2)] with 2×2 max-pooling after the first two blocks → global average pool →
mean over T → Dense(10). Batch 32, SGD, cross-entropy. Each backend runs in a fresh subprocess.

    python benchmarks/neuron_throughput.py [--steps 20] [--warmup 5] [--backends torch,jax,tensorflow]
                                           [--torch-threads N] [--no-interleaved]

Every torch process (SpikingJelly and snnzoo on torch) runs with the same torch thread settings
(torch's defaults, or ``--torch-threads N`` for all of them); the table prints them. On a shared
machine the separate processes see different load, so the torch-eager ratio is also measured
with SpikingJelly and snnzoo alternating step by step in one process ("interleaved").

SpikingJelly is a benchmark-only dependency: ``pip install --no-deps spikingjelly loguru``.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

B, T, H, C = 32, 4, 32, 10
WIDTHS = (32, 64, 128)


def _set_torch_threads(n):
    """Same torch threading for every torch process; returns (intra-op, inter-op) threads."""
    import torch

    if n:
        torch.set_num_threads(n)
    return torch.get_num_threads(), torch.get_num_interop_threads()


def _time_steps(step, steps, warmup):
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def keras_train_step(jit):
    """One ``train_on_batch`` of the snnzoo net (channels last) as a callable."""
    import keras
    import numpy as np

    from snnzoo.layers import LIF, MeanOverTime, RepeatTime, TDBatchNorm, TimeFold

    inp = keras.Input((H, H, 3))
    x = RepeatTime(T)(inp)
    for i, width in enumerate(WIDTHS):
        x = TimeFold(keras.layers.Conv2D(width, 3, padding="same", use_bias=False))(x)
        x = TDBatchNorm()(x)
        x = LIF(tau=2.0, detach_reset=True, surrogate="atan")(x)
        if i < 2:
            x = TimeFold(keras.layers.MaxPooling2D(2))(x)
    x = TimeFold(keras.layers.GlobalAveragePooling2D())(x)
    model = keras.Model(inp, keras.layers.Dense(C)(MeanOverTime()(x)))
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
    rng = np.random.RandomState(0)
    xb = rng.rand(B, H, H, 3).astype("float32")
    yb = rng.randint(0, C, size=(B,)).astype("int32")

    def step():
        float(model.train_on_batch(xb, yb))  # float(): synchronise

    return step


def spikingjelly_train_step():
    """One training step of the same net in SpikingJelly (multi-step mode, NCHW) as a callable."""
    import torch
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    torch.manual_seed(0)
    mods, c_in = [], 3
    for i, width in enumerate(WIDTHS):
        mods += [layer.SeqToANNContainer(torch.nn.Conv2d(c_in, width, 3, padding=1, bias=False),
                                         torch.nn.BatchNorm2d(width)),
                 neuron.LIFNode(tau=2.0, detach_reset=True, surrogate_function=surrogate.ATan(),
                                step_mode="m")]
        if i < 2:
            mods.append(layer.SeqToANNContainer(torch.nn.MaxPool2d(2)))
        c_in = width
    mods.append(layer.SeqToANNContainer(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()))
    body = torch.nn.Sequential(*mods)
    fc = torch.nn.Linear(WIDTHS[-1], C)
    params = list(body.parameters()) + list(fc.parameters())
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    xb = torch.rand(B, 3, H, H)
    yb = torch.randint(0, C, (B,))

    def step():
        opt.zero_grad()
        functional.reset_net(body)  # SpikingJelly neurons keep state between calls
        x_seq = xb.unsqueeze(0).repeat(T, 1, 1, 1, 1)  # [T, N, C, H, W]
        logits = fc(body(x_seq).mean(0))
        loss = torch.nn.functional.cross_entropy(logits, yb)
        loss.backward()
        opt.step()
        float(loss.detach())

    return step


def _stats(times):
    return {"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times)}


def _child(args):
    threads = None
    if args.child == "spikingjelly" or os.environ["KERAS_BACKEND"] == "torch":
        threads = _set_torch_threads(args.torch_threads)
    if args.child == "interleaved":  # SpikingJelly and snnzoo torch eager, alternating steps
        steps = {"spikingjelly": spikingjelly_train_step(), "snnzoo": keras_train_step(False)}
        times = {k: [] for k in steps}
        for i in range(args.warmup + args.steps):
            for k, step in steps.items():
                t = _time_steps(step, 1, 0)
                if i >= args.warmup:
                    times[k] += t
        result = {k: _stats(v) for k, v in times.items()}
        result["paired_ratio_median"] = statistics.median(
            a / b for a, b in zip(times["snnzoo"], times["spikingjelly"]))
    else:
        step = spikingjelly_train_step() if args.child == "spikingjelly" else keras_train_step(args.jit)
        result = _stats(_time_steps(step, args.steps, args.warmup))
    result["torch_threads"] = threads
    print("RESULT " + json.dumps(result))


def _run_child(name, backend, jit, args):
    env = dict(os.environ, KERAS_BACKEND=backend or "torch", TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, __file__, "--child", name, "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--torch-threads", str(args.torch_threads)]
    if jit:
        cmd.append("--jit")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")


def _line(label, r):
    threads = "" if not r.get("torch_threads") else f"   torch threads {r['torch_threads'][0]}/{r['torch_threads'][1]}"
    return f"{label:34s} median {r['median_ms']:8.1f} ms   min {r['min_ms']:8.1f} ms{threads}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--backends", default="torch,jax,tensorflow")
    p.add_argument("--torch-threads", type=int, default=0,
                   help="torch.set_num_threads(N) in every torch process (0: torch's default)")
    p.add_argument("--no-interleaved", action="store_true",
                   help="skip the one-process SpikingJelly / snnzoo-torch-eager comparison")
    p.add_argument("--child", default=None)
    p.add_argument("--jit", action="store_true")
    args = p.parse_args()
    if args.child:
        return _child(args)

    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min)", flush=True)
    runs = [("spikingjelly (torch)", "spikingjelly", None, False)]
    for b in args.backends.split(","):
        runs.append((f"snnzoo {b}, jit off", "keras", b, False))
        runs.append((f"snnzoo {b}, jit on", "keras", b, True))  # compile happens in the warm-up
    results = {}
    for label, name, backend, jit in runs:
        results[label] = _run_child(name, backend, jit, args)
        print(_line(label, results[label]), flush=True)
    torch_threads = {tuple(r["torch_threads"]) for r in results.values() if r.get("torch_threads")}
    if len(torch_threads) > 1:
        raise RuntimeError(f"torch processes ran with different thread settings: {torch_threads}")
    sj = results["spikingjelly (torch)"]["median_ms"]
    print(f"\nratio to SpikingJelly (median step time; <= 1.0 means as fast or faster), "
          f"B={B}, T={T}, {H}x{H}x3, widths {WIDTHS}:")
    for label, r in results.items():
        print(f"  {label:34s} {r['median_ms'] / sj:5.2f}x")
    if "torch" in args.backends.split(",") and not args.no_interleaved:
        pair = _run_child("interleaved", "torch", False, args)
        print("\none process, SpikingJelly and snnzoo torch (jit off) alternating step by step:")
        for k in ("spikingjelly", "snnzoo"):
            print("  " + _line(k, dict(pair[k], torch_threads=pair["torch_threads"])))
        print(f"  snnzoo torch eager / SpikingJelly: median {pair['snnzoo']['median_ms'] / pair['spikingjelly']['median_ms']:.2f}x, "
              f"min {pair['snnzoo']['min_ms'] / pair['spikingjelly']['min_ms']:.2f}x, "
              f"median of step-pair ratios {pair['paired_ratio_median']:.2f}x")
        results["interleaved"] = pair
    print(f"load average at end: {os.getloadavg()[0]:.2f} (1 min)")
    return results


if __name__ == "__main__":
    main()
