"""The BPSA paper's energy claim on data we have (issue 20, item 5).

Shen, Zhao & Zeng ("Backpropagation with biologically plausible spatiotemporal adjustment for
training deep spiking neural networks", Patterns 2022) report that BPSA+BPTA trains SNNs that fire
less, and therefore cost less energy than the same network as an ANN (their Table 5: firing rates
and E_ANN/E_SNN; their Fig. 3: accuracy against the simulation length). This script checks that
direction on MNIST with the same network trained two ways, three seeds each:

* ``bpsta_convnet_mnist_baseline`` — the authors' baseline node (rectangular surrogate, reset not
  detached), i.e. plain BPTT with a surrogate gradient;
* ``bpsta_convnet_mnist`` — BPSA+BPTA (the paper's ``HTGLIFNode``).

Both recipes (``snnzoo.training.recipes``) share everything else: the narrow BP-STA MNIST ConvNet
(C16-MP2-C16-MP2-C32-AP7-FC(32,100)-node-Vote10, direct encoding, T = 4), AdamW 1e-3 / wd 1e-4,
MSE to the one-hot label, batch 64, cosine decay over 12 epochs, initial weights and data order
per seed. Training runs through ``snnzoo train`` (``--resume`` continues an interrupted run, so the
job spans sessions); then every run's final-epoch weights are measured on the full MNIST test set
with :func:`snnzoo.profile`: accuracy, per-layer firing rates, AC/MAC per sample, E_SNN, E_ANN and
E_ANN/E_SNN (45 nm: E_MAC 4.6 pJ, E_AC 0.9 pJ), and accuracy against the number of time steps
(evaluated up to ``--max-steps``, beyond the training T).

    python -m training.bpsta_energy train   [--seeds 0 1 2] [--runs runs/bpsta_energy]
    python -m training.bpsta_energy report  [--runs runs/bpsta_energy]
                                            [--out training/results/bpsta_energy]

``train`` skips finished runs and resumes unfinished ones; ``report`` needs finished runs only
for the seeds it finds and writes ``results.json``, ``README.md`` and the PNGs into ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

VARIANTS = {"baseline": "bpsta_convnet_mnist_baseline", "bpsa+bpta": "bpsta_convnet_mnist"}


def _default_data_dir():
    if os.environ.get("SNNZOO_DATA"):
        return None
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"  # the project's checkout layout
    return str(shared) if shared.is_dir() else None


def run_dir(runs, variant, seed):
    return Path(runs) / f"{variant.replace('+', '_')}_s{seed}"


def _finished(out: Path, epochs: int):
    try:
        r = json.loads((out / "results.json").read_text())
    except (OSError, ValueError):
        return False
    return int(r.get("epochs_completed", 0)) >= epochs and not r["final"].get("limited")


def train_all(args):
    from snnzoo.training import recipes
    from snnzoo.training.train import train

    for seed in args.seeds:
        for variant, recipe in VARIANTS.items():
            out = run_dir(args.runs, variant, seed)
            epochs = args.epochs or recipes.get(recipe).epochs
            if _finished(out, epochs):
                print(f"=== {variant} seed {seed}: finished ({out})", flush=True)
                continue
            resume = (out / "backup").is_dir() or (out / "history.csv").is_file()
            print(f"=== {variant} seed {seed}: {'resuming' if resume else 'starting'} in {out}",
                  flush=True)
            argv = [recipe, "--seed", str(seed), "--out", str(out)] + (
                ["--epochs", str(args.epochs)] if args.epochs else []) + (
                ["--resume"] if resume else [])
            train(recipe, epochs=args.epochs, out=str(out), seed=seed, resume=resume,
                  data_dir=args.data_dir, verbose=2, argv=argv, prog="snnzoo train")


def report(args):
    raise NotImplementedError


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("phase", choices=["train", "report"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--runs", default="runs/bpsta_energy", help="run folders (default %(default)s)")
    p.add_argument("--out", default="training/results/bpsta_energy",
                   help="report folder (default %(default)s)")
    p.add_argument("--epochs", type=int, default=None, help="override the recipes' 12 epochs")
    p.add_argument("--max-steps", type=int, default=8,
                   help="accuracy vs T is measured for T = 1..max-steps (default %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="test samples for the report (all)")
    p.add_argument("--data-dir", default=None, help="data root (default $SNNZOO_DATA)")
    args = p.parse_args(argv)
    if args.data_dir is None:
        args.data_dir = _default_data_dir()
    if args.phase == "train":
        train_all(args)
    else:
        report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
