"""One training entry point for every recipe of :mod:`snnzoo.training.recipes`.

    snnzoo train RECIPE [--epochs E] [--batch-size B] [--out DIR] [--seed S]
                        [--limit N] [--resume] [--data DIR] [--time-steps T]
                        [--train-time-steps T] [--distribute [--devices N] [--no-sync-bn]] [-q]

(``python -m training.train RECIPE ...`` from the repository root is the same entry point.)

What a run writes into ``OUT`` (default ``runs/<recipe>``):

* ``backup/``: ``keras.callbacks.BackupAndRestore`` state (weights, optimizer, epoch), written after
  every epoch and kept at the end, so ``--resume`` continues an interrupted run or extends a
  finished one to more ``--epochs``;
* ``best.weights.h5``: ``ModelCheckpoint`` of the weights with the best test accuracy, saved from a
  clean copy of the architecture (no CSBP probes; the recipe's evaluation T), loadable with
  ``snnzoo.load(name, weights=path)``;
* ``final.weights.h5``: the same clean model with the last epoch's weights (the protocol of
  methods whose papers report the final epoch, such as IDE's);
* ``history.csv``: one row per epoch: ``epoch`` (1-based, as in ``results.json``), ``loss``,
  ``accuracy`` (running training accuracy over the epoch), ``test_accuracy``, ``lr``, CSBP's
  ``chaos_z``; only columns that have values (no empty validation columns);
* ``results.json``: recipe, arguments, command, seed, backend, per-epoch history, best epoch, the
  final test accuracy and firing rates of the best weights, sha256 of the data files, wall time.

Accuracy is in percent everywhere (progress output, ``history.csv``, ``results.json``), the unit of
``snnzoo eval``, of the zoo manifests and of the papers the recipes reproduce.

Protocol, as in the seed methods' scripts: the test split is evaluated after every epoch and the
best epoch's weights are kept ("max test accuracy"). Output: Keras' progress bar on a terminal,
one line per epoch otherwise (logs, CI; Keras ``verbose=2``), nothing with ``-q``. Seeds:
``keras.utils.set_random_seed(seed)`` plus the seeded pipelines. ``--limit N`` uses N training and
N test samples (smoke runs). ``--time-steps T`` changes the recipe's T (training and
evaluation); ``--train-time-steps T`` trains at T and evaluates at the recipe's T (event sets:
T frames sampled per training sample; IDE: the implicit gradient does not depend on T, so a
shorter simulation in training is a CPU-budget option). Every recipe, IDE's included, runs
through this one loop.

Data-parallel training (``--distribute``, :mod:`snnzoo.backend.data_parallel`): JAX
``keras.distribution.DataParallel``, TensorFlow ``MirroredStrategy``, torch DDP under
``torchrun --nproc_per_node=N``. ``--batch-size`` stays the global batch, split evenly over the
devices (it must be a multiple of their number; a last incomplete training batch is dropped);
batch-norm statistics are synchronised over the global batch (``--no-sync-bn``: per replica, as
unsynchronised DDP); ``--devices N`` on a CPU host splits it into N simulated devices (JAX, TF).
Only the chief process (torch rank 0) writes the run folder and prints progress; ``results.json``
records the strategy and the number of devices (``distribution``).

A run that fails before writing anything (no data, bad arguments, Ctrl-C during set-up) leaves no
folder behind; an interrupted run keeps its epochs in ``backup/`` for ``--resume``.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import shlex
import sys
import time
from pathlib import Path

__all__ = ["RunExistsError", "add_train_arguments", "build_parser", "cli_train", "copy_weights",
           "main", "run_cli", "train"]


class RunExistsError(RuntimeError):
    """OUT already holds a run and ``--resume`` was not given."""


def _keras():
    import keras

    return keras


def _time_mean_accuracy(y_true, y_pred):
    """Sparse top-1 accuracy in percent (100 per correct sample, 0 otherwise); per-step outputs
    [B, T, C] are averaged over T first."""
    keras = _keras()
    from keras import ops

    if len(y_pred.shape) == 3:
        y_pred = ops.mean(y_pred, axis=1)
    return ops.multiply(keras.metrics.sparse_categorical_accuracy(y_true, y_pred), 100.0)


def _probe_variable_ids(model):
    try:
        from snnzoo.chaos import chaos_probes
    except ImportError:
        return set()
    return {id(v) for p in chaos_probes(model) for v in p.weights}


def copy_weights(src, dst):
    """Copy the weights of training model ``src`` into the clean model ``dst`` (same builder),
    skipping CSBP probe variables; shapes are checked."""
    skip = _probe_variable_ids(src)
    sv = [v for v in src.weights if id(v) not in skip]
    dv = dst.weights
    if len(sv) != len(dv):
        raise ValueError(f"cannot copy weights: the training model has {len(sv)} variables, the "
                         f"evaluation model {len(dv)}")
    for a, b in zip(sv, dv):
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(f"cannot copy weights: {a.path} {tuple(a.shape)} vs {b.path} "
                             f"{tuple(b.shape)}")
        b.assign(a.value)


def _make_test_callback(eval_model, test_seq):
    keras = _keras()
    import numpy as np

    from snnzoo.inference import mean_logits

    class TestEvaluation(keras.callbacks.Callback):
        """After every epoch: copy the weights into the clean model and score the test split
        (``test_accuracy`` in percent); also logs the learning rate as ``lr``."""

        def on_epoch_end(self, epoch, logs=None):
            model = self.model  # JAX: synchronises the trained state into the variables
            copy_weights(model, eval_model)
            correct = total = 0
            for i in range(len(test_seq)):
                x, y = test_seq[i]
                pred = mean_logits(eval_model(x, training=False)).argmax(-1)
                correct += int(np.sum(pred == np.asarray(y).reshape(-1)))
                total += int(np.asarray(y).size)
            if logs is not None:
                logs["test_accuracy"] = 100.0 * correct / max(total, 1)
                lr = model.optimizer.learning_rate
                logs["lr"] = float(keras.ops.convert_to_numpy(lr))

    return TestEvaluation()


def _read_history(path: Path):
    """The rows of ``history.csv`` as dicts (``epoch`` 1-based; a re-run epoch overrides)."""
    if not path.is_file():
        return []
    rows = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                epoch = int(row.pop("epoch"))
            except (KeyError, TypeError, ValueError):
                continue
            clean = {}
            for k, v in row.items():
                if v in ("", None):  # a key that this epoch did not log
                    continue
                try:
                    clean[k] = float(v)
                except (TypeError, ValueError):
                    clean[k] = v
            rows[epoch] = {"epoch": epoch, **clean}
    return [rows[k] for k in sorted(rows)]


def _write_history(path: Path, rows):
    """Write ``rows`` atomically: ``epoch`` first, then every key that some row has (sorted)."""
    from snnzoo._atomic import atomic_output

    keys = sorted({k for r in rows for k in r} - {"epoch"})
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch"] + keys)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in ["epoch"] + keys})


def _make_history_logger(path: Path):
    keras = _keras()

    class HistoryCSV(keras.callbacks.Callback):
        """Appends the epoch's logs to ``history.csv`` (``epoch`` 1-based). Unlike
        ``keras.callbacks.CSVLogger`` it adds no ``val_*`` columns that no epoch fills; the file
        is rewritten whole (a few hundred rows at most) so a resumed run keeps one header."""

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": int(epoch) + 1}
            for k, v in (logs or {}).items():
                try:
                    row[k] = float(keras.ops.convert_to_numpy(v))
                except (TypeError, ValueError):
                    continue
            rows = [r for r in _read_history(path) if r["epoch"] != row["epoch"]] + [row]
            _write_history(path, sorted(rows, key=lambda r: r["epoch"]))

    return HistoryCSV()


def _new_dirs(path: Path):
    """The folders that ``path.mkdir(parents=True)`` would create, deepest first."""
    missing = []
    p = path.absolute()
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    return missing


def _remove_empty(created):
    """Remove the folders in ``created`` (deepest first) that hold no file, with their empty
    sub-folders; a folder with any file in it is kept (a resumable run)."""
    if not created:
        return
    top = created[0]
    if top.is_dir():
        for d in sorted((q for q in top.rglob("*") if q.is_dir()), key=lambda q: -len(q.parts)):
            try:
                d.rmdir()
            except OSError:
                pass
    for d in created:
        try:
            d.rmdir()
        except OSError:
            return


def _write_json(path: Path, obj):
    from snnzoo._atomic import write_text_atomic

    write_text_atomic(path, json.dumps(obj, indent=1, default=str))


def _previous_wall_time(out: Path):
    try:
        return float(json.loads((out / "results.json").read_text()).get("wall_time_total_s", 0.0))
    except (OSError, ValueError, AttributeError):
        return 0.0


def _check_out(out: Path, resume: bool, markers):
    existing = [m for m in markers if (out / m).exists()]
    if existing and not resume:
        raise RunExistsError(f"{out} already holds a run ({', '.join(existing)}); pass --resume to "
                             "continue it, or choose another --out")


def _interactive():
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def train(recipe_name, epochs=None, batch_size=None, out=None, seed=0, limit=None, resume=False,
          data_dir=None, time_steps=None, jit_compile="auto", verbose="auto", argv=None,
          prog="snnzoo train", train_time_steps=None, distribute=False, devices=None,
          sync_batch_norm=True):
    """Train recipe ``recipe_name`` (see the module docstring); returns the results dict (None
    in a torch rank other than 0).

    ``verbose``: ``"auto"`` (a progress bar on a terminal, one line per epoch otherwise), 0, 1
    or 2 (Keras' meanings). ``argv``/``prog`` are recorded as the run's command.
    ``distribute``/``devices``/``sync_batch_norm``: data-parallel training (module docstring)."""
    from snnzoo.backend import data_parallel

    if devices is not None and not distribute:
        raise ValueError("--devices needs --distribute")
    if not sync_batch_norm and not distribute:
        raise ValueError("--no-sync-bn needs --distribute")
    engine = data_parallel.start(devices, sync_batch_norm) if distribute else None
    try:
        return _train(recipe_name, epochs, batch_size, out, seed, limit, resume, data_dir,
                      time_steps, jit_compile, verbose, argv, prog, train_time_steps, engine)
    except Exception as exc:
        lost = engine.translate_error(exc) if engine is not None else None
        if lost is not None:
            raise lost from exc
        raise
    finally:
        if engine is not None:
            data_parallel.stop()


def _train(recipe_name, epochs, batch_size, out, seed, limit, resume, data_dir, time_steps,
           jit_compile, verbose, argv, prog, train_time_steps, engine):
    from snnzoo.training import recipes

    chief = engine is None or engine.is_chief

    if verbose == "auto":
        verbose = 1 if _interactive() else 2
    if not chief:
        verbose = 0
    args = argparse.Namespace(recipe=recipe_name, epochs=epochs, batch_size=batch_size, out=out,
                              seed=seed, limit=limit, resume=resume, data=data_dir,
                              time_steps=time_steps, train_time_steps=train_time_steps)
    recipe = recipes.get(recipe_name).scaled(epochs)
    if batch_size:
        recipe.batch_size = int(batch_size)
    if time_steps:
        recipe.time_steps = int(time_steps)
        recipe.train_time_steps = None
    if train_time_steps:
        recipe.train_time_steps = int(train_time_steps)
    if limit is not None and int(limit) < 1:
        raise ValueError(f"--limit must be >= 1, got {limit}")
    if epochs is not None and int(epochs) < 1:
        raise ValueError(f"--epochs must be >= 1, got {epochs}")
    if engine is not None and recipe.batch_size % engine.num_replicas:
        raise ValueError(f"--batch-size {recipe.batch_size} (the global batch) cannot be split "
                         f"evenly over {engine.num_replicas} devices; use a multiple of "
                         f"{engine.num_replicas}")
    out = Path(out or Path("runs") / recipe.name)
    keras = _keras()
    keras.utils.set_random_seed(int(seed))
    command = f"{prog} " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else [recipe_name]))
    started = time.time()

    created = _new_dirs(out) if chief else []
    if chief:
        out.mkdir(parents=True, exist_ok=True)
    try:
        fitted = _run_fit(recipe, args, out, data_dir, jit_compile, verbose, engine)
    except BaseException:
        _remove_empty(created)  # nothing half-written: no empty run folder stays behind
        raise
    if not chief:
        return None
    history, final, data, weights_file, best, epochs_done = fitted

    wall = time.time() - started
    results = {
        "recipe": recipe.name,
        "zoo_name": recipe.zoo_name or recipe.name,
        "recipe_config": recipe.to_dict(),
        "args": {k: v for k, v in vars(args).items()},
        "command": command,
        "seed": int(seed),
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "epochs_completed": epochs_done,
        "history": history,
        "best": best,
        "final": {"test_accuracy": final["accuracy"], "n": final["n"],
                  "firing_rates": final["firing_rates"], "weights": weights_file,
                  "limited": limit is not None},
        "data_sha256": data,
        "distribution": engine.describe() if engine is not None else
        {"strategy": "single", "devices": 1},
        "wall_time_s": round(wall, 2),
        "wall_time_total_s": round(_previous_wall_time(out) + wall, 2),
        "date": datetime.date.today().isoformat(),
    }
    _write_json(out / "results.json", results)
    print(f"{recipe.name}: test accuracy {final['accuracy']:.2f} % (n = {final['n']}) with "
          f"{weights_file}; results in {out / 'results.json'}")
    return results


def _run_fit(recipe, args, out, data_dir, jit_compile, verbose, engine=None):
    import contextlib

    keras = _keras()
    from snnzoo.data.pipelines import DATASETS, EpochStream, data_fingerprint, make_dataset
    from snnzoo.evaluate import evaluate

    chief = engine is None or engine.is_chief

    _check_out(out, args.resume, ["backup", "history.csv"])
    info = DATASETS[recipe.dataset]
    T = recipe.time_steps
    train_T = recipe.train_time_steps or T
    ev = info.kind == "events"
    common = dict(format="py", data_dir=data_dir, limit=args.limit, seed=args.seed,
                  frame_size=recipe.frame_size)
    if ev:
        common["time_steps"] = T
    train_seq = make_dataset(recipe.dataset, "train", recipe.batch_size, augment=recipe.augment,
                             shuffle=True,
                             sample_frames=train_T if (ev and train_T != T) else None,
                             drop_remainder=engine is not None, **common)
    if len(train_seq) == 0:
        raise ValueError(f"no complete training batch of {recipe.batch_size} samples"
                         + (f" (--limit {args.limit})" if args.limit else ""))
    test_seq = make_dataset(recipe.dataset, "test", recipe.batch_size, shuffle=False, **common)

    with engine.scope() if engine is not None else contextlib.nullcontext():
        model = recipe.build(train_T)
        if recipe.chaos:
            from snnzoo.chaos import attach_chaos

            c = dict(recipe.chaos)
            layers = c.pop("layers")
            c.pop("beta", None)
            c.pop("every", None)
            attach_chaos(model, layers, **c)
        model.compile(optimizer=recipe.make_optimizer(len(train_seq)), loss=recipe.make_loss(),
                      metrics=[keras.metrics.MeanMetricWrapper(_time_mean_accuracy,
                                                               name="accuracy")],
                      jit_compile=jit_compile)
    eval_model = recipe.build(T)

    backup_cls = keras.callbacks.BackupAndRestore if chief else _RestoreOnly
    backup = backup_cls(str(out / "backup"), delete_checkpoint=False)
    history_csv = out / "history.csv"
    previous = _read_history(history_csv)
    if args.resume and (out / "backup").is_dir():
        # Restore now, before ChaosAnnealing reads z at the start of fit (fit restores again,
        # to the same state); in the engine's scope, where the optimizer's variables belong.
        backup.set_model(model)
        with engine.scope() if engine is not None else contextlib.nullcontext():
            backup.on_train_begin()
    if args.resume and recipe.chaos and previous and "chaos_z" in previous[-1]:
        # z lives in the attached probes, outside the model's saved weights: continue the
        # annealing from the last logged z (the z of the last step) times β
        from snnzoo.chaos import chaotic_regularizers

        for reg in chaotic_regularizers(model):
            reg.z.assign(float(previous[-1]["chaos_z"]) * float(recipe.chaos["beta"]))
    start_epoch = 0
    meta = out / "backup" / "training_metadata.json"
    if args.resume and meta.is_file():
        start_epoch = int(json.loads(meta.read_text()).get("epoch", 0))
    stream = EpochStream(train_seq, recipe.epochs, start_epoch)  # batch i: epoch i // n
    if engine is not None:
        if engine.sync_batch_norm:
            from snnzoo.layers.normalization import synchronize_batch_norm

            synchronize_batch_norm(model)
        engine.prepare(model)
        stream = engine.shard(stream)
    best_so_far = max((r.get("test_accuracy", float("-inf")) for r in previous),
                      default=None)

    class CleanCheckpoint(keras.callbacks.ModelCheckpoint):
        """ModelCheckpoint of the clean evaluation model (TestEvaluation copied the weights)."""

        def set_model(self, model):
            super().set_model(eval_model)

    callbacks = [
        _make_test_callback(eval_model, test_seq),
        CleanCheckpoint(str(out / "best.weights.h5"), monitor="test_accuracy", mode="max",
                        save_best_only=True, save_weights_only=True,
                        initial_value_threshold=best_so_far),
    ] if chief else []
    if recipe.chaos:
        from snnzoo.chaos import ChaosAnnealing

        callbacks.append(ChaosAnnealing(beta=recipe.chaos["beta"],
                                        every=recipe.chaos.get("every", "epoch")))
    if chief:
        callbacks.append(_make_history_logger(history_csv))  # after ChaosAnnealing logged chaos_z
    callbacks.append(backup)  # last: its epoch-end state includes this epoch's annealed z
    if len(stream):  # (a finished run resumed: nothing to train)
        # shuffle=False: the pipeline shuffles the samples of every epoch itself (seeded);
        # Keras' own shuffle would reorder the batches of the whole stream with Python's RNG.
        model.fit(stream, epochs=recipe.epochs, steps_per_epoch=len(train_seq), shuffle=False,
                  callbacks=callbacks, verbose=verbose)
    if not chief:
        return None

    copy_weights(model, eval_model)
    eval_model.save_weights(str(out / "final.weights.h5"))  # the last epoch's clean weights
    history = _read_history(history_csv)
    best_path = out / "best.weights.h5"
    if best_path.is_file():
        eval_model.load_weights(str(best_path))
    else:  # no epoch ran in this call (e.g. resumed a finished run) and no best file: last state
        eval_model.save_weights(str(best_path))
    final = evaluate(eval_model, data_dir=data_dir, dataset=recipe.dataset, limit=args.limit,
                     progress=verbose == 1, verbose=bool(verbose))
    best = max(history, key=lambda r: r.get("test_accuracy", -1)) if history else None
    data = {"train": data_fingerprint(train_seq.source), "test": data_fingerprint(test_seq.source)}
    return (history, final, data, "best.weights.h5",
            {"epoch": best["epoch"], "test_accuracy": best["test_accuracy"]} if best else None,
            len(history))


def _restore_only_class():
    keras = _keras()

    class RestoreOnly(keras.callbacks.BackupAndRestore):
        """``BackupAndRestore`` that restores (weights, optimizer, epoch) but never writes: the
        non-chief processes of a distributed run read the chief's backup."""

        def on_epoch_end(self, epoch, logs=None):
            pass

        def on_train_batch_end(self, batch, logs=None):
            pass

    return RestoreOnly


def _RestoreOnly(*args, **kwargs):
    return _restore_only_class()(*args, **kwargs)


def add_train_arguments(p):
    """Add the training arguments to an ``argparse`` parser (``snnzoo train`` and
    ``python -m training.train`` share them)."""
    from snnzoo.training import recipes

    p.add_argument("recipe", help=f"one of: {', '.join(recipes.names())}")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs (default the recipe's; fewer compresses its schedule)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--out", default=None, help="run folder (default runs/<recipe>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None,
                   help="use N training and N test samples (smoke runs)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out (from its backup/)")
    p.add_argument("--data", default=None, help="data root (default $SNNZOO_DATA)")
    p.add_argument("--time-steps", type=int, default=None, help="override the recipe's T")
    p.add_argument("--train-time-steps", type=int, default=None,
                   help="train at this T, evaluate at the recipe's (or --time-steps) T")
    p.add_argument("--distribute", action="store_true",
                   help="data-parallel training on the backend's engine (JAX DataParallel, TF "
                        "MirroredStrategy, torch DDP under torchrun); --batch-size is global")
    p.add_argument("--devices", type=int, default=None,
                   help="with --distribute: number of devices (default all; a CPU host is split "
                        "into N simulated devices on JAX and TF; torch: torchrun's process count)")
    p.add_argument("--no-sync-bn", dest="sync_bn", action="store_false",
                   help="with --distribute: batch-norm statistics per replica instead of over the "
                        "global batch")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress output (default: a progress bar on a terminal, one line per "
                        "epoch otherwise)")
    return p


def build_parser(prog="python -m training.train"):
    p = argparse.ArgumentParser(prog=prog,
                                description="Train a snnzoo recipe (named after its zoo entry).")
    return add_train_arguments(p)


def _argv_from(a):
    """The command line of parsed arguments ``a`` (recorded in results.json)."""
    argv = [a.recipe]
    for flag, value in (("--epochs", a.epochs), ("--batch-size", a.batch_size), ("--out", a.out),
                        ("--seed", a.seed), ("--limit", a.limit), ("--data", a.data),
                        ("--time-steps", a.time_steps),
                        ("--train-time-steps", getattr(a, "train_time_steps", None)),
                        ("--devices", getattr(a, "devices", None))):
        if value is not None:
            argv += [flag, str(value)]
    return (argv + (["--distribute"] if getattr(a, "distribute", False) else [])
            + ([] if getattr(a, "sync_bn", True) else ["--no-sync-bn"])
            + (["--resume"] if a.resume else []) + (["-q"] if a.quiet else []))


def run_cli(a, prog="snnzoo train", error_prefix="snnzoo", argv=None) -> int:
    """Run parsed training arguments ``a``; bad input ends with one ``<error_prefix>: error: ...``
    line and exit code 1, Ctrl-C with one line and 130. Returns the exit code."""
    from snnzoo.backend.data_parallel import DistributionError
    from snnzoo.data.checksums import DataNotFoundError
    from snnzoo.evaluate import one_line_error

    try:
        train(a.recipe, epochs=a.epochs, batch_size=a.batch_size, out=a.out, seed=a.seed,
              limit=a.limit, resume=a.resume, data_dir=a.data, time_steps=a.time_steps,
              train_time_steps=getattr(a, "train_time_steps", None),
              verbose=0 if a.quiet else "auto", argv=argv if argv is not None else _argv_from(a),
              prog=prog, distribute=getattr(a, "distribute", False),
              devices=getattr(a, "devices", None), sync_batch_norm=getattr(a, "sync_bn", True))
    except (DataNotFoundError, ValueError, RunExistsError, ImportError, OSError,
            DistributionError) as err:
        print(f"{error_prefix}: error: {one_line_error(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{error_prefix}: interrupted; completed epochs are kept in the run folder's backup/ "
              "(continue with --resume)", file=sys.stderr)
        return 130
    return 0


def cli_train(args) -> int:
    """``snnzoo train`` (the ``func`` of its sub-command)."""
    return run_cli(args, prog="snnzoo train", error_prefix="snnzoo")


def main(argv=None, prog="python -m training.train") -> int:
    """Command-line entry point; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        a = build_parser(prog).parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    return run_cli(a, prog=prog, error_prefix="training.train", argv=argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
