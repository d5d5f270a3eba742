"""The public API's shape: ``__all__`` of every sub-package imports; every Keras layer class the
package defines is exported from ``snnzoo.layers`` or from its method's own package
(``snnzoo.chaos``, ``snnzoo.bpsta``, ``snnzoo.ide``, ...); moved names still import from their old
place, with a DeprecationWarning, as the very same object."""
import importlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_WALK = r"""
import importlib, inspect, json, pkgutil
import keras
import snnzoo
packages, layers = {}, []
for info in pkgutil.walk_packages(snnzoo.__path__, "snnzoo."):
    module = importlib.import_module(info.name)
    if info.ispkg:
        packages[info.name] = getattr(module, "__all__", None)
    for attr, obj in vars(module).items():
        if (inspect.isclass(obj) and obj.__module__ == info.name and issubclass(obj, keras.layers.Layer)
                and not issubclass(obj, keras.Model) and not attr.startswith("_")):
            layers.append([info.name, attr])
print(json.dumps({"packages": packages, "layers": layers}))
"""


@pytest.fixture(scope="module")
def walk():
    """Every sub-package's ``__all__`` and every public Layer subclass (keras.Model subclasses,
    i.e. models, excepted), found by importing every module of snnzoo in a fresh interpreter."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", _WALK], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_subpackage_has_all(walk):
    missing = sorted(name for name, names in walk["packages"].items() if names is None)
    assert not missing, f"sub-packages without __all__: {missing}"
    assert importlib.import_module("snnzoo").__all__


def test_every_name_in_all_imports(walk):
    # ``from package import name`` for each listed name (a name may be a sub-module)
    for package in ["snnzoo"] + sorted(walk["packages"]):
        module = importlib.import_module(package)
        for name in module.__all__:
            namespace = {}
            exec(f"from {package} import {name} as value", namespace)
            assert namespace["value"] is not None, f"{package}.__all__ lists {name!r}"


def test_every_layer_is_exported(walk):
    exported = set()
    for package, names in walk["packages"].items():
        if package == "snnzoo.layers" or package.count(".") == 1:  # snnzoo.layers or a method's room
            module = importlib.import_module(package)
            exported.update(id(getattr(module, n, None)) for n in names or ())
    missing = []
    for module_name, cls_name in walk["layers"]:
        cls = getattr(importlib.import_module(module_name), cls_name)
        if id(cls) not in exported:
            missing.append(f"{module_name}.{cls_name}")
    assert len(walk["layers"]) >= 15
    assert not missing, f"layers exported neither from snnzoo.layers nor from their package: {missing}"


def test_layers_exports_the_public_layers():
    import snnzoo.layers as L

    for name in ("IF", "LIF", "PLIF", "TimeFold", "RepeatTime", "MeanOverTime", "TDBatchNorm", "TEBN",
                 "FeedbackEquilibrium", "RateBatchNorm", "NDropout", "VotingLayer", "WarmupSwitch",
                 "SEWConnect"):
        assert name in L.__all__ and getattr(L, name) is not None


def test_models_exports_its_builders():
    import snnzoo.models as M

    for name in ("sew_resnet18", "sew_resnet34", "sew_resnet50", "sew_resnet18_cifar", "sew7bnet",
                 "sew_wide7bnet", "resnet19", "tebn_cnn7", "bpsta_convnet", "fsnn_fc", "fsnn_conv"):
        assert callable(getattr(M, name)) and name in M.__all__
    assert not hasattr(M, "sew_resnet101") and not hasattr(M, "sew_resnet152")


@pytest.mark.parametrize("old_module, name, new_module", [
    ("snnzoo.layers.ann_warmup", "ANNWarmup", "snnzoo.bpsta"),
    ("snnzoo.layers.ann_warmup", "set_ann_mode", "snnzoo.bpsta"),
    ("snnzoo.layers.ann_warmup", "WarmupSwitch", "snnzoo.layers"),
    ("snnzoo.models.sew_blocks", "SEWConnect", "snnzoo.layers"),
    ("snnzoo.models.sew_blocks", "check_connect", "snnzoo.layers.sew_connect"),
    ("snnzoo.models.sew_blocks", "CONNECT_FUNCTIONS", "snnzoo.layers.sew_connect"),
])
def test_moved_names_warn_and_are_the_same_object(old_module, name, new_module):
    old = importlib.import_module(old_module)
    with pytest.warns(DeprecationWarning, match=name):
        value = getattr(old, name)
    assert value is getattr(importlib.import_module(new_module), name)
    with pytest.raises(AttributeError):
        getattr(old, "no_such_name")


def test_sew_blocks_kaiming_fan_out_alias():
    from snnzoo.models import _torch_init, sew_blocks

    with pytest.warns(DeprecationWarning, match="kaiming_normal_fan_out"):
        alias = sew_blocks.kaiming_fan_out
    assert alias is _torch_init.kaiming_normal_fan_out
    init = alias()
    assert (init.scale, init.mode, init.distribution) == (2.0, "fan_out", "untruncated_normal")


def test_new_paths_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        from snnzoo.bpsta import ANNWarmup, NDropout, VotingLayer, WarmupSwitch, set_ann_mode  # noqa: F401
        from snnzoo.layers import SEWConnect  # noqa: F401
        from snnzoo.models import bpsta_convnet, sew_resnet18, tebn_cnn7  # noqa: F401


def test_public_functions_are_not_shadowed_by_their_modules():
    """A package's public function must not share its name with a sub-module: importing that
    sub-module later (any ``from pkg.name import ...``) rebinds ``pkg.name`` to the module, and
    ``snnzoo.profile(...)`` / ``snnzoo.plot.raster(...)`` would stop being callable."""
    import pkgutil
    import types

    import snnzoo

    for package in ("snnzoo.plot", "snnzoo.profiling", "snnzoo.deploy", "snnzoo.nir", "snnzoo.streaming"):
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{package}.{info.name}")
        for name in pkg.__all__:
            assert not isinstance(getattr(pkg, name), types.ModuleType), f"{package}.{name} is a module"
    assert callable(snnzoo.profile) and callable(snnzoo.export)
