"""Command line: ``snnzoo list | info NAME | eval NAME [--data DIR] | predict NAME FILE... |
convert NAME CKPT OUT | export NAME|FILE.keras --format F OUT | profile NAME|FILE.keras | train RECIPE |
publish RUN_DIR NAME``. Bad input ends with one ``snnzoo: error: ...`` line and a non-zero exit code;
Ctrl-C ends with one ``snnzoo: interrupted`` line and exit code 130."""
import argparse
import json
import sys

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


class CLIError(Exception):
    """A user error reported as one line."""


def _fmt_acc(value):
    return "-" if value is None else f"{value:g}"


def cmd_list(args):
    from snnzoo.zoo import registry

    entries = registry.entries()
    rows = [("name", "dataset", "method", "T", "claimed", "measured", "weights")]
    for name in sorted(entries):
        e = entries[name]
        spec = e["weights"]
        kind = "none" if spec is None else ("shipped" if "file" in spec else "external")
        if not registry.is_available(e):
            kind += " (builder missing)"
        rows.append((name, str(e["dataset"] or "-"), str(e["method"] or "-"), str(e["time_steps"]),
                     _fmt_acc(e["accuracy"]["claimed"]), _fmt_acc(e["accuracy"]["measured"]), kind))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


def cmd_info(args):
    from snnzoo.zoo.loader import model_info

    info = model_info(args.name)
    info["nir_exportable"] = _nir_verdict(args.name)
    print(json.dumps(info, indent=2))
    return 0


def _nir_verdict(name):
    """``{"exportable": bool | None, "reason": str}``: :func:`snnzoo.nir.export.nir_exportability`
    of the architecture, built with random weights (nothing is downloaded); ``None`` when the
    ``nir`` package is not installed."""
    from snnzoo.zoo.loader import load

    try:
        from snnzoo.nir import require_nir

        require_nir()
    except ImportError as err:
        return {"exportable": None, "reason": str(err)}
    from snnzoo.nir.export import nir_exportability

    ok, reason = nir_exportability(load(name, weights=None))
    return {"exportable": ok, "reason": reason}


def cmd_convert(args):
    from pathlib import Path

    from tqdm.auto import tqdm

    from snnzoo.zoo import registry, weights
    from snnzoo.zoo.loader import build, torch_converter

    out = Path(args.out)
    if not out.name.endswith(".weights.h5"):
        raise CLIError(f"OUT must end with .weights.h5 (Keras weights file), got {out.name!r}")
    ckpt = Path(args.checkpoint)
    if not ckpt.is_file():
        raise CLIError(f"checkpoint not found: {ckpt}")
    entry = registry.get(args.name)
    converter = torch_converter(entry)
    from snnzoo.convert.torch_checkpoint import read_state_dict

    with tqdm(total=3, desc=f"converting {ckpt.name}", unit="step", disable=args.quiet) as bar:
        state_dict = read_state_dict(ckpt, trust_checkpoint=args.trust_checkpoint)
        bar.update()
        model = build(entry)
        converter(state_dict, model)
        bar.update()
        weights.save_weights_atomic(model, out)
        bar.update()
    note = ""
    spec = entry["weights"]
    if spec and "origin" in spec:
        from snnzoo.data.checksums import file_hash

        kind, want = weights.expected_hash(spec)
        same = file_hash(ckpt, kind) == want
        note = f" (checkpoint {kind} {'matches' if same else 'differs from'} the registry's)"
    print(f"wrote {out}{note}")
    return 0


def cmd_export(args):
    from snnzoo.deploy.exporter import check_target, export
    from snnzoo.deploy.metadata import read_metadata

    fmt = args.format
    if fmt is None:  # from the output's extension: whole-sequence formats only
        suffix = args.out.lower().rpartition(".")[2] if "." in args.out.rpartition("/")[2] else ""
        fmt = {"keras": "keras", "onnx": "onnx", "nir": "nir", "": "saved_model"}.get(suffix)
        if fmt is None:
            raise CLIError(f"cannot tell the format from {args.out!r}; pass --format")
    check_target(args.out, fmt)  # before any model is loaded
    source = args.model
    if not source.lower().endswith(".keras"):
        from snnzoo.zoo import load

        weights = None if args.weights.lower() == "none" else args.weights
        source = load(args.model, weights=weights)
    nir_options = {k: True for k in ("subtract_reset", "per_step_readout") if getattr(args, k)}
    if nir_options and fmt != "nir":
        raise CLIError("--subtract-reset / --per-step-readout are options of --format nir")
    out = export(source, args.out, format=fmt, model_name=None if isinstance(source, str) else args.model,
                 dt=args.dt, **nir_options)
    meta = read_metadata(out)
    print(f"wrote {out} ({fmt}; model {meta.get('model_name')}, T = {meta.get('time_steps') or '-'}, "
          f"exported with {meta.get('exported_with')})")
    return 0


def cmd_profile(args):
    from snnzoo.data.checksums import DataNotFoundError
    from snnzoo.evaluate import one_line_error
    from snnzoo.profiling.report import profile_dataset

    if args.limit is not None and args.limit < 1:
        raise CLIError(f"--limit must be >= 1, got {args.limit}")
    weights = None if str(args.weights).lower() == "none" else args.weights
    try:
        p = profile_dataset(args.model, data_dir=args.data, split=args.split, limit=args.limit,
                            batch_size=args.batch_size, dataset=args.dataset, weights=weights,
                            progress=not args.quiet, latency=not args.no_latency)
    except DataNotFoundError as err:
        raise FileNotFoundError(one_line_error(err)) from None
    print(f"{p.model_name} on {p.dataset}:")
    print(p)
    if args.csv:
        p.to_csv(args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        from snnzoo.plot import rates

        rates(p, path=args.plot, title=f"{p.model_name}: firing rate per layer")
        print(f"wrote {args.plot}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="snnzoo", description="Spiking neural network model zoo (Keras 3).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("list", help="list the registered models")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("info", help="show a model's registry entry")
    p.add_argument("name")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("convert", help="convert an original PyTorch checkpoint to Keras .weights.h5")
    p.add_argument("name", help="registry name of the architecture")
    p.add_argument("checkpoint", help="PyTorch .pth/.pt/.tar file")
    p.add_argument("out", help="output .weights.h5 file")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow a full (code-executing) unpickle if the safe loader refuses the file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_convert)
    from snnzoo.deploy.exporter import FORMATS

    p = sub.add_parser("export", help="write a model for deployment (Keras, SavedModel, ONNX, NIR, streaming step)")
    p.add_argument("model", help="registry name, or a .keras file")
    p.add_argument("out", help="output file (.keras, .onnx, .nir) or folder (SavedModel)")
    p.add_argument("--format", "-f", choices=list(FORMATS),
                   help="output format (default: from OUT's extension; a folder: saved_model)")
    p.add_argument("--weights", default="default",
                   help="for a registry name: 'default', 'none' or a weights/checkpoint file")
    p.add_argument("--dt", type=float, default=1e-4, help="NIR: time step of the graph (seconds)")
    p.add_argument("--subtract-reset", action="store_true",
                   help="NIR: export soft-reset neurons (all IDE models), listed in the graph's metadata")
    p.add_argument("--per-step-readout", action="store_true",
                   help="NIR: export a time-average readout per step (recorded in the graph's metadata)")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("profile", help="synaptic operations (AC/MAC), energy, firing rates and latency "
                                       "per layer on the real test set")
    p.add_argument("model", help="registry name, or a .keras file (then pass --dataset)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="data root with one sub-folder per data set (default $SNNZOO_DATA)")
    p.add_argument("--dataset", default=None, help="data set for a .keras file (e.g. fashion_mnist)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="profile N samples spread over the split (default: all)")
    p.add_argument("--batch-size", type=int, default=None, metavar="B")
    p.add_argument("--split", default="test", choices=("test", "train"))
    p.add_argument("--weights", default="default",
                   help="for a registry name: 'default', 'none' or a weights/checkpoint file")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="bar chart of the firing rates")
    p.add_argument("--csv", default=None, metavar="OUT.csv", help="write the table as CSV")
    p.add_argument("--no-latency", action="store_true", help="skip the step-by-step latency pass")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_profile)
    from snnzoo.evaluate import add_eval_arguments, run_eval
    from snnzoo.predict import add_predict_arguments, run_predict
    from snnzoo.training.publish import add_publish_arguments, cli_publish
    from snnzoo.training.train import add_train_arguments, cli_train

    # commands whose arguments and entry point live beside the work they do
    for name, help_text, add_arguments, run in (
        ("eval", "evaluate a model on the real test set of its data set", add_eval_arguments, run_eval),
        ("predict", "classify images or event recordings (top-k classes)", add_predict_arguments, run_predict),
        ("train", "train a recipe into a run folder (runs/<recipe> by default)", add_train_arguments, cli_train),
        ("publish", "copy a finished run's weights and accuracy into a zoo folder", add_publish_arguments,
         cli_publish),
    ):
        p = sub.add_parser(name, help=help_text)
        add_arguments(p)
        p.set_defaults(func=run)
    return parser


def main(argv=None):
    """Entry point; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse already printed its one-line usage error
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:  # Ctrl-C: one line; snnzoo writes files atomically (temp + rename)
        print("snnzoo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into e.g. `head`
        return 0
    except (CLIError, ValueError, FileNotFoundError, ImportError, RuntimeError, ConnectionError,
            OSError) as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"snnzoo: error: {message}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
