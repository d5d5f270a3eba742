"""Deprecated: the IDE recipes (``fsnn_fmnist_ide``, ``fsnn_mnist_ide``) are entries of the one
recipe table (:mod:`snnzoo.training.recipes`) and train through the one loop
(:mod:`snnzoo.training.train`)::

    snnzoo train fsnn_fmnist_ide --epochs 60 --out runs/fsnn_fmnist
    snnzoo train fsnn_mnist_ide --epochs 10 --train-time-steps 10     # CPU budget
    snnzoo eval fsnn_fmnist_ide                                       # test accuracy

``python -m training.ide_fsnn RECIPE ...`` still runs (with a DeprecationWarning): its options
that the one loop has are passed on (``--epochs --out --batch-size --seed --data
--train-time-steps``; ``--evaluate WEIGHTS`` runs ``snnzoo eval RECIPE --weights WEIGHTS``); the
others (``--lr --milestones --train-solver-iterations --jit --steps-per-epoch``) are refused with
a one-line error. The run folder is the one loop's (``results.json``, ``history.csv``,
``best.weights.h5``, ``final.weights.h5``, ``backup/``; an existing folder needs ``--resume``,
which the shim passes when the folder holds a run).
"""
import argparse
import sys
import warnings
from pathlib import Path

__all__ = ["main", "train"]

_IDE_RECIPES = ("fsnn_fmnist_ide", "fsnn_mnist_ide")
_GONE = ("--lr", "--milestones", "--train-solver-iterations", "--jit", "--steps-per-epoch")


def _warn(what):
    warnings.warn(f"{what} is deprecated: use 'snnzoo train RECIPE' (snnzoo.training.train.train); "
                  "the IDE recipes are entries of the one recipe table", DeprecationWarning,
                  stacklevel=3)


def train(recipe_name, epochs=None, out_dir="runs/ide", batch_size=128, seed=0,
          train_time_steps=None, data_dir=None, **unsupported):
    """Deprecated: :func:`snnzoo.training.train.train` with the old keyword names (resumes a run
    folder that holds one). Returns its results dict."""
    from snnzoo.training.train import train as one_train

    _warn("snnzoo.training.ide_fsnn.train")
    if unsupported:
        raise TypeError(f"no longer supported by the one training loop: {sorted(unsupported)}")
    out = Path(out_dir)
    return one_train(recipe_name, epochs=epochs, batch_size=batch_size, out=str(out), seed=seed,
                     data_dir=data_dir, train_time_steps=train_time_steps,
                     resume=(out / "results.json").exists() or (out / "backup").exists())


def main(argv=None, prog="python -m training.ide_fsnn"):
    """Deprecated command line; returns the exit code of ``snnzoo train`` / ``snnzoo eval``."""
    _warn(prog)
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("recipe", choices=_IDE_RECIPES)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-time-steps", type=int, default=None)
    p.add_argument("--data", default=None)
    p.add_argument("--evaluate", metavar="WEIGHTS", default=None)
    for flag in _GONE:
        p.add_argument(flag, nargs="*", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    gone = [f for f in _GONE if getattr(a, f[2:].replace("-", "_")) is not None]
    if gone:
        print(f"{prog}: error: {', '.join(gone)} no longer exist; the recipe's settings apply "
              f"(snnzoo train {a.recipe} --help)", file=sys.stderr)
        return 1
    if a.evaluate:
        from snnzoo.evaluate import main_eval

        return main_eval([a.recipe, "--weights", a.evaluate] + (["--data", a.data] if a.data else []))
    from snnzoo.training.train import main as train_main

    out = Path(a.out or Path("runs") / a.recipe)
    forwarded = [a.recipe, "--out", str(out), "--seed", str(a.seed)]
    for flag, value in (("--epochs", a.epochs), ("--batch-size", a.batch_size),
                        ("--train-time-steps", a.train_time_steps), ("--data", a.data)):
        if value is not None:
            forwarded += [flag, str(value)]
    if (out / "results.json").exists() or (out / "backup").exists():
        forwarded.append("--resume")  # the old loop resumed by itself
    return train_main(forwarded, prog="snnzoo train")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
