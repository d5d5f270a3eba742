"""Integrate an event stream into a fixed number of count frames, SpikingJelly-style.

:func:`events_to_frames` turns ``T`` slices of an event stream into ``T`` frames; each frame
counts the events per pixel and polarity. The slicing reproduces the definition documented by
SpikingJelly (``cal_fixed_frames_number_segment_index`` / ``integrate_events_segment_to_frame``),
re-implemented here from its published formulas. With ``N`` events, ``T`` frames and ``j`` the
frame index:

* ``split_by="number"``: ``j_l = floor(N / T) * j``; ``j_r = floor(N / T) * (j + 1)``, except
  ``j_r = N`` for the last frame, which therefore also receives the ``N mod T`` left-over
  events. Frame ``j`` integrates events ``j_l <= k < j_r``.
* ``split_by="time"``: ``dT = floor((t[N-1] - t[0]) / T)`` (integer µs); frame ``j`` integrates
  the events from the first with ``t >= t[0] + dT * j`` up to the last with
  ``t < t[0] + dT * (j + 1)``; the last frame runs to the end of the stream (so events in the
  rounding remainder after ``t[0] + T * dT`` land in it). SpikingJelly fails on a window without
  events; here such a frame is simply all zeros.
* ``duration=D`` (with ``split_by="time"``): frame ``j`` counts the events with
  ``t[0] + D * j <= t < t[0] + D * (j + 1)``; events after ``T`` windows are dropped and windows
  past the end of the recording stay empty (fixed-length, fixed-rate frames).

Layout: the output is float32 ``[T, H, W, 2]`` (channels last, Keras' default), with ``H`` the y
range and ``W`` the x range of the sensor. Channel 0 counts OFF events (``p == 0``) and channel 1
ON events (``p != 0``): the same order as SpikingJelly's channel-first ``[T, 2, H, W]`` frames, so
``np.moveaxis(frames, -1, 1)`` gives SpikingJelly's layout.

:func:`events_to_frames_cached` adds an on-disk ``.npz`` cache under
``$SNNZOO_HOME/frames/<reader>/``, keyed by the sha256 of the event file and every parameter, and
written atomically (temporary file, then rename).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .. import config
from .checksums import file_hash
from .events import as_event_fields

__all__ = ["EmptyRecordingError", "events_to_frames", "events_to_frames_cached", "require_events",
           "segment_indices"]

_SPLITS = ("number", "time")


def _check_sensor_size(sensor_size):
    try:
        dims = tuple(int(s) for s in sensor_size)
    except TypeError:
        raise ValueError(f"sensor_size must be (H, W, 2), got {sensor_size!r}") from None
    if len(dims) == 2:
        dims = dims + (2,)
    if len(dims) != 3 or dims[2] != 2 or dims[0] < 1 or dims[1] < 1:
        raise ValueError(f"sensor_size must be (H, W, 2) with H, W >= 1, got {sensor_size!r}")
    return dims[0], dims[1]


def _check_frames(frames) -> int:
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ValueError(f"frames must be an integer >= 1, got {frames!r}")
    return int(frames)


def segment_indices(t, frames: int, split_by: str = "number"):
    """Start (inclusive) and end (exclusive) event index of every frame.

    Implements the SpikingJelly slicing rules described in the module docstring.

    Args:
        t: 1-D array of timestamps (only its length matters for ``"number"``).
        frames: number of frames ``T`` (>= 1).
        split_by: ``"number"`` or ``"time"``.

    Returns:
        ``(j_l, j_r)``, two int64 arrays of length ``T``.

    Raises:
        ValueError: bad ``frames``/``split_by``, or ``"time"`` with a recording shorter than
            ``T`` µs (every window would have zero width).
    """
    T = _check_frames(frames)
    if split_by not in _SPLITS:
        raise ValueError(f"split_by must be 'number' or 'time', got {split_by!r}")
    t = np.asarray(t).reshape(-1)
    n = t.shape[0]
    j_l = np.zeros(T, dtype=np.int64)
    j_r = np.zeros(T, dtype=np.int64)
    if n == 0:
        return j_l, j_r
    if split_by == "number":
        di = n // T
        j_l[:] = np.arange(T) * di
        j_r[:] = j_l + di
        j_r[-1] = n
        return j_l, j_r

    t = t.astype(np.int64)
    t0 = int(t[0])
    dt = (int(t[-1]) - t0) // T
    if dt <= 0:
        if T == 1:
            j_r[0] = n
            return j_l, j_r
        raise ValueError(
            f"split_by='time': the recording spans {int(t[-1]) - t0} µs from its first to its "
            f"last event, too short for {T} time windows of at least 1 µs"
        )
    if np.all(t[1:] >= t[:-1]):
        starts = t0 + dt * np.arange(T + 1, dtype=np.int64)
        j_l[:] = np.searchsorted(t, starts[:T], side="left")
        j_r[:-1] = np.searchsorted(t, starts[1:T], side="left")
        j_r[-1] = n
        return j_l, j_r
    # Timestamps not sorted: first and last index of the events falling in each window.
    w = (t - t0) // dt
    valid = w >= 0
    w = np.minimum(w, T - 1)
    idx = np.arange(n, dtype=np.int64)
    first = np.full(T, n, dtype=np.int64)
    last = np.full(T, -1, dtype=np.int64)
    np.minimum.at(first, w[valid], idx[valid])
    np.maximum.at(last, w[valid], idx[valid])
    empty = last < 0
    j_l[:] = np.where(empty, 0, first)
    j_r[:] = np.where(empty, 0, last + 1)
    j_r[-1] = n
    if empty[-1]:
        j_l[-1] = n
    return j_l, j_r


def events_to_frames(events, sensor_size=(34, 34, 2), frames: int = 10, split_by: str = "number",
                     duration=None) -> np.ndarray:
    """Count events per pixel and polarity in ``frames`` slices of the stream.

    Args:
        events: structured array (or mapping) with fields ``t``, ``x``, ``y``, ``p``, as returned
            by the snnzoo readers.
        sensor_size: ``(H, W, 2)``: ``H`` rows (y range), ``W`` columns (x range).
        frames: number of frames ``T`` (>= 1).
        split_by: ``"number"`` (equal event counts) or ``"time"`` (equal time windows); see the
            module docstring for the exact index arithmetic.
        duration: optional fixed window length in µs (only with ``split_by="time"``).

    Returns:
        float32 array ``[T, H, W, 2]``; channel 0 = OFF (``p == 0``), channel 1 = ON.

    Raises:
        ValueError: missing fields, coordinates outside the sensor, ``frames < 1``, unknown
            ``split_by``, or a bad ``duration``.
    """
    H, W = _check_sensor_size(sensor_size)
    T = _check_frames(frames)
    if split_by not in _SPLITS:
        raise ValueError(f"split_by must be 'number' or 'time', got {split_by!r}")
    t, x, y, p = as_event_fields(events)
    n = t.shape[0]
    out = np.zeros((T, H, W, 2), dtype=np.float32)
    if duration is not None:
        if split_by != "time":
            raise ValueError("duration is only meaningful with split_by='time'")
        if (isinstance(duration, bool) or not isinstance(duration, (int, np.integer))
                or duration < 1):
            raise ValueError(f"duration must be a positive integer number of µs, got {duration!r}")
    if n == 0:
        return out
    x = x.astype(np.int64)
    y = y.astype(np.int64)
    if x.min() < 0 or x.max() >= W or y.min() < 0 or y.max() >= H:
        raise ValueError(
            f"event coordinates outside the sensor: x in [{x.min()}, {x.max()}], "
            f"y in [{y.min()}, {y.max()}], but sensor_size is (H={H}, W={W}, 2)"
        )
    pos = (y * W + x) * 2 + (p != 0)
    size = H * W * 2
    if duration is not None:
        fi = (t.astype(np.int64) - int(t[0])) // int(duration)
        keep = (fi >= 0) & (fi < T)
        counts = np.bincount(fi[keep] * size + pos[keep], minlength=T * size)
        return counts.reshape(T, H, W, 2).astype(np.float32)
    j_l, j_r = segment_indices(t, T, split_by)
    for i in range(T):
        seg = pos[j_l[i]:j_r[i]]
        if seg.size:
            out[i] = np.bincount(seg, minlength=size).reshape(H, W, 2)
    return out


class EmptyRecordingError(ValueError):
    """An event file (or a labelled window of one) holds no events: a truncated, header-only or
    otherwise broken recording, which would otherwise become an all-zero input."""


def require_events(events, where):
    """Return ``events`` if it holds at least one event, else raise :class:`EmptyRecordingError`
    naming ``where`` (the file, and the window for a cut recording)."""
    t, _, _, _ = as_event_fields(events)
    if t.shape[0] == 0:
        raise EmptyRecordingError(
            f"{where}: the recording holds no events (a header-only, empty or truncated file?); "
            "refusing to turn it into all-zero frames")
    return events


def read_recording(path, reader):
    """``reader(path)``, refused with :class:`EmptyRecordingError` (naming the file and the
    reader's window) if it holds no events."""
    return require_events(reader(path), _reader_where(path, reader))


def _reader_where(path, reader) -> str:
    """``path`` plus the window a ``functools.partial`` reader selects, e.g. ``(index=3)``."""
    if isinstance(reader, functools.partial) and (reader.args or reader.keywords):
        parts = [repr(a) for a in reader.args]
        parts += [f"{k}={v!r}" for k, v in sorted(reader.keywords.items())]
        return f"{path} ({', '.join(parts)})"
    return str(path)


def _reader_id(reader) -> str:
    if isinstance(reader, functools.partial):
        inner = _reader_id(reader.func)
        extra = repr((reader.args, sorted(reader.keywords.items())))
        return f"{inner}[{hashlib.sha256(extra.encode()).hexdigest()[:8]}]"
    module = getattr(reader, "__module__", None) or "unknown"
    name = getattr(reader, "__qualname__", None) or type(reader).__name__
    return f"{module}.{name}"


def events_to_frames_cached(path, reader, sensor_size=(34, 34, 2), frames: int = 10,
                            split_by: str = "number", duration=None, cache_dir=None) -> np.ndarray:
    """:func:`events_to_frames` of ``reader(path)``, cached on disk.

    The cache file is ``<cache_dir>/<reader>/<file sha256[:16]>-<parameter hash>.npz`` with
    ``cache_dir`` defaulting to ``$SNNZOO_HOME/frames``. The key covers the file's content
    (sha256), the reader and every integration parameter, so edited files or other settings never
    hit a stale entry. Writes go to a temporary file in the same folder, then ``os.replace``, so a
    crash never leaves a half-written cache file; an unreadable entry is recomputed.

    Args:
        path: the event file.
        reader: callable returning the events of ``path`` (e.g. :func:`read_nmnist`).
        sensor_size: as for :func:`events_to_frames`.
        frames: as for :func:`events_to_frames`.
        split_by: as for :func:`events_to_frames`.
        duration: as for :func:`events_to_frames`.
        cache_dir: cache root; ``None`` means ``$SNNZOO_HOME/frames``.

    Returns:
        float32 ``[T, H, W, 2]`` frames.

    Raises:
        EmptyRecordingError: ``reader(path)`` returned no events (the message names the file and
            the reader's window); :func:`events_to_frames` itself turns an empty stream into
            zero frames, but a data-set sample without events is a broken file.
    """
    H, W = _check_sensor_size(sensor_size)
    T = _check_frames(frames)
    if split_by not in _SPLITS:
        raise ValueError(f"split_by must be 'number' or 'time', got {split_by!r}")
    path = Path(path)
    digest = file_hash(path, "sha256")
    rid = _reader_id(reader)
    params = json.dumps(
        {"reader": rid, "sensor_size": [H, W, 2], "frames": T, "split_by": split_by,
         "duration": None if duration is None else int(duration), "layout": "THWC-off-on-v1"},
        sort_keys=True,
    )
    key = f"{digest[:16]}-{hashlib.sha256(params.encode()).hexdigest()[:16]}"
    root = Path(cache_dir) if cache_dir is not None else config.home_dir() / "frames"
    folder = root / re.sub(r"[^A-Za-z0-9_.-]+", "_", rid)
    target = folder / f"{key}.npz"
    if target.is_file():
        try:
            with np.load(target, allow_pickle=False) as cached:
                if str(cached["params"]) == params and str(cached["sha256"]) == digest:
                    return cached["frames"].astype(np.float32, copy=False)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            pass  # unreadable or foreign entry: recompute and overwrite
    events = read_recording(path, reader)
    result = events_to_frames(events, (H, W, 2), T, split_by, duration)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{key}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, frames=result, params=np.array(params), sha256=np.array(digest))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return result
