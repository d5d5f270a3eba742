"""Training-step time of a small spiking conv net on every Keras backend, and the same net in
SpikingJelly 2.x (torch, multi-step mode), measured side by side in one run.

Net: 32×32×3 input repeated T=4 times → 3 × [conv3×3 (no bias) → BN over N·T → LIF(τ=2, hard
reset, detached, ATan α=2)] with 2×2 max-pooling after the first two blocks → global average pool →
mean over T → Dense(10). Batch 32, SGD, cross-entropy. Each backend runs in a fresh subprocess.

    python benchmarks/neuron_throughput.py [--steps 20] [--warmup 5] [--backends torch,jax,tensorflow]

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


def keras_step_times(steps, warmup, jit):
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
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = model.train_on_batch(xb, yb)
        float(loss)  # synchronise
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def spikingjelly_step_times(steps, warmup):
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
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        functional.reset_net(body)  # SpikingJelly neurons keep state between calls
        x_seq = xb.unsqueeze(0).repeat(T, 1, 1, 1, 1)  # [T, N, C, H, W]
        logits = fc(body(x_seq).mean(0))
        loss = torch.nn.functional.cross_entropy(logits, yb)
        loss.backward()
        opt.step()
        float(loss)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def _child(args):
    if args.child == "spikingjelly":
        times = spikingjelly_step_times(args.steps, args.warmup)
    else:
        times = keras_step_times(args.steps, args.warmup, args.jit)
    print("RESULT " + json.dumps({"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times)}))


def _run_child(name, backend, jit, args):
    env = dict(os.environ, KERAS_BACKEND=backend or "torch", TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, __file__, "--child", name, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    if jit:
        cmd.append("--jit")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--backends", default="torch,jax,tensorflow")
    p.add_argument("--child", default=None)
    p.add_argument("--jit", action="store_true")
    args = p.parse_args()
    if args.child:
        return _child(args)

    runs = [("spikingjelly (torch)", "spikingjelly", None, False)]
    for b in args.backends.split(","):
        runs.append((f"snnzoo {b}, jit off", "keras", b, False))
        runs.append((f"snnzoo {b}, jit on", "keras", b, True))  # compile happens in the warm-up
    results = {}
    for label, name, backend, jit in runs:
        results[label] = _run_child(name, backend, jit, args)
        print(f"{label:28s} median {results[label]['median_ms']:8.1f} ms   min {results[label]['min_ms']:8.1f} ms",
              flush=True)
    sj = results["spikingjelly (torch)"]["median_ms"]
    print(f"\nratio to SpikingJelly (median step time; <= 1.0 means as fast or faster), "
          f"B={B}, T={T}, {H}x{H}x3, widths {WIDTHS}:")
    for label, r in results.items():
        print(f"  {label:28s} {r['median_ms'] / sj:5.2f}x")
    return results


if __name__ == "__main__":
    main()
