"""The training entry point (snnzoo.training.train: ``snnzoo train``, ``python -m training.train``),
its schedules/optimizer (snnzoo.training.recipes) against PyTorch's, publishing a run into a zoo
folder (snnzoo.training.publish), and the training output (one accuracy unit, history.csv, one line
per epoch off a terminal, no empty run folder after a failure)."""
import hashlib
import json

import h5py
import keras
import numpy as np
import pytest
import torch

from snnzoo.training import recipes
from snnzoo.training.publish import main as publish_main
from snnzoo.training.recipes import CoupledSGD, EpochSchedule
from snnzoo.training.train import main as train_main


# ----------------------------------------------------------------------------- schedules
def _torch_lrs(make_sched, lr, epochs):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_sched(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


@pytest.mark.parity
@pytest.mark.parametrize("kind,kwargs,make", [
    ("multistep", {"milestones": [3, 6, 8], "gamma": 0.1},
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [3, 6, 8], 0.1)),
    ("step", {"step_size": 4, "gamma": 0.5},
     lambda o: torch.optim.lr_scheduler.StepLR(o, 4, 0.5)),
    ("cosine", {"t_max": 10, "eta_min": 0.001},
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10, eta_min=0.001)),
])
def test_epoch_schedules_match_torch(kind, kwargs, make):
    steps = 3
    s = EpochSchedule(0.1, steps, kind=kind, epochs=10, **kwargs)
    ours = np.array([float(keras.ops.convert_to_numpy(s(e * steps + 1))) for e in range(10)])
    np.testing.assert_allclose(ours, _torch_lrs(make, 0.1, 10), rtol=1e-5)


def test_bpsta_warmup_cosine_by_hand():
    s = EpochSchedule(1e-3, 2, kind="warmup_cosine", epochs=20, warmup_epochs=5)
    got = [float(keras.ops.convert_to_numpy(s(2 * e))) for e in range(20)]
    want = [1e-3 / (5 - e) if e < 5 else 1e-3 * 0.5 * (1 + np.cos(np.pi * (e - 5) / 15))
            for e in range(20)]
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parity
def test_coupled_sgd_matches_torch_sgd_weight_decay():
    w0 = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
    grads = [np.array([[0.1, 0.2], [-0.3, 0.4]], np.float32) * (k + 1) for k in range(4)]
    v = keras.Variable(w0)
    opt = CoupledSGD(learning_rate=0.1, momentum=0.9, coupled_weight_decay=5e-4)
    for g in grads:
        opt.apply([keras.ops.convert_to_tensor(g)], [v])
    p = torch.nn.Parameter(torch.tensor(w0))
    topt = torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=5e-4)
    for g in grads:
        p.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(v), p.detach().numpy(), rtol=1e-5, atol=1e-7)


def test_recipes_are_complete():
    for name in ("fsnn_fmnist_ide", "fsnn_mnist_ide", "bpsta_convnet_nmnist", "tebn_cnn7",
                 "resnet19_tet_cifar100", "sew7bnet_dvsgesture", "sew7bnet_csbp_dvsgesture"):
        r = recipes.get(name)
        assert r.epochs > 0 and r.batch_size > 0 and r.time_steps > 0
    assert recipes.get("sew7bnet_csbp_dvsgesture").chaos["z0"] == 15.0
    short = recipes.get("fsnn_fmnist_ide").scaled(10)
    assert short.schedule["milestones"] == [3, 6, 9]
    with pytest.raises(ValueError, match="tiny_fmnist"):
        recipes.get("tiny_fmnis")


# ----------------------------------------------------------------------------- train + publish
def test_train_smoke_resume_and_publish(shared_data, tmp_path, monkeypatch, capsys):
    from snnzoo.data import load_fashion_mnist

    out = tmp_path / "run"
    args = ["tiny_fmnist", "--limit", "64", "--epochs", "1", "--out", str(out), "--seed", "3",
            "--data", str(shared_data), "-q"]
    assert train_main(args) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["recipe"] == "tiny_fmnist" and res["seed"] == 3 and res["epochs_completed"] == 1
    assert res["backend"] == keras.backend.backend()
    assert len(res["history"]) == 1 and {"loss", "accuracy", "test_accuracy"} <= set(res["history"][0])
    hashes = res["data_sha256"]["test"]
    assert hashes["t10k-images-idx3-ubyte.gz"].startswith("346e55b9")
    assert (out / "backup" / "latest.weights.h5").is_file()
    assert json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"] == 1

    # the final accuracy is that of best.weights.h5 on the 64 test samples, recomputed here
    images, labels = load_fashion_mnist("test", data_dir=shared_data)
    idx = (np.arange(64) * 10000) // 64
    model = recipes.tiny_snn(time_steps=2)
    model.load_weights(str(out / "best.weights.h5"))
    pred = np.argmax(keras.ops.convert_to_numpy(model(images[idx].astype("float32") / 255.0)), -1)
    assert res["final"]["test_accuracy"] == pytest.approx(100.0 * np.mean(pred == labels[idx]))
    assert res["final"]["n"] == 64 and set(res["final"]["firing_rates"]) == {"sn1"}

    # same OUT without --resume: one clear error; with --resume: continues at epoch 2
    capsys.readouterr()
    assert train_main(args) == 1
    assert "--resume" in capsys.readouterr().err
    args2 = [a if a != "1" else "2" for a in args] + ["--resume"]
    assert train_main(args2) == 0
    res2 = json.loads((out / "results.json").read_text())
    assert [h["epoch"] for h in res2["history"]] == [1, 2]
    with h5py.File(out / "backup" / "latest.weights.h5") as f:
        iterations = int(np.asarray(f["optimizer"]["vars"]["0"]))
    assert iterations == 2 * 2  # 2 batches of 32 per epoch, the optimizer state was restored

    # publish into a temporary zoo: refused for a --limit run unless allowed
    zoo = tmp_path / "zoo"
    assert publish_main([str(out), "tiny_fmnist", "--zoo-dir", str(zoo)]) == 1
    assert publish_main([str(out), "tiny_fmnist", "--zoo-dir", str(zoo), "--allow-limited"]) == 0
    manifest = json.loads((zoo / "tiny_fmnist.json").read_text())
    assert "converter" not in manifest["architecture"]  # no zoo entry of that architecture
    weights = (zoo / "tiny_fmnist.weights.h5").read_bytes()
    assert manifest["weights"] == {"file": "tiny_fmnist.weights.h5",
                                   "sha256": hashlib.sha256(weights).hexdigest()}
    assert weights == (out / "best.weights.h5").read_bytes()
    acc = manifest["accuracy"]
    assert acc["measured"] == round(res2["final"]["test_accuracy"], 2)
    assert acc["measured_by"]["seed"] == 3 and "--resume" in acc["measured_by"]["command"]
    assert acc["measured_by"]["data_sha256"] == hashes and acc["measured_by"]["date"]

    # the published entry loads through the registry and measures the same accuracy
    monkeypatch.setenv("SNNZOO_ZOO_DIR", str(zoo))
    from snnzoo.evaluate import evaluate

    r = evaluate("tiny_fmnist", data_dir=shared_data, limit=64, progress=False, verbose=False)
    assert r["accuracy"] == pytest.approx(res2["final"]["test_accuracy"])


def test_train_reports_bad_recipe_and_missing_data(tmp_path, capsys):
    assert train_main(["no_such_recipe", "--out", str(tmp_path / "a")]) == 1
    assert "unknown recipe" in capsys.readouterr().err
    assert train_main(["tiny_fmnist", "--limit", "8", "--out", str(tmp_path / "b"),
                       "--data", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train-images-idx3-ubyte.gz" in err[0]


# ----------------------------------------------------------------------------- training output
def test_training_accuracy_metric_is_percent():
    from snnzoo.training.train import _time_mean_accuracy

    y = np.array([0, 1, 2, 1])
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0], [0.0, 0.0, 1.0], [0.5, 0.4, 0.0]],
                      np.float32)  # correct: yes, no, yes, no
    got = keras.ops.convert_to_numpy(_time_mean_accuracy(y, logits))
    np.testing.assert_allclose(got, [100.0, 0.0, 100.0, 0.0])
    # per-step outputs [B, T, C]: averaged over T first (sample 1 wins on the mean only)
    steps = np.stack([logits, logits], 1)
    steps[1, 0] = [0.0, 9.0, 0.0]  # step mean of sample 1: [0, 5, 1.5] -> class 1, correct
    got = keras.ops.convert_to_numpy(_time_mean_accuracy(y, steps))
    np.testing.assert_allclose(got, [100.0, 100.0, 100.0, 0.0])


def test_snnzoo_train_output_units_history_and_one_line_per_epoch(shared_data, tmp_path, capsys):
    import csv

    from snnzoo import cli

    out = tmp_path / "run"
    assert cli.main(["train", "tiny_fmnist", "--limit", "64", "--epochs", "2", "--out", str(out),
                     "--data", str(shared_data)]) == 0
    stdout = capsys.readouterr().out  # captured: not a terminal
    assert "\r" not in stdout and "\b" not in stdout
    epoch_lines = [ln for ln in stdout.splitlines() if " - loss: " in ln]
    assert len(epoch_lines) == 2, stdout  # one line per epoch (Keras verbose=2), no progress bar

    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0])
    assert header[0] == "epoch" and not [k for k in header if k.startswith("val_")]
    assert {"accuracy", "test_accuracy", "loss", "lr"} <= set(header)
    assert all(v not in ("", "NA", None) for r in rows for v in r.values())  # no empty column
    assert [int(r["epoch"]) for r in rows] == [1, 2]

    res = json.loads((out / "results.json").read_text())
    assert res["command"].startswith("snnzoo train tiny_fmnist ")
    for row, hist, line in zip(rows, res["history"], epoch_lines):
        for key in ("accuracy", "test_accuracy"):
            v = float(row[key])
            # percent of 64 samples: a multiple of 100/64 (a fraction would be k/64 <= 1)
            assert v == pytest.approx(hist[key]) and 0.0 <= v <= 100.0
            assert v * 64 / 100 == pytest.approx(round(v * 64 / 100), abs=1e-4)
            logged = float(line.split(f" - {key}: ")[1].split()[0])
            assert logged == pytest.approx(v, abs=1e-4)  # the same number, the same unit
    # the per-epoch test accuracy is in snnzoo.evaluate's unit: the best epoch's equals the final
    # evaluation of best.weights.h5 (percent)
    best = max(float(r["test_accuracy"]) for r in rows)
    assert res["final"]["test_accuracy"] == pytest.approx(best)
    assert any(float(r["accuracy"]) > 1.0 or float(r["test_accuracy"]) > 1.0 for r in rows)


def test_train_without_data_leaves_no_run_folder(tmp_path, monkeypatch, capsys):
    from snnzoo import cli

    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty"
    # default OUT (runs/<recipe>): neither runs/ nor runs/tiny_fmnist stays behind
    assert train_main(["tiny_fmnist", "--limit", "8", "--data", str(empty)]) == 1
    assert not (tmp_path / "runs").exists()
    # snnzoo train, nested OUT; and the IDE recipes' own loop
    for recipe in ("tiny_fmnist", "fsnn_fmnist_ide"):
        assert cli.main(["train", recipe, "--limit", "8", "--data", str(empty),
                         "--out", str(tmp_path / "a" / "b" / recipe)]) == 1
        assert not (tmp_path / "a").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all("train-images-idx3-ubyte.gz" in e for e in err)
    assert err[1].startswith("snnzoo: error: ")
    # an OUT folder that existed before is the user's: kept
    mine = tmp_path / "mine"
    mine.mkdir()
    assert train_main(["tiny_fmnist", "--limit", "8", "--data", str(empty), "--out", str(mine)]) == 1
    assert mine.is_dir()


def test_training_entry_points_from_root_and_elsewhere(tmp_path):
    """``python -m training.train`` from the repository root (the source-checkout contract) and
    ``snnzoo.training`` from another folder reach the same entry point."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    empty, out = tmp_path / "empty", tmp_path / "runs" / "x"
    r = subprocess.run([sys.executable, "-m", "training.train", "tiny_fmnist", "--limit", "8",
                        "--data", str(empty), "--out", str(out)], cwd=root, env=env,
                       capture_output=True, text=True, timeout=300)
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 1 and last.startswith("training.train: error: ") and "idx3" in last
    assert not out.parent.exists()
    code = ("import snnzoo.training.recipes as r, snnzoo.training.train as t; "
            "print(r.get('tiny_fmnist').builder, t.build_parser().prog)")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["snnzoo.training.recipes:tiny_snn", "python", "-m", "training.train"]


def test_csbp_recipe_logs_annealed_chaos_z_per_epoch(shared_data, tmp_path, monkeypatch):
    import csv
    import dataclasses

    tiny = recipes.get("tiny_fmnist")
    csbp = dataclasses.replace(tiny, name="tiny_fmnist_csbp", method="CSBP",
                               chaos={"layers": ["sn1"], "z0": 2.0, "beta": 0.5, "every": "epoch",
                                      "form": "code"})
    monkeypatch.setitem(recipes.RECIPES, "tiny_fmnist_csbp", csbp)
    out = tmp_path / "csbp"
    assert train_main(["tiny_fmnist_csbp", "--limit", "64", "--epochs", "3", "--out", str(out),
                       "--data", str(shared_data), "-q"]) == 0
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # z used during epoch e (1-based) is z0·β^(e−1), annealed once per epoch
    assert [float(r["chaos_z"]) for r in rows] == pytest.approx([2.0, 1.0, 0.5])
    assert all(v != "" for r in rows for v in r.values())


# ----------------------------------------------------------------------------- IDE recipes
def test_ide_recipe_trains_through_the_one_loop(shared_data, tmp_path):
    """The IDE recipes are entries of the one table and run through the one loop: results.json,
    history.csv, backup/, best and final weights; ``--train-time-steps`` trains a shorter
    simulation and evaluates at the recipe's T."""
    recipe = recipes.get("fsnn_fmnist_ide")
    assert recipe.config["decay"] == 0.95 and "leak" not in recipe.config
    assert not hasattr(recipe, "runner")
    out = tmp_path / "ide"
    assert train_main(["fsnn_fmnist_ide", "--limit", "64", "--epochs", "1", "--batch-size", "32",
                       "--train-time-steps", "2", "--out", str(out), "--data", str(shared_data),
                       "-q"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["recipe"] == "fsnn_fmnist_ide" and res["epochs_completed"] == 1
    assert res["args"]["train_time_steps"] == 2 and "--train-time-steps 2" in res["command"]
    assert {"loss", "accuracy", "test_accuracy"} <= set(res["history"][0])
    assert res["final"]["weights"] == "best.weights.h5" and res["final"]["n"] == 64
    for name in ("best.weights.h5", "final.weights.h5", "history.csv", "backup"):
        assert (out / name).exists(), name
    # the saved weights belong to the recipe's evaluation model (T = 5)
    model = recipe.build()
    assert model.get_layer("equilibrium").time_steps == 5
    model.load_weights(str(out / "final.weights.h5"))

    # published, the entry keeps the zoo entry's PyTorch converter (same builder), so that an
    # original checkpoint of the architecture still converts; tiny_fmnist has none to keep
    zoo = tmp_path / "zoo"
    assert publish_main([str(out), "fsnn_fmnist_mine", "--zoo-dir", str(zoo), "--allow-limited"]) == 0
    arch = json.loads((zoo / "fsnn_fmnist_mine.json").read_text())["architecture"]
    assert arch["builder"] == recipe.builder and arch["converter"] == "ide_fsnn"


def test_ide_fsnn_shim_forwards_to_snnzoo_train(monkeypatch, tmp_path, capsys):
    """``python -m training.ide_fsnn`` is a deprecated shim onto ``snnzoo train``."""
    import snnzoo.training.train as one
    from training.ide_fsnn import main as ide_main

    seen = []
    monkeypatch.setattr(one, "main", lambda argv, prog: seen.append((argv, prog)) or 0)
    out = tmp_path / "r"
    with pytest.warns(DeprecationWarning, match="snnzoo train"):
        assert ide_main(["fsnn_mnist_ide", "--epochs", "3", "--out", str(out),
                         "--train-time-steps", "10"]) == 0
    assert seen == [(["fsnn_mnist_ide", "--out", str(out), "--seed", "0", "--epochs", "3",
                      "--train-time-steps", "10"], "snnzoo train")]
    (out / "backup").mkdir(parents=True)  # a run folder: the old loop resumed by itself
    with pytest.warns(DeprecationWarning):
        assert ide_main(["fsnn_mnist_ide", "--out", str(out)]) == 0
    assert seen[-1][0][-1] == "--resume"
    with pytest.warns(DeprecationWarning):
        assert ide_main(["fsnn_mnist_ide", "--lr", "0.1"]) == 1
    assert "--lr no longer exist" in capsys.readouterr().err
