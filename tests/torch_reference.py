"""Independent plain-PyTorch reference for the neurons and surrogates (test-only).

Written from the published definitions (SpikingJelly's neuron charge/fire/reset equations and
surrogate derivatives, as listed in docs/methods.md#facts-neurons and the papers), not from snnzoo's
code: spike functions are torch.autograd.Functions with hand-written backward formulas, and the
time loop is an explicit Python loop over [B, T, ...].
"""
import math

import torch


def surrogate_grad(name, x, **p):
    """g'(x) for each surrogate, straight from its formula."""
    if name == "atan":
        a = p.get("alpha", 2.0)
        return a / 2 / (1 + (math.pi / 2 * a * x) ** 2)
    if name == "sigmoid":
        a = p.get("alpha", 4.0)
        s = torch.sigmoid(a * x)
        return a * s * (1 - s)
    if name == "triangle":
        g = p.get("gamma", 1.0)
        return (1 / g**2) * torch.clamp(g - x.abs(), min=0)
    if name == "rectangle":  # SpikingJelly Rect: height alpha on |x| < 0.5/alpha
        a = p.get("alpha", 1.0)
        return a * (x.abs() < 0.5 / a).to(x.dtype)
    if name == "piecewisequadratic":
        a = p.get("alpha", 1.0)
        return torch.clamp(-(a**2) * x.abs() + a, min=0)
    if name == "superspike":  # SpikingJelly SuperSpike: alpha / (|x| + 1)^2
        a = p.get("alpha", 1.0)
        return a / (x.abs() + 1) ** 2
    if name == "fastsigmoid":  # Zenke & Ganguli steepness form: 1 / (k|x| + 1)^2
        k = p.get("slope", 1.0)
        return 1 / (k * x.abs() + 1) ** 2
    if name == "erf":
        a = p.get("alpha", 2.0)
        return a / math.sqrt(math.pi) * torch.exp(-((a * x) ** 2))
    raise KeyError(name)


SURROGATES = ["atan", "sigmoid", "triangle", "rectangle", "piecewisequadratic", "superspike", "erf",
              "fastsigmoid"]


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, name, params):
        ctx.save_for_backward(x)
        ctx.name, ctx.params = name, params
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * surrogate_grad(ctx.name, x, **ctx.params), None, None


def spike(x, name, **params):
    return _Spike.apply(x, name, params)


def neuron(x, kind="lif", tau=2.0, w=None, v_th=1.0, v_reset=0.0, surrogate="atan",
           surrogate_params=None, detach_reset=False, decay_input=True):
    """Multi-step neuron over x [B, T, ...]. Returns (spikes [B,T,...], post-reset membrane)."""
    v = torch.zeros_like(x[:, 0]) + (v_reset if v_reset is not None else 0.0)
    vr = 0.0 if v_reset is None else v_reset
    inv_tau = torch.sigmoid(w) if kind == "plif" else 1.0 / tau
    spikes, mems = [], []
    for t in range(x.shape[1]):
        xt = x[:, t]
        if kind == "if":
            h = v + xt
        elif decay_input:
            h = v + (xt - (v - vr)) * inv_tau
        else:
            h = v - (v - vr) * inv_tau + xt
        s = spike(h - v_th, surrogate, **(surrogate_params or {}))
        sr = s.detach() if detach_reset else s
        if v_reset is None:
            v = h - sr * v_th
        else:
            v = (1.0 - sr) * h + sr * v_reset
        spikes.append(s)
        mems.append(v)
    return torch.stack(spikes, 1), torch.stack(mems, 1)
