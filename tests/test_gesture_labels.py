"""DVS128 Gesture label files have one parser (snnzoo.data.aedat.read_gesture_labels): the
reader of a recording and the data-set pipeline get the same labels and windows from it.
Files are written in the real format (AEDAT 3.1 polarity packets + ``_labels.csv``) in tmp_path."""
import numpy as np
import pytest

from snnzoo.data import read_dvs_gesture
from snnzoo.data.aedat import read_gesture_labels
from snnzoo.data.pipelines import make_dataset
from tests.test_pipelines import _write_aedat31

# Out of time order, overlapping, quoted cells, spaces, a blank line, CRLF, a BOM before the
# header: what hand-edited or spreadsheet-exported label files look like.
LABELS_CSV = ("\ufeffclass,startTime_usec,endTime_usec\r\n"
              "11, 1500 ,2900\r\n"
              "\r\n"
              "\"3\",0,1000\r\n"
              "1,800,1600\r\n")
WANT = [(10, 1500, 2900), (2, 0, 1000), (0, 800, 1600)]  # (class - 1, start, end), file order


def _recording(folder):
    rng = np.random.default_rng(1)
    ev = [(int(rng.integers(128)), int(rng.integers(128)), int(rng.integers(2)), t)
          for t in range(0, 3000, 7)]
    _write_aedat31(folder / "user02_led.aedat", ev)
    (folder / "user02_led_labels.csv").write_text(LABELS_CSV, newline="")
    return ev


def test_label_file_parsed_once_into_label_start_end(tmp_path):
    _recording(tmp_path)
    assert read_gesture_labels(tmp_path / "user02_led_labels.csv") == WANT
    (tmp_path / "no_header.csv").write_text("5,10,20\n")
    assert read_gesture_labels(tmp_path / "no_header.csv") == [(4, 10, 20)]


@pytest.mark.parametrize("row,match", [
    ("3,0", r"bad.csv:2: expected class,startTime_usec,endTime_usec"),
    ("three,0,10", r"bad.csv:2: expected"),
    ("3,0.5,10", r"bad.csv:2: expected"),
    ("0,0,10", r"bad.csv:2: class 0 outside 1..11"),
    ("12,0,10", r"bad.csv:2: class 12 outside 1..11"),
    ("4,10,10", r"bad.csv:2: empty window: end 10 <= start 10"),
])
def test_bad_rows_name_file_and_line(tmp_path, row, match):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"class,startTime_usec,endTime_usec\n{row}\n")
    with pytest.raises(ValueError, match=match):
        read_gesture_labels(bad)
    with pytest.raises(FileNotFoundError, match="label file not found"):
        read_gesture_labels(tmp_path / "missing.csv")


def test_reader_and_pipeline_agree_with_hand_cut_windows(tmp_path):
    root = tmp_path / "dvs_gesture"
    root.mkdir()
    ev = _recording(root)
    (root / "trials_to_test.txt").write_text("user02_led.aedat\n")
    t = np.array([e[3] for e in ev])

    parts = read_dvs_gesture(root / "user02_led.aedat")
    assert [lab for _, lab in parts] == [lab for lab, _, _ in WANT]
    for (events, _), (_, lo, hi) in zip(parts, WANT):
        assert events["t"].tolist() == t[(t >= lo) & (t < hi)].tolist()

    ds = make_dataset("dvs_gesture", "test", 3, time_steps=1, format="py", data_dir=tmp_path)
    x, y = ds[0]
    np.testing.assert_array_equal(y, [lab for lab, _, _ in WANT])
    for k, (_, lo, hi) in enumerate(WANT):
        counts = np.zeros((128, 128, 2))
        for ex, ey, ep, et in ev:
            if lo <= et < hi:
                counts[ey, ex, ep] += 1
        np.testing.assert_array_equal(x[k, 0], counts)

    # a bad row stops the pipeline with the parser's message (file and line), not a mis-pairing
    (root / "user02_led_labels.csv").write_text("class,startTime_usec,endTime_usec\n3,0,1000\n1,900\n")
    with pytest.raises(ValueError, match=r"user02_led_labels.csv:3: expected"):
        make_dataset("dvs_gesture", "test", 3, time_steps=1, format="py", data_dir=tmp_path)
