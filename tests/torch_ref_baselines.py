"""Plain-PyTorch re-implementations (written from the papers' / authors' published facts, see
docs/methods.md#facts-csbp, #facts-tet, #facts-bpsta) used as independent references by the baseline tests. Not part of snnzoo.

* :class:`TorchTETResNet19` reproduces the module structure of TET's ``resnet19``, including its
  aliased sub-modules, so ``state_dict()`` has the authors' key layout (``conv1.weight`` and
  ``conv1_s.layer.module.weight``, ``bn1.bn.*`` and ``bn1.seqbn.module.*``, ...).
* :class:`TorchCNN7` — the TEBN 7-layer CNN; :func:`torch_bpsta_convnet` — BP-STA ConvNet layers.
"""
import torch
from torch import nn


def heaviside_spike(surrogate_derivative):
    """Θ(x) forward; backward ``g · surrogate_derivative(x)`` (a torch autograd function)."""

    class _Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x >= 0).to(x.dtype)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * surrogate_derivative(x)

    return _Spike.apply


#: TET "ZIF" (γ = 1): triangle (1/γ²)·max(γ − |x|, 0)
zif_spike = heaviside_spike(lambda x: torch.clamp(1.0 - x.abs(), min=0.0))


class TorchLIF(nn.Module):
    """mem = k·mem + x[:, t]; s = Θ(mem − θ); mem = (1 − s)·mem   on [N, T, ...]."""

    def __init__(self, k=0.5, theta=1.0):
        super().__init__()
        self.k, self.theta = k, theta

    def forward(self, x):
        mem, out = 0.0, []
        for t in range(x.shape[1]):
            mem = mem * self.k + x[:, t]
            s = zif_spike(mem - self.theta)
            mem = (1 - s) * mem
            out.append(s)
        return torch.stack(out, 1)


class Fold(nn.Module):
    """[N, T, ...] → module on [N·T, ...] → [N, T, ...] (attribute ``module`` as in the TET code)."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        y = self.module(x.flatten(0, 1))
        return y.view(x.shape[0], x.shape[1], *y.shape[1:])


class FoldBN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bn = nn.BatchNorm2d(c)
        self.seqbn = Fold(self.bn)  # alias: same BN under two names

    def forward(self, x):
        return self.seqbn(x)


class ConvUnit(nn.Module):
    def __init__(self, layer, bn=None):
        super().__init__()
        self.layer = Fold(layer)
        self.bn = bn

    def forward(self, x):
        x = self.layer(x)
        return self.bn(x) if self.bn is not None else x


class Block(nn.Module):
    def __init__(self, cin, c, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = FoldBN(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = FoldBN(c)
        self.downsample = downsample
        self.conv1_s = ConvUnit(self.conv1, self.bn1)
        self.conv2_s = ConvUnit(self.conv2, self.bn2)
        self.spike = TorchLIF()

    def forward(self, x):
        out = self.conv2_s(self.spike(self.conv1_s(x)))
        return self.spike(out + (self.downsample(x) if self.downsample is not None else x))


class TorchTETResNet19(nn.Module):
    """TET ResNet-19 (stem 64; ``stem=128, ds_layer1=False`` gives the tdBN-paper variant)."""

    def __init__(self, num_classes=100, T=2, stem=64):
        super().__init__()
        self.T = T
        self.conv1 = nn.Conv2d(3, stem, 3, 1, 1, bias=False)
        self.bn1 = FoldBN(stem)
        self.conv1_s = ConvUnit(self.conv1, self.bn1)
        cin = stem
        for i, (n, c, s) in enumerate(((3, 128, 1), (3, 256, 2), (2, 512, 2)), start=1):
            blocks = []
            for j in range(n):
                stride = s if j == 0 else 1
                ds = None
                if stride != 1 or cin != c:
                    ds = ConvUnit(nn.Conv2d(cin, c, 1, stride, bias=False), FoldBN(c))
                blocks.append(Block(cin, c, stride, ds))
                cin = c
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.avgpool = Fold(nn.AdaptiveAvgPool2d(1))
        self.fc1 = nn.Linear(512, 256)
        self.fc1_s = ConvUnit(self.fc1)
        self.fc2 = nn.Linear(256, num_classes)
        self.fc2_s = ConvUnit(self.fc2)
        self.spike = TorchLIF()

    def forward(self, x):  # x: normalised images [N, 3, H, W]; returns per-step logits [N, T, C]
        x = x.unsqueeze(1).repeat(1, self.T, 1, 1, 1)
        x = self.spike(self.conv1_s(x))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(self.avgpool(x), 2)
        return self.fc2_s(self.spike(self.fc1_s(x)))


class TorchTEBN(nn.Module):
    def __init__(self, c, T):
        super().__init__()
        self.bn = nn.BatchNorm3d(c)
        self.p = nn.Parameter(torch.ones(T, 1, 1, 1, 1))

    def forward(self, x):  # [N, T, C, H, W]
        y = self.bn(x.transpose(1, 2)).transpose(1, 2)
        return (y.transpose(0, 1) * self.p).transpose(0, 1)


class TorchCNN7(nn.Module):
    def __init__(self, num_classes=10, T=10):
        super().__init__()
        layers, cin = [], 2
        for c, pool in ((64, True), (128, False), (128, True), (128, True), (256, False), (256, True)):
            layers += [Fold(nn.Conv2d(cin, c, 3, 1, 1)), TorchTEBN(c, T), TorchLIF(k=0.25)]
            if pool:
                layers.append(Fold(nn.AvgPool2d(2)))
            cin = c
        self.features = nn.Sequential(*layers)
        self.fc1 = Fold(nn.Sequential(nn.Dropout(0.25), nn.Linear(256 * 3 * 3, 1024)))
        self.fc2 = Fold(nn.Sequential(nn.Dropout(0.25), nn.Linear(1024, num_classes)))

    def forward(self, x):  # [N, T, 2, 48, 48]
        return self.fc2(self.fc1(torch.flatten(self.features(x), 2)))


def torch_bpsta_convnet(spec, in_channels, features, num_classes=10, voters=10):
    """BP-STA ConvNet parameters as an nn.Sequential of Conv-BN blocks (nodes/pools have none)."""
    mods, cin = [], in_channels
    for c in spec:
        mods += [nn.Conv2d(cin, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
        cin = c
    mods += [nn.Flatten(), nn.Linear(features, voters * num_classes)]
    return nn.Sequential(*mods)


def n_params(module):
    return sum(p.numel() for p in module.parameters())
