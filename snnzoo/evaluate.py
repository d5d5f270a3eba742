"""Evaluate a zoo model (or any Keras model) on the real test set of its data set.

>>> import snnzoo.evaluate as ev
>>> result = ev.evaluate("fsnn_fmnist_ide", data_dir="../shared/data")   # doctest: +SKIP
fsnn_fmnist_ide on Fashion-MNIST test: accuracy 90.10 % (n = 10000; claimed 90.07 %)

Accuracy is top-1 in percent, the unit of the manifests' ``accuracy.claimed``. Models that return
per-step logits [B, T, C] are scored on their mean over T (the seeds' protocol). Firing rates are
measured on the same pass (:mod:`snnzoo.metrics`); the model-input helpers are shared with
``snnzoo predict`` (:mod:`snnzoo.inference`).

Command line (wired into ``snnzoo eval``)::

    snnzoo eval NAME [--data DIR] [--limit N] [--batch-size B] [--split test|train] [--energy]
"""
from __future__ import annotations

import argparse
import sys
import time

from snnzoo.inference import input_geometry, mean_logits

__all__ = ["add_eval_arguments", "evaluate", "main_eval", "one_line_error", "run_eval"]

#: exit code after Ctrl-C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130

_EXPECTED_ERRORS = (ValueError, FileNotFoundError, ImportError, RuntimeError, ConnectionError,
                    OSError, KeyError)


def one_line_error(err) -> str:
    """One line describing ``err``; a missing data set names its files, checksums and folder."""
    from snnzoo.data.checksums import DataNotFoundError

    if isinstance(err, DataNotFoundError):
        files = "; ".join(f"{name} ({checksum})" if checksum else name
                          for name, checksum in err.missing)
        return (f"{err.dataset} not found: missing in {err.directory}: {files}. Download from "
                f"{err.url} into that folder, or point --data / $SNNZOO_DATA at the data root "
                "(one sub-folder per data set)")
    text = str(err).strip()
    if isinstance(err, KeyError) and text.startswith("'"):
        text = text.strip("'")
    first = text.splitlines()[0] if text else type(err).__name__
    return first


def check_finite_batch(x, index):
    """Raise ``ValueError`` if the float batch ``x`` holds NaN or inf (``index``: batch number).

    Models cannot check this themselves under jit, and a spiking network turns NaN inputs into
    silent garbage (a NaN membrane potential never crosses the threshold)."""
    import numpy as np
    from keras import ops

    x = np.asarray(ops.convert_to_numpy(x))
    if np.issubdtype(x.dtype, np.floating):
        finite = np.isfinite(x.reshape(x.shape[0], -1)) if x.ndim else np.isfinite(x)
        if not finite.all():
            rows = np.flatnonzero(~finite.all(axis=-1)) if x.ndim else [0]
            raise ValueError(f"input batch {index}: {len(rows)} sample(s) hold NaN/inf values "
                             f"(first: sample {int(rows[0])} of the batch); inputs must be finite")


def evaluate(name_or_model, data_dir=None, split="test", batch_size=None, limit=None,
             progress=True, *, dataset=None, data=None, weights="default", verbose=True,
             seed=0, energy=False):
    """Top-1 accuracy (percent) and firing rates of a model on a data set split.

    Args:
        name_or_model: a registry name (the model is loaded with ``snnzoo.load(name, weights)``
            and the data set taken from its manifest) or a ``keras.Model``.
        data_dir: data root (``None``: ``$SNNZOO_DATA``, else ``$SNNZOO_HOME/data``).
        split: ``"test"`` (default) or ``"train"``.
        batch_size: default 100 for images, 16 for event frames.
        limit: evaluate N samples spread evenly over the split (quick checks).
        progress: show a ``keras.utils.Progbar``.
        dataset: pipeline name for a model passed directly (e.g. ``"fashion_mnist"``), or to
            override the manifest's.
        data: ``(x, y)`` arrays (or an iterable of ``(x, y)`` batches) instead of a data set.
        weights: passed to ``snnzoo.load`` for registry names.
        verbose: print the result lines.
        energy: also count synaptic operations and energy on the same batches
            (:func:`snnzoo.profile`, one more pass without the latency run); adds ``energy``:
            ``dict(ac, mac, energy_pj, ann_energy_pj, efficiency)`` per sample. ``True`` uses the
            45 nm figures, or pass an ``EnergyModel`` / ``dict(e_mac=, e_ac=)``.

    Returns:
        ``dict(accuracy, n, correct, claimed, firing_rates, seconds, dataset, split, model)``;
        ``claimed`` is the manifest's claimed accuracy (``None`` for a model object).

    Image batches may be float in [0, 1] or, for zoo models, uint8 0..255 (scaled inside the
    model, see :mod:`snnzoo.zoo.image_model`).

    Raises:
        DataNotFoundError: the test set's files are missing (the message names them).
        ValueError: a batch holds NaN/inf values (checked before the model runs), or the data
            does not fit the model.
    """
    import keras
    import numpy as np

    from snnzoo.data import pipelines
    from snnzoo.metrics import FiringRateProbe

    claimed, title, model = None, None, None
    if isinstance(name_or_model, str):
        from snnzoo.zoo import model_info

        info = model_info(name_or_model)
        claimed = info["accuracy"].get("claimed")
        if dataset is None and data is None:
            if not info.get("dataset"):
                raise ValueError(f"model '{name_or_model}' names no data set in its manifest; "
                                 "pass dataset=...")
            dataset = pipelines.dataset_for(info["dataset"])
        label = name_or_model
        # geometry from the manifest, so missing data is reported before any weights download
        shape = tuple(int(s) for s in info["input_shape"])
        if info["input"]["kind"] == "event_frames":
            kind, T, geometry = "event_frames", shape[0], shape[1:]
        else:
            kind, T, geometry = "image", None, shape
    else:
        model = name_or_model
        label = getattr(model, "name", type(model).__name__)
        kind, T, geometry = input_geometry(model)

    if data is not None:
        if isinstance(data, tuple) and len(data) == 2 and hasattr(data[0], "shape"):
            x_all, y_all = data
            bs = int(batch_size or 100)
            batches = [(x_all[i:i + bs], np.asarray(y_all[i:i + bs]))
                       for i in range(0, int(x_all.shape[0]), bs)]
        else:
            batches = list(data)
        n_batches = len(batches)
        get = batches.__getitem__
        title = "given data"
    else:
        if dataset is None:
            raise ValueError("evaluate needs a data set: a registry name, dataset=... or data=(x, y)")
        ds_info = pipelines.DATASETS[pipelines.dataset_for(dataset)
                                     if dataset not in pipelines.DATASETS else dataset]
        title = ds_info.title
        kw = {}
        if ds_info.kind == "events":
            if kind != "event_frames":
                raise ValueError(f"{title} gives event frames [B, T, H, W, 2] but the model takes "
                                 f"inputs of shape {geometry}")
            kw = dict(time_steps=T, frame_size=geometry[:2])
        elif kind == "image" and geometry != tuple(ds_info.shape):
            raise ValueError(f"{title} images have shape {ds_info.shape} but the model takes "
                             f"{geometry}")
        bs = int(batch_size or (16 if ds_info.kind == "events" else 100))
        seq = pipelines.make_dataset(ds_info.name, split, bs, format="py", data_dir=data_dir,
                                     limit=limit, shuffle=False, seed=seed, **kw)
        n_batches = len(seq)
        get = seq.__getitem__

    if model is None:
        from snnzoo.zoo import load

        model = load(name_or_model, weights=weights, progress=progress)
    probe = FiringRateProbe(model)
    bar = keras.utils.Progbar(n_batches, stateful_metrics=["accuracy"], unit_name="batch") \
        if progress else None
    start = time.perf_counter()
    correct = total = 0
    for i in range(n_batches):
        x, y = get(i)
        check_finite_batch(x, i)
        pred = mean_logits(probe(x)).argmax(axis=-1)
        y = np.asarray(keras.ops.convert_to_numpy(y)).reshape(-1)
        correct += int(np.sum(pred == y))
        total += int(y.shape[0])
        if bar is not None:
            bar.update(i + 1, values=[("accuracy", 100.0 * correct / max(total, 1))])
    seconds = time.perf_counter() - start
    accuracy = 100.0 * correct / total if total else float("nan")
    result = {"model": label, "dataset": title, "split": split, "accuracy": accuracy, "n": total,
              "correct": correct, "claimed": claimed, "firing_rates": probe.rates(),
              "seconds": seconds}
    if energy:
        from snnzoo.profiling.report import profile

        p = profile(model, [get(i) for i in range(n_batches)], latency=False,
                    energy=None if energy is True else energy)
        result["energy"] = {k: p.total[k] for k in ("ac", "mac", "energy_pj", "ann_energy_pj",
                                                     "efficiency")}
    if verbose:
        print(format_result(result))
    return result


def format_result(result) -> str:
    """The lines ``evaluate`` prints: accuracy next to the claimed number, then firing rates."""
    claimed = result.get("claimed")
    note = f"; claimed {claimed:.2f} %" if claimed is not None else ""
    lines = [f"{result['model']} on {result['dataset']} {result['split']}: accuracy "
             f"{result['accuracy']:.2f} % (n = {result['n']}{note}; {result['seconds']:.1f} s)"]
    rates = result.get("firing_rates") or {}
    if rates:
        lines.append("firing rate per layer:")
        width = max(len(k) for k in rates)
        for name, r in rates.items():
            lines.append(f"  {name.ljust(width)}  {'-' if r is None else f'{r:.4f}'}")
    e = result.get("energy")
    if e:
        eff = "-" if e["efficiency"] is None else f"{e['efficiency']:.2f}"
        lines.append(f"energy per sample: {e['ac']:.4g} AC + {e['mac']:.4g} MAC = "
                     f"{e['energy_pj'] / 1e3:.4g} nJ; as ANN {e['ann_energy_pj'] / 1e3:.4g} nJ; "
                     f"E_ANN / E_SNN = {eff} (snnzoo profile NAME: per layer)")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command line
def add_eval_arguments(parser):
    """Add the ``eval`` arguments to an ``argparse`` parser."""
    parser.add_argument("name", help="registry name (see 'snnzoo list')")
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="data root with one sub-folder per data set (default $SNNZOO_DATA)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="evaluate N samples spread over the split (quick check)")
    parser.add_argument("--batch-size", type=int, default=None, metavar="B")
    parser.add_argument("--split", default="test", choices=("test", "train"))
    parser.add_argument("--weights", default="default",
                        help="'default' (registry weights), 'none' (random) or a weights file")
    parser.add_argument("--energy", action="store_true",
                        help="also count AC/MAC operations and energy (45 nm: E_MAC 4.6 pJ, E_AC 0.9 pJ)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def run_eval(args) -> int:
    """Run ``snnzoo eval`` for parsed ``args``; errors are re-raised as one-line exceptions."""
    from snnzoo.data.checksums import DataNotFoundError

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    weights = None if str(args.weights).lower() == "none" else args.weights
    try:
        evaluate(args.name, data_dir=args.data, split=args.split, batch_size=args.batch_size,
                 limit=args.limit, progress=not args.quiet, weights=weights,
                 energy=bool(getattr(args, "energy", False)))
    except DataNotFoundError as err:
        raise FileNotFoundError(one_line_error(err)) from None
    return 0


def run_command(parser, runner, argv=None) -> int:
    """Parse ``argv`` with ``parser`` and call ``runner(args)``; a usage error returns 2, an
    expected error (bad name, missing data, bad file) prints one ``snnzoo: error:`` line and
    returns 1; Ctrl-C prints ``snnzoo: interrupted`` and returns 130 (every file snnzoo writes
    is written to a temporary name and renamed, so nothing half-written stays). The stand-alone
    entry points ``snnzoo eval`` / ``snnzoo predict`` use it."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return runner(args)
    except KeyboardInterrupt:
        print("snnzoo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _EXPECTED_ERRORS as err:
        print(f"snnzoo: error: {one_line_error(err)}", file=sys.stderr)
        return 1


def main_eval(argv=None) -> int:
    """``snnzoo eval`` as a stand-alone entry point; returns the exit code."""
    parser = add_eval_arguments(argparse.ArgumentParser(
        prog="snnzoo eval", description="Evaluate a zoo model on its real test set."))
    return run_command(parser, run_eval, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_eval())
