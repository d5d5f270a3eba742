"""TETLoss and RateMSE against the authors' PyTorch formulas (re-written here in plain torch)."""
import keras
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from snnzoo.losses import RateMSE, TETLoss


def torch_tet_loss(outputs, labels, means, lamb):
    """TET ``TET_loss`` (Deng et al., ICLR 2022, functions.py): outputs [N, T, C], labels [N]."""
    outputs, labels = torch.tensor(outputs, dtype=torch.float64), torch.tensor(labels)
    criterion = torch.nn.CrossEntropyLoss()
    T = outputs.shape[1]
    loss_es = sum(criterion(outputs[:, t], labels) for t in range(T)) / T
    loss_mmd = torch.nn.MSELoss()(outputs, torch.full_like(outputs, means)) if lamb != 0 else 0.0
    return float((1 - lamb) * loss_es + lamb * loss_mmd)


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.fixture
def logits():
    rng = np.random.default_rng(3)
    out = rng.normal(0.0, 2.0, (6, 4, 5)).astype("float32")
    labels = rng.integers(0, 5, 6)
    return out, labels


@pytest.mark.parity
@pytest.mark.parametrize("lamb,means", [(1e-3, 1.0), (0.0, 1.0), (0.3, 0.5), (1.0, 1.0)])
def test_tet_loss_matches_authors_formula(logits, lamb, means):
    out, labels = logits
    expected = torch_tet_loss(out, labels, means, lamb)
    loss = TETLoss(lamb=lamb, means=means)
    for y in (labels, labels[:, None], labels.astype("float32"), np.eye(5, dtype="float32")[labels]):
        assert abs(float(_np(loss(y, out))) - expected) < 1e-5 * max(1.0, expected)


@pytest.mark.parity
def test_tet_loss_gradient_matches_torch(logits):
    out, labels = logits
    t_out = torch.tensor(out, dtype=torch.float64, requires_grad=True)
    T = out.shape[1]
    ce = sum(F.cross_entropy(t_out[:, t], torch.tensor(labels)) for t in range(T)) / T
    (0.9 * ce + 0.1 * F.mse_loss(t_out, torch.ones_like(t_out))).backward()
    expected = t_out.grad.numpy()

    loss = TETLoss(lamb=0.1)
    backend = keras.backend.backend()
    if backend == "torch":
        x = torch.tensor(out, requires_grad=True)
        loss(torch.tensor(labels), x).backward()
        got = x.grad.numpy()
    elif backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(out)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(labels, x)
        got = tape.gradient(value, x).numpy()
    else:
        import jax

        got = np.asarray(jax.grad(lambda v: loss(labels, v))(out))
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_tet_loss_is_not_mean_logit_ce(logits):
    """TET averages the per-step CE, which differs from the CE of the time-averaged logits."""
    out, labels = logits
    mean_ce = float(F.cross_entropy(torch.tensor(out).mean(1), torch.tensor(labels)))
    assert abs(float(_np(TETLoss(lamb=0.0)(labels, out))) - mean_ce) > 1e-3


def test_tet_loss_bad_inputs(logits):
    out, labels = logits
    with pytest.raises(ValueError, match="per_step_logits"):
        TETLoss()(labels, out.mean(1))
    with pytest.raises(ValueError, match="classes"):
        TETLoss()(np.zeros((6, 3), "float32"), out)
    with pytest.raises(ValueError, match="lamb"):
        TETLoss(lamb=2.0)


@pytest.mark.parity
def test_rate_mse_matches_torch_mse():
    rng = np.random.default_rng(4)
    rates = rng.uniform(0, 1, (8, 10)).astype("float32")
    labels = rng.integers(0, 10, 8)
    onehot = np.eye(10, dtype="float32")[labels]
    expected = float(F.mse_loss(torch.tensor(rates, dtype=torch.float64), torch.tensor(onehot, dtype=torch.float64)))
    for y in (labels, labels[:, None], onehot):
        assert abs(float(_np(RateMSE()(y, rates))) - expected) < 1e-6
    # hand check: perfect one-hot prediction -> 0; all-zero rates -> 1/C
    assert float(_np(RateMSE()(labels, onehot))) == 0.0
    assert abs(float(_np(RateMSE()(labels, np.zeros_like(rates)))) - 0.1) < 1e-7
    with pytest.raises(ValueError, match="MeanOverTime"):
        RateMSE()(labels, rates[:, None, :])


def test_losses_serialize():
    for loss in (TETLoss(lamb=0.25, means=0.5), RateMSE()):
        restored = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(restored) is type(loss)
        assert restored.get_config() == loss.get_config()
    assert keras.losses.deserialize(keras.losses.serialize(TETLoss(lamb=0.25))).lamb == 0.25


@pytest.mark.parity
@pytest.mark.parametrize("jit", [False, True])
def test_tet_loss_trains_per_step_model(tmp_path, jit):
    if jit and keras.backend.backend() == "torch":
        pytest.skip("torch.compile takes ~30 s on this CPU; covered by TF/JAX jit")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    frame = rng.normal(size=(64, 1, 6)).astype("float32")
    x = np.repeat(frame, 3, axis=1) + 0.1 * rng.normal(size=(64, 3, 6)).astype("float32")
    y = (frame[:, 0, 0] + frame[:, 0, 1] > 0).astype("int32")
    inp = keras.Input((3, 6))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Dense(16, activation="relu")(inp)))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=TETLoss(), jit_compile=jit)
    hist = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored.loss, TETLoss)
