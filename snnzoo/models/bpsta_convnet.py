"""BP-STA ConvNets (Shen et al., "Backpropagation with biologically plausible spatiotemporal
adjustment for training deep spiking neural networks", Patterns 2022; ``ConvNet`` in the
authors' BP-STA code).

Every block is ``conv3x3(bias) → BN → ReLU → node`` (so the membrane input is ≥ 0 and BPSA's 1/u
is safe); the readout is ``Dense(voters·C) → node → VotingLayer(voters)``; the output is the voted
firing rate averaged over T (train it with :class:`snnzoo.losses.RateMSE`). Variants
(``C<n>`` conv block, ``MP``/``AP`` max/avg pool, ``D`` time-shared dropout :class:`NDropout`)::

    nmnist  [B,T,34,34,2]:        C128-MP2-C128-MP2-C256-AP2-C512-AP4-D(.5)-FC(512,10C)
    dvs     [B,T,128,128,2]→64:   C128-C128-MP2-C128-MP2-C256-MP2-C512-AP2-C1024-AP4-D(.5)-FC(1024,10C)
    cifar   [B,32,32,3], direct:  C128-C128-MP2-C128-MP2-C256-MP2-C512-AP4-FC(512,10C)
    mnist   [B,28,28,1], direct:  C128-MP2-C128-MP2-C256-AP7-D(.5)-FC(256,10C)   (a compact repair
                                  of the authors' MNIST/Fashion net, which is broken: 2048 vs 4096
                                  features; note the global pooling leaves only 256 features)
    mnist_fc [B,28,28,1], direct: C128-MP2-C128-C256-AP2-FC(12544,2048)-ReLU-D(.5)-node-FC(2048,10C)
                                  (the authors' MNIST/Fashion net with the minimal repair: the
                                  readout takes the 2048 hidden spikes; ``widths`` has 4 entries,
                                  the last one the hidden width)

Nodes (authors' defaults threshold 0.5, decay λ = 0.9): ``u += x; s = Θ(u − 0.5);`` hard reset to
0 ``; u *= λ`` = ``LIF(tau=tau_from_decay(λ), decay_input=False, v_threshold=0.5, v_reset=0)``
(``IF`` for λ = 1), with ``adjust`` = "bpsa" (DGLIFNode), "bpsa+bpta" (HTGLIFNode), "bpta", or
None (surrogate gradient). With an adjustment the reset is detached (the authors' ``where`` reset);
without, it is not (their SGLIFNode).

Differences from the reference code, by design: BN statistics are pooled over N·T (the reference
normalises every step separately); the DVS input is sub-sampled by an integer factor with
PyTorch's nearest rule (x[f·i]); inputs are channels-last.

``ann_warmup=True`` inserts a :class:`snnzoo.layers.WarmupSwitch` after every node;
train with the :class:`snnzoo.bpsta.ANNWarmup` callback to run the first K epochs as
the ReLU ANN (the authors' ``--warm-up K``).

Layer names: ``conv{i}, bn{i}, relu{i}, sn{i}, sn{i}_warmup, pool{i}``, ``flatten``, (mnist_fc:
``fc_hidden, relu_hidden``), ``dropout``, (mnist_fc: ``sn_hidden, sn_hidden_warmup``), ``fc, fc_sn,
fc_sn_warmup, voting, rate``.
"""
import keras

from snnzoo import surrogates
from snnzoo.layers.ndropout import NDropout
from snnzoo.layers.neurons import IF, LIF, tau_from_decay
from snnzoo.layers.normalization import TDBatchNorm
from snnzoo.layers.time import MeanOverTime, RepeatTime, TimeFold
from snnzoo.layers.voting import VotingLayer
from snnzoo.layers.warmup_switch import WarmupSwitch
from snnzoo.models._checks import check_time_steps
from snnzoo.models._torch_init import conv_kwargs, dense_kwargs

__all__ = ["VARIANTS", "bpsta_convnet", "bpsta_node"]

#: variant -> (input kind, default input shape, blocks [(channels, pool)], dropout before FC?, resize
#: factor, hidden FC width or None)
VARIANTS = {
    "nmnist": ("event_frames", (34, 34, 2),
               ((128, "M2"), (128, "M2"), (256, "A2"), (512, "A4")), True, 1, None),
    "dvs": ("event_frames", (128, 128, 2),
            ((128, None), (128, "M2"), (128, "M2"), (256, "M2"), (512, "A2"), (1024, "A4")), True, 2, None),
    "cifar": ("image", (32, 32, 3),
              ((128, None), (128, "M2"), (128, "M2"), (256, "M2"), (512, "A4")), False, 1, None),
    "mnist": ("image", (28, 28, 1), ((128, "M2"), (128, "M2"), (256, "A7")), True, 1, None),
    "mnist_fc": ("image", (28, 28, 1), ((128, "M2"), (128, None), (256, "A2")), True, 1, 2048),
}
_ALIASES = {"dvsg": "dvs", "dvsc10": "dvs", "cifar10": "cifar", "cifar100": "cifar", "fashion": "mnist",
            "fmnist": "mnist", "fashion_mnist": "mnist"}


def bpsta_node(name, adjust="bpsa+bpta", v_threshold=0.5, decay=0.9, surrogate="atan", detach_reset=None):
    """The BP-STA node as a snnzoo neuron (see the module docstring)."""
    if detach_reset is None:
        detach_reset = adjust is not None
    kwargs = dict(v_threshold=v_threshold, v_reset=0.0, surrogate=surrogate, detach_reset=detach_reset,
                  adjust=adjust, name=name)
    if float(decay) == 1.0:
        return IF(**kwargs)
    return LIF(tau=tau_from_decay(decay), decay_input=False, **kwargs)


def _pool(x, spec, index):
    kind, size = spec[0], int(spec[1:])
    layer = keras.layers.MaxPooling2D(size) if kind == "M" else keras.layers.AveragePooling2D(size)
    return TimeFold(layer, name=f"pool{index}")(x)


def bpsta_convnet(dataset="nmnist", num_classes=10, time_steps=16, adjust="bpsa+bpta", v_threshold=0.5,
                  decay=0.9, surrogate="atan", detach_reset=None, dropout=0.5, voters=10, ann_warmup=False,
                  widths=None, input_shape=None, name=None):
    """Build a BP-STA ConvNet (see the module docstring).

    Args:
      dataset: ``"nmnist"``, ``"dvs"`` (aliases dvsg, dvsc10), ``"cifar"`` (cifar10, cifar100),
        ``"mnist"`` (fashion, fmnist) or ``"mnist_fc"`` (the authors' MNIST/Fashion layout).
      num_classes: C; the readout has ``voters·C`` neurons.
      time_steps: T (event variants: the T of the input frames; image variants: repetitions).
      adjust: ``"bpsa+bpta"`` (default, the paper's method), ``"bpsa"``, ``"bpta"`` or None.
      v_threshold, decay: node threshold and membrane decay λ (λ = 1: IF node).
      surrogate: surrogate gradient where BPSA does not replace it (``adjust`` None or "bpta").
      detach_reset: None = detached iff ``adjust`` is set (the authors' nodes).
      dropout: rate of the time-shared dropout before the readout (variants that have one).
      voters: readout neurons per class.
      ann_warmup: add WarmupSwitch layers (train with the ANNWarmup callback).
      widths: optional channel counts replacing the variant's (same length; for ``mnist_fc`` one
        more entry, the hidden FC width), e.g. for small models.
      input_shape: override the variant's input shape (H, W, C).
    """
    key = _ALIASES.get(dataset, dataset)
    if key not in VARIANTS:
        raise ValueError(f"bpsta_convnet: unknown dataset {dataset!r}; use one of "
                         f"{sorted(VARIANTS) + sorted(_ALIASES)}")
    kind, default_shape, blocks, has_dropout, resize, hidden = VARIANTS[key]
    if widths is not None:
        widths = tuple(int(w) for w in widths)
        needed = len(blocks) + (hidden is not None)
        if len(widths) != needed:
            raise ValueError(f"bpsta_convnet({key!r}): widths needs {needed} entries, got {widths}")
        blocks = tuple((w, pool) for w, (_, pool) in zip(widths, blocks))
        if hidden is not None:
            hidden = widths[-1]
    input_shape = tuple(input_shape or default_shape)
    time_steps = check_time_steps(time_steps, "bpsta_convnet")
    surrogate = surrogates.get(surrogate)
    node_kw = dict(adjust=adjust, v_threshold=v_threshold, decay=decay, surrogate=surrogate,
                   detach_reset=detach_reset)

    def spiking(x, node_name):
        s = bpsta_node(node_name, **node_kw)(x)
        if ann_warmup:
            s = WarmupSwitch(name=node_name + "_warmup")([x, s])
        return s

    if kind == "image":
        inputs = keras.Input(shape=input_shape, name="images")
        x = RepeatTime(time_steps, name="repeat_time")(inputs)
    else:
        inputs = keras.Input(shape=(time_steps,) + input_shape, name="frames")
        x = inputs
        if resize != 1:  # PyTorch nearest down-sampling by an integer factor: x[f*i]
            x = TimeFold(keras.layers.MaxPooling2D(pool_size=1, strides=resize), name="resize")(x)
    in_channels = input_shape[-1]
    n_pool = 0
    for i, (channels, pool) in enumerate(blocks, start=1):
        conv = keras.layers.Conv2D(channels, 3, padding="same", name=f"conv{i}",
                                   **conv_kwargs(in_channels, 3, use_bias=True))
        x = TimeFold(conv, name=f"conv{i}")(x)
        x = TDBatchNorm(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = spiking(x, f"sn{i}")
        if pool:
            n_pool += 1
            x = _pool(x, pool, n_pool)
        in_channels = channels
    x = TimeFold(keras.layers.Flatten(), name="flatten")(x)
    features = x.shape[-1]
    if hidden is not None:  # authors' MNIST/Fashion head: Linear -> ReLU -> NDropout -> node
        x = keras.layers.Dense(hidden, name="fc_hidden", **dense_kwargs(features))(x)
        x = keras.layers.ReLU(name="relu_hidden")(x)
        features = hidden
    if has_dropout and dropout:
        x = NDropout(dropout, name="dropout")(x)
    if hidden is not None:
        x = spiking(x, "sn_hidden")
    x = keras.layers.Dense(int(voters) * int(num_classes), name="fc", **dense_kwargs(features))(x)
    x = spiking(x, "fc_sn")
    x = VotingLayer(voters, name="voting")(x)
    x = MeanOverTime(name="rate")(x)
    return keras.Model(inputs, x, name=name or f"bpsta_convnet_{key}")
