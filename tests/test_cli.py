"""The ``snnzoo`` command line: list, info, convert; one-line errors and non-zero exit codes."""
import json

import numpy as np
import pytest

import keras
import snnzoo
from snnzoo.cli import main

CKPT = "checkpoints/csbp_sew7bnet_dvsgesture/checkpoint_max_test_acc1.pth"


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and err[-1].startswith("snnzoo: error:")
    return err[-1]


def test_list_and_info(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["name", "dataset", "method"]
    row = next(l for l in lines if l.startswith("sew7bnet_csbp_dvsgesture "))
    assert row.split()[-2:] == ["-", "external"] and "98.26" in row
    assert len(lines) == 1 + len(snnzoo.list_models())

    assert main(["info", "sew_resnet34_csbp"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["accuracy"]["claimed"] == 67.62 and info["weights"]["size"] == 174_565_367
    # SEW ResNet-34 max-pools after its stem: NIR has no max pooling (issue 17: info says why not)
    assert info["nir_exportable"]["exportable"] is False
    assert "max" in info["nir_exportable"]["reason"].lower()

    assert main(["info", "fsnn_fmnist_ide"]) == 0
    verdict = json.loads(capsys.readouterr().out)["nir_exportable"]
    assert verdict["exportable"] is True and "subtract_reset=True" in verdict["reason"]


def test_bad_input_gives_one_line_and_nonzero_exit(capsys):
    assert main(["info", "sew_resnt34"]) == 1
    line = _one_error_line(capsys)
    assert "unknown model" in line and "sew_resnet34" in line
    assert main(["eval", "sew7bnet"]) != 0
    assert "DVS128 Gesture not found" in _one_error_line(capsys)
    assert main(["predict", "sew7bnet", "x.npy"]) != 0
    assert "input file not found: x.npy" in _one_error_line(capsys)
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in _one_error_line(capsys)
    assert main([]) == 2
    capsys.readouterr()


def test_convert_writes_keras_weights(tmp_path, capsys, shared_data):
    out = tmp_path / "gesture.weights.h5"
    assert main(["convert", "sew7bnet_csbp_dvsgesture", str(shared_data / CKPT), str(out), "-q"]) == 0
    assert "matches the registry" in capsys.readouterr().out
    model = snnzoo.load("sew7bnet", weights=out, time_steps=2)
    assert float(keras.ops.convert_to_numpy(model.get_layer("sn0").w)) == pytest.approx(-0.02047973871231079)
    assert float(keras.ops.convert_to_numpy(model.get_layer("block7_sn2").w)) == pytest.approx(0.8144997358322144)

    assert main(["convert", "sew7bnet", str(shared_data / CKPT), str(tmp_path / "x.h5")]) == 1
    assert ".weights.h5" in _one_error_line(capsys)
    assert main(["convert", "sew7bnet", str(tmp_path / "missing.pth"), str(out)]) == 1
    assert "not found" in _one_error_line(capsys)
    assert main(["convert", "sew_wide7bnet", str(shared_data / CKPT), str(tmp_path / "w.weights.h5"), "-q"]) == 1
    assert "module sequence" in _one_error_line(capsys)
    assert not (tmp_path / "w.weights.h5").exists()
