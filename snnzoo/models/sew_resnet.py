"""SEW ResNet-18/34/50 (101/152 through :func:`sew_resnet`) for static images (Fang et al., "Deep
Residual Learning in Spiking Neural Networks", NeurIPS 2021; layout of the authors'
``imagenet/sew_resnet.py``).

Forward (T time steps, direct encoding)::

    x  = (image − mean) / std                               # raw [0, 1] image in, normalised inside
    x  = BN(conv7x7/2(x))                                    # ONCE on the static image
    x  = IF(repeat_T(x)) ; x = maxpool3/2(x)                 # then every layer runs over [B, T, ...]
    layer1..4: blocks with the spiking neuron BEFORE the connection
        BasicBlock:  out = SN(BN(conv3x3(SN(BN(conv3x3/s(x))))))
        Bottleneck:  out = SN(BN(conv1x1(SN(BN(conv3x3/s(SN(BN(conv1x1(x)))))))))
        identity = SN(BN(conv1x1/s(x))) if the shape changes else x
        y = g(out, identity), g ∈ {ADD, AND, IAND}          (see snnzoo.layers.SEWConnect)
    logits = fc(mean_T(global_avg_pool(x)))

Strided convolutions use PyTorch's symmetric padding (explicit zero padding, then "valid"), so
checkpoints of the original code reproduce exactly. Layer names mirror the original module paths
(``layer2_0_conv1``, ``layer2_0_downsample_bn``, ``fc``) for the converter in
:mod:`snnzoo.convert.sew_resnet`. The parameter count equals torchvision's ANN ResNet (neurons have none).
"""
import keras

from snnzoo.layers.sew_connect import SEWConnect, check_connect
from snnzoo.layers.time import MeanOverTime, RepeatTime, TimeFold
from snnzoo.models._checks import check_time_steps
from snnzoo.models._stem import normalize_input
from snnzoo.models._torch_init import kaiming_normal_fan_out
from snnzoo.models.sew_blocks import batch_norm, conv, if_neuron, pad

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "IMAGENET_MEAN", "IMAGENET_STD", "sew_resnet",
           "sew_resnet18", "sew_resnet18_cifar", "sew_resnet34", "sew_resnet50"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

_DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
_EXPANSION = {"basic": 1, "bottleneck": 4}


def _conv_bn_sn(x, filters, kernel_size, stride, prefix, index):
    name = f"{prefix}_conv{index}"
    if stride != 1 and kernel_size > 1:
        x = pad(kernel_size // 2, f"{name}_pad")(x)
        x = conv(filters, kernel_size, name, strides=stride, padding="valid")(x)
    else:
        x = conv(filters, kernel_size, name, strides=stride, padding="same" if stride == 1 else "valid")(x)
    x = batch_norm(f"{prefix}_bn{index}")(x)
    return if_neuron(f"{prefix}_sn{index}")(x)


def _block(x, kind, planes, stride, downsample, connect_f, prefix):
    if kind == "basic":
        out = _conv_bn_sn(x, planes, 3, stride, prefix, 1)
        out = _conv_bn_sn(out, planes, 3, 1, prefix, 2)
    else:
        out = _conv_bn_sn(x, planes, 1, 1, prefix, 1)
        out = _conv_bn_sn(out, planes, 3, stride, prefix, 2)
        out = _conv_bn_sn(out, planes * _EXPANSION[kind], 1, 1, prefix, 3)
    identity = x
    if downsample:
        identity = conv(planes * _EXPANSION[kind], 1, f"{prefix}_downsample_conv", strides=stride,
                        padding="valid")(x)
        identity = batch_norm(f"{prefix}_downsample_bn")(identity)
        identity = if_neuron(f"{prefix}_downsample_sn")(identity)
    return SEWConnect(connect_f, name=f"{prefix}_connect")([out, identity])


def sew_resnet(depth=18, num_classes=1000, time_steps=4, input_shape=(224, 224, 3), connect_f="ADD",
               stem="imagenet", mean=IMAGENET_MEAN, std=IMAGENET_STD, name=None):
    """Build a SEW ResNet mapping raw images [B, H, W, 3] in [0, 1] to logits [B, num_classes].

    ``stem="imagenet"``: conv7x7/2 + max-pool 3/2 (the paper's ImageNet net); ``stem="cifar"``:
    conv3x3/1 and no max-pool. ``mean``/``std`` = None skips the normalisation.
    """
    if depth not in _DEPTHS:
        raise ValueError(f"depth must be one of {sorted(_DEPTHS)}, got {depth!r}")
    if stem not in ("imagenet", "cifar"):
        raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
    connect_f = check_connect(connect_f)
    time_steps = check_time_steps(time_steps, name or f"sew_resnet{depth}")
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}")
    kind, blocks = _DEPTHS[depth]
    expansion = _EXPANSION[kind]

    inputs = keras.Input(shape=input_shape, name="image")
    x = normalize_input(inputs, mean, std)
    if stem == "imagenet":
        x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
        x = keras.layers.Conv2D(64, 7, strides=2, use_bias=False,
                                kernel_initializer=kaiming_normal_fan_out(), name="conv1")(x)
    else:
        x = keras.layers.Conv2D(64, 3, padding="same", use_bias=False,
                                kernel_initializer=kaiming_normal_fan_out(), name="conv1")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name="bn1")(x)
    x = RepeatTime(time_steps, name="repeat_time")(x)
    x = if_neuron("sn1")(x)
    if stem == "imagenet":  # spikes are >= 0, so zero padding == PyTorch's -inf padding
        x = pad(1, "maxpool_pad")(x)
        x = TimeFold(keras.layers.MaxPooling2D(3, strides=2, name="maxpool_2d"), name="maxpool")(x)

    inplanes = 64
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks), start=1):
        for index in range(count):
            stride = 2 if (index == 0 and stage > 1) else 1
            downsample = stride != 1 or inplanes != planes * expansion
            x = _block(x, kind, planes, stride, downsample, connect_f, f"layer{stage}_{index}")
            inplanes = planes * expansion

    x = TimeFold(keras.layers.GlobalAveragePooling2D(name="avgpool_2d"), name="avgpool")(x)
    x = MeanOverTime(name="mean_time")(x)
    outputs = keras.layers.Dense(num_classes, name="fc")(x)
    return keras.Model(inputs, outputs, name=name or f"sew_resnet{depth}")


def sew_resnet18(num_classes=1000, time_steps=4, **kwargs):
    """SEW ResNet-18 (BasicBlock, [2, 2, 2, 2]); 11,689,512 parameters at 1000 classes."""
    return sew_resnet(18, num_classes=num_classes, time_steps=time_steps, **kwargs)


def sew_resnet34(num_classes=1000, time_steps=4, **kwargs):
    """SEW ResNet-34 (BasicBlock, [3, 4, 6, 3]); 21,797,672 parameters at 1000 classes."""
    return sew_resnet(34, num_classes=num_classes, time_steps=time_steps, **kwargs)


def sew_resnet50(num_classes=1000, time_steps=4, **kwargs):
    """SEW ResNet-50 (Bottleneck, [3, 4, 6, 3]); 25,557,032 parameters at 1000 classes."""
    return sew_resnet(50, num_classes=num_classes, time_steps=time_steps, **kwargs)


def sew_resnet18_cifar(num_classes=10, time_steps=4, input_shape=(32, 32, 3), mean=CIFAR10_MEAN,
                       std=CIFAR10_STD, **kwargs):
    """SEW ResNet-18 with a CIFAR stem (conv3x3/1, no max-pool) for 32×32 images."""
    return sew_resnet(18, num_classes=num_classes, time_steps=time_steps, input_shape=input_shape,
                      stem="cifar", mean=mean, std=std, name=kwargs.pop("name", "sew_resnet18_cifar"),
                      **kwargs)
