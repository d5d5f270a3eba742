"""Training memory and step time of a feedback SNN: IDE (implicit differentiation) vs BPTT.

Network (F400, the paper's F-MNIST net): 784 → Dense(400)+BN → feedback LIF layer (400 neurons,
feedback Dense 400→400, V_th = 2, λ = 0.95, subtract reset) → (weighted) firing rate → Dense(10);
batch 128, SGD, cross-entropy, T ∈ {5, 10, 30, 100}; torch backend by default (``--backend``
tensorflow / jax also work; one CPU thread each).

* ``ide``  — :class:`snnzoo.layers.FeedbackEquilibrium` (forward without a graph, gradient by a
  30-iteration Broyden solve on the equilibrium);
* ``bptt`` — the same SNN unrolled over T with a surrogate gradient (ATan, α = 2) through every
  step (backpropagation through time).

Each (method, T) runs in a fresh subprocess: peak memory is the process's peak resident set size
(``resource.getrusage``), reported as the increase over the RSS after building the model and
running one inference batch (imports, weights and data excluded), plus the absolute peak.

    python benchmarks/ide_memory.py [--backend torch] [--steps 5] [--T 5 10 30 100] [--json FILE]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

B, D_IN, HIDDEN, CLASSES = 128, 784, 400, 10
VTH, DECAY = 2.0, 0.95


def _rss_mb():
    # current RSS from /proc (Linux); peak from getrusage (kB on Linux)
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build(method, T):
    import keras
    from keras import ops

    from snnzoo import surrogates
    from snnzoo.ide import FeedbackEquilibrium, UnitNormUniform

    inp = keras.Input((D_IN,))
    x = keras.layers.Dense(HIDDEN, kernel_initializer=UnitNormUniform(-1, 0))(inp)
    x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
    if method == "ide":
        rate = FeedbackEquilibrium({"kind": "dense", "filters": HIDDEN}, time_steps=T, decay=DECAY,
                                   v_threshold=VTH, seed=0)(x)
    else:
        spike = surrogates.get("atan")

        class BPTTFeedback(keras.layers.Layer):
            """The same feedback LIF layer unrolled over T, differentiated through every step."""

            def build(self, shape):
                self.w = self.add_weight(shape=(HIDDEN, HIDDEN), initializer=UnitNormUniform(-1, 1))

            def call(self, x1):
                w = self.w.value / 20.0  # ≈ spectral scale of the normalised IDE kernel
                u = ops.zeros_like(x1)
                s = ops.zeros_like(x1)
                acc = ops.zeros_like(x1)
                for t in range(T):
                    u = u + x1 + (ops.matmul(s, w) if t > 0 else 0.0)
                    s = spike(u - VTH)
                    u = (u - VTH * s) * DECAY
                    acc = acc * DECAY + s
                return acc / ((1 - DECAY ** T) / (1 - DECAY))

        rate = BPTTFeedback()(x)
    model = keras.Model(inp, keras.layers.Dense(CLASSES)(rate))
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), jit_compile=False,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def child(method, T, steps):
    import keras
    import numpy as np

    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (B, D_IN)).astype("float32")
    y = rng.integers(0, CLASSES, B)
    model = build(method, T)
    model.predict(x, batch_size=B, verbose=0)
    base = _rss_mb()
    peak0 = _peak_mb()
    model.train_on_batch(x, y)  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - t0)
    peak = _peak_mb()
    print(json.dumps({"backend": keras.backend.backend(), "method": method, "T": T, "peak_mb": round(peak, 1),
                      "train_increase_mb": round(max(peak - max(base, peak0), 0.0), 1),
                      "base_mb": round(base, 1), "step_ms": round(1000 * sorted(times)[len(times) // 2], 1)}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--T", type=int, nargs="*", default=[5, 10, 30, 100])
    p.add_argument("--methods", nargs="*", default=["ide", "bptt"])
    p.add_argument("--backend", default="torch", choices=["torch", "tensorflow", "jax"])
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    p.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return child(a.child[0], int(a.child[1]), a.steps)
    env = dict(os.environ, KERAS_BACKEND=a.backend, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3",
               TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false")
    rows = []
    for method in a.methods:
        for T in a.T:
            out = subprocess.run([sys.executable, __file__, "--child", method, str(T), "--steps",
                                  str(a.steps)], env=env, capture_output=True, text=True)
            lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
            if out.returncode or not lines:
                raise RuntimeError(f"{method} T={T} failed:\n{out.stderr[-2000:]}")
            rows.append(json.loads(lines[-1]))
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'method':6} {'T':>4} {'train mem (MB)':>15} {'peak RSS (MB)':>14} {'step (ms)':>10}")
    for r in rows:
        print(f"{r['method']:6} {r['T']:>4} {r['train_increase_mb']:>15.1f} {r['peak_mb']:>14.1f} {r['step_ms']:>10.1f}")
    print()
    for method in a.methods:
        by_t = {r["T"]: r for r in rows if r["method"] == method}
        if 10 in by_t and 100 in by_t:
            lo, hi = by_t[10], by_t[100]
            inc = hi["train_increase_mb"] / max(lo["train_increase_mb"], 1e-9)
            print(f"{method:6} T=100 / T=10: training memory {inc:.2f}x, peak RSS "
                  f"{hi['peak_mb'] / lo['peak_mb']:.3f}x, step time {hi['step_ms'] / lo['step_ms']:.2f}x"
                  + ("   (goal for IDE: <= 1.15x)" if method == "ide" else ""))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"backend": a.backend, "batch": B, "hidden": HIDDEN, "steps": a.steps, "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
