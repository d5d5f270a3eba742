"""AEDAT 2.0 / 3.1 readers on hand-packed files, AEDAT 4.0 on the real DVXplorer fixture."""
import struct

import numpy as np
import pytest

from snnzoo.data import (
    read_aedat2,
    read_aedat2_header,
    read_aedat4,
    read_aedat31,
    read_dvs_gesture,
)
from snnzoo.data.aedat import read_aedat4_info

AEDAT31_HEADER = (b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n"
                  b"#Start-Time: 2017-01-01\r\n#!END-HEADER\r\n")


def _packet(etype, events, overflow=0, size=8, ts_offset=4):
    """28-byte cAER packet header + payload; events are raw little-endian byte strings."""
    head = struct.pack("<hhiiiiii", etype, 1, size, ts_offset, overflow, len(events),
                       len(events), len(events))
    return head + b"".join(events)


def _polarity(x, y, p, ts, valid=1):
    return struct.pack("<Ii", (x << 17) | (y << 2) | (p << 1) | valid, ts)


def _write_aedat31(path):
    body = AEDAT31_HEADER
    body += _packet(1, [_polarity(0, 0, 1, 10), _polarity(127, 5, 0, 20),
                        _polarity(64, 127, 1, 150, valid=0)])
    body += _packet(2, [struct.pack("<Ii", 0xDEADBEEF, 30)])  # special event packet: skipped
    body += _packet(1, [_polarity(3, 4, 1, 7)], overflow=1)
    path.write_bytes(body)


def test_aedat31_polarity_packets(tmp_path):
    path = tmp_path / "rec.aedat"
    _write_aedat31(path)
    ev = read_aedat31(path)
    assert ev["x"].tolist() == [0, 127, 64, 3]
    assert ev["y"].tolist() == [0, 5, 127, 4]
    assert ev["p"].tolist() == [1, 0, 1, 1]
    assert ev["t"].tolist() == [10, 20, 150, 7 + 2 ** 31]
    assert read_aedat31(path, valid_only=True)["x"].tolist() == [0, 127, 3]
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ValueError, match="packet"):
        read_aedat31(path)
    path.write_bytes(b"#!AER-DAT2.0\r\n")
    with pytest.raises(ValueError, match="AEDAT 3"):
        read_aedat31(path)


def test_dvs_gesture_split(tmp_path):
    path = tmp_path / "user01_led.aedat"
    body = AEDAT31_HEADER + _packet(1, [_polarity(i, i, i % 2, 50 * i) for i in range(8)])
    path.write_bytes(body)  # events at t = 0, 50, ..., 350
    (tmp_path / "user01_led_labels.csv").write_text(
        "class,startTime_usec,endTime_usec\n1,0,100\n11,100,260\n3,250,351\n")
    samples = read_dvs_gesture(path)
    assert [label for _, label in samples] == [0, 10, 2]
    assert [ev["t"].tolist() for ev, _ in samples] == [[0, 50], [100, 150, 200, 250],
                                                       [250, 300, 350]]
    with pytest.raises(FileNotFoundError):
        read_dvs_gesture(path, labels_csv=tmp_path / "missing.csv")


def _write_aedat2(path, records):
    header = (b"#!AER-DAT2.0\r\n# This is a raw AE data file\r\n"
              b"# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n")
    path.write_bytes(header + b"".join(struct.pack(">II", a, t) for a, t in records))


def test_aedat2_dvs128_layouts(tmp_path):
    path = tmp_path / "cifar10_cat_0.aedat"
    # address bits: 8..14 = 10, 1..7 = 20, bit 0 = 1; then 8..14 = 127, 1..7 = 0, bit 0 = 0
    _write_aedat2(path, [((10 << 8) | (20 << 1) | 1, 5), ((127 << 8) | 0, 9)])
    tonic_style = read_aedat2(path, layout="dvs128")
    assert tonic_style["x"].tolist() == [10, 127] and tonic_style["y"].tolist() == [20, 0]
    assert tonic_style["p"].tolist() == [1, 0] and tonic_style["t"].tolist() == [5, 9]
    sj_style = read_aedat2(path)  # "cifar10dvs": flipped axes, inverted polarity
    assert sj_style["x"].tolist() == [117, 0] and sj_style["y"].tolist() == [107, 127]
    assert sj_style["p"].tolist() == [0, 1]
    raw = read_aedat2(path, layout="raw")
    assert raw["address"].tolist() == [(10 << 8) | (20 << 1) | 1, 127 << 8]
    hdr = read_aedat2_header(path)
    assert hdr["version"] == "2.0" and hdr["chip"] == "ch.unizh.ini.jaer.chip.retina.DVS128"


def test_aedat2_davis_layout_and_errors(tmp_path):
    path = tmp_path / "davis.aedat"
    dvs = (200 << 22) | (300 << 12) | (1 << 11)
    aps = (1 << 31) | (5 << 22) | (6 << 12)
    _write_aedat2(path, [(dvs, 1), (aps, 2), ((7 << 22) | (8 << 12), 3)])
    ev = read_aedat2(path, layout="davis")
    assert ev["x"].tolist() == [300, 8] and ev["y"].tolist() == [200, 7]
    assert ev["p"].tolist() == [1, 0] and ev["t"].tolist() == [1, 3]
    path.write_bytes(path.read_bytes() + b"\x00\x01")
    with pytest.raises(ValueError, match="multiple of 8"):
        read_aedat2(path)
    with pytest.raises(ValueError, match="layout"):
        read_aedat2(path, layout="dvs346")


def test_aedat2_real_header_fixture(shared_data):
    path = shared_data / "event_formats" / "sample_aedat_header.aedat"
    hdr = read_aedat2_header(path)
    assert hdr["version"] == "2.0"
    assert hdr["chip"] == "eu.seebetter.ini.chips.davis.Davis346red"
    assert hdr["data_offset"] == path.stat().st_size  # header only
    assert len(read_aedat2(path, layout="davis")) == 0


def _reference_aedat4(path):
    """Independent walk of the AEDAT4 fixture: struct-unpack every event of every packet."""
    import lz4.frame

    data = path.read_bytes()
    (hsize,) = struct.unpack_from("<I", data, 14)
    pos = 18 + hsize
    events = []
    while pos < len(data):
        stream, size = struct.unpack_from("<iI", data, pos)
        payload = data[pos + 8:pos + 8 + size]
        pos += 8 + size
        if stream != 0:
            continue
        buf = lz4.frame.decompress(payload)
        table = 4 + struct.unpack_from("<I", buf, 4)[0]
        vtable = table - struct.unpack_from("<i", buf, table)[0]
        field = table + struct.unpack_from("<H", buf, vtable + 4)[0]
        vec = field + struct.unpack_from("<I", buf, field)[0]
        (count,) = struct.unpack_from("<I", buf, vec)
        for k in range(count):
            t, x, y, on = struct.unpack_from("<qhh?", buf, vec + 4 + 16 * k)
            events.append((t, x, y, int(on)))
        if len(events) > 20000:
            break
    return data, events


def test_aedat4_real_fixture(shared_data):
    pytest.importorskip("lz4")
    path = shared_data / "event_formats" / "sample.aedat4"
    info = read_aedat4_info(path)
    assert info["compression"] == "lz4"
    assert info["streams"][0]["type"] == "EVTS"
    assert (info["streams"][0]["width"], info["streams"][0]["height"]) == (320, 240)
    ev = read_aedat4(path)
    assert len(ev) > 0
    assert ev["x"].min() >= 0 and ev["x"].max() < 320
    assert ev["y"].min() >= 0 and ev["y"].max() < 240
    assert np.all(np.diff(ev["t"]) >= 0)
    assert set(np.unique(ev["p"]).tolist()) == {0, 1}
    data, ref = _reference_aedat4(path)
    got = list(zip(ev["t"][:len(ref)].tolist(), ev["x"][:len(ref)].tolist(),
                   ev["y"][:len(ref)].tolist(), ev["p"][:len(ref)].tolist()))
    assert got == ref
    with pytest.raises(ValueError, match="not an event"):
        read_aedat4(path, stream=2)  # the IMU stream


def test_aedat4_rejects_other_files(tmp_path, shared_data):
    with pytest.raises(ValueError, match="AEDAT 4.0"):
        read_aedat4(shared_data / "event_formats" / "sample_aedat_header.aedat")
    path = tmp_path / "cut.aedat4"
    path.write_bytes((shared_data / "event_formats" / "sample.aedat4").read_bytes()[:5000])
    pytest.importorskip("lz4")
    with pytest.raises(ValueError, match="past the end"):
        read_aedat4(path)
