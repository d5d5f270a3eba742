"""Reader for the idx format used by MNIST and Fashion-MNIST (written from the format spec).

Layout of an idx file (all integers big-endian):

* bytes 0-1: zero; byte 2: element type code; byte 3: number of dimensions ``D``.
  Type codes: ``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32,
  ``0x0E`` float64. MNIST images have magic ``0x00000803`` (uint8, 3 dims), labels
  ``0x00000801`` (uint8, 1 dim).
* ``D`` uint32 sizes, one per dimension.
* the data, row-major, big-endian for multi-byte types.

Source: Y. LeCun, C. Cortes, C. Burges, "The MNIST database of handwritten digits" (format
description on the database's web page).
"""
from __future__ import annotations

import gzip
import struct
import zlib

import numpy as np

__all__ = ["parse_idx", "read_idx"]

_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode an (already decompressed) idx payload into a numpy array of native byte order.

    Args:
        data: the whole idx payload.
        name: shown in error messages.

    Raises:
        ValueError: bad magic number, unknown type code, or a payload whose size does not match
            the header.
    """
    if len(data) < 4:
        raise ValueError(f"{name}: too short for an idx file ({len(data)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in _TYPES or ndim == 0:
        raise ValueError(
            f"{name}: not an idx file (magic bytes {data[:4].hex()}; expected 0000 + type code "
            f"in {sorted(hex(c) for c in _TYPES)} + number of dimensions)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: idx header truncated")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{name}: idx header announces shape {shape} ({expected} data bytes) but the file "
            f"holds {len(data) - header} data bytes"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path) -> np.ndarray:
    """Read an idx file from disk; ``.gz`` files are decompressed on the fly.

    Args:
        path: path of an idx file, gzip-compressed (name ending in ``.gz``) or not.

    Returns:
        The array, in native byte order, with the shape stored in the header.

    Raises:
        ValueError: a ``.gz`` file that is not valid gzip (corrupt or truncated), or a payload
            that is not an idx file; the message names the file.
    """
    path = str(path)
    if path.endswith(".gz"):
        with open(path, "rb") as f:
            raw = f.read()
        try:
            data = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: not a valid gzip file, corrupt or truncated ({exc}); "
                             "download it again") from None
    else:
        with open(path, "rb") as f:
            data = f.read()
    return parse_idx(data, path)
