"""Architectures of the snnzoo model zoo (one family per module).

Each builder returns an un-weighted ``keras.Model`` mapping RAW inputs to class logits averaged
over time (images float32 in [0, 1] [B, H, W, C], or event frames [B, T, H, W, 2]); input
normalisation (:mod:`snnzoo.models._stem`) and the repetition over T are inside the model.
``snnzoo.load(name)`` finds builders through the registry in ``zoo_weights/``.

================================  ==========================================================
family module                     builders
================================  ==========================================================
:mod:`~snnzoo.models.sew_resnet`  :func:`sew_resnet` (depth 18/34/50/101/152),
                                  :func:`sew_resnet18`, :func:`sew_resnet34`,
                                  :func:`sew_resnet50`, :func:`sew_resnet18_cifar`
:mod:`~snnzoo.models.sew7bnet`    :func:`sew_dvs_net`, :func:`sew7bnet`, :func:`sew_wide7bnet`
:mod:`~snnzoo.models.resnet19`    :func:`resnet19` (TET / tdBN)
:mod:`~snnzoo.models.tebn_cnn`    :func:`tebn_cnn7`
:mod:`~snnzoo.models.bpsta_convnet` :func:`bpsta_convnet`
:mod:`~snnzoo.models.fsnn`        :func:`fsnn_fc`, :func:`fsnn_conv`, :func:`fsnn_nmnist`,
                                  :func:`alexnet_f`, :func:`cifarnet_f` (IDE)
================================  ==========================================================
"""
from snnzoo.models.bpsta_convnet import bpsta_convnet
from snnzoo.models.fsnn import alexnet_f, cifarnet_f, fsnn_conv, fsnn_fc, fsnn_nmnist
from snnzoo.models.resnet19 import resnet19
from snnzoo.models.sew7bnet import sew7bnet, sew_dvs_net, sew_wide7bnet
from snnzoo.models.sew_resnet import (sew_resnet, sew_resnet18, sew_resnet18_cifar, sew_resnet34,
                                      sew_resnet50)
from snnzoo.models.tebn_cnn import tebn_cnn7

__all__ = ["alexnet_f", "bpsta_convnet", "cifarnet_f", "fsnn_conv", "fsnn_fc", "fsnn_nmnist",
           "resnet19", "sew7bnet", "sew_dvs_net", "sew_resnet", "sew_resnet18", "sew_resnet18_cifar",
           "sew_resnet34", "sew_resnet50", "sew_wide7bnet", "tebn_cnn7"]
