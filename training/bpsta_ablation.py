"""Ablation of the BP-STA gradient adjustments (Shen et al., Patterns 2022) on real data.

Trains the same BP-STA ConvNet (``snnzoo.models.bpsta_convnet``) three ways. The variants differ
ONLY in the spiking node's gradient settings; everything else (architecture, initial weights,
data subset, data order, dropout masks, optimiser, schedule) is shared for a given seed:

* ``baseline``  — the authors' own baseline node (``SGLIFNode`` in the BP-STA code): rectangular
                  surrogate ∂S/∂U = 1 for |U − θ| < 0.5, reset not detached;
* ``bpsa``      — spatial adjustment only (``DGLIFNode``): ∂S/∂U = 1/U where the neuron fires,
                  0 elsewhere; reset detached;
* ``bpsa+bpta`` — spatial + temporal adjustment (``HTGLIFNode``, the paper's method): as bpsa,
                  plus ∂V[t]/∂S[t] = 0.2 in the backward pass of the reset;

(``bpta`` alone can be added with ``--variants``). The forward pass is identical in all variants
(``u ← λu + x; s = Θ(u − 0.5); hard reset to 0``; θ = 0.5, λ = 0.9, the authors' defaults).

Architecture (F-MNIST): the authors' MNIST/Fashion ``ConvNet`` with its minimal repair
(``bpsta_convnet("mnist_fc")``: C-MP2-C-C-AP2-FC(hidden)-ReLU-NDropout-node-FC(10·C)-node-Vote10,
the output is the voted firing rate averaged over T, the loss is MSE to the one-hot label
(``RateMSE``, what the authors' ``UnilateralMse(1.)`` computes)), narrowed with ``--widths``
(default 16,16,32,256) so that the ablation fits on a CPU. Direct encoding (the image repeated
T times). AdamW (lr 1e-3, weight decay 1e-4, the authors' values) with a per-step cosine decay
(no lr warm-up: the authors' 5-epoch warm-up belongs to a 300-epoch schedule); batch 64.
Dropout defaults to 0 (the authors use 0.5, ``--dropout 0.5``): in a few-epoch run it only slows
learning, and inverted dropout in front of a threshold node makes the hidden layer fire
differently in training (inputs ×2 or 0) and at test time.

Reports per variant and seed the test accuracy and the mean firing rate of the spiking layers;
``<out>/results.json`` is rewritten after every run and ``<out>/ablation.png`` at the end.

    KERAS_BACKEND=tensorflow python -m training.bpsta_ablation --dataset fmnist --epochs 3 \\
        --train-size 15000 --seeds 0 1 2 --out runs/bpsta_ablation_final

N-MNIST (``--dataset nmnist``, architecture ``nmnist``) reads all recordings found under
``$SNNZOO_DATA/nmnist`` (frames by equal event counts); the subset shipped with snnzoo has only
1000 training and 100 test samples, too few for a comparison at the percent level.
"""
import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

_RECT = {"class_name": "Rectangle", "config": {"alpha": 1.0}}
VARIANTS = {
    "baseline": {"adjust": None, "surrogate": _RECT, "detach_reset": False},
    "bpsa": {"adjust": "bpsa", "surrogate": _RECT, "detach_reset": True},  # surrogate unused (BPSA)
    "bpta": {"adjust": "bpta", "surrogate": _RECT, "detach_reset": True},
    "bpsa+bpta": {"adjust": "bpsa+bpta", "surrogate": _RECT, "detach_reset": True},  # surrogate unused
}
DEFAULT_WIDTHS = {"mnist_fc": (16, 16, 32, 256), "mnist": (32, 32, 64), "nmnist": (32, 32, 64, 128)}


# ----------------------------------------------------------------------------------------- data
def _sha256(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def get_data(args):
    """(x_train, y_train, x_test, y_test, provenance dict)."""
    if args.dataset == "fmnist":
        from snnzoo.data import load_fashion_mnist
        from snnzoo.data.mnist import FASHION_MNIST_FILES

        xtr, ytr = load_fashion_mnist("train", data_dir=args.data_dir)
        xte, yte = load_fashion_mnist("test", data_dir=args.data_dir)
        rng = np.random.default_rng(12345)  # fixed subset, independent of the training seeds
        idx = np.sort(rng.permutation(len(xtr))[: args.train_size])
        xtr, ytr = xtr[idx], ytr[idx]
        if args.test_size:
            xte, yte = xte[: args.test_size], yte[: args.test_size]
        prov = {"source_files_checksums_verified_by_loader": FASHION_MNIST_FILES,
                "train_subset": "np.sort(np.random.default_rng(12345).permutation(60000)[:train_size])",
                "train_uint8_sha256": _sha256(xtr, ytr.astype("int64")),
                "test_uint8_sha256": _sha256(xte, yte.astype("int64"))}
        return (xtr.astype("float32") / 255.0, ytr.astype("int32"), xte.astype("float32") / 255.0,
                yte.astype("int32"), prov)
    from snnzoo.data import events_to_frames, load_nmnist_index, read_nmnist

    def frames(split):
        index = load_nmnist_index(split, data_dir=args.data_dir)
        x = np.stack([events_to_frames(read_nmnist(p), (34, 34, 2), frames=args.time_steps, split_by="number")
                      for p, _ in index])
        return x.astype("float32"), np.array([label for _, label in index], "int32")

    xtr, ytr = frames("train")
    xte, yte = frames("test")
    prov = {"train_frames_sha256": _sha256(xtr, ytr), "test_frames_sha256": _sha256(xte, yte)}
    return xtr, ytr, xte, yte, prov


# ----------------------------------------------------------------------------------------- runs
def build(args, variant):
    from snnzoo.models.bpsta_convnet import bpsta_convnet

    v = VARIANTS[variant]
    return bpsta_convnet(
        args.arch, num_classes=10, time_steps=args.time_steps, adjust=v["adjust"], surrogate=v["surrogate"],
        detach_reset=v["detach_reset"], v_threshold=0.5, decay=0.9, widths=args.widths, dropout=args.dropout,
        voters=10,
    )


def firing_rates(model, x, batch_size):
    """Spike probability per node layer (over neurons, time steps and samples; inference mode)
    and pooled over all node layers (:class:`snnzoo.metrics.FiringRateProbe`)."""
    from snnzoo.metrics import FiringRateProbe

    probe = FiringRateProbe(model)
    for i in range(0, len(x), batch_size):
        probe(x[i:i + batch_size])
    return probe.rates(), probe.pooled_rate()


def run_one(args, variant, seed, data):
    import keras

    from snnzoo.losses import RateMSE

    xtr, ytr, xte, yte = data
    keras.utils.set_random_seed(seed)  # same seed -> same initial weights and dropout stream
    model = build(args, variant)
    init_hash = _sha256(*[keras.ops.convert_to_numpy(w) for w in model.weights])
    steps_per_epoch = int(np.ceil(len(xtr) / args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=args.epochs * steps_per_epoch)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay), loss=RateMSE(),
                  metrics=["sparse_categorical_accuracy"], jit_compile=args.jit)
    order = np.random.default_rng(1000 + seed)  # data order: a function of the seed only
    t0 = time.time()
    train_loss, train_acc = [], []
    for epoch in range(args.epochs):
        perm = order.permutation(len(xtr))
        hist = model.fit(xtr[perm], ytr[perm], batch_size=args.batch_size, epochs=epoch + 1, initial_epoch=epoch,
                         shuffle=False, verbose=2)
        train_loss.append(float(hist.history["loss"][-1]))
        train_acc.append(float(hist.history["sparse_categorical_accuracy"][-1]))
    train_s = time.time() - t0
    rates = model.predict(xte, batch_size=256, verbose=0)
    pred = rates.argmax(axis=1)
    acc = float((pred == yte).mean())
    ties = float(np.mean((rates == rates.max(axis=1, keepdims=True)).sum(axis=1) > 1))
    per_layer, overall = firing_rates(model, xte[: args.rate_samples], 256)
    return {
        "variant": variant, "seed": seed, "test_accuracy": acc,
        "test_rate_mse": float(np.mean((rates - np.eye(10)[yte]) ** 2)),
        "test_tied_max_fraction": ties,
        "mean_firing_rate": float(np.mean(list(per_layer.values()))),
        "firing_rate_all_neurons": overall, "firing_rate_per_layer": per_layer,
        "train_loss": train_loss, "train_accuracy": train_acc,
        "initial_weights_sha256": init_hash, "train_seconds": round(train_s, 1),
    }


def summarize(runs):
    out = {}
    for variant in dict.fromkeys(r["variant"] for r in runs):
        rs = [r for r in runs if r["variant"] == variant]
        acc = np.array([r["test_accuracy"] for r in rs])
        fr = np.array([r["mean_firing_rate"] for r in rs])
        layers = list(rs[0]["firing_rate_per_layer"])
        out[variant] = {
            "seeds": [r["seed"] for r in rs], "test_accuracy": acc.tolist(),
            "test_accuracy_mean": float(acc.mean()), "test_accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
            "mean_firing_rate": fr.tolist(), "mean_firing_rate_mean": float(fr.mean()),
            "mean_firing_rate_std": float(fr.std(ddof=1)) if len(fr) > 1 else 0.0,
            "firing_rate_per_layer_mean": {k: float(np.mean([r["firing_rate_per_layer"][k] for r in rs])) for k in layers},
        }
    return out


def plot(record, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = record["summary"]
    names = list(summary)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, key, label in ((axes[0], "test_accuracy", "test accuracy (%)"),
                           (axes[1], "mean_firing_rate", "mean firing rate (spikes/neuron/step)")):
        scale = 100.0 if key == "test_accuracy" else 1.0
        means = [summary[n][key + "_mean"] * scale for n in names]
        stds = [summary[n][key + "_std"] * scale for n in names]
        ax.bar(names, means, yerr=stds, capsize=5, color=["#888888", "#4c72b0", "#dd8452", "#55a868"][: len(names)])
        for i, n in enumerate(names):
            ax.scatter([i] * len(summary[n][key]), np.array(summary[n][key]) * scale, color="k", s=12, zorder=3)
        for i, (m, s) in enumerate(zip(means, stds)):
            ax.text(i, m + s, f"{m:.1f}±{s:.1f}" if key == "test_accuracy" else f"{m:.3f}±{s:.3f}",
                    ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0.0, 1.15 * max(max(m + s for m, s in zip(means, stds)), max(max(summary[n][key]) for n in names) * scale))
        ax.set_ylabel(label)
    fig.suptitle(f"BP-STA ablation: {record['dataset']} ({record['train_samples']} train, {record['epochs']} epochs, "
                 f"T={record['time_steps']}, seeds {record['seeds']}, {record['backend']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _versions():
    import keras

    out = {"keras": keras.__version__, "numpy": np.__version__, "python": platform.python_version()}
    backend = keras.backend.backend()
    mod = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}[backend]
    out[mod] = __import__(mod).__version__
    try:
        import snnzoo

        out["snnzoo"] = getattr(snnzoo, "__version__", None)
    except ImportError:
        pass
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=["fmnist", "nmnist"], default="fmnist")
    p.add_argument("--arch", default=None, help="bpsta_convnet variant (default fmnist: mnist_fc, nmnist: nmnist)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--out", default="runs/bpsta_ablation")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--variants", nargs="+", default=["baseline", "bpsa", "bpsa+bpta"], choices=list(VARIANTS))
    p.add_argument("--train-size", type=int, default=15000)
    p.add_argument("--test-size", type=int, default=0, help="first N test samples (0: all 10000)")
    p.add_argument("--time-steps", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--dropout", type=float, default=0.0, help="NDropout rate (authors: 0.5)")
    p.add_argument("--widths", type=lambda s: tuple(int(v) for v in s.split(",")), default=None,
                   help="channels (and hidden width for mnist_fc), comma-separated; default "
                        + "; ".join(f"{k}: {','.join(map(str, v))}" for k, v in DEFAULT_WIDTHS.items()))
    p.add_argument("--rate-samples", type=int, default=2000, help="test samples used for firing rates")
    p.add_argument("--jit", choices=["auto", "on", "off"], default="auto",
                   help="jit_compile (auto: on for tensorflow/jax, off for torch)")
    p.add_argument("--data-dir", default=None, help="data root (default $SNNZOO_DATA)")
    args = p.parse_args(argv)
    if args.data_dir is None and not os.environ.get("SNNZOO_DATA"):
        shared = Path(__file__).resolve().parents[2] / "shared" / "data"  # the project's checkout layout
        if shared.is_dir():
            args.data_dir = str(shared)
    args.arch = args.arch or ("mnist_fc" if args.dataset == "fmnist" else "nmnist")
    if args.widths is None:
        args.widths = DEFAULT_WIDTHS.get(args.arch)

    import keras

    args.jit = (keras.backend.backend() != "torch") if args.jit == "auto" else args.jit == "on"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    *data, prov = get_data(args)
    print(f"data: train {data[0].shape}, test {data[2].shape}", flush=True)
    record = {
        "command": "KERAS_BACKEND=" + keras.backend.backend() + " python -m training.bpsta_ablation "
                   + " ".join(sys.argv[1:] if argv is None else argv),
        "backend": keras.backend.backend(), "versions": _versions(), "machine": platform.platform(),
        "dataset": args.dataset, "arch": args.arch, "widths": list(args.widths) if args.widths else None,
        "train_samples": int(len(data[0])), "test_samples": int(len(data[2])), "data": prov,
        "time_steps": args.time_steps, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "weight_decay": args.weight_decay, "schedule": "per-step cosine decay to 0", "dropout": args.dropout,
        "jit_compile": args.jit, "seeds": args.seeds, "threshold": 0.5, "decay": 0.9,
        "variants": {v: VARIANTS[v] for v in args.variants},
        "shared_across_variants": "architecture, initial weights (keras.utils.set_random_seed(seed); see "
                                  "initial_weights_sha256), data subset, data order "
                                  "(np.random.default_rng(1000 + seed) permutation per epoch), dropout stream",
        "firing_rate_definition": "per node layer: spikes / (neurons x time steps x samples) on the first "
                                  f"{args.rate_samples} test samples in inference mode; mean_firing_rate = mean "
                                  "over node layers, firing_rate_all_neurons = pooled over all neurons",
        "runs": [],
    }
    t_start = time.time()
    for seed in args.seeds:
        for variant in args.variants:
            print(f"=== {variant} seed {seed}", flush=True)
            r = run_one(args, variant, seed, data)
            print(json.dumps({k: r[k] for k in ("variant", "seed", "test_accuracy", "mean_firing_rate",
                                                  "train_seconds")}), flush=True)
            record["runs"].append(r)
            record["summary"] = summarize(record["runs"])
            record["wall_seconds"] = round(time.time() - t_start, 1)
            (out / "results.json").write_text(json.dumps(record, indent=2))
    plot(record, out / "ablation.png")
    print(json.dumps({k: {m: v[m] for m in ("test_accuracy_mean", "test_accuracy_std", "mean_firing_rate_mean")}
                      for k, v in record["summary"].items()}, indent=2))


if __name__ == "__main__":
    main()
