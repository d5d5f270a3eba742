"""Torch: the training step under ``torch.compile`` (``jit_compile=True``) takes the same numbers
as the eager step through the paths that behave differently when dynamo traces them — the fused
batch-norm backward (a custom autograd function), the CSBP chaotic loss (whose compiled CPU
kernels step aside inside an outer compile, ``torch.compiler.is_compiling()``) and the neurons'
time loop. One SGD step from the same initial weights, compiled vs eager, must give the same
weights and the same loss; a model without the chaotic loss must give a different loss (so the
loss is really added under compile).

CUDA: the chaotic loss on a CUDA tensor takes the eager multi-tensor path
(``torch_chaos.compiled_chaotic_loss`` declines non-CPU devices); the last test checks it against
the CPU value where a GPU is present (on the lent device machine: ``KERAS_BACKEND=torch python -m
pytest tests/test_torch_compile_paths.py``)."""
import keras
import numpy as np
import pytest

if keras.backend.backend() != "torch":
    pytest.skip("torch.compile / CUDA paths of the torch backend", allow_module_level=True)

import torch  # noqa: E402

from snnzoo.chaos import attach_chaos, detach_chaos  # noqa: E402
from snnzoo.layers import LIF, MeanOverTime, RepeatTime, TDBatchNorm, TimeFold  # noqa: E402


def _model():
    keras.utils.set_random_seed(7)
    inp = keras.Input((6, 6, 2))
    x = RepeatTime(2)(inp)
    x = TimeFold(keras.layers.Conv2D(4, 3, padding="same", use_bias=False))(x)
    x = TDBatchNorm()(x)
    x = LIF(tau=2.0, surrogate="atan", name="lif")(x)
    x = TimeFold(keras.layers.Flatten())(x)
    return keras.Model(inp, keras.layers.Dense(3)(MeanOverTime()(x)))


def _one_step(jit, chaos, z0=0.05):
    model = _model()
    if chaos:
        attach_chaos(model, ["lif"], z0=z0)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
    rng = np.random.RandomState(0)
    x = (rng.rand(8, 6, 6, 2) * 3).astype("float32")
    y = rng.randint(0, 3, 8).astype("int32")
    loss = model.train_on_batch(x, y)
    loss = float(loss[0] if isinstance(loss, (list, tuple)) else loss)
    weights = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]
    if chaos:
        detach_chaos(model)
    return loss, weights


def test_compiled_step_equals_eager_step_with_bn_and_chaotic_loss(monkeypatch):
    from snnzoo.backend import torch as backend_torch

    torch._dynamo.reset()
    batches = []
    fused = backend_torch.chaotic_loss_batch
    with monkeypatch.context() as patch:
        patch.setattr(backend_torch, "chaotic_loss_batch",
                      lambda entries, **kw: batches.append(len(entries)) or fused(entries, **kw))
        eager_loss, eager_w = _one_step(jit=False, chaos=True)
    assert batches == [1], "the eager step did not take the fused chaotic-loss path"
    compiled_loss, compiled_w = _one_step(jit=True, chaos=True)
    plain_loss, _ = _one_step(jit=False, chaos=False)
    assert abs(eager_loss - plain_loss) > 1e-3, "the chaotic loss added nothing"
    np.testing.assert_allclose(compiled_loss, eager_loss, rtol=1e-5)
    for a, b in zip(compiled_w, eager_w):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    torch._dynamo.reset()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (device machine)")
def test_chaotic_loss_cuda_eager_path_equals_cpu():
    from snnzoo.chaos import ChaoticRegularizer

    rng = np.random.RandomState(1)
    x = rng.randn(4, 3, 64, 64, 8).astype("float32")  # large: the CPU takes its compiled kernel
    reg = ChaoticRegularizer(z0=2.0)
    cpu = float(reg(torch.tensor(x)))
    cuda = float(reg(torch.tensor(x, device="cuda")))
    np.testing.assert_allclose(cuda, cpu, rtol=1e-5)


def test_time_loop_and_fast_path_dispatch_trace_without_graph_breaks():
    """The call-time dispatch to the fast paths (and the time-slice check) is traceable: a
    neuron's training call compiles into one graph."""
    lif = LIF(tau=2.0, surrogate="atan")
    lif.build((2, 3, 4))
    x = torch.randn(2, 3, 4)
    explained = torch._dynamo.explain(lambda v: lif(v, training=True))(x)
    assert explained.graph_break_count == 0, explained.break_reasons
    torch._dynamo.reset()
