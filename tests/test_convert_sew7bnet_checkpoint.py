"""The real CSBP SEW 7B-Net checkpoint (DVS128 Gesture) loads offline through ``snnzoo.load`` and
reproduces an independent PyTorch re-implementation of the authors' network.

The reference below is written from the published description (docs/methods.md#facts-sew, #facts-neurons): plain torch
modules, time folded into the batch for conv/BN (``SeqToANNContainer``), a multi-step PLIF loop
``H = V + sigmoid(w)·(X − V)``, ``S = Θ(H − 1)``, ``V = H·(1 − S)`` (reset detached), SEW ADD, and
``out(mean_T(flatten(x)))`` with PyTorch's [N, T, 2, H, W] layout.
"""
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import snnzoo  # noqa: E402
from snnzoo.zoo import registry, weights  # noqa: E402

NAME = "sew7bnet_csbp_dvsgesture"
FILE = "checkpoints/csbp_sew7bnet_dvsgesture/checkpoint_max_test_acc1.pth"


# -- independent reference (plain torch, eval mode) ----------------------------------------------
class TorchPLIF(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.0))

    def forward(self, x_seq):  # [T, N, ...]
        v = torch.zeros_like(x_seq[0])
        k = torch.sigmoid(self.w)
        spikes = []
        for x in x_seq:
            h = v + (x - v) * k  # decay_input, v_reset = 0
            s = (h >= 1.0).to(h)
            v = h * (1.0 - s.detach())
            spikes.append(s)
        return torch.stack(spikes)


class TorchUnit(torch.nn.Module):
    """conv(bias=False) + BN on T·N folded frames, then PLIF."""

    def __init__(self, c_in, c_out, k):
        super().__init__()
        self.conv = torch.nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)
        self.bn = torch.nn.BatchNorm2d(c_out)
        self.sn = TorchPLIF()

    def forward(self, x):
        t, n = x.shape[:2]
        y = self.bn(self.conv(x.flatten(0, 1)))
        return self.sn(y.reshape(t, n, *y.shape[1:]))

    def load(self, sd, conv, bn, w):
        self.conv.weight.data = sd[conv]
        for ours, theirs in (("weight", "weight"), ("bias", "bias"), ("running_mean", "running_mean"),
                             ("running_var", "running_var")):
            getattr(self.bn, ours).data = sd[f"{bn}.{theirs}"]
        self.sn.w.data = sd[w]


class Torch7BNet(torch.nn.Module):
    def __init__(self, sd):
        super().__init__()
        self.stem = TorchUnit(2, 32, 1)
        self.stem.load(sd, "conv0.weight", "bn0", "act0.w")
        self.blocks = torch.nn.ModuleList()
        for i in range(0, 14, 2):
            a, b = TorchUnit(32, 32, 3), TorchUnit(32, 32, 3)
            for unit, j in ((a, 0), (b, 1)):
                p = f"conv.{i}.conv.{j}"
                unit.load(sd, f"{p}.0.0.weight", f"{p}.0.1", f"{p}.1.w")
            self.blocks.append(torch.nn.ModuleList([a, b]))
        self.out = torch.nn.Linear(32, 11)
        self.out.weight.data, self.out.bias.data = sd["out.weight"], sd["out.bias"]

    def forward(self, x):  # x: [N, T, 2, H, W]
        x = x.permute(1, 0, 2, 3, 4)
        spikes = {"sn0": None}
        x = self.stem(x)
        spikes["sn0"] = x
        for b, (a, c) in enumerate(self.blocks, start=1):
            out = a(x)
            spikes[f"block{b}_sn1"] = out
            out = c(out)
            spikes[f"block{b}_sn2"] = out
            x = out + x
            t, n = x.shape[:2]
            x = torch.nn.functional.max_pool2d(x.flatten(0, 1), 2)
            x = x.reshape(t, n, *x.shape[1:])
        x = x.flatten(2)
        return self.out(x.mean(0)), spikes


def _checkpoint_state_dict(path):
    import argparse

    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, map_location="cpu", weights_only=True)["model"]


@pytest.fixture
def float64_policy():
    """Build and run Keras models in float64 (JAX needs x64 switched on for that)."""
    import keras

    jax_x64 = None
    if keras.backend.backend() == "jax":
        import jax

        jax_x64 = jax.config.read("jax_enable_x64")
        jax.config.update("jax_enable_x64", True)
    keras.config.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.config.set_dtype_policy("float32")
        if jax_x64 is not None:
            import jax

            jax.config.update("jax_enable_x64", jax_x64)


@pytest.mark.parity
def test_real_csbp_checkpoint_matches_torch_reference(shared_data, float64_policy):
    """The comparison runs in float64 on both sides. In float32 the two implementations round
    differently (summation order of the convolutions), and at this activity one membrane lands
    within rounding of the threshold: measured on torch, a single flipped spike in block2_sn2
    cascades to hundreds of flips downstream and a 0.2 logit difference. In float64 every spike
    of every layer is identical on all three backends."""
    import keras

    src = shared_data / FILE
    entry = registry.get(NAME)
    cache = weights.checkpoint_cache_path(NAME, entry["weights"])
    cache.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, cache)  # the file a user would place by hand; no network is touched

    keras.config.set_dtype_policy("float32")
    model32 = snnzoo.load(NAME)  # as users get it: converted from the cached checkpoint
    assert model32.input_shape == (None, 16, 128, 128, 2) and model32.output_shape == (None, 11)
    converted = weights.converted_weights_path(NAME, entry["weights"])
    assert converted.is_file()

    cache.unlink()  # the next load needs only the converted cache (still offline)
    keras.config.set_dtype_policy("float64")
    model = snnzoo.load(NAME)
    assert model.get_layer("block1_conv1").layer.kernel.dtype == "float64"
    for a, b in zip(model32.weights, model.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))

    rng = np.random.default_rng(2024)
    # event counts per pixel and frame, bursty like real DVS frames (mean 1.5, heavy tail)
    frames = rng.poisson(rng.gamma(0.5, 3.0, size=(2, 16, 128, 128, 2))).astype("float64")

    names = ["sn0"] + [f"block{b}_sn{k}" for b in range(1, 8) for k in (1, 2)]
    probe = keras.Model(model.inputs, [model.output] + [model.get_layer(n).output for n in names])
    outs = probe.predict(frames, batch_size=2, verbose=0)
    logits, ours = outs[0], dict(zip(names, outs[1:]))

    ref = Torch7BNet(_checkpoint_state_dict(src)).double().eval()
    with torch.no_grad():
        ref_logits, ref_spikes = ref(torch.from_numpy(frames).permute(0, 1, 4, 2, 3))

    for n in names:
        theirs = ref_spikes[n].permute(1, 0, 3, 4, 2).numpy()  # [T,N,C,H,W] -> [N,T,H,W,C]
        assert set(np.unique(ours[n])) <= {0.0, 1.0}
        assert ours[n].sum() == theirs.sum(), n
        assert np.array_equal(ours[n], theirs), n  # same spikes at the same places
        assert 0.005 < theirs.mean() < 0.5, n  # every layer is active, none saturated
    np.testing.assert_allclose(logits, ref_logits.numpy(), atol=1e-4, rtol=0)
    assert np.abs(ref_logits.numpy()).max() > 1.0  # a confident, non-trivial output
