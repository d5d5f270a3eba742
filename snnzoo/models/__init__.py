"""Architectures of the snnzoo model zoo (one family per module).

Each builder returns an un-weighted ``keras.Model`` mapping RAW inputs to class logits averaged
over time (see the project's API.md). Import a family module directly, e.g.
``from snnzoo.models.sew_resnet import sew_resnet18``; ``snnzoo.load(name)`` finds builders through
the registry in ``zoo_weights/``.
"""
