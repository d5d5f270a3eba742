"""CSBP — chaotic spiking backpropagation (Wang, Tao & Chen, National Science Review 2024).

Three lines turn BP training of an existing Keras SNN into CSBP::

    from snnzoo.chaos import attach_chaos, ChaosAnnealing
    attach_chaos(model, layers=["lif1", "lif2"], z0=10.0)           # chaotic loss on the neurons' input
    model.fit(x, y, callbacks=[ChaosAnnealing(beta=0.999, every="batch")])

Scale: the paper form sums the loss over neurons (≈ 0.69·z per neuron at initialisation), so on
a large model pass ``reduction="mean"`` or choose z0 with :func:`chaos_scale`
(``chaos_scale(model, x, y).z_for(ratio)``); see :mod:`snnzoo.chaos.regularizer`.
"""
from snnzoo.chaos.annealing import ChaosAnnealing
from snnzoo.chaos.attach import (ChaosProbe, ChaosScale, attach_chaos, chaos_probes, chaos_scale,
                                 chaotic_regularizers, detach_chaos)
from snnzoo.chaos.regularizer import ChaoticRegularizer

__all__ = ["ChaoticRegularizer", "ChaosAnnealing", "ChaosProbe", "attach_chaos", "detach_chaos",
           "chaos_probes", "chaotic_regularizers", "chaos_scale", "ChaosScale"]
