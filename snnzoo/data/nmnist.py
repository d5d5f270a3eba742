"""N-MNIST: the neuromorphic MNIST recordings (Orchard et al., 2015; data licence CC BY-SA 4.0).

File format (the original ``.bin`` files, also used for the ``.bs2`` copies of SLAYER's test
subset): no header, 5 bytes per event, time-ordered:

* byte 0: x (0..33), byte 1: y (0..33),
* byte 2 bit 7: polarity (1 = ON, 0 = OFF),
* timestamp in µs: ``((byte2 & 0x7F) << 16) | (byte3 << 8) | byte4`` (23 bits).

The sensor is 34 x 34 pixels. Two folder layouts are understood, inside ``<data root>/nmnist/``:

* the full set as distributed: ``Train/<digit>/NNNNN.bin`` and ``Test/<digit>/NNNNN.bin``;
* a flat subset: ``<sample>.bs2`` files with label lists ``train*.txt`` / ``test*.txt``
  (tab-separated ``sample<TAB>class``, first line ``#sample #class``).

Official home: https://www.garrickorchard.com/datasets/n-mnist
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .. import config
from .checksums import DataNotFoundError
from .events import EVENT_DTYPE

__all__ = ["NMNIST_SENSOR_SIZE", "NMNIST_URL", "load_nmnist_index", "read_nmnist"]

NMNIST_SENSOR_SIZE = (34, 34, 2)
NMNIST_URL = "https://www.garrickorchard.com/datasets/n-mnist"
_FOLDER = "nmnist"


def read_nmnist(path) -> np.ndarray:
    """Decode one N-MNIST recording (``.bin`` or ``.bs2``).

    Args:
        path: the file.

    Returns:
        A structured array with fields ``t`` (int64, µs), ``x``, ``y`` (int16), ``p`` (int8,
        1 = ON), in file order; empty for an empty file (``snnzoo.predict`` and the data-set
        frame cache refuse such a recording, naming it).

    Raises:
        ValueError: the file size is not a multiple of 5 bytes.
    """
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 5:
        raise ValueError(
            f"{path}: {raw.size} bytes is not a multiple of 5; not an N-MNIST event file"
        )
    rec = raw.reshape(-1, 5).astype(np.int64)
    out = np.empty(rec.shape[0], dtype=EVENT_DTYPE)
    out["x"] = rec[:, 0]
    out["y"] = rec[:, 1]
    out["p"] = rec[:, 2] >> 7
    out["t"] = ((rec[:, 2] & 0x7F) << 16) | (rec[:, 3] << 8) | rec[:, 4]
    return out


def _numeric_key(path: Path):
    m = re.match(r"(\d+)", path.stem)
    return (int(m.group(1)) if m else float("inf"), path.name)


def _full_layout(root: Path, split: str):
    split_dir = root / ("Train" if split == "train" else "Test")
    if not split_dir.is_dir():
        return None
    index = []
    for digit in range(10):
        d = split_dir / str(digit)
        if d.is_dir():
            files = sorted(d.glob("*.bin"), key=_numeric_key)
            index.extend((f, digit) for f in files)
    return index


def _label_files(root: Path, split: str):
    return sorted(p for p in root.glob(f"{split}*.txt") if p.is_file())


def _read_label_file(path: Path):
    pairs = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"{path}:{lineno}: expected 'sample<TAB>class', got {line!r}")
        pairs.append((parts[0], int(parts[1])))
    return pairs


def load_nmnist_index(split: str = "train", data_dir=None):
    """List the N-MNIST recordings of a split with their labels.

    Args:
        split: ``"train"`` or ``"test"``.
        data_dir: data root (``None``: ``$SNNZOO_DATA``, else ``$SNNZOO_HOME/data``); the files
            are looked up in its ``nmnist/`` sub-folder, in the full layout
            (``Train/<digit>/*.bin``) or the flat subset layout (``*.bs2`` + ``train*.txt``).

    Returns:
        A list of ``(path, label)`` pairs: sorted by digit then sample number for the full
        layout, in label-file order for the flat layout.

    Raises:
        DataNotFoundError: neither layout is present, or the label file names missing
            recordings (all of them are listed).
    """
    if split not in ("train", "test"):
        raise ValueError(f"N-MNIST: split must be 'train' or 'test', got {split!r}")
    root = config.data_dir(data_dir) / _FOLDER
    full = _full_layout(root, split)
    if full:
        return full
    label_files = _label_files(root, split)
    if not label_files:
        split_dir = "Train" if split == "train" else "Test"
        raise DataNotFoundError(
            "N-MNIST",
            [(f"{split_dir}/<digit>/*.bin", "full layout, from the official archive"),
             (f"{split}*.txt + <sample>.bs2", "flat subset layout")],
            root,
            NMNIST_URL,
        )
    index, missing, seen = [], [], set()
    for label_file in label_files:
        for sample, label in _read_label_file(label_file):
            if sample in seen:  # several label files may list the same sample
                continue
            seen.add(sample)
            candidates = [root / f"{sample}{ext}" for ext in (".bs2", ".bin")]
            path = next((c for c in candidates if c.is_file()), None)
            if path is None:
                missing.append((f"{sample}.bs2", f"listed in {label_file.name}"))
            else:
                index.append((path, label))
    if missing:
        raise DataNotFoundError("N-MNIST", missing, root, NMNIST_URL)
    return index
