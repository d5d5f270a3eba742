"""CSBP — chaotic spiking backpropagation (Wang, Tao & Chen, National Science Review 2024).

Three lines turn BP training of an existing Keras SNN into CSBP::

    from snnzoo.chaos import attach_chaos, ChaosAnnealing
    attach_chaos(model, layers=["lif1", "lif2"], z0=10.0)           # chaotic loss on the neurons' input
    model.fit(x, y, callbacks=[ChaosAnnealing(beta=0.999, every="batch")])
"""
from snnzoo.chaos.annealing import ChaosAnnealing
from snnzoo.chaos.attach import (ChaosProbe, ChaosScale, attach_chaos, chaos_probes, chaos_scale,
                                 chaotic_regularizers, detach_chaos)
from snnzoo.chaos.regularizer import ChaoticRegularizer

__all__ = ["ChaoticRegularizer", "ChaosAnnealing", "ChaosProbe", "attach_chaos", "detach_chaos",
           "chaos_probes", "chaotic_regularizers", "chaos_scale", "ChaosScale"]
