"""Ablation of the BP-STA gradient adjustments (Shen et al., Patterns 2022) on real data.

Trains the same small BP-STA-style ConvNet (``snnzoo.models.bpsta_convnet``, conv-BN-ReLU-node
blocks, voting readout, RateMSE on voted firing rates) three ways with identical seeds
(identical initial weights and data order):

* ``baseline``  — surrogate gradient, no adjustment: the authors' own baseline node (SGLIFNode:
                  rectangular surrogate of width 1 around θ, reset not detached);
* ``bpsa``      — spatial adjustment only (∂s/∂u = 1/u where the neuron fires);
* ``bpsa+bpta`` — spatial + temporal adjustment (the paper's method);

(``bpta`` alone can be added with ``--variants``) and reports test accuracy and the mean firing
rate of the spiking layers for each variant and seed. Results go to ``<out>/results.json``,
rewritten after every run.

    python -m training.bpsta_ablation --dataset fmnist --epochs 3 --out runs/bpsta_ablation

Data: Fashion-MNIST (a ``--train-size`` subset of the training set, the full 10k test set), or
the N-MNIST recordings found under ``$SNNZOO_DATA/nmnist`` (all of them; frames by equal event
counts). Nodes: threshold 0.5, decay 0.9 (the authors' defaults); optimiser AdamW (lr 1e-3,
wd 1e-4) with cosine decay; batch 64.
"""
import argparse
import gzip
import json
import os
import platform
import struct
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS = {
    "baseline": {"adjust": None, "surrogate": {"class_name": "Rectangle", "config": {"width": 1.0}},
                 "detach_reset": False},
    "bpsa": {"adjust": "bpsa", "surrogate": "atan", "detach_reset": True},
    "bpta": {"adjust": "bpta", "surrogate": {"class_name": "Rectangle", "config": {"width": 1.0}},
             "detach_reset": True},
    "bpsa+bpta": {"adjust": "bpsa+bpta", "surrogate": "atan", "detach_reset": True},
}


# ----------------------------------------------------------------------------------------- data
def _read_idx_gz(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fmnist(split, data_dir=None):
    try:
        from snnzoo.data import load_fashion_mnist

        return load_fashion_mnist(split, data_dir=data_dir)
    except ImportError:  # fallback: read the idx .gz files directly
        root = Path(data_dir or os.environ.get("SNNZOO_DATA", "../shared/data")) / "fashion_mnist"
        prefix = "train" if split == "train" else "t10k"
        x = _read_idx_gz(root / f"{prefix}-images-idx3-ubyte.gz")[..., None]
        y = _read_idx_gz(root / f"{prefix}-labels-idx1-ubyte.gz")
        return x, y


def load_nmnist_frames(split, frames, data_dir=None):
    from snnzoo.data import events_to_frames, load_nmnist_index, read_nmnist

    index = load_nmnist_index(split, data_dir=data_dir)
    x = np.stack([events_to_frames(read_nmnist(p), (34, 34, 2), frames=frames, split_by="number")
                  for p, _ in index])
    y = np.array([label for _, label in index])
    return x, y


def get_data(args):
    if args.dataset == "fmnist":
        xtr, ytr = load_fmnist("train", args.data_dir)
        xte, yte = load_fmnist("test", args.data_dir)
        rng = np.random.default_rng(12345)
        idx = rng.permutation(len(xtr))[: args.train_size]
        xtr, ytr = xtr[idx], ytr[idx]
        return (xtr.astype("float32") / 255.0, ytr.astype("int32"),
                xte.astype("float32") / 255.0, yte.astype("int32"))
    xtr, ytr = load_nmnist_frames("train", args.time_steps, args.data_dir)
    xte, yte = load_nmnist_frames("test", args.time_steps, args.data_dir)
    return xtr, ytr.astype("int32"), xte, yte.astype("int32")


# ----------------------------------------------------------------------------------------- runs
def build(args, variant):
    from snnzoo.models.bpsta_convnet import bpsta_convnet

    v = VARIANTS[variant]
    return bpsta_convnet(
        "mnist" if args.dataset == "fmnist" else "nmnist", num_classes=10, time_steps=args.time_steps,
        adjust=v["adjust"], surrogate=v["surrogate"], detach_reset=v["detach_reset"],
        v_threshold=0.5, decay=0.9, widths=args.widths, dropout=args.dropout, voters=10,
    )


def node_layers(model):
    from snnzoo.layers.neurons import BaseNeuron

    return [layer for layer in model.layers if isinstance(layer, BaseNeuron)]


def firing_rates(model, x, batch_size):
    """Mean spike probability per node layer (over neurons, time steps and test samples)."""
    import keras

    nodes = node_layers(model)
    probe = keras.Model(model.input, [layer.output for layer in nodes])
    sums = np.zeros(len(nodes))
    counts = np.zeros(len(nodes))
    for i in range(0, len(x), batch_size):
        outs = probe.predict_on_batch(x[i:i + batch_size])
        for k, s in enumerate(outs):
            s = np.asarray(keras.ops.convert_to_numpy(s))
            sums[k] += s.sum()
            counts[k] += s.size
    rates = sums / counts
    return {layer.name: float(r) for layer, r in zip(nodes, rates)}, float(sums.sum() / counts.sum())


def run_one(args, variant, seed, data):
    import keras

    from snnzoo.losses import RateMSE

    xtr, ytr, xte, yte = data
    keras.utils.set_random_seed(seed)
    model = build(args, variant)
    steps = args.epochs * int(np.ceil(len(xtr) / args.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4), loss=RateMSE(),
                  metrics=["sparse_categorical_accuracy"], jit_compile=args.jit)
    t0 = time.time()
    hist = model.fit(xtr, ytr, batch_size=args.batch_size, epochs=args.epochs, verbose=2, shuffle=True)
    train_s = time.time() - t0
    loss, acc = model.evaluate(xte, yte, batch_size=256, verbose=0)
    per_layer, overall = firing_rates(model, xte[: args.rate_samples], 256)
    return {
        "variant": variant, "seed": seed, "test_accuracy": float(acc), "test_loss": float(loss),
        "mean_firing_rate": float(np.mean(list(per_layer.values()))),
        "firing_rate_all_neurons": overall, "firing_rate_per_layer": per_layer,
        "train_loss": [float(v) for v in hist.history["loss"]],
        "train_accuracy": [float(v) for v in hist.history["sparse_categorical_accuracy"]],
        "train_seconds": round(train_s, 1),
    }


def summarize(runs):
    out = {}
    for variant in dict.fromkeys(r["variant"] for r in runs):
        rs = [r for r in runs if r["variant"] == variant]
        acc = np.array([r["test_accuracy"] for r in rs])
        fr = np.array([r["mean_firing_rate"] for r in rs])
        out[variant] = {"seeds": [r["seed"] for r in rs], "test_accuracy_mean": float(acc.mean()),
                        "test_accuracy_std": float(acc.std()), "mean_firing_rate_mean": float(fr.mean()),
                        "mean_firing_rate_std": float(fr.std())}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=["fmnist", "nmnist"], default="fmnist")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--out", default="runs/bpsta_ablation")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--variants", nargs="+", default=["baseline", "bpsa", "bpsa+bpta"], choices=list(VARIANTS))
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--time-steps", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--widths", type=lambda s: tuple(int(v) for v in s.split(",")), default=None,
                   help="conv channels, comma-separated (default fmnist 32,32,64; nmnist 32,32,64,128)")
    p.add_argument("--rate-samples", type=int, default=2000, help="test samples used for firing rates")
    p.add_argument("--jit", type=lambda s: s.lower() in ("1", "true", "yes", "auto"), default=True)
    p.add_argument("--data-dir", default=None, help="data root (default $SNNZOO_DATA, else ../shared/data)")
    args = p.parse_args(argv)
    if args.data_dir is None and not os.environ.get("SNNZOO_DATA"):
        shared = Path(__file__).resolve().parents[2] / "shared" / "data"  # the project's checkout layout
        if shared.is_dir():
            args.data_dir = str(shared)
    if args.widths is None:
        args.widths = (32, 32, 64) if args.dataset == "fmnist" else (32, 32, 64, 128)

    import keras

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = get_data(args)
    print(f"data: train {data[0].shape}, test {data[2].shape}", flush=True)
    record = {
        "command": "python -m training.bpsta_ablation " + " ".join(sys.argv[1:] if argv is None else argv),
        "backend": keras.backend.backend(), "keras": keras.__version__, "python": platform.python_version(),
        "dataset": args.dataset, "train_samples": int(len(data[0])), "test_samples": int(len(data[2])),
        "time_steps": args.time_steps, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "widths": list(args.widths), "threshold": 0.5, "decay": 0.9, "variants": {v: VARIANTS[v] for v in args.variants},
        "firing_rate_definition": "mean over node layers of the spike probability per neuron per time step, "
                                  f"measured on the first {args.rate_samples} test samples in inference mode",
        "runs": [],
    }
    for seed in args.seeds:
        for variant in args.variants:
            print(f"=== {variant} seed {seed}", flush=True)
            r = run_one(args, variant, seed, data)
            print(json.dumps({k: r[k] for k in ("variant", "seed", "test_accuracy", "mean_firing_rate",
                                                  "train_seconds")}), flush=True)
            record["runs"].append(r)
            record["summary"] = summarize(record["runs"])
            (out / "results.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record["summary"], indent=2))


if __name__ == "__main__":
    main()
