"""The wheel as users install it: it carries the zoo (every file of ``zoo_weights/``, byte for
byte, as ``snnzoo/zoo_weights/``) and the training code, the installed copy finds both from any
folder, and its metadata declares floors, not pins. (CI's .ci/wheel_check.sh goes further: a
fresh venv with the declared Keras floor, ``snnzoo eval`` and ``snnzoo train`` from outside.)"""
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)]
    # with this environment's setuptools if it is recent enough, else in pip's isolated build env
    r = subprocess.run(cmd + ["--no-build-isolation"], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob("snnzoo-*.whl")
    return whl


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def test_wheel_carries_every_zoo_file_and_the_training_package(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        zoo = sorted(p for p in (ROOT / "zoo_weights").iterdir() if p.is_file())
        assert {p.suffix for p in zoo} <= {".json", ".h5", ".md"}  # what package_data ships
        for p in zoo:
            member = f"snnzoo/zoo_weights/{p.name}"
            assert member in names, f"{member} missing from the wheel"
            assert _sha(z.read(member)) == _sha(p.read_bytes()), member
        for module in ("__init__", "train", "recipes", "publish", "ide_fsnn"):
            assert f"snnzoo/training/{module}.py" in names
        # every sub-package of the source tree is in the wheel; nothing outside snnzoo/ is
        packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "snnzoo").rglob("__init__.py")}
        assert all(f"{pkg}/__init__.py" in names for pkg in packages)
        tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
        assert tops == {"snnzoo"}


def test_installed_wheel_finds_its_zoo_and_training_from_any_folder(wheel, tmp_path):
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        str(site), str(wheel)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    code = ("import json, snnzoo, snnzoo.zoo.registry as reg, snnzoo.training.recipes as rec\n"
            "import snnzoo.training.train as train\n"
            "print(json.dumps({'file': snnzoo.__file__, 'models': sorted(snnzoo.list_models()),\n"
            "  'dirs': [str(d) for d in reg.zoo_dirs()], 'train': train.__file__,\n"
            "  'builder': rec.get('fsnn_fmnist_ide').builder}))")
    env = {k: v for k, v in os.environ.items() if k not in ("SNNZOO_ZOO_DIR", "PYTHONPATH")}
    env.update(PYTHONPATH=str(site), KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "torch"),
               TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert Path(got["file"]).is_relative_to(site)  # the installed copy, not the checkout
    assert got["dirs"] == [str(site / "snnzoo" / "zoo_weights")]
    assert got["models"] == sorted(p.stem for p in (ROOT / "zoo_weights").glob("*.json"))
    # every recipe (the IDE ones included) trains through the installed snnzoo.training.train
    assert Path(got["train"]).is_relative_to(site)  # importable without training/
    assert got["builder"] == "snnzoo.models.fsnn:fsnn_fc"


def test_metadata_declares_floors_not_pins(wheel):
    from importlib.metadata import version

    from packaging.requirements import Requirement
    from packaging.version import Version

    with zipfile.ZipFile(wheel) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(meta_name).decode())
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    assert reqs and not [str(r) for r in reqs if any(s.operator in ("==", "===") for s in r.specifier)]
    by_name = {}
    for r in reqs:
        by_name.setdefault(r.name, []).append(r)
    (keras_req,) = by_name["keras"]
    assert keras_req.marker is None  # a core dependency, with a floor
    floor = Version(next(s.version for s in keras_req.specifier if s.operator == ">="))
    # the floor is not above what this environment runs the suite on
    assert Version(version("keras")) >= floor
    assert {"torch", "tensorflow-cpu", "pillow"} <= set(by_name)
    assert any("and-cuda" in r.extras and "tensorflow-cuda" in str(r.marker)
               for r in by_name["tensorflow"])
    assert meta["License-Expression"] == "Apache-2.0"
