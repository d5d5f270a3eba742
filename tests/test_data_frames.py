"""events_to_frames on hand-built event lists with hand-derived counts, plus the on-disk cache."""
import shutil

import numpy as np
import pytest

from snnzoo.data import events_to_frames, events_to_frames_cached, make_events, read_nmnist
from snnzoo.data.frames import segment_indices

SENSOR = (2, 3, 2)  # H=2 rows (y), W=3 columns (x)


def _ev(t, x=None, y=None, p=None):
    n = len(t)
    return make_events(t, x if x is not None else [0] * n, y if y is not None else [0] * n,
                       p if p is not None else [1] * n)


def _per_frame(f):
    return f.sum(axis=(1, 2, 3)).tolist()


def test_split_by_number_hand_counts():
    # 7 events, T=3 -> floor(7/3)=2 per frame, the last frame takes the 3 remaining events
    t = [0, 10, 20, 30, 40, 50, 60]
    x = [0, 1, 2, 0, 0, 2, 2]
    y = [0, 1, 1, 0, 0, 0, 0]
    p = [0, 1, 1, 1, 0, 0, 0]
    f = events_to_frames(_ev(t, x, y, p), SENSOR, frames=3, split_by="number")
    assert f.shape == (3, 2, 3, 2) and f.dtype == np.float32
    expected = np.zeros((3, 2, 3, 2), np.float32)
    expected[0, 0, 0, 0] = 1  # event 0: y0 x0 OFF -> channel 0
    expected[0, 1, 1, 1] = 1  # event 1: y1 x1 ON  -> channel 1
    expected[1, 1, 2, 1] = 1  # event 2: y1 x2 ON
    expected[1, 0, 0, 1] = 1  # event 3: y0 x0 ON
    expected[2, 0, 0, 0] = 1  # event 4: y0 x0 OFF
    expected[2, 0, 2, 0] = 2  # events 5, 6: y0 x2 OFF twice
    np.testing.assert_array_equal(f, expected)


def test_split_by_number_fewer_events_than_frames():
    # N=2, T=3: floor(2/3)=0 -> frames 0 and 1 empty, the last frame gets everything
    f = events_to_frames(_ev([0, 5]), SENSOR, frames=3, split_by="number")
    assert _per_frame(f) == [0, 0, 2]


def test_split_by_time_hand_counts():
    # t0=0, t_end=10, T=3 -> dT = floor(10/3) = 3; windows [0,3) [3,6) [6, end]
    f = events_to_frames(_ev([0, 1, 2, 5, 6, 9, 10]), SENSOR, frames=3, split_by="time")
    assert _per_frame(f) == [3, 1, 3]
    # 11 events at t=0..10: [0,3) -> 3, [3,6) -> 3, [6, end] -> 5 (t=9, 10 lie past 3*dT)
    f = events_to_frames(_ev(list(range(11))), SENSOR, frames=3, split_by="time")
    assert _per_frame(f) == [3, 3, 5]
    # an empty window gives an empty frame
    f = events_to_frames(_ev([0, 1, 10]), SENSOR, frames=3, split_by="time")
    assert _per_frame(f) == [2, 0, 1]
    # windows start at the first event: t0=100, dT=floor(10/2)=5 -> [100,105) and [105, end]
    f = events_to_frames(_ev([100, 101, 104, 110]), SENSOR, frames=2, split_by="time")
    assert _per_frame(f) == [3, 1]


def test_split_by_time_unsorted_uses_first_and_last_index_in_window():
    # t = [0, 4, 1, 7, 3, 9], T=3 -> dT=3, window of each event: [0, 1, 0, 2, 1, 3->last]
    # frame 0: first/last index in [0,3) = 0/2 -> events 0..2; frame 1: [3,6) -> 1/4 -> 1..4;
    # frame 2 (last): from the first event with t>=6 (index 3) to the end -> 3..5
    j_l, j_r = segment_indices(np.array([0, 4, 1, 7, 3, 9]), 3, "time")
    assert j_l.tolist() == [0, 1, 3] and j_r.tolist() == [3, 5, 6]
    x = [0, 1, 2, 0, 1, 2]
    f = events_to_frames(_ev([0, 4, 1, 7, 3, 9], x=x), SENSOR, frames=3, split_by="time")
    assert f[0, 0, :, 1].tolist() == [1, 1, 1]  # events 0, 1, 2 -> x = 0, 1, 2
    assert f[1, 0, :, 1].tolist() == [1, 2, 1]  # events 1, 2, 3, 4 -> x = 1, 2, 0, 1
    assert f[2, 0, :, 1].tolist() == [1, 1, 1]  # events 3, 4, 5 -> x = 0, 1, 2
    assert _per_frame(f) == [3, 4, 3]


def test_duration_windows():
    # D=2, T=3: windows [0,2) [2,4) [4,6); t=6 is dropped
    f = events_to_frames(_ev([0, 1, 2, 5, 6]), SENSOR, frames=3, split_by="time", duration=2)
    assert _per_frame(f) == [2, 1, 1]
    # windows past the end of the recording stay empty
    f = events_to_frames(_ev([10, 11]), SENSOR, frames=3, split_by="time", duration=5)
    assert _per_frame(f) == [2, 0, 0]


def test_matches_reference_loop_on_real_recording(shared_data):
    """Compare with a direct per-event transcription of the published formulas."""
    ev = read_nmnist(shared_data / "nmnist" / "17.bs2")
    n, T = len(ev), 7
    ref_number = np.zeros((T, 34, 34, 2))
    di = n // T
    for k in range(n):
        frame = min(k // di, T - 1)
        ref_number[frame, ev["y"][k], ev["x"][k], 1 if ev["p"][k] else 0] += 1
    np.testing.assert_array_equal(events_to_frames(ev, (34, 34, 2), T, "number"), ref_number)

    t0, dT = int(ev["t"][0]), (int(ev["t"][-1]) - int(ev["t"][0])) // T
    ref_time = np.zeros((T, 34, 34, 2))
    for k in range(n):
        frame = min((int(ev["t"][k]) - t0) // dT, T - 1)
        ref_time[frame, ev["y"][k], ev["x"][k], 1 if ev["p"][k] else 0] += 1
    np.testing.assert_array_equal(events_to_frames(ev, (34, 34, 2), T, "time"), ref_time)
    assert ref_time.sum() == n


def test_dict_input_and_empty_stream():
    f = events_to_frames({"t": [0, 1], "x": [2, 2], "y": [1, 1], "p": [True, False]}, SENSOR, 1)
    assert f[0, 1, 2].tolist() == [1, 1]
    assert events_to_frames(_ev([]), SENSOR, 4).shape == (4, 2, 3, 2)
    assert events_to_frames(_ev([]), SENSOR, 4).sum() == 0


def test_errors():
    ev = _ev([0, 1, 2])
    with pytest.raises(ValueError, match="frames"):
        events_to_frames(ev, SENSOR, frames=0)
    with pytest.raises(ValueError, match="split_by"):
        events_to_frames(ev, SENSOR, frames=2, split_by="count")
    with pytest.raises(ValueError, match="sensor_size"):
        events_to_frames(ev, (2, 3, 3), frames=2)
    no_p = np.zeros(3, dtype=[("t", "i8"), ("x", "i2"), ("y", "i2")])
    with pytest.raises(ValueError, match="missing"):
        events_to_frames(no_p, SENSOR, frames=2)
    with pytest.raises(ValueError, match="outside the sensor"):
        events_to_frames(_ev([0], x=[3]), SENSOR, frames=1)
    with pytest.raises(ValueError, match="duration"):
        events_to_frames(ev, SENSOR, frames=2, split_by="number", duration=5)
    with pytest.raises(ValueError, match="too short"):
        events_to_frames(ev, SENSOR, frames=5, split_by="time")


def test_cache_roundtrip_and_invalidation(tmp_path, shared_data):
    src = tmp_path / "rec.bs2"
    shutil.copy(shared_data / "nmnist" / "5.bs2", src)
    direct = events_to_frames(read_nmnist(src), (34, 34, 2), 6, "time")
    cached = events_to_frames_cached(src, read_nmnist, (34, 34, 2), 6, "time")
    np.testing.assert_array_equal(cached, direct)
    home = tmp_path / "snnzoo_home" / "frames"  # SNNZOO_HOME is set by conftest
    files = list(home.rglob("*.npz"))
    assert len(files) == 1
    assert not list(home.rglob("*.tmp"))

    # a second call is served from the cache: plant a marker in the entry and read it back
    with np.load(files[0]) as z:
        content = {k: z[k] for k in z.files}
    content["frames"] = np.full_like(content["frames"], 7.0)
    np.savez(files[0], **content)
    again = events_to_frames_cached(src, read_nmnist, (34, 34, 2), 6, "time")
    assert np.all(again == 7.0)

    # other parameters -> another entry
    other = events_to_frames_cached(src, read_nmnist, (34, 34, 2), 6, "number")
    np.testing.assert_array_equal(other, events_to_frames(read_nmnist(src), (34, 34, 2), 6))
    assert len(list(home.rglob("*.npz"))) == 2

    # edited file content -> another entry with the new frames
    data = bytearray(src.read_bytes())
    data[0] = (data[0] + 1) % 34
    src.write_bytes(bytes(data))
    edited = events_to_frames_cached(src, read_nmnist, (34, 34, 2), 6, "time")
    np.testing.assert_array_equal(
        edited, events_to_frames(read_nmnist(src), (34, 34, 2), 6, "time"))
    assert len(list(home.rglob("*.npz"))) == 3

    # an unreadable entry is recomputed and rewritten
    files[0].write_bytes(b"garbage")
    src.write_bytes((shared_data / "nmnist" / "5.bs2").read_bytes())
    repaired = events_to_frames_cached(src, read_nmnist, (34, 34, 2), 6, "time")
    np.testing.assert_array_equal(repaired, direct)
    with np.load(files[0]) as z:
        np.testing.assert_array_equal(z["frames"], direct)
    assert not list(home.rglob("*.tmp"))
