"""Per-step latency of a streamed zoo model (``Streamer.step``, compiled) vs one multi-step call
divided by T (the same model, compiled), on every Keras backend, side by side in one run.

    python benchmarks/streaming_latency.py [--models fsnn_fmnist_ide,sew7bnet] [--batch 1]
                                           [--steps 50] [--warmup 5] [--backends torch,jax,tensorflow]
                                           [--torch-compile-backend inductor]

Each backend runs in a fresh subprocess (``KERAS_BACKEND``), float32. Compilers: ``jax.jit``,
``tf.function`` (``jit_compile=True``: XLA), ``torch.compile`` (``dynamic=False``). The streamed
step is timed as a deployment loop runs it: ``outputs, state = step(x_t, state)`` with the state
fed back, the outputs copied to numpy each step (a device sync); the multi-step call likewise
(``model(x)`` → numpy). Reported: median milliseconds per call; ``multi/T`` is the multi-step
call's time divided by T, the per-step cost when the whole sequence is at hand; ``ratio`` =
step / (multi/T), the price of answering after every step (each step is its own dispatch: small
models pay fixed per-call overhead T times).

Models (``--models``, zoo names; random weights unless the zoo ships them): ``fsnn_fmnist_ide``
(shipped weights, 28×28 images, T = 5: the IDE feedback simulation) and ``sew7bnet`` (DVS
128×128×2 frames, T = 16, built with 8 channels to keep the run short; ``sew7bnet:full`` for the
published 32).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

MODELS = {
    "fsnn_fmnist_ide": dict(weights="default"),
    "sew7bnet": dict(weights=None, channels=8),
    "sew7bnet:full": dict(weights=None),
}


def _median_ms(fn, steps, warmup):
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _compile(fn, backend, torch_backend):
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    import torch

    return torch.compile(fn, dynamic=False, backend=torch_backend)


def run_one(model_key, batch, steps, warmup, torch_backend):
    """Time one model on the current KERAS_BACKEND; returns a dict (one table row)."""
    import keras
    import numpy as np

    import snnzoo
    from snnzoo.streaming import Streamer

    backend = keras.backend.backend()
    name = model_key.split(":")[0]
    options = dict(MODELS.get(model_key, {"weights": None}))
    weights = options.pop("weights")
    if weights == "default" and not snnzoo.model_info(name)["available"]:
        weights = None
    model = snnzoo.load(name, weights=weights, **options)
    s = Streamer(model)
    T = s.time_steps
    rng = np.random.RandomState(0)
    if len(model.inputs[0].shape) == len(s.step_input_shape) + 2:  # [B, T, ...]: one frame per step
        x = rng.poisson(1.0, size=(batch, T) + s.step_input_shape).astype("float32")
        frames = [x[:, t] for t in range(T)]
    else:
        x = rng.rand(batch, *s.step_input_shape).astype("float32")
        frames = [x] * T

    t0 = time.perf_counter()
    step = _compile(s.step, backend, torch_backend)
    state = s.initial_state(batch)
    for t in range(T):  # first calls: compile (and check the result)
        out, state = step(frames[t], state)
    streamed = keras.ops.convert_to_numpy(out)
    compile_step_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    multi = _compile(lambda v: model(v), backend, torch_backend)
    full = keras.ops.convert_to_numpy(multi(x))
    compile_multi_s = time.perf_counter() - t0
    max_diff = float(np.abs(streamed - full).max())

    box = {"state": state, "t": 0}

    def one_step():
        out, box["state"] = step(frames[box["t"] % T], box["state"])
        box["t"] += 1
        keras.ops.convert_to_numpy(out)

    step_ms = _median_ms(one_step, steps, warmup)
    multi_ms = _median_ms(lambda: keras.ops.convert_to_numpy(multi(x)), max(5, steps // T), warmup)
    return {"backend": backend, "model": model_key, "T": T, "batch": batch, "step_ms": step_ms,
            "multi_ms": multi_ms, "multi_per_step_ms": multi_ms / T, "ratio": step_ms / (multi_ms / T),
            "max_diff": max_diff, "compile_step_s": compile_step_s, "compile_multi_s": compile_multi_s,
            "compiler": {"jax": "jax.jit", "tensorflow": "tf.function(XLA)",
                         "torch": f"torch.compile({torch_backend})"}[backend]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="fsnn_fmnist_ide,sew7bnet")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--backends", default="torch,jax,tensorflow")
    parser.add_argument("--torch-compile-backend", default="inductor")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        row = run_one(args.child, args.batch, args.steps, args.warmup, args.torch_compile_backend)
        print("RESULT " + json.dumps(row))
        return

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rows = []
    for model_key in args.models.split(","):
        for backend in args.backends.split(","):
            env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
                       PYTHONPATH=os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p))
            cmd = [sys.executable, os.path.abspath(__file__), "--child", model_key, "--batch", str(args.batch),
                   "--steps", str(args.steps), "--warmup", str(args.warmup),
                   "--torch-compile-backend", args.torch_compile_backend]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=repo)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not lines:
                print(f"{backend} {model_key}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append(json.loads(lines[-1][len("RESULT "):]))

    head = (f"{'model':16s} {'backend':10s} {'compiler':26s} {'T':>3s} {'B':>3s} {'step ms':>9s} "
            f"{'multi ms':>9s} {'multi/T ms':>10s} {'ratio':>6s} {'|diff|':>8s} {'compile s':>10s}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['model']:16s} {r['backend']:10s} {r['compiler']:26s} {r['T']:3d} {r['batch']:3d} "
              f"{r['step_ms']:9.3f} {r['multi_ms']:9.3f} {r['multi_per_step_ms']:10.3f} {r['ratio']:6.2f} "
              f"{r['max_diff']:8.1e} {r['compile_step_s']:5.1f}/{r['compile_multi_s']:<4.1f}")


if __name__ == "__main__":
    main()
