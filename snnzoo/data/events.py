"""The event record every snnzoo event reader returns.

An event stream is a numpy structured array with the fields

* ``t``: int64 timestamp in microseconds,
* ``x``: int16 column, ``y``: int16 row (0 = top-left pixel as stored by the sensor/reader),
* ``p``: int8 polarity, 0 = OFF (brightness decrease), 1 = ON (brightness increase).

This mirrors the ``t, x, y, p`` convention used across neuromorphic tools (SpikingJelly, Tonic).
"""
from __future__ import annotations

import numpy as np

__all__ = ["EVENT_DTYPE", "make_events", "as_event_fields"]

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "<i1")])


def make_events(t, x, y, p) -> np.ndarray:
    """Pack four equally long 1-D arrays into an :data:`EVENT_DTYPE` structured array.

    ``p`` is normalised to 0/1 (any non-zero value means ON).
    """
    t = np.asarray(t)
    n = t.shape[0]
    arrays = [np.asarray(a).reshape(-1) for a in (t, x, y, p)]
    if any(a.shape[0] != n for a in arrays):
        lengths = [a.shape[0] for a in arrays]
        raise ValueError(f"t, x, y, p must have the same length, got {lengths}")
    out = np.empty(n, dtype=EVENT_DTYPE)
    out["t"] = arrays[0]
    out["x"] = arrays[1]
    out["y"] = arrays[2]
    out["p"] = arrays[3] != 0
    return out


def as_event_fields(events):
    """Return ``(t, x, y, p)`` numpy arrays from a structured array or a mapping.

    Accepts any structured array (or ``np.lib.npyio.NpzFile``/dict) with the fields ``t``, ``x``,
    ``y`` and ``p``.

    Raises:
        ValueError: a field is missing or the fields differ in length.
    """
    names = ("t", "x", "y", "p")
    if isinstance(events, np.ndarray):
        fields = events.dtype.names or ()
        missing = [n for n in names if n not in fields]
        if missing:
            raise ValueError(
                f"events must have the fields t, x, y, p; missing {missing} (got fields {fields})"
            )
        arrays = [np.asarray(events[n]).reshape(-1) for n in names]
    elif hasattr(events, "keys") and hasattr(events, "__getitem__"):
        keys = list(events.keys())
        missing = [n for n in names if n not in keys]
        if missing:
            raise ValueError(
                f"events must have the keys t, x, y, p; missing {missing} (got {keys})"
            )
        arrays = [np.asarray(events[n]).reshape(-1) for n in names]
    else:
        raise ValueError(
            "events must be a structured array or a mapping with fields t, x, y, p; got "
            f"{type(events).__name__}"
        )
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        raise ValueError(f"fields t, x, y, p differ in length: {[a.shape[0] for a in arrays]}")
    return tuple(arrays)
