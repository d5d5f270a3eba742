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
