"""Training and reproduction scripts, run from the repository root as ``python -m training.<name>``.

``train``, ``recipes``, ``publish`` and ``ide_fsnn`` are entry points onto the installed package's
:mod:`snnzoo.training` (also reachable as ``snnzoo train`` / ``snnzoo publish`` from any folder);
the reproduction studies (``xor_chaos``, ``bpsta_ablation``) and their ``results/`` live here.
"""
