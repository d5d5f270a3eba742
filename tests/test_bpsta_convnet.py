"""``bpsta_convnet("mnist_fc")`` — the BP-STA authors' MNIST/Fashion ConvNet (Shen et al., Patterns
2022, ``ConvNet`` in ``code/networks.py``) with its minimal repair — against a plain-torch
re-implementation of the authors' forward loop (docs/methods.md#facts-bpsta)::

    per step t:  conv3x3(1→c1)-BN-ReLU-node-MaxPool2 - conv(c1→c2)-BN-ReLU-node
                 - conv(c2→c3)-BN-ReLU-node-AvgPool2 - Flatten(C,H,W) - Linear(49·c3→h)-ReLU
                 - NDropout - node - Linear(h→10·C) - node - AvgPool1d(10)
    output = Σ_t out_t / T

Nodes: ``HTGLIFNode`` (BPSA+BPTA), ``DGLIFNode`` (BPSA) and ``SGLIFNode`` (rectangular surrogate,
the authors' baseline), threshold 0.5, decay 0.9, re-written from the formulas in
docs/methods.md#facts-bpsta.
"""
import keras
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from snnzoo.models.bpsta_convnet import bpsta_convnet

TH, DECAY = 0.5, 0.9
WIDTHS = (3, 4, 5, 8)  # conv c1, c2, c3, hidden h
T, B, C, V = 3, 4, 10, 10


# ------------------------------------------------------------------ authors' nodes in plain torch
def _ht_glif(mem, x, bpta=True):
    """HTGLIFNode (bpta=True) / DGLIFNode (bpta=False): returns (spike, new mem)."""
    mem = x if mem is None else mem + x
    spike = torch.where(mem < TH, torch.zeros_like(mem), mem) / (mem.detach() + 1e-12)
    new = torch.where(mem >= TH, torch.zeros_like(mem), mem)
    if bpta:
        new = new + 0.2 * spike - 0.2 * spike.detach()
    return spike, new * DECAY


class _Rect(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mem):
        ctx.save_for_backward(mem)
        return (mem > TH).to(mem.dtype)

    @staticmethod
    def backward(ctx, g):
        (mem,) = ctx.saved_tensors
        return g * ((mem - TH).abs() < 0.5).to(g.dtype)


def _sg_glif(mem, x):
    """SGLIFNode: spike = Θ(mem − θ) with a rectangular surrogate; mem ← λ·mem·(1 − spike)."""
    mem = x if mem is None else mem + x
    spike = _Rect.apply(mem)
    return spike, mem * DECAY * (1.0 - spike)


NODES = {"bpsa+bpta": lambda m, x: _ht_glif(m, x, True), "bpsa": lambda m, x: _ht_glif(m, x, False),
         None: _sg_glif}


def _torch_forward(p, images, adjust):
    """The authors' ConvNet forward (eval mode) on NHWC numpy/torch images; ``p``: torch params."""
    node = NODES[adjust]
    x = images.permute(0, 3, 1, 2)
    mems, outs = [None] * 5, []
    for _ in range(T):
        h = x
        for i, pool in enumerate(("max", None, "avg")):
            h = F.conv2d(h, p[f"w{i}"], p[f"b{i}"], padding=1)
            h = F.relu(F.batch_norm(h, p[f"rm{i}"], p[f"rv{i}"], p[f"g{i}"], p[f"be{i}"], False, 0.0, 1e-5))
            h, mems[i] = node(mems[i], h)
            h = F.max_pool2d(h, 2) if pool == "max" else F.avg_pool2d(h, 2) if pool == "avg" else h
        h = F.relu(F.linear(torch.flatten(h, 1), p["wh"], p["bh"]))  # NDropout: identity in eval
        h, mems[3] = node(mems[3], h)
        h, mems[4] = node(mems[4], F.linear(h, p["wo"], p["bo"]))
        outs.append(F.avg_pool1d(h.unsqueeze(1), V).squeeze(1))
    return sum(outs) / T


def _params(seed):
    g = torch.Generator().manual_seed(seed)

    def u(*shape, lo=-1.0, hi=1.0):
        return (torch.rand(*shape, generator=g) * (hi - lo) + lo).requires_grad_(False)

    p, cin = {}, 1
    for i, c in enumerate(WIDTHS[:3]):
        p.update({f"w{i}": u(c, cin, 3, 3, lo=-0.6, hi=0.6), f"b{i}": u(c, lo=-0.1, hi=0.1),
                  f"rm{i}": u(c, lo=-0.2, hi=0.2), f"rv{i}": u(c, lo=0.5, hi=1.5),
                  f"g{i}": u(c, lo=0.8, hi=1.6), f"be{i}": u(c, lo=0.0, hi=0.4)})
        cin = c
    p.update({"wh": u(WIDTHS[3], 49 * WIDTHS[2], lo=-0.12, hi=0.13), "bh": u(WIDTHS[3], lo=0.0, hi=0.2),
              "wo": u(C * V, WIDTHS[3], lo=-0.5, hi=0.9), "bo": u(C * V, lo=0.0, hi=0.2)})
    return {k: v.requires_grad_(not k.startswith(("rm", "rv"))) for k, v in p.items()}


def _copy(p, model):
    for i in range(3):
        conv = model.get_layer(f"conv{i + 1}").layer
        conv.kernel.assign(p[f"w{i}"].detach().numpy().transpose(2, 3, 1, 0))
        conv.bias.assign(p[f"b{i}"].detach().numpy())
        bn = model.get_layer(f"bn{i + 1}")
        for var, key in ((bn.gamma, "g"), (bn.beta, "be"), (bn.moving_mean, "rm"), (bn.moving_variance, "rv")):
            var.assign(p[f"{key}{i}"].detach().numpy())
    # torch flattens (C, H, W), Keras (H, W, C): permute the rows of the hidden kernel
    wh = p["wh"].detach().numpy().reshape(WIDTHS[3], WIDTHS[2], 7, 7).transpose(2, 3, 1, 0)
    model.get_layer("fc_hidden").kernel.assign(wh.reshape(-1, WIDTHS[3]))
    model.get_layer("fc_hidden").bias.assign(p["bh"].detach().numpy())
    model.get_layer("fc").kernel.assign(p["wo"].detach().numpy().T)
    model.get_layer("fc").bias.assign(p["bo"].detach().numpy())


def _images(seed=0):
    return np.random.default_rng(seed).random((B, 28, 28, 1)).astype("float32")


# ---------------------------------------------------------------------------------------- tests
def test_mnist_fc_parameter_count_and_layout():
    """Full size: the authors' layers with Linear(7·7·256, 2048) and the repaired Linear(2048, 100)."""
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(1, 128, 3, padding=1), torch.nn.BatchNorm2d(128),
        torch.nn.Conv2d(128, 128, 3, padding=1), torch.nn.BatchNorm2d(128),
        torch.nn.Conv2d(128, 256, 3, padding=1), torch.nn.BatchNorm2d(256),
        torch.nn.Linear(7 * 7 * 256, 2048), torch.nn.Linear(2048, 100))
    model = bpsta_convnet("mnist_fc", time_steps=2)
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert trainable == sum(q.numel() for q in ref.parameters()) == 26_342_116
    names = [layer.name for layer in model.layers]
    head = names[names.index("flatten"):]
    assert head == ["flatten", "fc_hidden", "relu_hidden", "dropout", "sn_hidden", "fc", "fc_sn", "voting", "rate"]
    assert model.get_layer("flatten").output.shape[-1] == 7 * 7 * 256
    assert model.get_layer("sn_hidden").adjust == "bpsa+bpta" and model.get_layer("sn_hidden").v_threshold == 0.5
    small = bpsta_convnet("mnist_fc", widths=WIDTHS, time_steps=2, ann_warmup=True)
    assert small.get_layer("fc_hidden").units == WIDTHS[3] and "sn_hidden_warmup" in [l.name for l in small.layers]
    with pytest.raises(ValueError, match="widths needs 4 entries"):
        bpsta_convnet("mnist_fc", widths=(8, 8, 16))


@pytest.mark.parity
@pytest.mark.parametrize("adjust", [None, "bpsa+bpta"])
def test_mnist_fc_forward_matches_authors_loop(adjust):
    p = _params(1)
    x = _images()
    with torch.no_grad():
        expected = _torch_forward(p, torch.tensor(x), adjust).numpy()
    kw = {"surrogate": "rectangle"} if adjust is None else {}
    model = bpsta_convnet("mnist_fc", widths=WIDTHS, time_steps=T, adjust=adjust, **kw)
    _copy(p, model)
    got = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))
    assert 0.05 < expected.mean() < 0.95 and expected.std() > 0.05  # readout neither silent nor saturated
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("adjust", [None, "bpsa", "bpsa+bpta"])
def test_mnist_fc_gradients_match_authors_loop(adjust):
    """Whole-model gradients (eval mode, torch backend) of Σ w·output w.r.t. every weight."""
    if keras.backend.backend() != "torch":
        pytest.skip("gradients through Keras layers are taken with torch autograd")
    p = _params(1)
    x = _images()
    w = torch.tensor(np.random.default_rng(3).normal(size=(B, C)).astype("float32"))
    (_torch_forward(p, torch.tensor(x), adjust) * w).sum().backward()
    kw = {"surrogate": "rectangle"} if adjust is None else {}
    model = bpsta_convnet("mnist_fc", widths=WIDTHS, time_steps=T, adjust=adjust, **kw)
    _copy(p, model)
    (model(torch.tensor(x), training=False) * w).sum().backward()
    pairs = [(model.get_layer("conv1").layer.kernel, p["w0"].grad.numpy().transpose(2, 3, 1, 0)),
             (model.get_layer("conv3").layer.bias, p["b2"].grad.numpy()),
             (model.get_layer("bn2").gamma, p["g1"].grad.numpy()),
             (model.get_layer("fc_hidden").kernel,
              p["wh"].grad.numpy().reshape(WIDTHS[3], WIDTHS[2], 7, 7).transpose(2, 3, 1, 0).reshape(-1, WIDTHS[3])),
             (model.get_layer("fc").kernel, p["wo"].grad.numpy().T)]
    for var, ref in pairs:
        got = var.value.grad.detach().cpu().numpy()
        assert np.abs(ref).max() > 1e-4, var.path  # a gradient reaches this layer
        np.testing.assert_allclose(got, ref, rtol=2e-4, atol=2e-5 * np.abs(ref).max(), err_msg=var.path)
