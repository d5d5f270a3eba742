"""``decay`` (k = 1 − 1/τ) of the IDE layers is a decay factor in (0, 1]: other values raise
instead of silently becoming an IF neuron. ``leak``, its former name, still works with a
DeprecationWarning (keyword, attribute, saved configs, builders, ``check_leak``)."""
import numpy as np
import pytest
from keras import ops

from snnzoo.ide import FeedbackEquilibrium, RateBatchNorm, check_decay, check_leak
from snnzoo.models import fsnn
from tests.test_ide_helpers import simulate_rate

BAD = [0.0, -0.5, 1.5, float("nan"), float("inf")]


@pytest.mark.parametrize("decay", BAD)
def test_decay_outside_unit_interval_raises(decay):
    with pytest.raises(ValueError, match=r"decay must be a decay factor in \(0, 1\].*got"):
        FeedbackEquilibrium({"kind": "dense", "filters": 4}, time_steps=3, decay=decay)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        RateBatchNorm(3, decay=decay)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        fsnn.fsnn_fc(hidden=8, time_steps=2, decay=decay)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        check_decay(decay)


@pytest.mark.parametrize("leak", BAD)
def test_leak_outside_unit_interval_raises(leak):
    with pytest.warns(DeprecationWarning, match="leak"):
        with pytest.raises(ValueError, match=r"leak must be a decay factor in \(0, 1\].*got"):
            FeedbackEquilibrium({"kind": "dense", "filters": 4}, time_steps=3, leak=leak)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match=r"\(0, 1\]"):
        RateBatchNorm(3, leak=leak)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match=r"\(0, 1\]"):
        fsnn.fsnn_fc(hidden=8, time_steps=2, leak=leak)


@pytest.mark.parametrize("decay", [0.5, 0.95])
def test_valid_decay_is_kept_and_round_trips(decay):
    layer = FeedbackEquilibrium({"kind": "dense", "filters": 4}, time_steps=3, decay=decay)
    assert layer.decay == decay
    assert FeedbackEquilibrium.from_config(layer.get_config()).decay == decay
    assert "leak" not in layer.get_config()


@pytest.mark.parametrize("leak", [0.5, 0.95])
def test_valid_leak_is_kept_and_round_trips(leak):
    with pytest.warns(DeprecationWarning):
        layer = FeedbackEquilibrium({"kind": "dense", "filters": 4}, time_steps=3, leak=leak)
    with pytest.warns(DeprecationWarning):
        assert layer.leak == leak
    assert FeedbackEquilibrium.from_config(layer.get_config()).decay == leak


def test_configs_saved_with_leak_still_load():
    """A config written before the rename (key ``leak``) loads, with a DeprecationWarning."""
    config = FeedbackEquilibrium({"kind": "dense", "filters": 4}, time_steps=3,
                                 decay=0.9).get_config()
    config["leak"] = config.pop("decay")
    for k in ("bn_momentum", "bn_epsilon"):  # keys added later are optional
        config.pop(k)
    with pytest.warns(DeprecationWarning, match="leak"):
        layer = FeedbackEquilibrium.from_config(config)
    assert layer.decay == 0.9 and layer.bn_momentum == 0.9 and layer.bn_epsilon == 1e-5
    rbn = RateBatchNorm(4, decay=0.8).get_config()
    rbn["leak"] = rbn.pop("decay")
    rbn.pop("batch_epsilon")
    with pytest.warns(DeprecationWarning, match="leak"):
        assert RateBatchNorm.from_config(rbn).decay == 0.8
    with pytest.warns(DeprecationWarning):
        model = fsnn.fsnn_fc(hidden=8, time_steps=2, leak=0.9)
    assert model.get_layer("equilibrium").decay == 0.9
    with pytest.raises(TypeError, match="unexpected keyword"):
        fsnn.fsnn_fc(hidden=8, time_steps=2, leek=0.9)


def test_check_leak_is_a_deprecated_alias_of_check_decay():
    with pytest.warns(DeprecationWarning, match="check_decay"):
        assert check_leak(0.9) == check_decay(0.9) == 0.9
    with pytest.warns(DeprecationWarning):
        assert check_leak(1.0) is None


def test_old_module_paths_still_import_with_a_warning():
    import snnzoo.ide
    from snnzoo.ide import solvers, spectral_norm

    with pytest.warns(DeprecationWarning, match="snnzoo.ide"):
        from snnzoo.layers.feedback_equilibrium import FeedbackEquilibrium as Old
    assert Old is snnzoo.ide.FeedbackEquilibrium
    with pytest.warns(DeprecationWarning, match="snnzoo.ide.solvers"):
        from snnzoo.layers.implicit_solvers import solve_adjoint
    assert solve_adjoint is solvers.solve_adjoint
    with pytest.warns(DeprecationWarning, match="snnzoo.ide.spectral_norm"):
        from snnzoo.layers.spectral_norm import spectral_normalize
    assert spectral_normalize is spectral_norm.spectral_normalize


def test_decay_one_is_the_if_neuron():
    """k = 1 is IF exactly: output equals the IF reference loop (spike count / T)."""
    rng = np.random.default_rng(11)
    T = 10
    layer = FeedbackEquilibrium({"kind": "dense", "filters": 6}, time_steps=T, decay=1.0)
    assert layer.decay is None
    x = rng.uniform(-1.0, 4.0, (5, 6)).astype("float32")
    out = ops.convert_to_numpy(layer(x))
    kernel = ops.convert_to_numpy(layer.feedback_kernel()[0])
    ref = simulate_rate(x.astype(np.float64), {"kind": "dense"}, kernel, T, decay=None)
    assert np.abs(out - ref).max() < 1e-5
    np.testing.assert_allclose(out * T, np.round(out * T), atol=1e-4)


def test_saving_does_not_touch_the_deprecated_leak_attribute(tmp_path):
    """Keras' saving walks a layer's attributes: the ``leak`` alias must not warn there."""
    import warnings

    import keras

    model = fsnn.fsnn_nmnist(filters=2, time_steps=2, sensor_size=(10, 10), solver_iterations=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*__array__.*")  # Keras/numpy 2 on torch
        model.save(str(tmp_path / "m.keras"))
        model.save_weights(str(tmp_path / "m.weights.h5"))
    with pytest.warns(DeprecationWarning):
        assert model.get_layer("network_x_bn").leak == 0.95
    with pytest.raises(AttributeError):
        model.get_layer("equilibrium").no_such_attribute
    keras.models.load_model(str(tmp_path / "m.keras"))
