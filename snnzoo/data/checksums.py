"""File hashing (the one implementation in snnzoo: data sets, zoo weights, published runs) and
the two errors every snnzoo data reader raises.

* :func:`file_hash` streams a file through ``hashlib`` in 1 MiB blocks, so multi-gigabyte
  archives never sit in memory: ``sha256``, ``md5``, or ``git_blob_sha1``, git's blob id

      git_blob_sha1(data) = sha1(b"blob " + str(len(data)).encode() + b"\\0" + data)

  (the hash GitHub publishes for every file of a repository).
* :func:`verify_file` checks a file's size (optional) and hash and raises
  :class:`ChecksumError`, whose ``problem`` names what differs.
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
    "HASH_ALGORITHMS",
    "bytes_hash",
    "describe_missing",
    "file_hash",
    "verify_file",
]

_BLOCK = 1 << 20
_ALGORITHMS = ("sha256", "md5")  # the ones data sets publish (describe_missing prints them)
HASH_ALGORITHMS = _ALGORITHMS + ("git_blob_sha1",)


def _hasher(algorithm: str, size: int):
    if algorithm not in HASH_ALGORITHMS:
        raise ValueError(f"unsupported hash algorithm {algorithm!r}; use one of {HASH_ALGORITHMS}")
    if algorithm == "git_blob_sha1":
        return hashlib.sha1(b"blob " + str(size).encode() + b"\0")
    return hashlib.new(algorithm)


def file_hash(path, algorithm: str = "sha256") -> str:
    """Hex digest of the file at ``path``, read in 1 MiB blocks.

    Args:
        path: file to hash.
        algorithm: ``"sha256"`` (default), ``"md5"`` or ``"git_blob_sha1"``.

    Returns:
        The lower-case hexadecimal digest.
    """
    h = _hasher(algorithm, Path(path).stat().st_size if algorithm == "git_blob_sha1" else 0)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def bytes_hash(data: bytes, algorithm: str = "sha256") -> str:
    """Hex digest of an in-memory ``bytes`` object (same algorithms as :func:`file_hash`)."""
    h = _hasher(algorithm, len(data))
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
    """A data file exists but its content does not match the published checksum.

    ``algorithm`` is the hash's name, or ``"size"`` when the file's length already differs;
    ``problem`` reads e.g. ``"sha256 <actual>, expected <expected>"`` or ``"size 15 bytes,
    expected 13"``.
    """

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

    @property
    def problem(self) -> str:
        if self.algorithm == "size":
            return f"size {self.actual} bytes, expected {self.expected}"
        return f"{self.algorithm} {self.actual}, expected {self.expected}"

    def __reduce__(self):
        return (type(self), self._init_args)


def verify_file(path, expected: str, algorithm: str = "sha256", size=None) -> str:
    """Check ``path`` against ``expected`` (and its length against ``size``, first, when given:
    a cheap test that spares hashing a truncated download) and return the actual digest.

    Raises:
        ChecksumError: the size or the digest differs.
    """
    if size is not None:
        actual_size = Path(path).stat().st_size
        if actual_size != int(size):
            raise ChecksumError(path, "size", int(size), actual_size)
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

