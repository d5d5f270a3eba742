"""attach_chaos / detach_chaos on Sequential, functional, nested and zoo models."""
import numpy as np
import pytest
import keras
from keras import ops

from snnzoo.chaos import ChaosAnnealing, ChaoticRegularizer, attach_chaos, chaos_probes, detach_chaos
from snnzoo.layers.neurons import LIF, BaseNeuron
from snnzoo.layers.time import MeanOverTime, RepeatTime, TimeFold
from tests.backend_grad import variable_value_and_grads

I0 = 0.65
T = 4


def value_and_grads(loss_fn, variables):
    return variable_value_and_grads(loss_fn, variables, jit=True)


def _functional(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((3,))
    x = RepeatTime(T, name="repeat")(inp)
    x = TimeFold(keras.layers.Dense(6), name="fc1")(x)
    x = LIF(tau=2.0, name="lif1")(x)
    x = TimeFold(keras.layers.Dense(2), name="fc2")(x)
    x = LIF(tau=2.0, name="lif2")(x)
    out = MeanOverTime(name="rate")(x)
    return keras.Model(inp, out)


def _data(n=8):
    rng = np.random.default_rng(5)
    return rng.random((n, 3)).astype("float32") * 3.0, rng.random((n, 2)).astype("float32")


def _loss_with_added(model, x, y, seen=None):
    def loss_fn():
        pred = model(ops.convert_to_tensor(x), training=True)
        loss = ops.mean(ops.square(pred - ops.convert_to_tensor(y)))
        extra = model.losses
        if seen is not None:
            seen.append(len(extra))
        return loss + ops.sum(ops.stack(extra)) if extra else loss
    return loss_fn


def test_unknown_layer_name_lists_the_names():
    model = _functional()
    with pytest.raises(ValueError, match="unknown layer name 'nope'.*lif1.*fc2"):
        attach_chaos(model, ["lif1", "nope"])
    assert not chaos_probes(model)  # nothing half-attached
    with pytest.raises(ValueError, match="on must be"):
        attach_chaos(model, ["lif1"], on="middle")


@pytest.mark.parity
def test_zero_z_and_detach_give_plain_bp_gradients_bit_for_bit():
    x, y = _data()
    model = _functional()
    weights = model.trainable_variables
    loss0, g0 = value_and_grads(_loss_with_added(model, x, y), weights)

    attach_chaos(model, ["lif1", "lif2", "fc1"], z0=0.0)
    assert len(model.trainable_variables) == len(weights)
    seen = []
    loss_z0, g_z0 = value_and_grads(_loss_with_added(model, x, y, seen), weights)
    # torch: the probes of one regularizer report one summed loss per forward pass (fused path)
    assert seen == [1 if keras.backend.backend() == "torch" else 3]
    assert loss_z0 == loss0
    for a, b in zip(g_z0, g0):
        np.testing.assert_array_equal(a, b)

    (reg,) = {id(p.regularizer): p.regularizer for p in chaos_probes(model)}.values()
    reg.z.assign(5.0)
    loss_z5, g_z5 = value_and_grads(_loss_with_added(model, x, y), weights)
    assert loss_z5 > loss0 + 1.0
    assert any(np.abs(a - b).max() > 1e-3 for a, b in zip(g_z5, g0))

    detach_chaos(model)
    assert not chaos_probes(model)
    loss_d, g_d = value_and_grads(_loss_with_added(model, x, y, seen), weights)
    assert seen[1:] == [0]
    assert loss_d == loss0
    for a, b in zip(g_d, g0):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parity
def test_neuron_layers_get_the_loss_on_their_input():
    """lif1's input is fc1's output (the pre-activation): the added loss equals the chaos term of
    that tensor computed by hand; a Dense layer gets it on its output."""
    x, _ = _data(4)
    model = _functional()
    attach_chaos(model, ["lif1"], z0=3.0)
    model(x, training=True)
    (added,) = [float(ops.convert_to_numpy(v)) for v in model.losses]
    kernel, bias = model.get_layer("fc1").get_weights()
    u = x.astype(np.float64) @ kernel + bias  # constant over T: mean over T is u itself
    want = 3.0 * np.mean(np.sum(I0 * np.logaddexp(0, -u) + (1 - I0) * np.logaddexp(0, u), axis=1))
    np.testing.assert_allclose(added, want, rtol=1e-5)
    assert not model(x, training=False) is None and not model.losses  # inference: no chaos loss

    detach_chaos(model)
    attach_chaos(model, ["fc1"], z0=3.0, form="code")  # on="output" for non-neuron layers
    model(x, training=True)
    (added,) = [float(ops.convert_to_numpy(v)) for v in model.losses]
    h = np.clip(u, -10, 9.9) / 10.0
    want = 3.0 * np.mean(I0 * np.logaddexp(0, -h) + (1 - I0) * np.logaddexp(0, h))
    np.testing.assert_allclose(added, want, rtol=1e-5)


@pytest.mark.parity
@pytest.mark.parametrize("jit", [False, True])
def test_fit_sequential_keeps_weights_and_anneals(jit):
    if jit and keras.backend.backend() == "torch":
        pytest.skip("torch.compile traces take ~30 s each on CI CPUs and this test retraces 3 times; "
                    "torch jit with attach_chaos is covered by test_chaos_annealing")
    x, y = _data(16)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((3,)), RepeatTime(T), TimeFold(keras.layers.Dense(5), name="fc1"),
        LIF(name="lif1"), MeanOverTime(), keras.layers.Dense(2, name="head"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", jit_compile=jit)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # compiled before attaching
    before = [(v, ops.convert_to_numpy(v).copy()) for v in model.variables]
    n_vars = len(model.variables)
    attach_chaos(model, ["lif1", "head"], z0=4.0)
    assert all(any(v is w for w in model.variables) for v, _ in before)
    for v, value in before:  # same variables, same values
        np.testing.assert_array_equal(ops.convert_to_numpy(v), value)
    hist = model.fit(x, y, epochs=2, batch_size=8, verbose=0,
                     callbacks=[ChaosAnnealing(beta=0.5, every="batch")]).history
    np.testing.assert_allclose(hist["chaos_z"], [2.0, 0.5])
    assert hist["loss"][0] > hist["chaos_loss"][0] > 0
    detach_chaos(model)
    assert len(model.variables) == n_vars
    hist = model.fit(x, y, epochs=1, batch_size=8, verbose=0).history
    assert hist["loss"][0] < 1.0  # plain mse again


def test_layer_selection_by_path_object_and_class(tmp_path):
    def block(name):
        inner_in = keras.Input((T, 4))
        y = LIF(name="lif")(TimeFold(keras.layers.Dense(4), name="fc")(inner_in))
        return keras.Model(inner_in, y, name=name)

    inp = keras.Input((T, 4))
    out = MeanOverTime()(LIF(name="lif_out")(block("block2")(block("block1")(inp))))
    model = keras.Model(inp, out)
    with pytest.raises(ValueError, match="ambiguous.*block1/lif.*block2/lif"):
        attach_chaos(model, ["lif"])
    attach_chaos(model, ["block2/lif"])
    (probe,) = chaos_probes(model)
    assert probe is getattr(model.get_layer("block2").get_layer("lif"), "__snnzoo_chaos_probe")
    detach_chaos(model)
    attach_chaos(model, [model.get_layer("lif_out")])
    assert len(chaos_probes(model)) == 1
    detach_chaos(model)
    attach_chaos(model, BaseNeuron, regularizer=ChaoticRegularizer(z0=1.0, form="code"))
    probes = chaos_probes(model)
    assert len(probes) == 3 and probes[0].z is probes[1].z is probes[2].z  # one shared z
    with pytest.raises(ValueError, match="already has a chaotic loss"):
        attach_chaos(model, ["block1/lif"])

    # weights saved while chaos is attached load into the plain model
    model.save_weights(tmp_path / "w.weights.h5")
    detach_chaos(model)
    model.load_weights(tmp_path / "w.weights.h5")


def test_zoo_model_all_spiking_layers_one_training_step():
    from snnzoo.models.sew7bnet import sew_dvs_net

    keras.utils.set_random_seed(2)
    model = sew_dvs_net([4, 4], num_classes=3, time_steps=2, input_shape=(8, 8, 2))
    n_neurons = sum(isinstance(layer, BaseNeuron) for layer in model._flatten_layers())
    attach_chaos(model, BaseNeuron, z0=2.0)
    assert len(chaos_probes(model)) == n_neurons >= 5
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = (np.random.default_rng(0).random((4, 2, 8, 8, 2)) < 0.3).astype("float32")
    y = np.array([0, 1, 2, 0])
    hist = model.fit(x, y, epochs=1, batch_size=4, verbose=0, callbacks=[ChaosAnnealing(0.9)]).history
    assert np.isfinite(hist["loss"][0]) and hist["chaos_loss"][0] > 0
    assert hist["chaos_z"] == [2.0]


def test_detach_releases_the_last_training_graph():
    """A detached probe must not keep its last chaotic-loss tensor: on torch that tensor keeps the
    step's autograd graph and, through custom-gradient closures, its activations alive (ResNet-19
    grew by ~500 MB per attach/detach cycle)."""
    model = _functional()
    model.compile(optimizer="sgd", loss="mse")
    x, y = _data()
    attach_chaos(model, BaseNeuron, z0=1.0)
    probes = chaos_probes(model)
    assert probes
    model.train_on_batch(x, y)
    detach_chaos(model)
    assert not chaos_probes(model)
    for probe in probes:
        assert probe.__dict__.get("_chaos_losses") is None
        assert probe.__dict__.get("_chaos_batches") is None


@pytest.mark.parity
def test_a_layer_called_twice_adds_both_chaotic_terms():
    """A shared neuron layer used twice in one forward pass gets the loss of both of its inputs
    (the torch fast path records both calls in one batch), and its statistics count 2 calls."""
    keras.utils.set_random_seed(4)
    inp = keras.Input((T, 3))
    fc_a = TimeFold(keras.layers.Dense(4), name="fc_a")
    fc_b = TimeFold(keras.layers.Dense(4), name="fc_b")
    shared = LIF(tau=2.0, name="shared")
    out = keras.layers.Add()([shared(fc_a(inp)), shared(fc_b(inp))])
    model = keras.Model(inp, MeanOverTime()(out))
    attach_chaos(model, ["shared"], z0=2.5)
    x = np.random.default_rng(7).normal(size=(5, T, 3)).astype("float32")
    model(x, training=True)
    added = sum(float(ops.convert_to_numpy(v)) for v in model.losses)
    want = 0.0
    for name in ("fc_a", "fc_b"):
        kernel, bias = model.get_layer(name).get_weights()
        u = (x.astype(np.float64) @ kernel + bias).mean(axis=1)
        want += 2.5 * np.mean(np.sum(np.logaddexp(0, u) - I0 * u, axis=1))
    np.testing.assert_allclose(added, want, rtol=1e-5)
    (probe,) = chaos_probes(model)
    assert float(ops.convert_to_numpy(probe.loss_count)) == 2.0
    np.testing.assert_allclose(probe.mean_loss(), want / 2.0, rtol=1e-5)


@pytest.mark.parity
def test_attached_model_runs_its_forward_once_per_training_step():
    """The probes are built at creation: an unbuilt sub-layer would make every train_on_batch
    re-run a build pass of the whole model first (twice the forward work)."""
    model = _functional()
    model.compile(optimizer="sgd", loss="mse", jit_compile=False)
    x, y = _data()
    dense = model.get_layer("fc1").layer
    calls = []
    original = dense.call

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    dense.call = counted

    def calls_in_second_step():
        model.train_on_batch(x, y)
        calls.clear()
        model.train_on_batch(x, y)
        return len(calls)

    plain = calls_in_second_step()
    attach_chaos(model, ["lif1", "lif2"], z0=2.0)
    assert all(p.built for p in chaos_probes(model))
    assert calls_in_second_step() == plain  # graph backends: 0 (traced once); torch eager: 1
    if keras.backend.backend() == "torch":
        assert plain == 1


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch compiled CPU path")
def test_neurons_use_the_time_slices_of_the_compiled_loss(monkeypatch, fresh_compiled_layouts):
    """Torch, CPU, large inputs: the loss's compiled kernel hands the spiking layers the time
    slices of their input, so that one pass writes the input gradient. Same loss and weight
    gradients as the eager path (which the neurons unstack themselves)."""
    import snnzoo.backend.loop
    from snnzoo.backend import torch_chaos

    taken = []
    take = snnzoo.backend.loop.take_time_slices
    monkeypatch.setattr(snnzoo.backend.loop, "take_time_slices",
                        lambda inputs, steps: taken.append(take(inputs, steps)) or taken[-1])
    x, y = _data()
    model = _functional()
    results = []
    for threshold in (1, 1 << 40):  # compiled (slices), then eager
        monkeypatch.setattr(torch_chaos, "COMPILE_MIN_ELEMENTS", threshold)
        attach_chaos(model, ["lif1", "lif2"], z0=5.0)
        del taken[:]
        results.append(value_and_grads(_loss_with_added(model, x, y), model.trainable_variables))
        assert sum(t is not None for t in taken) == (2 if threshold == 1 else 0)
        detach_chaos(model)
    (loss_c, grads_c), (loss_e, grads_e) = results
    np.testing.assert_allclose(loss_c, loss_e, rtol=1e-6)
    for a, b in zip(grads_c, grads_e):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


# -- the package layout (issue 16): moved names, deprecated aliases, saved configs ---------------
def test_chaos_package_exports_and_moved_names_warn():
    import snnzoo.chaos
    import snnzoo.chaos.attach
    from snnzoo.chaos import ChaosProbe, ChaosScale, chaos_scale, chaotic_regularizers

    for name in snnzoo.chaos.__all__:
        assert getattr(snnzoo.chaos, name) is not None
    assert ChaosProbe.__module__ == "snnzoo.chaos.probe"
    assert ChaosScale.__module__ == "snnzoo.chaos.scale"
    for name, obj in (("ChaosScale", ChaosScale), ("chaos_scale", chaos_scale),
                      ("chaos_probes", chaos_probes),
                      ("chaotic_regularizers", chaotic_regularizers)):
        with pytest.warns(DeprecationWarning,
                          match=rf"snnzoo.chaos.attach.{name} is deprecated; use snnzoo.chaos.(probe|scale).{name}$"):
            assert getattr(snnzoo.chaos.attach, name) is obj
    with pytest.raises(AttributeError):
        snnzoo.chaos.attach.no_such_name  # noqa: B018


def test_chaos_probe_config_saved_before_the_split_loads():
    """A ChaosProbe serialized when it lived in snnzoo.chaos.attach (its registered name,
    "snnzoo>ChaosProbe", is unchanged) loads as the same layer."""
    from snnzoo.chaos import ChaosProbe

    probe = ChaosProbe(ChaoticRegularizer(z0=2.5), name="p")
    config = keras.saving.serialize_keras_object(probe)
    assert config["registered_name"] == "snnzoo>ChaosProbe"
    config["module"] = "snnzoo.chaos.attach"  # as written before the split
    loaded = keras.saving.deserialize_keras_object(config)
    assert isinstance(loaded, ChaosProbe) and loaded.name == "p"
    assert float(ops.convert_to_numpy(loaded.regularizer.z)) == 2.5


def test_deprecated_torch_methods_of_the_regularizer_warn_and_work():
    reg = ChaoticRegularizer(z0=1.0)
    x = ops.convert_to_tensor(np.zeros((2, 4, 3), "float32"))
    with pytest.warns(DeprecationWarning, match="torch_entry is deprecated"):
        entry = reg.torch_entry(x)
    if keras.backend.backend() != "torch":
        assert entry is None  # no fast path for the chaotic loss
        return
    with pytest.warns(DeprecationWarning, match="torch_batch_loss is deprecated"):
        total, _ = reg.torch_batch_loss([entry])
    np.testing.assert_allclose(float(total), 3 * np.log(2.0), rtol=1e-6)


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="imports torch")
def test_fused_torch_module_alias_is_the_backend_module():
    import importlib
    import sys

    from snnzoo.backend import torch_chaos

    sys.modules.pop("snnzoo.chaos.fused_torch", None)
    with pytest.warns(DeprecationWarning, match="moved to snnzoo.backend.torch_chaos"):
        alias = importlib.import_module("snnzoo.chaos.fused_torch")
    assert alias is torch_chaos
