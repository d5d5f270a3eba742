"""File hashing and the two errors every snnzoo data reader raises.

* :func:`file_hash` streams a file through ``hashlib`` (sha256 or md5) in 1 MiB blocks, so
  multi-gigabyte archives never sit in memory.
* :class:`DataNotFoundError` (a :class:`FileNotFoundError`) is raised once per call with *every*
  missing file, its expected checksum, the folder that was searched and the data set's official
  download home, so one message tells the user everything needed to fix the set-up.
* :class:`ChecksumError` (a :class:`ValueError`) names the file, the expected and the actual hash.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Sequence

__all__ = [
    "ChecksumError",
    "DataNotFoundError",
    "bytes_hash",
    "describe_missing",
    "file_hash",
    "stream_hash",
    "verify_file",
]

_BLOCK = 1 << 20
_ALGORITHMS = ("sha256", "md5")


def _hasher(algorithm: str):
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"unsupported hash algorithm {algorithm!r}; use one of {_ALGORITHMS}")
    return hashlib.new(algorithm)


def file_hash(path, algorithm: str = "sha256") -> str:
    """Hex digest of the file at ``path``, read in 1 MiB blocks.

    Args:
        path: file to hash.
        algorithm: ``"sha256"`` (default) or ``"md5"``.

    Returns:
        The lower-case hexadecimal digest.
    """
    h = _hasher(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def stream_hash(stream, algorithm: str = "sha256") -> str:
    """Hex digest of everything that can still be read from the binary file object ``stream``."""
    h = _hasher(algorithm)
    for block in iter(lambda: stream.read(_BLOCK), b""):
        h.update(block)
    return h.hexdigest()


def bytes_hash(data: bytes, algorithm: str = "sha256") -> str:
    """Hex digest of an in-memory ``bytes`` object (``"sha256"`` or ``"md5"``)."""
    h = _hasher(algorithm)
    h.update(data)
    return h.hexdigest()


class DataNotFoundError(FileNotFoundError):
    """One or more files of a data set are missing.

    The message lists every missing file with its expected checksum, the folder that was searched,
    how the data root was chosen (argument, ``SNNZOO_DATA`` or the default) and the official
    download home. The structured parts are kept as attributes: ``missing`` (list of
    ``(file name, checksum text)``), ``directory`` and ``url``.
    """

    def __init__(self, dataset: str, missing: Sequence[tuple[str, str]], directory, url: str,
                 hint: str = ""):
        self.dataset = dataset
        self.missing = list(missing)
        self.directory = Path(directory)
        self.url = url
        lines = [f"{dataset}: {len(self.missing)} file(s) missing in {self.directory}:"]
        for name, checksum in self.missing:
            lines.append(f"  - {name}" + (f"  ({checksum})" if checksum else ""))
        lines.append(f"Download them from the official home: {url}")
        lines.append(
            "and put them in that folder (snnzoo looks in the data_dir argument, else "
            "$SNNZOO_DATA, else $SNNZOO_HOME/data, one sub-folder per data set)."
        )
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))
        self._init_args = (dataset, self.missing, str(self.directory), url, hint)

    def __reduce__(self):  # picklable, e.g. across data-loader worker processes
        return (type(self), self._init_args)


class ChecksumError(ValueError):
    """A data file exists but its content does not match the published checksum."""

    def __init__(self, path, algorithm: str, expected: str, actual: str, note: str = ""):
        self.path = Path(path)
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual
        msg = (
            f"checksum mismatch for {self.path}: expected {algorithm} {expected}, got {actual}. "
            "The file is corrupt or not the official one; delete it and download it again."
        )
        if note:
            msg += " " + note
        super().__init__(msg)
        self._init_args = (str(self.path), algorithm, expected, actual, note)

    def __reduce__(self):
        return (type(self), self._init_args)


def verify_file(path, expected: str, algorithm: str = "sha256") -> str:
    """Check ``path`` against ``expected`` and return the actual digest.

    Raises:
        ChecksumError: the digest differs.
    """
    actual = file_hash(path, algorithm)
    if actual != expected.lower():
        raise ChecksumError(path, algorithm, expected, actual)
    return actual


def describe_missing(names: Iterable[str], checksums: dict) -> list[tuple[str, str]]:
    """Pair each missing file name with a printable ``"sha256 ..."`` / ``"md5 ..."`` text."""
    out = []
    for name in names:
        info = checksums.get(name, {})
        parts = [f"{alg} {info[alg]}" for alg in _ALGORITHMS if alg in info]
        out.append((name, ", ".join(parts)))
    return out

