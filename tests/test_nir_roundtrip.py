"""Round trip ``to_nir -> nir.write -> nir.read -> from_nir``: the imported model gives the spikes
(and, through the readout recorded in the graph's metadata, the logits) of the exported model,
for small models of every exported layer kind and every NIR-exportable zoo architecture.

The comparison allows rare threshold ties (float rounding of folded batch norms summed in another
order, at most 0.2 % of the spike entries); outputs after a time-average readout are compared with
a tolerance that one flipped spike would exceed.
"""
import numpy as np
import pytest

nir = pytest.importorskip("nir")

import keras  # noqa: E402

from snnzoo.layers import IF, LIF, PLIF, MeanOverTime, RepeatTime, SEWConnect, TimeFold  # noqa: E402
from snnzoo.nir import from_nir, to_nir  # noqa: E402

from tests.nir_models import T, conv_net, random_input as _input, scale_weights as _scale_weights  # noqa: E402


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _run(model, x):
    """One compiled call (on JAX much faster than an eager first call of a deep model)."""
    return np.asarray(model.predict(x, batch_size=len(x), verbose=0))


def _roundtrip(graph, tmp_path):
    path = tmp_path / "model.nir"
    nir.write(path, graph)
    return from_nir(path, dt=float(graph.metadata["snnzoo"]["dt"]))


def _graph_input(graph, x):
    """The model input as the graph's per-step input (repeated, normalised outside, channels last)."""
    meta = graph.metadata["snnzoo"]
    x = np.asarray(x, np.float32)
    if int(meta["input"]["repeat"]):
        x = np.repeat(x[:, None], int(meta["time_steps"]), axis=1)
    norm = meta["input"].get("normalization")
    if norm is not None:
        x = (x * np.asarray(norm["scale"]) + np.asarray(norm["offset"])).astype(np.float32)
    return x


def _readout(graph, y):
    r = graph.metadata["snnzoo"]["readout"]
    if r["kind"] == "mean":
        return y.mean(1)
    if r["kind"] == "weighted_mean":
        return np.tensordot(np.asarray(r["weights"]), np.moveaxis(y, 1, 0), axes=1)
    return y


def _check(model, x, tmp_path, **options):
    ref = _run(model, x)
    graph = to_nir(model, **options)
    imported = _roundtrip(graph, tmp_path)
    y = _run(imported, _graph_input(graph, x))
    got = _readout(graph, y)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    if graph.metadata["snnzoo"]["readout"]["kind"] == "none":
        assert set(np.unique(got)) <= {0.0, 1.0}
        assert np.mean(got != ref) <= 0.002, f"{np.mean(got != ref):.4f} of the spikes differ"
        assert 0.02 < ref.mean() < 0.98, f"degenerate test: firing rate {ref.mean():.3f}"
    else:
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    return graph


# ---------------------------------------------------------------------------------------------
# small models of each layer kind
def _conv_net(neuron, bn=False):
    model = conv_net(neuron, bn=bn)
    if bn:
        rng = np.random.default_rng(3)
        model.get_layer("bn").set_weights([rng.uniform(0.5, 2, 4), rng.normal(0, 0.5, 4),
                                           rng.normal(0, 0.5, 4), rng.uniform(0.5, 2, 4)])
    return model


def _sew_net(neuron):
    inp = keras.Input((T, 6, 6, 2))
    x = neuron("sn0")(TimeFold(keras.layers.Conv2D(3, 3, padding="same"), name="stem")(inp))
    y = neuron("sn1")(TimeFold(keras.layers.Conv2D(3, 3, padding="same"), name="conv1")(x))
    x = SEWConnect("ADD", name="connect")([y, x])
    x = TimeFold(keras.layers.Flatten(), name="flatten")(x)
    x = neuron("sn2")(keras.layers.Dense(5, name="fc")(x))
    model = keras.Model(inp, x)
    _scale_weights(model, 3.0)
    return model


KINDS = {
    "if_bn": (lambda: _conv_net(lambda n: IF(name=n), bn=True), {}),
    "lif_decay_input": (lambda: _conv_net(lambda n: LIF(tau=2.0, name=n)), {}),
    "lif_no_decay_input_sum_pool": (lambda: _conv_net(lambda n: LIF(tau=2.0, decay_input=False, name=n)),
                                    {"pooling": "sum"}),
    "plif": (lambda: _conv_net(lambda n: PLIF(init_tau=3.0, name=n)), {}),
    "subtract_reset": (lambda: _conv_net(lambda n: LIF(tau=2.0, v_reset=None, name=n)), {"subtract_reset": True}),
    "sew_add": (lambda: _sew_net(lambda n: IF(name=n)), {}),
}


@pytest.mark.parity
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_roundtrip_layer_kinds(kind, tmp_path):
    build, options = KINDS[kind]
    model = build()
    x = _input((2, T) + tuple(model.inputs[0].shape[2:]))
    _check(model, x, tmp_path, **options)


@pytest.mark.parity
def test_roundtrip_conv1d_static_stem_and_time_mean(tmp_path):
    inp = keras.Input((9, 2))
    x = keras.layers.Conv1D(3, 3, padding="same", name="conv")(keras.layers.Rescaling(2.0, name="scale")(inp))
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = IF(name="sn")(RepeatTime(T, name="repeat")(x))
    x = TimeFold(keras.layers.Flatten(), name="flatten")(x)
    x = keras.layers.Dense(3, name="head")(MeanOverTime(name="mean")(x))
    model = keras.Model(inp, x)
    _scale_weights(model, 2.0)
    _check(model, _input((3, 9, 2)), tmp_path, per_step_readout=True)


# ---------------------------------------------------------------------------------------------
# the NIR-exportable zoo architectures (random weights, small inputs)
ZOO = {  # one entry per exportable (builder, config) of the registry
    "fsnn_fmnist_ide": dict(input_shape=(6, 6, 1), time_steps=3, hidden=16),
    "fsnn_mnist_ide": dict(input_shape=(8, 8, 1), time_steps=3, filters=4),
    "fsnn_nmnist_ide": dict(sensor_size=(8, 8), time_steps=3, filters=3),
    "resnet19": dict(input_shape=(8, 8, 3), time_steps=2, num_classes=5),
    "resnet19_tdbn": dict(input_shape=(8, 8, 3), time_steps=2, num_classes=5),
    "sew_resnet18_cifar": dict(input_shape=(8, 8, 3), time_steps=2, num_classes=5),
}


def test_zoo_list_covers_every_exportable_architecture():
    import snnzoo
    from snnzoo.nir.export import nir_exportability
    from snnzoo.zoo import registry

    configs = {}
    for name, entry in registry.entries().items():
        arch = entry["architecture"]
        configs.setdefault((arch["builder"], repr(sorted(arch.get("config", {}).items()))), name)
    covered = {(registry.entries()[n]["architecture"]["builder"],
                repr(sorted(registry.entries()[n]["architecture"].get("config", {}).items()))) for n in ZOO}
    for key, name in configs.items():
        if key in covered:
            continue
        builder = key[0].split(":")[1]
        small = dict(time_steps=1)
        if builder in ("sew7bnet", "sew_wide7bnet"):
            small["input_shape"] = (128, 128, 2)
        elif builder == "bpsta_convnet":
            small = dict(time_steps=1, widths=(4, 4, 4, 4))
        elif builder in ("alexnet_f", "cifarnet_f"):
            small["input_shape"] = (8, 8, 3)
        elif builder.startswith("sew_resnet"):
            small["input_shape"] = (32, 32, 3)
        elif builder == "tebn_cnn7":
            small["input_shape"] = (16, 16, 2)
        ok, reason = nir_exportability(snnzoo.load(name, weights=None, **small))
        assert not ok, f"{name} is exportable: add it to ZOO ({reason})"


@pytest.mark.parity  # issue 17: exact on all three backends for every exportable zoo architecture
@pytest.mark.parametrize("name", sorted(ZOO))
def test_roundtrip_zoo(name, tmp_path):
    import snnzoo

    keras.utils.set_random_seed(0)
    model = snnzoo.load(name, weights=None, **ZOO[name])
    shape = tuple(model.inputs[0].shape[1:])
    x = _input((2,) + shape, scale=1.0)
    _check(model, x, tmp_path, subtract_reset=True, per_step_readout=True, input_normalization="outside")


def test_roundtrip_trained_fsnn_fmnist_ide(tmp_path):
    """The shipped, trained IDE model (the docs' deployment example): same logits from the file."""
    import snnzoo

    model = snnzoo.load("fsnn_fmnist_ide")
    x = _input((4, 28, 28, 1), seed=5, scale=1.0)
    graph = _check(model, x, tmp_path, subtract_reset=True, per_step_readout=True,
                   input_normalization="outside")
    assert ("equilibrium.feedback", "equilibrium.layer0") in graph.edges
