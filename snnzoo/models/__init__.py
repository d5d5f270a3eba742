"""Architectures of the snnzoo model zoo (one family per module).

Each builder returns an un-weighted ``keras.Model`` mapping RAW inputs to class logits averaged
over time (images float32 in [0, 1] [B, H, W, C], or event frames
[B, T, H, W, 2]). Import a family module directly, e.g.
``from snnzoo.models.sew_resnet import sew_resnet18``; ``snnzoo.load(name)`` finds builders through
the registry in ``zoo_weights/``.
"""
