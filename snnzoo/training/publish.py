"""Publish a finished training run into the model zoo.

    snnzoo publish RUN_DIR ZOO_NAME [--zoo-dir DIR] [--allow-limited] [--no-check]

(``python -m training.publish ...`` from the repository root is the same entry point.)

Copies the run's weights (``results.json`` → ``final.weights``: the best epoch's
``best.weights.h5``, or the IDE loop's ``final.weights.h5``) to ``<zoo dir>/<ZOO_NAME>.weights.h5``
and records in ``<ZOO_NAME>.json`` (schema: ``zoo_weights/README.md``):

* ``weights``: ``{"file": "<ZOO_NAME>.weights.h5", "sha256": ...}``;
* ``accuracy.measured``: the run's final test accuracy (percent, 2 decimals);
* ``accuracy.measured_by``: command, seed, sha256 of the test data, date, plus backend, epochs,
  number of test samples and the training data's sha256.

An existing manifest keeps everything else (claimed accuracy, source, licence); a missing one is
created from the recipe (architecture, input, T, data set, method). Before anything is written the
weights are loaded into the manifest's architecture, so a mismatched run cannot be published. Runs
made with ``--limit`` measured a subset only and are refused unless ``--allow-limited`` is given.

The zoo folder (``--zoo-dir``) defaults to the first folder of ``$SNNZOO_ZOO_DIR`` (where the
registry looks first), else to the ``zoo_weights/`` folder of a source checkout; an installed
package's own zoo is not written to.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

from snnzoo._atomic import copy_file_atomic, write_text_atomic

__all__ = ["add_publish_arguments", "cli_publish", "default_zoo_dir", "main", "publish", "run_cli"]


def default_zoo_dir() -> Path:
    """The folder ``publish`` writes to without ``zoo_dir`` (see the module docstring)."""
    from snnzoo.zoo import registry

    env = [p for p in os.environ.get(registry.ENV_ZOO_DIR, "").split(os.pathsep) if p]
    if env:
        return Path(env[0]).expanduser()
    checkout = registry._PACKAGE.parent / "zoo_weights"
    if checkout.is_dir():
        return checkout
    raise ValueError("no zoo folder to publish into: pass --zoo-dir DIR (and set "
                     f"${registry.ENV_ZOO_DIR}=DIR so that snnzoo.load finds the entry)")


def _architecture(rc, config):
    """The manifest's architecture: the recipe's builder and config, plus the PyTorch converter of
    the zoo entry the recipe is named after when that entry has the same builder (so that
    ``snnzoo.load(name, weights="x.pth")`` converts an original checkpoint of the architecture)."""
    from snnzoo.zoo import registry

    arch = {"builder": rc["builder"], "config": config}
    try:
        origin = registry.get(rc["name"])["architecture"]
    except (KeyError, ValueError):
        return arch
    if origin.get("builder") == rc["builder"] and origin.get("converter"):
        arch["converter"] = origin["converter"]
    return arch


def _new_manifest(name, results):
    from snnzoo.data.pipelines import DATASETS

    rc = results["recipe_config"]
    info = DATASETS[rc["dataset"]]
    config = {k: v for k, v in rc["config"].items() if k not in ("per_step_logits", "time_steps")}
    if info.kind == "image":
        inp = {"kind": "image", "shape": list(info.shape),
               "preprocessing": "raw images in [0, 1]; normalisation and time repetition inside "
                                "the model"}
    else:
        size = list(rc.get("frame_size") or info.shape[:2])
        inp = {"kind": "event_frames", "shape": size + [2],
               "preprocessing": "event-count frames [T, H, W, 2] (channel 0 OFF, 1 ON; "
                                "split_by='number', frames_number=T"
                                + (f", resized to {size[0]}x{size[1]}" if rc.get("frame_size") else "")
                                + ")"}
    return {
        "name": name,
        "description": rc["description"] + " (trained with snnzoo)",
        "architecture": _architecture(rc, config),
        "input": inp,
        "time_steps": int(rc["time_steps"]),
        "num_classes": int(rc["config"].get("num_classes", info.num_classes)),
        "method": rc.get("method"),
        "dataset": info.title,
        "accuracy": {"claimed": None, "measured": None, "measured_by": None},
        "source": {"paper": "", "code": f"snnzoo.training.recipes ({rc['name']}); "
                                        f"hyper-parameters: {rc.get('source', '')}"},
        "license": "Apache-2.0 (weights trained by the snnzoo project)",
        "weights": None,
    }


def _check_loadable(manifest, weights_path):
    from snnzoo.zoo.registry import resolve_callable

    arch = manifest["architecture"]
    builder = resolve_callable(arch["builder"], "builder", manifest["name"])
    model = builder(**dict(arch.get("config", {}), time_steps=manifest["time_steps"]))
    model.load_weights(str(weights_path))
    return model


def publish(run_dir, zoo_name, zoo_dir=None, allow_limited=False, check=True):
    """Publish ``run_dir`` as zoo entry ``zoo_name``; returns the written manifest (a dict)."""
    from snnzoo.data.checksums import file_hash

    run_dir = Path(run_dir)
    results_path = run_dir / "results.json"
    if not results_path.is_file():
        raise FileNotFoundError(f"{results_path} not found: RUN_DIR must be a finished "
                                "'snnzoo train' (python -m training.train) run folder")
    results = json.loads(results_path.read_text())
    final = results.get("final") or {}
    weights_src = run_dir / final.get("weights", "best.weights.h5")
    if not weights_src.is_file():
        raise FileNotFoundError(f"weights of the run not found: {weights_src}")
    if final.get("limited") and not allow_limited:
        raise ValueError(f"{run_dir} was trained/evaluated with --limit (n = {final.get('n')}); its "
                         "accuracy is not a test-set measurement. Re-run without --limit, or pass "
                         "--allow-limited")
    zoo_dir = Path(zoo_dir) if zoo_dir is not None else default_zoo_dir()
    zoo_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = zoo_dir / f"{zoo_name}.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("name") != zoo_name:
            raise ValueError(f"{manifest_path}: name {manifest.get('name')!r} differs from {zoo_name!r}")
    else:
        manifest = _new_manifest(zoo_name, results)
    if check:
        _check_loadable(manifest, weights_src)

    target = zoo_dir / f"{zoo_name}.weights.h5"
    copy_file_atomic(weights_src, target)
    sha = file_hash(target)

    data = results.get("data_sha256") or {}
    accuracy = manifest.setdefault("accuracy", {"claimed": None})
    accuracy["measured"] = round(float(final["test_accuracy"]), 2)
    accuracy["measured_by"] = {
        "command": results.get("command"),
        "seed": results.get("seed"),
        "data_sha256": data.get("test", data),
        "date": results.get("date") or datetime.date.today().isoformat(),
        "backend": results.get("backend"),
        "epochs": results.get("epochs_completed"),
        "n": final.get("n"),
        "train_data_sha256": data.get("train"),
    }
    manifest["weights"] = {"file": target.name, "sha256": sha}
    write_text_atomic(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(f"published {zoo_name}: {target} (sha256 {sha[:16]}...), measured "
          f"{accuracy['measured']} % -> {manifest_path}")
    return manifest


def add_publish_arguments(p):
    """Add the publishing arguments to an ``argparse`` parser."""
    p.add_argument("run_dir", help="run folder written by 'snnzoo train'")
    p.add_argument("zoo_name", help="registry name (<zoo dir>/<name>.json)")
    p.add_argument("--zoo-dir", default=None,
                   help="registry folder (default: the first of $SNNZOO_ZOO_DIR, else the source "
                        "checkout's zoo_weights/)")
    p.add_argument("--allow-limited", action="store_true",
                   help="accept a run made with --limit (its accuracy covers a subset)")
    p.add_argument("--no-check", action="store_true",
                   help="do not load the weights into the architecture first")
    return p


def run_cli(a, error_prefix="snnzoo") -> int:
    """Publish parsed arguments ``a``; bad input ends with one error line and exit code 1."""
    try:
        publish(a.run_dir, a.zoo_name, a.zoo_dir, a.allow_limited, not a.no_check)
    except (ValueError, OSError, ImportError, KeyError) as err:
        from snnzoo.evaluate import one_line_error

        print(f"{error_prefix}: error: {one_line_error(err)}", file=sys.stderr)
        return 1
    return 0


def cli_publish(args) -> int:
    """``snnzoo publish`` (the ``func`` of its sub-command)."""
    return run_cli(args, error_prefix="snnzoo")


def main(argv=None, prog="python -m training.publish") -> int:
    p = argparse.ArgumentParser(prog=prog,
                                description="Copy a run's weights into the zoo and record its "
                                            "measured accuracy in the manifest.")
    add_publish_arguments(p)
    try:
        a = p.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    return run_cli(a, error_prefix="training.publish")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
