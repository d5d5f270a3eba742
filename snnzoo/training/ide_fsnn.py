"""Train the IDE feedback SNNs of the zoo (Xiao et al., NeurIPS 2021) on (Fashion-)MNIST.

    python -m training.ide_fsnn fsnn_fmnist_ide --epochs 60 --out runs/fsnn_fmnist
    python -m training.ide_fsnn fsnn_mnist_ide  --epochs 30 --out runs/fsnn_mnist   # shipped: JAX, ~4 min on a GPU
    python -m training.ide_fsnn fsnn_mnist_ide  --epochs 10 --out runs/fsnn_mnist --train-time-steps 10  # CPU budget
    python -m training.ide_fsnn fsnn_fmnist_ide --evaluate default      # test accuracy via snnzoo.load

Recipe (the authors' scripts): SGD lr 0.05, momentum 0.9, weight decay 5e-4 added to the gradient
(PyTorch's coupled form, on every trainable parameter), batch 128, cross-entropy, no data
augmentation, Normalize(0.1307, 0.3081) inside the model, 100 epochs with the learning rate ×0.1
at epochs 30/60/90. ``--epochs E`` compresses the schedule: milestones at 30/60/90 % of E.

Resumable: after every epoch the model weights, the optimizer state and the progress are written
to ``OUT`` (``last.weights.h5``, ``optimizer.npz``, ``state.json``); running the same command again
continues from there. ``OUT/final.weights.h5`` holds the weights after the last epoch.
``--train-time-steps`` trains with a shorter simulation than the model's T (the implicit gradient
does not depend on T; the shipped model keeps its T for evaluation) — a CPU-budget option.
"""
import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

__all__ = ["RECIPES", "build", "evaluate", "load_data", "main", "make_optimizer", "measure", "train"]

RECIPES = {
    "fsnn_fmnist_ide": {
        "builder": "fsnn_fc",
        "config": {"num_classes": 10, "time_steps": 5, "leak": 0.95},
        "dataset": "fashion_mnist",
        "epochs": 100,
    },
    "fsnn_mnist_ide": {
        "builder": "fsnn_conv",
        "config": {"num_classes": 10, "time_steps": 30, "leak": 0.95},
        "dataset": "mnist",
        "epochs": 100,
    },
}
PAPER_MILESTONES = (0.3, 0.6, 0.9)


def _keras():
    import keras

    return keras


def make_optimizer(lr, momentum, weight_decay):
    """SGD with PyTorch-style (coupled) weight decay: g ← g + wd·θ before the momentum update."""
    keras = _keras()
    from keras import ops

    class CoupledDecaySGD(keras.optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            gradient = ops.add(gradient, ops.multiply(ops.cast(variable, gradient.dtype), weight_decay))
            return super().update_step(gradient, variable, learning_rate)

    return CoupledDecaySGD(learning_rate=lr, momentum=momentum)


def load_data(dataset, data_dir=None):
    """(x_train, y_train, x_test, y_test, sha256 of the four files) as float32 in [0, 1]."""
    from snnzoo import config
    from snnzoo.data import load_fashion_mnist, load_mnist

    loader = load_fashion_mnist if dataset == "fashion_mnist" else load_mnist
    xtr, ytr = loader("train", data_dir=data_dir)
    xte, yte = loader("test", data_dir=data_dir)
    folder = config.data_dir(data_dir) / dataset
    hashes = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".gz"):
            hashes[f"{dataset}/{name}"] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    scale = np.float32(1.0 / 255.0)
    return (xtr.astype(np.float32) * scale, ytr.astype(np.int64),
            xte.astype(np.float32) * scale, yte.astype(np.int64), hashes)


def build(recipe_name, time_steps=None, seed=0, solver_iterations=None):
    from snnzoo.models import fsnn

    recipe = RECIPES[recipe_name]
    config = dict(recipe["config"], seed=seed)
    if time_steps is not None:
        config["time_steps"] = int(time_steps)
    if solver_iterations is not None:
        config["solver_iterations"] = int(solver_iterations)
    return getattr(fsnn, recipe["builder"])(**config), config


def evaluate(model, x, y, batch_size=500):
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == y) * 100.0)


def _save_optimizer(optimizer, path):
    arrays = {f"v{i}": np.asarray(_keras().ops.convert_to_numpy(v)) for i, v in enumerate(optimizer.variables)}
    tmp = str(path) + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _load_optimizer(optimizer, model, path):
    optimizer.build(model.trainable_variables)
    data = np.load(path)
    if len(data.files) != len(optimizer.variables):
        raise ValueError(f"{path}: {len(data.files)} optimizer arrays, the optimizer has "
                         f"{len(optimizer.variables)}; delete the run folder to start afresh")
    for i, v in enumerate(optimizer.variables):
        v.assign(data[f"v{i}"])


def train(recipe_name, epochs=None, out_dir="runs/ide", batch_size=128, lr=0.05, momentum=0.9,
          weight_decay=5e-4, milestones=None, seed=0, train_time_steps=None, data_dir=None,
          jit_compile="auto", steps_per_epoch=None, train_solver_iterations=None, log=print):
    """Train (or resume) ``recipe_name``; returns a dict with the history and final accuracy."""
    keras = _keras()
    if recipe_name not in RECIPES:
        raise ValueError(f"unknown recipe {recipe_name!r}; choose one of {sorted(RECIPES)}")
    recipe = RECIPES[recipe_name]
    epochs = int(epochs or recipe["epochs"])
    if milestones is None:
        milestones = [int(round(f * epochs)) for f in PAPER_MILESTONES]
    out = Path(out_dir)
    keras.utils.set_random_seed(seed)

    xtr, ytr, xte, yte, hashes = load_data(recipe["dataset"], data_dir)
    out.mkdir(parents=True, exist_ok=True)  # after the data loaded: no empty run folder
    model, config = build(recipe_name, train_time_steps, seed, train_solver_iterations)
    eval_model, eval_config = build(recipe_name, None, seed)
    eval_model.compile(jit_compile=jit_compile)

    def lr_at(epoch):
        return lr * (0.1 ** sum(epoch >= m for m in milestones))

    optimizer = make_optimizer(lr, momentum, weight_decay)
    model.compile(optimizer=optimizer, jit_compile=jit_compile, metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    state_path = out / "state.json"
    state = {"recipe": recipe_name, "epochs_done": 0, "history": [], "config": config,
             "eval_config": eval_config, "milestones": milestones, "seed": seed,
             "data_sha256": hashes, "backend": keras.backend.backend()}
    if state_path.exists():
        state = json.loads(state_path.read_text())
        model.load_weights(out / "last.weights.h5")
        _load_optimizer(optimizer, model, out / "optimizer.npz")
        log(f"resumed {recipe_name} after epoch {state['epochs_done']}")
        if list(state.get("milestones", [])) != list(milestones):
            # the schedule in force from now on is the one given on this command line
            state.setdefault("schedule_changes", []).append(
                {"after_epoch": state["epochs_done"], "milestones": list(milestones), "epochs": epochs,
                 "train_time_steps": train_time_steps, "solver_iterations": train_solver_iterations})
            state["milestones"] = list(milestones)

    rng = np.random.default_rng(seed + state["epochs_done"])
    for epoch in range(state["epochs_done"], epochs):
        optimizer.learning_rate.assign(lr_at(epoch))
        order = rng.permutation(len(xtr))
        if steps_per_epoch:
            order = order[: steps_per_epoch * batch_size]
        t0 = time.time()
        hist = model.fit(xtr[order], ytr[order], batch_size=batch_size, epochs=1, shuffle=False,
                         verbose=0)
        train_time = time.time() - t0
        eval_model.set_weights(model.get_weights())
        t1 = time.time()
        acc = evaluate(eval_model, xte, yte)
        row = {"epoch": epoch + 1, "lr": lr_at(epoch), "loss": float(hist.history["loss"][-1]),
               "train_acc": float(hist.history["accuracy"][-1]) * 100.0, "test_acc": acc,
               "train_s": round(train_time, 1), "eval_s": round(time.time() - t1, 1)}
        state["history"].append(row)
        state["epochs_done"] = epoch + 1
        model.save_weights(out / "last.weights.h5")
        _save_optimizer(optimizer, out / "optimizer.npz")
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, state_path)
        log(json.dumps(row))
    eval_model.set_weights(model.get_weights())
    eval_model.save_weights(out / "final.weights.h5")
    final_acc = state["history"][-1]["test_acc"] if state["history"] else None
    log(f"done: {recipe_name} {epochs} epochs, final test accuracy {final_acc}")
    return {"final_acc": final_acc, "history": state["history"], "out_dir": str(out)}


def measure(recipe_name, weights="default", data_dir=None, batch_size=500):
    """Test accuracy (%) of ``snnzoo.load(recipe_name, weights=...)`` on raw test images."""
    import snnzoo

    recipe = RECIPES[recipe_name]
    _, _, xte, yte, hashes = load_data(recipe["dataset"], data_dir)
    model = snnzoo.load(recipe_name, weights=weights)
    return evaluate(model, xte, yte, batch_size), hashes


def main(argv=None, prog="python -m training.ide_fsnn"):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("recipe", choices=sorted(RECIPES))
    p.add_argument("--epochs", type=int, default=None, help="default: the paper's 100")
    p.add_argument("--out", default=None, help="run folder (default runs/<recipe>)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--milestones", type=int, nargs="*", default=None)
    p.add_argument("--train-time-steps", type=int, default=None)
    p.add_argument("--train-solver-iterations", type=int, default=None,
                   help="adjoint-solver iterations during training (default: the model's 30)")
    p.add_argument("--jit", choices=["auto", "on", "off"], default="auto",
                   help="jit_compile (TF: off = graph mode with oneDNN convolutions, the fastest "
                        "for the conv nets on CPU)")
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--data", default=None, help="data root (default $SNNZOO_DATA)")
    p.add_argument("--evaluate", metavar="WEIGHTS", default=None,
                   help="only measure test accuracy through snnzoo.load(recipe, weights=WEIGHTS) "
                        "('default' = the registry's weights)")
    a = p.parse_args(argv)
    if a.evaluate:
        acc, hashes = measure(a.recipe, a.evaluate, a.data)
        print(json.dumps({"recipe": a.recipe, "weights": a.evaluate, "test_acc": acc,
                          "data_sha256": hashes}))
        return
    train(a.recipe, a.epochs, a.out or f"runs/{a.recipe}", batch_size=a.batch_size, lr=a.lr,
          milestones=a.milestones, seed=a.seed, train_time_steps=a.train_time_steps,
          data_dir=a.data, steps_per_epoch=a.steps_per_epoch,
          train_solver_iterations=a.train_solver_iterations,
          jit_compile={"auto": "auto", "on": True, "off": False}[a.jit])


if __name__ == "__main__":
    main()
