"""Readers for the AEDAT event-file formats (iniVation/jAER) used by DVS data sets.

All readers return :data:`snnzoo.data.events.EVENT_DTYPE` structured arrays (``t`` in µs).
Formats, as published by iniVation (docs.inivation.com, "AEDAT file formats"):

**AEDAT 2.0** (jAER; CIFAR10-DVS as first distributed). ASCII header lines starting with ``#``
(the first is ``#!AER-DAT2.0``), then 8-byte records: big-endian uint32 address, big-endian
uint32 timestamp (µs). The address layout depends on the camera; ``layout`` selects it:

* ``"cifar10dvs"`` (DVS128 addresses, orientation as in SpikingJelly's CIFAR10-DVS loader):
  ``x = 127 - ((a >> 8) & 0x7F)``, ``y = 127 - ((a >> 1) & 0x7F)``, ``p = 1 - (a & 1)``.
* ``"dvs128"`` (DVS128 raw bit fields, as Tonic reads them, no flip):
  ``x = (a >> 8) & 0x7F``, ``y = (a >> 1) & 0x7F``, ``p = a & 1``.
* ``"davis"`` (jAER DAVIS addresses, raw bit fields, no flip): ``x = (a >> 12) & 0x3FF``,
  ``y = (a >> 22) & 0x1FF``, ``p = (a >> 11) & 1``; records with bit 31 set (APS/IMU samples)
  are dropped.
* ``"raw"``: a structured array with fields ``t`` and ``address``.

**AEDAT 3.1** (cAER; DVS128 Gesture). ASCII header lines starting with ``#``, the last being
``#!END-HEADER``; then packets, each a 28-byte little-endian header (int16 eventType, int16
eventSource, int32 eventSize, int32 eventTSOffset, int32 eventTSOverflow, int32 eventCapacity,
int32 eventNumber, int32 eventValid) followed by ``eventCapacity * eventSize`` bytes. Polarity
events (eventType 1) are 8 bytes: uint32 data (bit 0 valid mark, bit 1 polarity, bits 2-16 y,
bits 17-31 x) and int32 timestamp; the full timestamp is ``timestamp | eventTSOverflow << 31``.
DVS128 Gesture ships ``<recording>_labels.csv`` next to each file, with header
``class,startTime_usec,endTime_usec``; classes are numbered 1..11.

**AEDAT 4.0** (DV; DVXplorer/DAVIS recordings, CIFAR10-DVS re-release). ``#!AER-DAT4.0\\r\\n``,
uint32 LE header size, a FlatBuffer ``IOHeader`` table (identifier ``IOHE``; fields: 0
compression enum {0 none, 1 LZ4, 2 LZ4-high, 3 zstd, 4 zstd-high}, 1 int64 position of the file
data table (-1 if absent), 2 XML description string listing the streams, their
``typeIdentifier`` and ``sizeX``/``sizeY``). Then packets until the data table: int32 stream id,
int32 byte size, the (compressed) size-prefixed FlatBuffer. Event packets (identifier ``EVTS``)
hold a table whose field 0 is a vector of 16-byte ``Event`` structs
(int64 t, int16 x, int16 y, bool on, 3 padding bytes). LZ4 packets use the LZ4 *frame* format;
decoding needs the optional ``lz4`` package (zstd packets the ``zstandard`` package).

A file without events (e.g. header only) decodes to an empty array; ``snnzoo.predict`` and the
data-set frame cache (:func:`snnzoo.data.frames.events_to_frames_cached`) refuse such a recording
with its file name instead of turning it into all-zero frames.
"""
from __future__ import annotations

import csv
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .events import EVENT_DTYPE, make_events

__all__ = [
    "read_aedat2",
    "read_aedat2_header",
    "read_aedat31",
    "read_aedat4",
    "read_aedat4_info",
    "read_dvs_gesture",
    "read_gesture_labels",
]

_AEDAT4_MAGIC = b"#!AER-DAT4.0\r\n"
_AEDAT4_EVENT = np.dtype(
    {"names": ["t", "x", "y", "on"], "formats": ["<i8", "<i2", "<i2", "u1"],
     "offsets": [0, 8, 10, 12], "itemsize": 16}
)
_COMPRESSION = {0: "none", 1: "lz4", 2: "lz4_high", 3: "zstd", 4: "zstd_high"}


# ----------------------------------------------------------------------------- AEDAT 2.0 / 3.1
def _read_header(data: bytes, end_marker: bytes | None = None):
    """Split ``data`` into ASCII header lines and the offset of the binary part."""
    pos, lines = 0, []
    while pos < len(data) and data[pos:pos + 1] == b"#":
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl + 1
        line = data[pos:end]
        lines.append(line.rstrip(b"\r\n").decode("latin-1"))
        pos = end
        if end_marker is not None and line.rstrip(b"\r\n") == end_marker:
            break
    return lines, pos


def read_aedat2_header(path) -> dict:
    """Parse the ASCII header of an AEDAT 2.0 (or other jAER ``#``-header) file.

    Returns:
        A dict with ``version`` (e.g. ``"2.0"``, ``None`` if no ``#!AER-DAT`` line), ``chip``
        (the ``# AEChip:`` value or ``None``), ``lines`` (header lines without the line ends) and
        ``data_offset`` (byte offset of the first event record).
    """
    data = Path(path).read_bytes()
    lines, offset = _read_header(data)
    version = chip = None
    for line in lines:
        if line.startswith("#!AER-DAT"):
            version = line[len("#!AER-DAT"):].strip()
        elif line.lstrip("# ").startswith("AEChip:"):
            chip = line.split("AEChip:", 1)[1].strip()
    return {"version": version, "chip": chip, "lines": lines, "data_offset": offset}


def read_aedat2(path, layout: str = "cifar10dvs") -> np.ndarray:
    """Read an AEDAT 2.0 file (big-endian uint32 address + uint32 timestamp records).

    Args:
        path: the ``.aedat`` file.
        layout: address decoding, ``"cifar10dvs"`` (default), ``"dvs128"``, ``"davis"`` or
            ``"raw"``; see the module docstring for the bit fields of each.

    Returns:
        Events (:data:`EVENT_DTYPE`), or for ``layout="raw"`` a structured array with ``t``
        (int64) and ``address`` (uint32).

    Raises:
        ValueError: unknown layout, a data section that is not a whole number of 8-byte records,
            or a file that is not AEDAT 2.x.
    """
    if layout not in ("cifar10dvs", "dvs128", "davis", "raw"):
        raise ValueError(f"layout must be 'cifar10dvs', 'dvs128', 'davis' or 'raw', got {layout!r}")
    data = Path(path).read_bytes()
    lines, offset = _read_header(data)
    versions = [ln for ln in lines if ln.startswith("#!AER-DAT")]
    if versions and not versions[0].startswith("#!AER-DAT2"):
        raise ValueError(f"{path}: not an AEDAT 2.x file (header says {versions[0]!r})")
    body = data[offset:]
    if len(body) % 8:
        raise ValueError(
            f"{path}: the event section holds {len(body)} bytes, not a multiple of 8-byte records"
        )
    rec = np.frombuffer(body, dtype=">u4").reshape(-1, 2)
    addr = rec[:, 0].astype(np.int64)
    t = rec[:, 1].astype(np.int64)
    if layout == "raw":
        out = np.empty(rec.shape[0], dtype=[("t", "<i8"), ("address", "<u4")])
        out["t"] = t
        out["address"] = addr
        return out
    if layout == "cifar10dvs":
        return make_events(t, 127 - ((addr >> 8) & 0x7F), 127 - ((addr >> 1) & 0x7F),
                           1 - (addr & 1))
    if layout == "dvs128":
        return make_events(t, (addr >> 8) & 0x7F, (addr >> 1) & 0x7F, addr & 1)
    dvs = (addr >> 31) == 0
    addr, t = addr[dvs], t[dvs]
    return make_events(t, (addr >> 12) & 0x3FF, (addr >> 22) & 0x1FF, (addr >> 11) & 1)


_PACKET_HEADER = struct.Struct("<hhiiiiii")


def read_aedat31(path, valid_only: bool = False) -> np.ndarray:
    """Read the polarity events of an AEDAT 3.1 file (e.g. a DVS128 Gesture recording).

    Non-polarity packets (frames, IMU, special events) are skipped.

    Args:
        path: the ``.aedat`` file.
        valid_only: drop events whose valid mark (bit 0) is clear. The default keeps every event,
            as SpikingJelly's DVS128 Gesture loader does.

    Returns:
        Events (:data:`EVENT_DTYPE`) in file order; ``t`` includes the packet's timestamp
        overflow (``ts | overflow << 31``).

    Raises:
        ValueError: not an AEDAT 3.x file, or a truncated/inconsistent packet.
    """
    data = Path(path).read_bytes()
    lines, pos = _read_header(data, end_marker=b"#!END-HEADER")
    if not lines or not lines[0].startswith("#!AER-DAT3"):
        raise ValueError(f"{path}: not an AEDAT 3.x file (first line {lines[:1]!r})")
    parts = []
    while pos < len(data):
        if len(data) - pos < _PACKET_HEADER.size:
            raise ValueError(f"{path}: truncated packet header at byte {pos}")
        (etype, _source, esize, ts_offset, ts_overflow, capacity, _number,
         _valid) = _PACKET_HEADER.unpack_from(data, pos)
        pos += _PACKET_HEADER.size
        nbytes = capacity * esize
        if esize <= 0 or capacity < 0 or pos + nbytes > len(data):
            raise ValueError(
                f"{path}: bad packet at byte {pos - _PACKET_HEADER.size} (eventSize {esize}, "
                f"eventCapacity {capacity}, {len(data) - pos} bytes left)"
            )
        if etype == 1 and capacity:
            if esize % 4 or ts_offset % 4 or ts_offset + 4 > esize:
                raise ValueError(f"{path}: unexpected polarity event layout (size {esize}, "
                                 f"timestamp offset {ts_offset})")
            words = np.frombuffer(data, dtype="<u4", count=nbytes // 4, offset=pos)
            words = words.reshape(capacity, esize // 4).astype(np.int64)
            word = words[:, 0]
            ts = words[:, ts_offset // 4] | (int(ts_overflow) << 31)
            if valid_only:
                keep = (word & 1) == 1
                word, ts = word[keep], ts[keep]
            parts.append(make_events(ts, (word >> 17) & 0x7FFF, (word >> 2) & 0x7FFF,
                                     (word >> 1) & 1))
        pos += nbytes
    if not parts:
        return np.empty(0, dtype=EVENT_DTYPE)
    return np.concatenate(parts)


def read_gesture_labels(labels_csv):
    """The labelled gestures of a DVS128 Gesture ``<recording>_labels.csv``: the one parser of
    these files (used by :func:`read_dvs_gesture` and the ``dvs_gesture`` pipeline).

    The file has the header ``class,startTime_usec,endTime_usec`` (optional here) and one row per
    gesture; classes are numbered 1..11 and the window is ``start <= t < end`` in µs.

    Args:
        labels_csv: path of the label file.

    Returns:
        A list of ``(label, start, end)`` in file order, ``label`` = class − 1 (0..10).

    Raises:
        FileNotFoundError: the file is missing. ValueError: a row is not three integers, a class
            is outside 1..11 or a window is empty (``end <= start``); the message names the file
            and line.
    """
    labels_csv = Path(labels_csv)
    if not labels_csv.is_file():
        raise FileNotFoundError(f"DVS128 Gesture label file not found: {labels_csv}")
    segments = []
    with open(labels_csv, newline="", encoding="utf-8-sig") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            cells = [c.strip() for c in row]
            if not cells or not any(cells):
                continue
            if lineno == 1 and not cells[0].lstrip("-").isdigit():
                continue  # header line
            try:
                cls, start, end = (int(v) for v in cells[:3])  # < 3 cells: ValueError too
            except ValueError:
                raise ValueError(f"{labels_csv}:{lineno}: expected class,startTime_usec,"
                                 f"endTime_usec (three integers); got {row}") from None
            if not 1 <= cls <= 11:
                raise ValueError(f"{labels_csv}:{lineno}: class {cls} outside 1..11")
            if end <= start:
                raise ValueError(f"{labels_csv}:{lineno}: empty window: end {end} <= start {start}")
            segments.append((cls - 1, start, end))
    return segments


def gesture_window(events, start, end):
    """The events with ``start <= t < end`` (one labelled gesture of a recording)."""
    t = events["t"]
    return events[(t >= start) & (t < end)]


def read_dvs_gesture(path, labels_csv=None, valid_only: bool = False):
    """Cut a DVS128 Gesture recording into its labelled gestures.

    Args:
        path: the AEDAT 3.1 recording (e.g. ``user01_fluorescent.aedat``).
        labels_csv: its label file; default ``<recording stem>_labels.csv`` beside it, read by
            :func:`read_gesture_labels`.
        valid_only: passed to :func:`read_aedat31`.

    Returns:
        A list of ``(events, label)`` pairs in label-file order; ``label`` is the class minus one
        (0..10), and ``events`` holds the events with ``start <= t < end`` (windows may overlap,
        as in the original label files).

    Raises:
        FileNotFoundError: the label file is missing; ValueError: malformed label file.
    """
    path = Path(path)
    labels_csv = Path(labels_csv) if labels_csv is not None else path.with_name(
        f"{path.stem}_labels.csv")
    segments = read_gesture_labels(labels_csv)
    events = read_aedat31(path, valid_only=valid_only)
    return [(gesture_window(events, start, end), label) for label, start, end in segments]


# ----------------------------------------------------------------------------- AEDAT 4.0
class _Table:
    """Minimal read-only view of one FlatBuffer table (little-endian, as the spec mandates)."""

    def __init__(self, buf: bytes, pos: int):
        self.buf = buf
        self.pos = pos
        vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable = vtable
        self.vsize = struct.unpack_from("<H", buf, vtable)[0]

    def _field(self, index: int):
        entry = 4 + 2 * index
        if entry + 2 > self.vsize:
            return None
        off = struct.unpack_from("<H", self.buf, self.vtable + entry)[0]
        return None if off == 0 else self.pos + off

    def scalar(self, index: int, fmt: str, default):
        at = self._field(index)
        return default if at is None else struct.unpack_from(fmt, self.buf, at)[0]

    def vector(self, index: int):
        """``(start, length)`` of a vector/string field, or ``None`` if absent."""
        at = self._field(index)
        if at is None:
            return None
        start = at + struct.unpack_from("<I", self.buf, at)[0]
        return start + 4, struct.unpack_from("<I", self.buf, start)[0]


def _root(buf: bytes, size_prefixed: bool):
    base = 4 if size_prefixed else 0
    return _Table(buf, base + struct.unpack_from("<I", buf, base)[0]), buf[base + 4:base + 8]


def _decompressor(compression: int):
    name = _COMPRESSION.get(compression)
    if name is None:
        raise ValueError(f"unknown AEDAT4 compression code {compression}")
    if name == "none":
        return lambda b: b
    if name.startswith("lz4"):
        try:
            import lz4.frame
        except ImportError:
            raise ImportError(
                "this AEDAT4 file is LZ4-compressed; install the optional 'lz4' package "
                "(pip install lz4)"
            ) from None
        return lz4.frame.decompress
    try:
        import zstandard
    except ImportError:
        raise ImportError(
            "this AEDAT4 file is zstd-compressed; install the optional 'zstandard' package "
            "(pip install zstandard)"
        ) from None
    dctx = zstandard.ZstdDecompressor()
    return lambda b: dctx.decompressobj().decompress(b)


def _aedat4_header(data: bytes, path):
    if not data.startswith(_AEDAT4_MAGIC):
        raise ValueError(f"{path}: not an AEDAT 4.0 file (no '#!AER-DAT4.0' magic line)")
    start = len(_AEDAT4_MAGIC)
    (size,) = struct.unpack_from("<I", data, start)
    header = data[start + 4:start + 4 + size]
    if len(header) != size:
        raise ValueError(f"{path}: truncated AEDAT4 header")
    table, ident = _root(header, size_prefixed=False)
    if ident != b"IOHE":
        raise ValueError(f"{path}: AEDAT4 header has identifier {ident!r}, expected b'IOHE'")
    compression = table.scalar(0, "<i", 0)
    data_table = table.scalar(1, "<q", -1)
    desc = table.vector(2)
    description = "" if desc is None else header[desc[0]:desc[0] + desc[1]].decode("utf-8")
    streams = {}
    if description:
        root = ET.fromstring(description)
        out_info = next((n for n in root.iter("node") if n.get("name") == "outInfo"), None)
        for node in (out_info if out_info is not None else []):
            if node.tag != "node" or not (node.get("name") or "").isdigit():
                continue
            attrs = {a.get("key"): a.text for a in node.findall("attr")}
            info = node.find("node[@name='info']")
            info_attrs = ({} if info is None
                          else {a.get("key"): a.text for a in info.findall("attr")})
            streams[int(node.get("name"))] = {
                "type": attrs.get("typeIdentifier"),
                "width": int(info_attrs["sizeX"]) if "sizeX" in info_attrs else None,
                "height": int(info_attrs["sizeY"]) if "sizeY" in info_attrs else None,
                "source": info_attrs.get("source"),
            }
    return {
        "compression": _COMPRESSION.get(compression, str(compression)),
        "compression_code": compression,
        "data_table_position": data_table,
        "description": description,
        "streams": streams,
        "packets_offset": start + 4 + size,
    }


def read_aedat4_info(path) -> dict:
    """Header of an AEDAT 4.0 file.

    Returns:
        A dict with ``compression`` (``"none"``, ``"lz4"``, ``"lz4_high"``, ``"zstd"``,
        ``"zstd_high"``), ``streams`` (``{stream id: {"type", "width", "height", "source"}}``
        from the XML description), ``description`` (the XML text), ``data_table_position`` and
        ``packets_offset``.
    """
    return _aedat4_header(Path(path).read_bytes(), path)


def read_aedat4(path, stream=None) -> np.ndarray:
    """Read the polarity events of an AEDAT 4.0 file.

    Args:
        path: the ``.aedat4`` file.
        stream: id of the event stream to read; default the lowest-numbered ``EVTS`` stream.

    Returns:
        Events (:data:`EVENT_DTYPE`) in file order; ``t`` is the recorder's absolute timestamp
        in µs, ``p`` is 1 for ON.

    Raises:
        ImportError: the packets are LZ4/zstd-compressed and ``lz4``/``zstandard`` is missing.
        ValueError: not AEDAT 4.0, no event stream, or a corrupt packet.
    """
    data = Path(path).read_bytes()
    info = _aedat4_header(data, path)
    event_streams = sorted(i for i, s in info["streams"].items() if s["type"] == "EVTS")
    if stream is None:
        if not event_streams:
            raise ValueError(f"{path}: no event (EVTS) stream in the file description")
        stream = event_streams[0]
    elif info["streams"] and stream not in event_streams:
        raise ValueError(f"{path}: stream {stream} is not an event stream (event streams: "
                         f"{event_streams})")
    decompress = _decompressor(info["compression_code"])
    end = info["data_table_position"]
    end = len(data) if end is None or end < 0 else min(end, len(data))
    pos = info["packets_offset"]
    parts = []
    while pos < end:
        if end - pos < 8:
            raise ValueError(f"{path}: truncated packet header at byte {pos}")
        stream_id, size = struct.unpack_from("<iI", data, pos)
        pos += 8
        if pos + size > len(data):
            raise ValueError(f"{path}: packet at byte {pos - 8} runs past the end of the file")
        if stream_id == stream:
            try:
                buf = decompress(data[pos:pos + size])
            except Exception as exc:
                raise ValueError(f"{path}: cannot decompress packet at byte {pos - 8}: {exc}") \
                    from None
            table, ident = _root(buf, size_prefixed=True)
            if ident != b"EVTS":
                raise ValueError(f"{path}: packet of stream {stream} has identifier {ident!r}, "
                                 "expected b'EVTS'")
            vec = table.vector(0)
            if vec is not None and vec[1]:
                start, count = vec
                if start + count * _AEDAT4_EVENT.itemsize > len(buf):
                    raise ValueError(f"{path}: event vector overruns its packet")
                ev = np.frombuffer(buf, dtype=_AEDAT4_EVENT, count=count, offset=start)
                parts.append(make_events(ev["t"], ev["x"], ev["y"], ev["on"]))
        pos += size
    if not parts:
        return np.empty(0, dtype=EVENT_DTYPE)
    return np.concatenate(parts)
