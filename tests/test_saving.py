"""Saving and loading: ``model.save("m.keras")`` then ``keras.saving.load_model`` in a fresh
process that did nothing but ``import snnzoo``.

* every Keras-serializable class the package defines is registered as ``snnzoo>ClassName`` by
  ``import snnzoo`` alone (found by walking every module of the package, not from a list);
* every one of them has a complete ``get_config``: each constructor argument, set to a
  non-default value, survives ``from_config(get_config())`` and Keras' serialize/deserialize;
* every zoo architecture (one per distinct builder + config of the manifests), a compiled model
  with an snnzoo loss, a model with hand-inserted ``ChaosProbe`` layers and a model with
  ``attach_chaos``'ed layers, saved on the current backend, load in a fresh process
  (tests/saving_probe.py) with bit-identical weights and outputs ≤ 1e-6 from the original.

The zoo round trip is marked ``parity``: it runs under torch, TensorFlow and JAX (tests/run.sh).
"""
import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import snnzoo
from tests.saving_probe import forward

REPO = Path(__file__).resolve().parents[1]

# Keras base classes whose subclasses Keras serializes by registered name.
_SERIALIZABLE_BASES = (
    "keras.layers.Layer", "keras.initializers.Initializer", "keras.regularizers.Regularizer",
    "keras.constraints.Constraint", "keras.losses.Loss", "keras.metrics.Metric",
    "keras.callbacks.Callback", "keras.optimizers.Optimizer",
    "keras.optimizers.schedules.LearningRateSchedule", "snnzoo.surrogates.Surrogate",
)
# Abstract bases: no instance is ever serialized (each has a method that must be overridden).
_ABSTRACT = {"snnzoo.layers.neurons.BaseNeuron": "charge", "snnzoo.surrogates.Surrogate": "derivative"}
# Sub-packages imported on use, with their own registration package: the training recipes'
# optimizer and schedule (snnzoo_training>...) are registered when snnzoo.training is imported.
_NOT_ON_IMPORT = ("snnzoo.training",)

_SCAN = r"""
import importlib, inspect, json, pkgutil, sys
import keras
import snnzoo
registered = sorted(keras.saving.get_custom_objects())   # what `import snnzoo` alone registered
on_import = sorted(m for m in sys.modules if m.startswith("snnzoo"))
bases = tuple(eval(b, {"keras": keras, "snnzoo": snnzoo}) for b in json.loads(sys.argv[1]))
found = []
for info in pkgutil.walk_packages(snnzoo.__path__, "snnzoo."):
    module = importlib.import_module(info.name)
    for attr, obj in vars(module).items():
        if inspect.isclass(obj) and obj.__module__ == info.name and issubclass(obj, bases):
            found.append({"qualname": f"{info.name}.{attr}", "module": info.name, "class": attr,
                          "registered_as": keras.saving.get_registered_name(obj)})
print(json.dumps({"registered": registered, "classes": found, "on_import": on_import}))
"""


def _scan():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", _SCAN, json.dumps(_SERIALIZABLE_BASES)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def scan():
    return _scan()


def test_import_snnzoo_registers_every_serializable_class(scan):
    classes = [c for c in scan["classes"] if not c["module"].startswith(_NOT_ON_IMPORT)]
    assert len(classes) >= 30  # the walk found the package's classes (layers, surrogates, ...)
    registered = set(scan["registered"])
    missing = []
    for c in classes:
        if c["qualname"] in _ABSTRACT:
            continue
        if c["registered_as"] != f"snnzoo>{c['class']}" or c["registered_as"] not in registered:
            missing.append(f"{c['qualname']} (registered as {c['registered_as']!r})")
    assert not missing, f"not registered by a plain `import snnzoo`: {missing}"
    # the data loaders and converters (which import optional libraries) stay lazy
    assert not any(m.startswith(("snnzoo.data", "snnzoo.convert", "snnzoo.training"))
                   for m in scan["on_import"]), scan["on_import"]


def test_abstract_exemptions_are_abstract(scan):
    import importlib

    qualnames = {c["qualname"] for c in scan["classes"]}
    for qualname, method in _ABSTRACT.items():
        assert qualname in qualnames
        module, _, name = qualname.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        assert getattr(cls, method) is not None
        with pytest.raises(NotImplementedError):
            getattr(cls, method)(*([None] * len(inspect.signature(getattr(cls, method)).parameters)))


def test_training_classes_register_with_their_subpackage():
    from snnzoo.training import recipes

    for cls in (recipes.EpochSchedule, recipes.CoupledSGD):
        name = keras.saving.get_registered_name(cls)
        assert keras.saving.get_registered_object(name) is cls


# -- get_config completeness ---------------------------------------------------------------------
def _examples():
    """One instance per registered snnzoo class, every constructor argument off its default."""
    from snnzoo import surrogates as s
    from snnzoo.chaos import ChaosAnnealing, ChaosProbe, ChaoticRegularizer
    from snnzoo.layers import IF, LIF, PLIF, TEBN, CubaLIF, MeanOverTime, RepeatTime, TDBatchNorm, TimeFold
    from snnzoo.bpsta import ANNWarmup
    from snnzoo.ide import FeedbackEquilibrium, IDEModule, RateBatchNorm, UnitNormUniform
    from snnzoo.layers import NDropout, SEWConnect, VotingLayer, WarmupSwitch
    from snnzoo.losses import RateMSE, TETLoss
    from snnzoo.nir.graph_layer import NIRGraphLayer

    reg = ChaoticRegularizer(z0=3.0, i0=0.6, form="code", temperature=2.0, clamp=(-5.0, 5.0),
                             reduction="sum", time_axis=2, name="reg")
    reg.z.assign(1.25)  # an annealed z is part of the state
    neuron = dict(v_threshold=0.7, v_reset=None, surrogate=s.Sigmoid(3.0), detach_reset=True,
                  return_membrane=True, name="n")
    return [
        IF(adjust="bpsa+bpta", bpta_alpha=0.3, **neuron),
        LIF(tau=3.0, decay_input=False, **neuron),
        PLIF(init_tau=4.0, decay_input=False, **neuron),
        CubaLIF(tau_syn=3.0, tau_mem=5.0, decay_input=False, adjust="bpta", bpta_alpha=0.4, **neuron),
        TDBatchNorm(alpha=0.5, v_threshold=0.8, momentum=0.8, epsilon=1e-4, name="tdbn"),
        TEBN(time_steps=3, momentum=0.8, epsilon=1e-4, name="tebn"),
        TimeFold(keras.layers.Conv2D(3, 2, name="c"), name="tf"),
        RepeatTime(3, name="rep"),
        MeanOverTime(name="mean"),
        VotingLayer(voters=5, name="vote"),
        NDropout(rate=0.3, seed=7, name="nd"),
        WarmupSwitch(ann_mode=True, name="sw"),
        ANNWarmup(epochs=3),
        FeedbackEquilibrium(
            feedback={"kind": "dense", "filters": 8}, chain=[{"kind": "dense", "filters": 8}],
            time_steps=7, v_threshold=1.5, decay=0.9, solver="fixed_point", solver_iterations=11,
            damping=0.3, dropout=0.1, spectral_norm=False, norm_range=2.0, input_mode="sequence",
            jacobian_at="map", forward_mode="analog", analog_iterations=13, seed=5, bn_momentum=0.8,
            bn_epsilon=1e-4, name="fe"),
        RateBatchNorm(time_steps=4, decay=0.9, momentum=0.8, epsilon=1e-4, batch_epsilon=1e-6, name="rbn"),
        IDEModule({"kind": "conv_transpose", "filters": 3, "kernel_size": 4, "strides": 2, "padding": 1,
                   "output_padding": 1, "use_bias": True, "batch_norm": True}, seed=9, bn_momentum=0.7,
                   bn_epsilon=1e-3, name="module"),
        UnitNormUniform(axis=-2, seed=3),
        s.ATan(alpha=3.0), s.Sigmoid(alpha=5.0), s.Triangle(gamma=0.5), s.Rectangle(alpha=0.5),
        s.PiecewiseQuadratic(alpha=2.0), s.SuperSpike(alpha=3.0), s.FastSigmoid(slope=7.0),
        s.Erf(alpha=3.0),
        reg,
        ChaosProbe(reg, name="probe"),
        ChaosAnnealing(beta=0.99, every="epoch"),
        TETLoss(lamb=0.01, means=0.5, name="tet", reduction="sum", dtype="float64"),
        RateMSE(name="rmse", reduction="sum", dtype="float64"),
        SEWConnect("IAND", name="connect"),
        NIRGraphLayer(
            graph={"nodes": {
                "in": {"type": "Input", "input_shape": [2], "output_shape": [2], "params": {}},
                "lif": {"type": "LIF", "reset": "subtract", "input_shape": [2], "output_shape": [2],
                        "params": {"tau": [2], "r": [2], "v_leak": [2], "v_threshold": [2]}},
                "out": {"type": "Output", "input_shape": [2], "output_shape": [2], "params": {}}},
                "edges": [["in", "lif"], ["lif", "out"]], "inputs": ["in"], "outputs": ["out"]},
            dt=1e-3, surrogate=s.Sigmoid(3.0), strict_threshold=False, record=["lif"], name="nirg"),
    ]


# Deprecated aliases of another argument (converted on construction, never stored).
_ALIASES = {"Rectangle": {"width"}, "SuperSpike": {"beta"}}


def _config(obj):
    return json.loads(json.dumps(obj.get_config(), default=str))


def test_examples_cover_every_registered_class():
    covered = {keras.saving.get_registered_name(type(o)) for o in _examples()}
    covered.add("snnzoo>ZooImageModel")  # round-tripped by the zoo test below
    ours = {k for k in keras.saving.get_custom_objects() if k.startswith("snnzoo>")}
    assert ours == covered, f"without an example: {sorted(ours - covered)}; stale: {sorted(covered - ours)}"


@pytest.mark.parity
def test_every_registered_class_has_a_complete_config():
    for obj in _examples():
        cls = type(obj)
        config = _config(obj)
        args = [name for name, p in inspect.signature(cls.__init__).parameters.items()
                if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        absent = [a for a in args if a not in config and a not in _ALIASES.get(cls.__name__, ())]
        assert not absent, f"{cls.__name__}.get_config() lacks constructor arguments {absent}"
        rebuilt = cls.from_config(obj.get_config())
        assert type(rebuilt) is cls
        assert _config(rebuilt) == config, cls.__name__
        # and through Keras' own serialization (what a .keras file stores)
        again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
        assert type(again) is cls and _config(again) == config, cls.__name__


# -- zoo architectures: save here, load in a fresh process ---------------------------------------
# Small sizes with the real structure (every layer class and block of the architecture): the
# manifests' sizes take ~2 min per backend for the forward passes alone on a 2-core CPU.
SMALL = {
    "alexnet_f": dict(time_steps=3, input_shape=(16, 16, 3)),
    "cifarnet_f": dict(time_steps=3, input_shape=(16, 16, 3)),
    "fsnn_fc": dict(time_steps=3),
    "fsnn_conv": dict(time_steps=3),
    "fsnn_nmnist": dict(time_steps=3),
    "bpsta_convnet": dict(time_steps=3),
    "resnet19": dict(time_steps=2, input_shape=(16, 16, 3)),
    "sew7bnet": dict(time_steps=2),
    "sew_wide7bnet": dict(time_steps=2),
    "sew_resnet18": dict(time_steps=2, input_shape=(32, 32, 3)),
    "sew_resnet34": dict(time_steps=2, input_shape=(32, 32, 3)),
    "sew_resnet50": dict(time_steps=2, input_shape=(32, 32, 3)),
    "sew_resnet18_cifar": dict(time_steps=2, input_shape=(16, 16, 3)),
    "tebn_cnn7": dict(time_steps=2),
}


def zoo_architectures():
    """``[(manifest name, overrides)]``: one entry per distinct builder + config."""
    from snnzoo.zoo import registry

    seen = {}
    for name, entry in sorted(registry.entries().items()):
        arch = entry["architecture"]
        key = (arch["builder"], json.dumps(arch["config"], sort_keys=True))
        if key not in seen:
            seen[key] = (name, SMALL.get(arch["builder"].partition(":")[2], {}))
    return sorted(seen.values())


def _input_for(model, seed):
    shape = (2,) + tuple(model.input_shape[1:])
    x = np.random.RandomState(seed).rand(*shape).astype("float32")
    if len(shape) == 5:  # event frames: spike counts
        x = np.floor(x * 3.0).astype("float32")
    return x


def _activate(model, seed):
    """Seeded weights under which every architecture's neurons spike (the builders' random
    initialisation leaves most of them silent on a few time steps): He-normal kernels, BN
    near the identity with a positive shift. Other weights keep their initial values."""
    rng = np.random.RandomState(seed)
    for v in model.weights:
        shape, path = tuple(v.shape), v.path
        if path.endswith("kernel") and len(shape) >= 2:
            value = rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[:-1])), shape)
        elif path.endswith("gamma"):
            value = rng.uniform(0.8, 1.6, shape)
        elif path.endswith("beta"):
            value = rng.uniform(0.0, 0.5, shape)
        elif path.endswith("moving_mean"):
            value = rng.uniform(-0.1, 0.1, shape)
        elif path.endswith("moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            continue
        v.assign(value.astype(v.dtype))


def _save(model, directory, name, seed):
    _activate(model, seed)
    x = _input_for(model, seed)
    y = forward(model, x)
    model.save(str(directory / f"{name}.keras"))
    np.save(directory / f"{name}.inputs.npy", x)
    np.savez(directory / f"{name}.saved.npz", outputs=y,
             **{f"w:{v.path}": keras.ops.convert_to_numpy(v) for v in model.weights})
    return model


def _chaos_models(directory):
    """A zoo model with attach_chaos'ed neurons, and a functional model with ChaosProbe layers
    inserted by hand (so the probes, and their regularizer's annealed z, are part of the file)."""
    from snnzoo.chaos import ChaosProbe, ChaoticRegularizer, attach_chaos, chaotic_regularizers
    from snnzoo.layers import LIF, BaseNeuron, MeanOverTime, RepeatTime, TimeFold
    from snnzoo.losses import TETLoss

    attached = snnzoo.load("sew_resnet18_cifar", weights=None, time_steps=2, input_shape=(16, 16, 3))
    attach_chaos(attached, BaseNeuron, z0=5.0)
    chaotic_regularizers(attached)[0].z.assign(2.5)
    _save(attached, directory, "chaos_attached", 11)

    reg = ChaoticRegularizer(z0=4.0, form="paper", name="csbp")
    reg.z.assign(3.25)
    inputs = keras.Input((8, 8, 2))
    x = RepeatTime(3)(inputs)
    x = TimeFold(keras.layers.Conv2D(4, 3, padding="same"))(x)
    x = ChaosProbe(reg, name="probe1")(x)
    x = LIF(tau=2.0, name="lif1")(x)
    x = TimeFold(keras.layers.Dense(5))(TimeFold(keras.layers.Flatten())(x))
    x = ChaosProbe(reg, name="probe2")(x)
    outputs = MeanOverTime()(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=TETLoss(lamb=0.05, means=0.75))
    _save(model, directory, "chaos_inserted", 12)


def _load_in_fresh_process(directory):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-m", "tests.saving_probe", str(directory)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"loading in a fresh process failed:\n{proc.stderr[-6000:]}"


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    from snnzoo.losses import RateMSE

    directory = tmp_path_factory.mktemp("saving")
    start = time.perf_counter()
    names = []
    for seed, (name, overrides) in enumerate(zoo_architectures()):
        model = snnzoo.load(name, weights=None, **overrides)
        if name.startswith("bpsta_convnet"):  # trained with RateMSE: a compiled model too
            model.compile(optimizer="sgd", loss=RateMSE(name="rate_mse_loss"))
        _save(model, directory, name, seed)
        names.append(name)
    _chaos_models(directory)
    saved = time.perf_counter()
    _load_in_fresh_process(directory)
    loaded = time.perf_counter()
    print(f"\n[{keras.backend.backend()}] saved {len(names) + 2} models in {saved - start:.1f} s, "
          f"loaded them in a fresh process in {loaded - saved:.1f} s")
    return directory, names


def _results(directory, name):
    saved = dict(np.load(directory / f"{name}.saved.npz"))
    loaded = dict(np.load(directory / f"{name}.loaded.npz"))
    info = json.loads(str(loaded.pop("info")))
    return saved, loaded, info


def _assert_same(directory, name):
    saved, loaded, info = _results(directory, name)
    weights = [k for k in saved if k.startswith("w:")]  # in the models' order
    assert weights, name
    assert [k for k in loaded if k.startswith("w:")] == weights, name
    for k in weights:
        np.testing.assert_array_equal(loaded[k], saved[k], err_msg=f"{name} {k}")
    np.testing.assert_allclose(loaded["outputs"], saved["outputs"], rtol=0, atol=1e-6, err_msg=name)
    return saved, loaded, info


@pytest.mark.parity
def test_every_zoo_architecture_loads_in_a_fresh_process(round_trip):
    directory, names = round_trip
    assert len(names) >= 14  # one per distinct architecture of zoo_weights/
    for name in names:
        saved, _, info = _assert_same(directory, name)
        assert np.isfinite(saved["outputs"]).all(), name
        # the fresh process imported snnzoo and nothing else from the package before loading
        assert not any(m.startswith(("snnzoo.models.", "snnzoo.data")) and m != "snnzoo.models.sew_blocks"
                       for m in info["snnzoo_modules_before_loading"]), info["snnzoo_modules_before_loading"]
        if name.startswith("bpsta_convnet"):
            assert info["loss"] == "snnzoo>RateMSE" and info["loss_config"]["name"] == "rate_mse_loss"


@pytest.mark.parity
def test_outputs_depend_on_the_input_so_equality_means_something(round_trip):
    # Loading the wrong weights, or none, changes the outputs only where the input reaches
    # them: each model's two samples must give different logits.
    directory, names = round_trip
    for name in names + ["chaos_attached", "chaos_inserted"]:
        out = np.load(directory / f"{name}.saved.npz")["outputs"]
        assert np.abs(out[0] - out[1]).max() > 1e-6, f"{name}: the two samples give equal outputs"


@pytest.mark.parity
def test_models_with_chaos_round_trip(round_trip):
    directory, _ = round_trip
    # hand-inserted probes are layers of the model: they, their shared regularizer and its
    # annealed z come back, and so does the compiled TETLoss
    _, _, info = _assert_same(directory, "chaos_inserted")
    assert [p["name"] for p in info["probes"]] == ["probe1", "probe2"]
    for p in info["probes"]:
        assert p["regularizer"] == "snnzoo>ChaoticRegularizer"
        assert p["z"] == 3.25 and p["config"]["z0"] == 4.0 and p["config"]["name"] == "csbp"
    assert info["loss"] == "snnzoo>TETLoss"
    assert (info["loss_config"]["lamb"], info["loss_config"]["means"]) == (0.05, 0.75)
    # attach_chaos wraps layers' calls at run time and is not part of the model: the file holds
    # the plain model (weights and outputs identical), to which attach_chaos is applied again
    saved, loaded, info = _results(directory, "chaos_attached")
    assert info["probes"] == []
    plain = [k for k in saved if k.startswith("w:") and "chaos" not in k]
    assert len(plain) < len([k for k in saved if k.startswith("w:")])  # the probes had weights
    assert [k for k in loaded if k.startswith("w:")] == plain
    for k in plain:
        np.testing.assert_array_equal(loaded[k], saved[k], err_msg=k)
    np.testing.assert_allclose(loaded["outputs"], saved["outputs"], rtol=0, atol=1e-6)
