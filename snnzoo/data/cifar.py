"""CIFAR-10 and CIFAR-100 from the official "python version" pickle batches.

Format (A. Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009; the
data set page https://www.cs.toronto.edu/~kriz/cifar.html): every batch is a pickled dict with
bytes keys. ``b'data'`` is a uint8 array ``[N, 3072]``; each row holds the red, green and blue
32 x 32 planes one after the other, each plane row-major. CIFAR-10 stores the classes under
``b'labels'`` in ``cifar-10-batches-py/data_batch_1`` ... ``data_batch_5`` (train, 50,000 images)
and ``test_batch`` (10,000); CIFAR-100 under ``b'fine_labels'`` and ``b'coarse_labels'`` in
``cifar-100-python/train`` and ``test``.

Accepted locations, inside ``<data root>/cifar10/`` (or ``cifar100/``): the extracted folder
(``cifar-10-batches-py/``), the batch files directly, or the official archive
(``cifar-10-python.tar.gz``, md5-checked and read in place without extracting).

Security: pickles are decoded by a restricted unpickler that only resolves the few globals that a
numpy array inside a dict needs (numpy's array reconstructor, ``numpy.ndarray``, ``numpy.dtype``
and ``_codecs.encode``); anything else (e.g. ``os.system``) is refused. ``pickle.load`` is never
called on downloaded files.
"""
from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from .. import config
from .checksums import DataNotFoundError, verify_file

__all__ = ["load_cifar10", "load_cifar100", "safe_unpickle", "UnsafePickleError"]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR100_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle references a global that the restricted unpickler does not allow."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            f"refusing to load global {module}.{name} from a data pickle (only numpy arrays, "
            "dicts, lists, bytes, strings and numbers are allowed)"
        )


def safe_unpickle(data: bytes):
    """Unpickle ``data`` allowing only plain containers and numpy arrays.

    Python-2 pickles (as in the official CIFAR files) are read with ``encoding="bytes"``, so dict
    keys stay ``bytes``.

    Raises:
        UnsafePickleError: the pickle asks for any other global (class or function).
    """
    return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()


_SPECS = {
    "cifar10": {
        "title": "CIFAR-10",
        "folder": "cifar10",
        "inner": "cifar-10-batches-py",
        "archive": "cifar-10-python.tar.gz",
        "md5": CIFAR10_MD5,
        "url": CIFAR10_URL,
        "splits": {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
    },
    "cifar100": {
        "title": "CIFAR-100",
        "folder": "cifar100",
        "inner": "cifar-100-python",
        "archive": "cifar-100-python.tar.gz",
        "md5": CIFAR100_MD5,
        "url": CIFAR100_URL,
        "splits": {"train": ["train"], "test": ["test"]},
    },
}


def _batches_from_folder(folder: Path, names):
    for candidate in (folder, *sorted(p for p in folder.glob("*") if p.is_dir())):
        if all((candidate / n).is_file() for n in names):
            return [(candidate / n, (candidate / n).read_bytes()) for n in names]
    return None


def _batches_from_archive(archive: Path, inner: str, names, expected_md5: str, verify: bool):
    if verify:
        verify_file(archive, expected_md5, "md5")
    out = []
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        for n in names:
            member = members.get(f"{inner}/{n}")
            if member is None:
                raise ValueError(f"{archive}: archive has no member {inner}/{n}")
            out.append((Path(f"{archive}!{member.name}"), tar.extractfile(member).read()))
    return out


def _decode_batch(where, raw: bytes, label_keys):
    obj = safe_unpickle(raw)
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a pickled dict, got {type(obj).__name__}")
    obj = {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}
    if "data" not in obj:
        raise ValueError(f"{where}: batch has no 'data' entry (keys: {sorted(obj)})")
    data = np.asarray(obj["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(
            f"{where}: 'data' must be uint8 [N, 3072] (three 32x32 planes), got {data.dtype} "
            f"{data.shape}"
        )
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = []
    for key in label_keys:
        if key not in obj:
            raise ValueError(f"{where}: batch has no {key!r} entry (keys: {sorted(obj)})")
        lab = np.asarray(obj[key], dtype=np.int64).reshape(-1)
        if lab.shape[0] != images.shape[0]:
            raise ValueError(
                f"{where}: {lab.shape[0]} {key} for {images.shape[0]} images"
            )
        labels.append(lab)
    return images, labels


def _load(key: str, split: str, data_dir, label_keys, verify: bool):
    spec = _SPECS[key]
    if split not in spec["splits"]:
        raise ValueError(f"{spec['title']}: split must be 'train' or 'test', got {split!r}")
    names = spec["splits"][split]
    folder = config.data_dir(data_dir) / spec["folder"]
    batches = _batches_from_folder(folder, names) if folder.is_dir() else None
    if batches is None:
        archive = folder / spec["archive"]
        if archive.is_file():
            batches = _batches_from_archive(archive, spec["inner"], names, spec["md5"], verify)
    if batches is None:
        missing = [(spec["archive"], f"md5 {spec['md5']}")]
        missing += [(f"{spec['inner']}/{n}", "or the extracted batch") for n in names]
        raise DataNotFoundError(spec["title"], missing, folder, spec["url"],
                                "Either the archive or its extracted folder is enough.")
    images, labels = [], [[] for _ in label_keys]
    for where, raw in batches:
        img, labs = _decode_batch(where, raw, label_keys)
        images.append(img)
        for acc, lab in zip(labels, labs):
            acc.append(lab)
    images = np.ascontiguousarray(np.concatenate(images, axis=0))
    return images, [np.concatenate(acc) for acc in labels]


def load_cifar10(split: str = "train", data_dir=None, verify: bool = True):
    """Load CIFAR-10.

    Args:
        split: ``"train"`` (``data_batch_1..5``) or ``"test"`` (``test_batch``).
        data_dir: data root (``None``: ``$SNNZOO_DATA``, else ``$SNNZOO_HOME/data``); files are
            looked up in its ``cifar10/`` sub-folder: the extracted ``cifar-10-batches-py/``
            folder, the batch files themselves, or ``cifar-10-python.tar.gz``.
        verify: md5-check the archive when it is used.

    Returns:
        ``(images, labels)``: uint8 ``[N, 32, 32, 3]`` (RGB) and int64 ``[N]``.

    Raises:
        DataNotFoundError: the files are missing.
        ChecksumError: a file fails its published checksum.
        ValueError: a malformed batch.
        UnsafePickleError: a pickle that is not plain data.
    """
    images, (labels,) = _load("cifar10", split, data_dir, ("labels",), verify)
    return images, labels


def load_cifar100(split: str = "train", data_dir=None, label_mode: str = "fine",
                  verify: bool = True):
    """Load CIFAR-100.

    Args:
        split: ``"train"`` or ``"test"``.
        data_dir: data root; files in its ``cifar100/`` sub-folder (``cifar-100-python/`` or
            ``cifar-100-python.tar.gz``).
        label_mode: ``"fine"`` (100 classes), ``"coarse"`` (20 super-classes) or ``"both"``.
        verify: md5-check the archive when it is used.

    Returns:
        ``(images, labels)`` with uint8 ``[N, 32, 32, 3]`` images; ``labels`` is int64 ``[N]``,
        or ``(fine, coarse)`` for ``label_mode="both"``.
    """
    modes = {"fine": ("fine_labels",), "coarse": ("coarse_labels",),
             "both": ("fine_labels", "coarse_labels")}
    if label_mode not in modes:
        raise ValueError(f"label_mode must be 'fine', 'coarse' or 'both', got {label_mode!r}")
    images, labels = _load("cifar100", split, data_dir, modes[label_mode], verify)
    return images, (tuple(labels) if label_mode == "both" else labels[0])
