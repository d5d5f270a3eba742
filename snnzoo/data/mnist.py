"""MNIST and Fashion-MNIST from their original idx ``.gz`` files.

Files (per data set, in ``<data root>/mnist/`` or ``<data root>/fashion_mnist/``):
``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
``t10k-labels-idx1-ubyte.gz`` (see :mod:`snnzoo.data.idx` for the format). The un-gzipped files
(same names without ``.gz``) are accepted too.

Sources:

* MNIST, Y. LeCun, C. Cortes, C. Burges; files from the mirror used by torchvision,
  https://ossci-datasets.s3.amazonaws.com/mnist/ (byte-identical to the original distribution).
* Fashion-MNIST, Zalando Research (MIT licence),
  http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ . Debian's
  ``dataset-fashion-mnist`` package ships the same payload re-compressed (different gzip header,
  so a different file hash); such files are accepted when the sha256 of the *decompressed* payload
  matches.

Every file is verified (sha256 of the file, else sha256 of its payload) before it is used.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .. import config
from .checksums import ChecksumError, DataNotFoundError, bytes_hash, describe_missing
from .idx import parse_idx

__all__ = ["load_fashion_mnist", "load_mnist", "MNIST_FILES", "FASHION_MNIST_FILES"]

# sha256/md5 of the official .gz files (published by the distributors) and, under "payload", the
# sha256 of the decompressed idx payload. The payload hashes were computed by us from the official
# files; they let re-compressed copies (e.g. Debian's) of the same data pass verification.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": {
        "sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "payload": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    "train-labels-idx1-ubyte.gz": {
        "sha256": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "md5": "d53e105ee54ea40749a09fcbcd1e9432",
        "payload": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    "t10k-images-idx3-ubyte.gz": {
        "sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "md5": "9fb629c4189551a2d022fa330f9573f3",
        "payload": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    "t10k-labels-idx1-ubyte.gz": {
        "sha256": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "md5": "ec29112dd5afa0611ce80d1b7f02629c",
        "payload": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
}

FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": {
        "sha256": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "md5": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "payload": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    },
    "train-labels-idx1-ubyte.gz": {
        "sha256": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "md5": "25c81989df183df01b3e8a0aad5dffbe",
        "payload": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    },
    "t10k-images-idx3-ubyte.gz": {
        "sha256": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "md5": "bef4ecab320f06d8554ea6380940ec79",
        "payload": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    },
    "t10k-labels-idx1-ubyte.gz": {
        "sha256": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        "md5": "bb300cfdad3c16e7a12a480ee83cd310",
        "payload": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

_SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}

_DATASETS = {
    "mnist": ("MNIST", "mnist", "https://ossci-datasets.s3.amazonaws.com/mnist/", MNIST_FILES),
    "fashion_mnist": (
        "Fashion-MNIST",
        "fashion_mnist",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        FASHION_MNIST_FILES,
    ),
}


def _locate(folder: Path, name: str):
    """The .gz file if present, else the un-gzipped one, else None."""
    for candidate in (folder / name, folder / name[: -len(".gz")]):
        if candidate.is_file():
            return candidate
    return None


def _download(names, folder: Path, url: str, checksums: dict):
    """Fetch ``names`` into ``folder`` with ``keras.utils.get_file``; return the failures."""
    from keras.utils import get_file  # imported lazily: keras start-up is slow

    failures = []
    for name in names:
        try:
            get_file(
                fname=name,
                origin=url + name,
                file_hash=checksums[name]["sha256"],
                hash_algorithm="sha256",
                cache_dir=str(folder.parent),
                cache_subdir=folder.name,
            )
        except Exception as exc:  # network errors come in many types; report them all the same
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            rest = names[names.index(name) + 1:]
            if rest:  # offline: do not wait on one network time-out per file
                failures.append(f"not attempted after that failure: {', '.join(rest)}")
            break
    return failures


def _read_verified(path: Path, info: dict, verify: bool) -> bytes:
    """Return the decompressed idx payload of ``path`` after checking its hash."""
    raw = path.read_bytes()
    compressed = path.name.endswith(".gz")
    file_sha = bytes_hash(raw) if (verify and compressed) else None
    if compressed:
        try:
            payload = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            if verify and file_sha != info["sha256"]:
                raise ChecksumError(path, "sha256", info["sha256"], file_sha,
                                    f"(the file is not valid gzip either: {exc})") from None
            raise ValueError(f"{path}: not a valid gzip file ({exc})") from None
    else:
        payload = raw
    if verify and file_sha != info["sha256"]:
        payload_sha = bytes_hash(payload)
        if payload_sha != info["payload"]:
            if compressed:
                raise ChecksumError(
                    path, "sha256", info["sha256"], file_sha,
                    f"Its decompressed payload (sha256 {payload_sha}) does not match the official "
                    f"payload (sha256 {info['payload']}) either.",
                )
            raise ChecksumError(path, "sha256 of the idx payload", info["payload"], payload_sha)
    return payload


def _load(key: str, split: str, data_dir, download: bool, verify: bool):
    title, sub, url, checksums = _DATASETS[key]
    if split not in _SPLITS:
        raise ValueError(f"{title}: split must be 'train' or 'test', got {split!r}")
    image_name, label_name, n_expected = _SPLITS[split]
    folder = config.data_dir(data_dir) / sub
    names = (image_name, label_name)
    missing = [n for n in names if _locate(folder, n) is None]
    hint = ""
    if missing and download:
        failures = _download(missing, folder, url, checksums)
        missing = [n for n in names if _locate(folder, n) is None]
        if failures:
            hint = "Download failed (offline?):\n  " + "\n  ".join(failures)
    if missing:
        raise DataNotFoundError(title, describe_missing(missing, checksums), folder, url, hint)

    image_path, label_path = (_locate(folder, n) for n in names)
    images = parse_idx(_read_verified(image_path, checksums[image_name], verify), str(image_path))
    labels = parse_idx(_read_verified(label_path, checksums[label_name], verify), str(label_path))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"{image_path}: expected uint8 images of shape [N, 28, 28], got "
                         f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{label_path}: expected {images.shape[0]} labels (one per image), got "
                         f"shape {labels.shape}")
    if verify and images.shape[0] != n_expected:
        raise ValueError(f"{title} {split}: expected {n_expected} images, got {images.shape[0]}")
    return images[..., None], labels.astype(np.int64)


def load_mnist(split: str = "train", data_dir=None, download: bool = False, verify: bool = True):
    """Load MNIST from the original idx files.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        data_dir: data root; ``None`` means ``$SNNZOO_DATA``, else ``$SNNZOO_HOME/data``. The
            files are looked up in its ``mnist/`` sub-folder.
        download: fetch missing files from the official mirror with ``keras.utils.get_file``
            (sha256-checked). Without network this raises :class:`DataNotFoundError` with the
            reason.
        verify: check every file against its published sha256 (or the payload hash).

    Returns:
        ``(images, labels)``: uint8 ``[N, 28, 28, 1]`` and int64 ``[N]``.

    Raises:
        DataNotFoundError: files missing (all of them are named, with their checksums).
        ChecksumError: a file does not match its checksum.
        ValueError: bad split or malformed file.
    """
    return _load("mnist", split, data_dir, download, verify)


def load_fashion_mnist(split: str = "train", data_dir=None, download: bool = False,
                       verify: bool = True):
    """Load Fashion-MNIST from the original idx files (``fashion_mnist/`` sub-folder).

    Same arguments, return values and errors as :func:`load_mnist`. Re-compressed copies of the
    official files (Debian's ``dataset-fashion-mnist``) are accepted when their decompressed
    payload matches the official one.
    """
    return _load("fashion_mnist", split, data_dir, download, verify)
