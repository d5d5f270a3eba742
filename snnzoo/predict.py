"""Classify input files with a zoo model and print the top-k classes.

Accepted inputs (the model's input kind decides which make sense):

* images (image models): ``.png``/``.jpg``/``.jpeg``/``.bmp`` (converted to the model's channels
  and resized bilinearly to its size if needed), ``.npy`` arrays ([H, W], [H, W, C] or a stack
  [N, H, W(, C)]; uint8 is divided by 255, floats must already lie in [0, 1] and be finite), and idx files
  (e.g. ``t10k-images-idx3-ubyte.gz``) with optional rows: ``FILE:0``, ``FILE:0-9``,
  ``FILE:3,5,8`` (all rows without a suffix);
* events (event-frame models): N-MNIST ``.bin``/``.bs2`` (34 x 34 sensor), ``.aedat`` (AEDAT
  3.1, e.g. DVS128 Gesture, one input per labelled gesture when ``<name>_labels.csv`` lies beside
  it; or AEDAT 2.0 as in CIFAR10-DVS, 128 x 128), ``.aedat4`` (sensor size from the file), and
  ``.npy`` frames [T, H, W, 2] / [N, T, H, W, 2]. Events are integrated into the model's T frames
  (``split_by="number"``) at the sensor size, then resized to the model's frame size.

Refused with one line naming the file: unreadable or corrupt files (e.g. a damaged ``.gz``),
NaN/inf values, float images outside [0, 1], and event recordings without any event (an empty
``.bin`` or a header-only ``.aedat``/``.aedat4``, which would otherwise become all-zero frames).

Command line (wired into ``snnzoo predict``)::

    snnzoo predict NAME FILE... [--top-k K]
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

__all__ = ["add_predict_arguments", "load_inputs", "main_predict", "predict", "run_predict"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
EVENT_SUFFIXES = (".bin", ".bs2", ".aedat", ".aedat4")
_SUPPORTED = ".png/.jpg/.bmp, .npy, idx files (FILE[:ROWS]), .bin/.bs2 (N-MNIST), .aedat, .aedat4"


def _split_rows(spec: str):
    """``FILE:ROWS`` → (path, rows or None). A suffix only counts if the whole FILE exists."""
    m = re.match(r"^(.*):([0-9][0-9,\-]*)$", spec)
    if m and not Path(spec).exists() and Path(m.group(1)).exists():
        rows = []
        for part in m.group(2).split(","):
            if not part:
                continue
            if "-" in part:
                a, b = part.split("-", 1)
                if not a or not b or int(b) < int(a):
                    raise ValueError(f"bad row range {part!r} in {spec!r}; use e.g. FILE:0-9")
                rows.extend(range(int(a), int(b) + 1))
            else:
                rows.append(int(part))
        return Path(m.group(1)), rows
    return Path(spec), None


def _check_finite(arr, where):
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{where}: {bad} NaN/inf value(s); inputs must be finite")
    return arr


def _np_load(path):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path.name}: not a readable .npy array ({exc})") from None


def _to_unit_range(arr, where):
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{where}: unsupported array dtype {arr.dtype}")
    arr = _check_finite(arr, where).astype(np.float32)
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(f"{where}: image values must lie in [0, 1] (or be uint8 0..255), got "
                         f"[{arr.min():g}, {arr.max():g}]")
    return arr


def _fit_image(img, shape, where):
    """img [H, W] or [H, W, C] float in [0, 1] → the model's [H, W, C]."""
    h, w, c = shape
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3:
        raise ValueError(f"{where}: expected an image [H, W] or [H, W, C], got shape {img.shape}")
    if img.shape[-1] != c:
        if img.shape[-1] == 1 and c == 3:
            img = np.repeat(img, 3, axis=-1)
        elif img.shape[-1] in (3, 4) and c == 1:
            img = img[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
            img = img[..., None]
        else:
            raise ValueError(f"{where}: {img.shape[-1]} channels, the model takes {c}")
    if img.shape[:2] != (h, w):
        from snnzoo.data.pipelines import resize_frames

        img = resize_frames(img.astype(np.float32), (h, w))
    return img.astype(np.float32)


def _event_sensor(path: Path):
    """(reader result, sensor (H, W, 2), gesture labels or None) of an event file."""
    from snnzoo.data import aedat
    from snnzoo.data.frames import require_events
    from snnzoo.data.nmnist import NMNIST_SENSOR_SIZE, read_nmnist

    suffix = path.suffix.lower()
    if suffix in (".bin", ".bs2"):
        return [(path.name, require_events(read_nmnist(path), path.name))], NMNIST_SENSOR_SIZE
    if suffix == ".aedat4":
        info = aedat.read_aedat4_info(path)
        sizes = [(s.get("height"), s.get("width")) for s in info["streams"].values()
                 if s.get("type") == "EVTS"]
        events = require_events(aedat.read_aedat4(path), path.name)
        if sizes and all(sizes[0]):
            sensor = (int(sizes[0][0]), int(sizes[0][1]), 2)
        else:
            sensor = (int(events["y"].max()) + 1, int(events["x"].max()) + 1, 2)
        return [(path.name, events)], sensor
    head = path.read_bytes()[:64]
    if head.startswith(b"#!AER-DAT3"):
        labels = path.with_name(f"{path.stem}_labels.csv")
        if labels.is_file():
            parts = aedat.read_dvs_gesture(path, labels)
            named = [(f"{path.name}#{k} (labelled {lab})", ev) for k, (ev, lab) in enumerate(parts)]
            return [(where, require_events(ev, where)) for where, ev in named], (128, 128, 2)
        return [(path.name, require_events(aedat.read_aedat31(path), path.name))], (128, 128, 2)
    if head.startswith(b"#!AER-DAT2") or head.startswith(b"#"):
        events = aedat.read_aedat2(path, layout="cifar10dvs")
        return [(path.name, require_events(events, path.name))], (128, 128, 2)
    raise ValueError(f"{path}: not an AEDAT file (no '#!AER-DAT' header)")


def load_inputs(files, kind, input_shape, time_steps=None):
    """Turn file specifications into model inputs.

    Args:
        files: paths (``FILE:ROWS`` for idx files).
        kind: ``"image"`` or ``"event_frames"``.
        input_shape: the model input without the batch axis: [H, W, C] or [T, H, W, 2].
        time_steps: T for event files (default ``input_shape[0]``).

    Returns:
        A list of ``(label, x)`` with ``x`` one input (no batch axis), float32.

    Raises:
        FileNotFoundError / ValueError with one line naming the file and the problem.
    """
    from snnzoo.data.frames import events_to_frames
    from snnzoo.data.idx import read_idx
    from snnzoo.data.pipelines import resize_frames

    out = []
    shape = tuple(int(s) for s in input_shape)
    for spec in files:
        path, rows = _split_rows(str(spec))
        if not path.is_file():
            raise FileNotFoundError(f"input file not found: {path}")
        name = path.name.lower()
        suffix = path.suffix.lower()
        is_idx = "idx" in name and (name.endswith(".gz") or re.search(r"idx\d", name))
        if rows is not None and not is_idx and suffix != ".npy":
            raise ValueError(f"{spec}: a row selection (:ROWS) applies to idx and .npy files only")
        if kind == "image":
            if suffix in EVENT_SUFFIXES:
                raise ValueError(f"{path.name}: an event recording, but this model takes images")
            if suffix in IMAGE_SUFFIXES:
                from PIL import Image

                try:
                    with Image.open(path) as im:
                        mode = "L" if shape[-1] == 1 else "RGB"
                        arr = np.asarray(im.convert(mode))
                except (OSError, ValueError, SyntaxError) as exc:  # PIL's errors for bad files
                    raise ValueError(f"{path.name}: not a readable image ({exc})") from None
                out.append((path.name, _fit_image(_to_unit_range(arr, path.name), shape, path.name)))
                continue
            if suffix == ".npy" or is_idx:
                arr = _np_load(path) if suffix == ".npy" else read_idx(path)
                # [N, H, W(, C)] is a stack; [H, W] and [H, W, C] (C in 1, 3, 4) one image
                stacked = arr.ndim == 4 or (arr.ndim == 3 and (is_idx or arr.shape[-1] not in (1, 3, 4)))
                if not stacked:
                    if rows:
                        raise ValueError(f"{spec}: rows given but the file holds one image")
                    out.append((path.name, _fit_image(_to_unit_range(arr, path.name), shape,
                                                      path.name)))
                    continue
                idx = rows if rows is not None else range(arr.shape[0])
                for r in idx:
                    if not 0 <= r < arr.shape[0]:
                        raise ValueError(f"{spec}: row {r} out of range (the file holds "
                                         f"{arr.shape[0]} rows)")
                    where = f"{path.name}:{r}"
                    out.append((where, _fit_image(_to_unit_range(arr[r], where), shape, where)))
                continue
            raise ValueError(f"{path.name}: unsupported input file; use {_SUPPORTED}")
        # event-frame models
        T = int(time_steps or shape[0])
        frame = shape[1:3]
        if suffix in IMAGE_SUFFIXES or is_idx:
            raise ValueError(f"{path.name}: an image, but this model takes event frames "
                             f"[T, H, W, 2]")
        if suffix == ".npy":
            arr = _check_finite(_np_load(path), path.name).astype(np.float32)
            if arr.ndim == 4:
                arr = arr[None]
            if arr.ndim != 5 or arr.shape[-1] != 2 or arr.shape[1] != T:
                raise ValueError(f"{path.name}: expected frames [T={T}, H, W, 2] or "
                                 f"[N, {T}, H, W, 2], got shape {arr.shape}")
            sel = rows if rows is not None else range(arr.shape[0])
            for r in sel:
                out.append((f"{path.name}:{r}" if arr.shape[0] > 1 else path.name,
                            resize_frames(arr[r], frame)))
            continue
        if suffix not in EVENT_SUFFIXES:
            raise ValueError(f"{path.name}: unsupported input file; use {_SUPPORTED}")
        recordings, sensor = _event_sensor(path)
        for where, events in recordings:
            frames = events_to_frames(events, sensor, T, split_by="number")
            out.append((where, resize_frames(frames, frame)))
    return out


def predict(name_or_model, files, top_k=5, weights="default", class_names=None, batch_size=32):
    """Top-k classes of every input in ``files``.

    Returns:
        A list of ``{"input": label, "top": [(class index, class name, probability), ...]}``;
        probabilities are the softmax of the model's (time-averaged) output.

    Raises:
        FileNotFoundError / ValueError: a missing, unreadable or corrupt file, NaN/inf values,
            images outside [0, 1], or an event recording without events (one line naming the
            file), before any weights are downloaded.
    """
    from keras import ops

    from snnzoo.inference import input_geometry, mean_logits

    if isinstance(name_or_model, str):
        from snnzoo.data.pipelines import class_names as dataset_classes
        from snnzoo.data.pipelines import dataset_for
        from snnzoo.zoo import load, model_info

        info = model_info(name_or_model)
        if class_names is None and info.get("dataset"):
            try:
                class_names = dataset_classes(dataset_for(info["dataset"]))
            except ValueError:
                class_names = None
        kind = info["input"]["kind"]
        shape = tuple(int(s) for s in info["input_shape"])
        T = shape[0] if kind == "event_frames" else None
        inputs = load_inputs(files, kind, shape, T)  # bad files fail before any weights download
        model = load(name_or_model, weights=weights)
    else:
        model = name_or_model
        kind, T, geometry = input_geometry(model)
        if kind is None:
            raise ValueError("the model has no known input shape")
        shape = geometry if kind == "image" else (T,) + geometry
        inputs = load_inputs(files, kind, shape, T)
    if not inputs:
        raise ValueError("no inputs to classify")
    results = []
    for start in range(0, len(inputs), int(batch_size)):
        chunk = inputs[start:start + int(batch_size)]
        x = np.stack([x for _, x in chunk]).astype(np.float32)
        logits = mean_logits(model(x, training=False))
        probs = ops.convert_to_numpy(ops.softmax(logits, axis=-1))
        for (label, _), p in zip(chunk, probs):
            order = np.argsort(-p, kind="stable")[:max(1, int(top_k))]
            top = [(int(c), str(class_names[c]) if class_names is not None and c < len(class_names)
                    else str(int(c)), float(p[c])) for c in order]
            results.append({"input": label, "top": top})
    return results


def format_predictions(results) -> str:
    lines = []
    for r in results:
        tops = ", ".join(f"{name} ({cls}) {100 * p:.1f} %" if name != str(cls) else f"{cls} {100 * p:.1f} %"
                         for cls, name, p in r["top"])
        lines.append(f"{r['input']}: {tops}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command line
def add_predict_arguments(parser):
    """Add the ``predict`` arguments to an ``argparse`` parser."""
    parser.add_argument("name", help="registry name (see 'snnzoo list')")
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help=f"inputs: {_SUPPORTED}")
    parser.add_argument("-k", "--top-k", type=int, default=3, metavar="K",
                        help="classes to print per input (default 3)")
    parser.add_argument("--weights", default="default",
                        help="'default' (registry weights), 'none' (random) or a weights file")
    return parser


def run_predict(args) -> int:
    """Run ``snnzoo predict`` for parsed ``args`` (errors propagate as one-line exceptions)."""
    if args.top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {args.top_k}")
    weights = None if str(args.weights).lower() == "none" else args.weights
    print(format_predictions(predict(args.name, args.files, top_k=args.top_k, weights=weights)))
    return 0


def main_predict(argv=None) -> int:
    """``snnzoo predict`` as a stand-alone entry point; returns the exit code."""
    from snnzoo.evaluate import run_command

    parser = add_predict_arguments(argparse.ArgumentParser(
        prog="snnzoo predict", description="Classify images or event recordings with a zoo model."))
    return run_command(parser, run_predict, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_predict())
