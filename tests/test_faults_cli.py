"""Faults a new user hit on the command line (issue 15, items 5-7): every one ends with exactly
one ``snnzoo: ...`` line on stderr, no traceback, and the documented exit code (1 for errors,
130 for Ctrl-C), with no partial file left behind."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from snnzoo.cli import main

REPO = Path(__file__).resolve().parents[1]
SHIPPED_FMNIST = REPO / "zoo_weights" / "fsnn_fmnist_ide.weights.h5"
CKPT = "checkpoints/csbp_sew7bnet_dvsgesture/checkpoint_max_test_acc1.pth"


def _one_line(capsys):
    """The whole stderr, which must be exactly one line."""
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _png(tmp_path, value=128):
    from PIL import Image

    path = tmp_path / "img.png"
    Image.fromarray(np.full((28, 28), value, np.uint8)).save(path)
    return path


def test_predict_on_a_corrupt_idx_file(tmp_path, shared_data, capsys):
    good = (shared_data / "fashion_mnist" / "t10k-images-idx3-ubyte.gz").read_bytes()
    bad = tmp_path / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(b"\xcck" + good[2:])
    assert main(["predict", "fsnn_fmnist_ide", f"{bad}:0-4"]) == 1
    line = _one_line(capsys)
    assert line.startswith(f"snnzoo: error: {bad}: not a valid gzip file")
    assert "download it again" in line


def test_predict_on_nan_and_empty_event_files(tmp_path, shared_data, capsys):
    x = np.full((28, 28), 0.5, np.float32)
    x[3, 4] = np.nan
    np.save(tmp_path / "nan.npy", x)
    assert main(["predict", "fsnn_fmnist_ide", str(tmp_path / "nan.npy")]) == 1
    assert _one_line(capsys) == ("snnzoo: error: nan.npy: 1 NaN/inf value(s); inputs must be "
                                 "finite")
    (tmp_path / "empty.bin").write_bytes(b"")
    header_only = shared_data / "event_formats" / "sample_aedat_header.aedat"
    for path in (tmp_path / "empty.bin", header_only):
        # refused before any weights are looked at, so even --weights default is never fetched
        assert main(["predict", "bpsta_convnet_nmnist", str(path), "--weights", "none"]) == 1
        assert _one_line(capsys).startswith(
            f"snnzoo: error: {path.name}: the recording holds no events")
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    assert main(["predict", "fsnn_fmnist_ide", str(tmp_path / "broken.npy")]) == 1
    assert _one_line(capsys).startswith("snnzoo: error: broken.npy: not a readable .npy array")


def test_weights_of_another_model_and_weights_none(tmp_path, capsys):
    img = _png(tmp_path)
    assert main(["predict", "fsnn_mnist_ide", str(img), "--weights", str(SHIPPED_FMNIST)]) == 1
    line = _one_line(capsys)
    assert line.startswith(f"snnzoo: error: weights file {SHIPPED_FMNIST} does not fit model "
                           "'fsnn_mnist_ide'")
    assert "architecture of 'fsnn_fmnist_ide'" in line and "first difference" in line
    # the same file where it belongs works, and 'none' is random init as in Python
    assert main(["predict", "fsnn_fmnist_ide", str(img), "--weights", str(SHIPPED_FMNIST)]) == 0
    assert main(["predict", "fsnn_fmnist_ide", str(img), "--weights", "none"]) == 0
    out = capsys.readouterr()
    assert out.err == "" and out.out.count("img.png: ") == 2


def test_ctrl_c_during_eval_predict_convert_exits_130_with_one_line(tmp_path, shared_data,
                                                                    monkeypatch, capsys):
    import keras

    import snnzoo.data.pipelines as pipelines
    import snnzoo.zoo

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipelines, "make_dataset", interrupt)
    assert main(["eval", "fsnn_fmnist_ide", "--limit", "10", "-q"]) == 130
    assert _one_line(capsys) == "snnzoo: interrupted"
    monkeypatch.setattr(snnzoo.zoo, "load", interrupt)
    assert main(["predict", "fsnn_fmnist_ide", str(_png(tmp_path))]) == 130
    assert _one_line(capsys) == "snnzoo: interrupted"
    monkeypatch.undo()

    # convert: interrupted while the weights file is half written -> no file, no folder
    def half_then_interrupt(self, path, *args, **kwargs):
        Path(path).write_bytes(b"half an h5 file")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save_weights", half_then_interrupt)
    out = tmp_path / "new_folder" / "g.weights.h5"
    assert main(["convert", "sew7bnet_csbp_dvsgesture", str(shared_data / CKPT), str(out),
                 "-q"]) == 130
    assert _one_line(capsys) == "snnzoo: interrupted"
    assert not (tmp_path / "new_folder").exists()

    # the stand-alone entry points behave the same
    from snnzoo.evaluate import main_eval

    monkeypatch.setattr(pipelines, "make_dataset", interrupt)
    assert main_eval(["fsnn_fmnist_ide", "-q"]) == 130
    assert _one_line(capsys) == "snnzoo: interrupted"


def test_real_sigint_to_a_running_eval(tmp_path):
    """A real SIGINT to a real ``snnzoo`` process: exit 130, one stderr line, no traceback."""
    script = (
        "import signal, sys, time\n"
        # a terminal's Ctrl-C: where the test runs in a background job, SIGINT arrives ignored
        # (SIG_IGN is inherited and Python then installs no KeyboardInterrupt handler)
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import snnzoo.data.pipelines as p\n"
        "from snnzoo.cli import main\n"
        "def slow(*a, **k):\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(120)\n"
        "p.make_dataset = slow\n"
        "sys.exit(main(['eval', 'fsnn_fmnist_ide', '--limit', '10', '-q']))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=dict(os.environ, PYTHONWARNINGS="ignore"))
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert err.splitlines() == ["snnzoo: interrupted"], err
    assert list(tmp_path.iterdir()) == []
