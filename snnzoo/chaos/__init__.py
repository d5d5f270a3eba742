"""CSBP — chaotic spiking backpropagation (Wang, Tao & Chen, National Science Review 2024).

Three lines turn BP training of an existing Keras SNN into CSBP::

    from snnzoo.chaos import attach_chaos, ChaosAnnealing
    attach_chaos(model, layers=["lif1", "lif2"], z0=10.0)           # chaotic loss on the neurons' input
    model.fit(x, y, callbacks=[ChaosAnnealing(beta=0.999, every="batch")])

Scale: the paper form sums the loss over neurons (≈ 0.69·z per neuron at initialisation), so on
a large model pass ``reduction="mean"`` or choose z0 with :func:`chaos_scale`
(``chaos_scale(model, x, y).z_for(ratio)``); see :mod:`snnzoo.chaos.regularizer`.

The package: :mod:`.regularizer` (the loss), :mod:`.probe` (the probe layer and its statistics),
:mod:`.attach` (attach / detach on named layers), :mod:`.scale` (chaos vs BP loss on a batch),
:mod:`.annealing` (the z schedule). The loss's backend fast paths live in :mod:`snnzoo.backend`.
"""
from snnzoo.chaos.annealing import ChaosAnnealing
from snnzoo.chaos.attach import attach_chaos, detach_chaos
from snnzoo.chaos.probe import ChaosProbe, chaos_probes, chaotic_regularizers
from snnzoo.chaos.regularizer import ChaoticRegularizer
from snnzoo.chaos.scale import ChaosScale, chaos_scale

__all__ = ["ChaoticRegularizer", "ChaosAnnealing", "ChaosProbe", "attach_chaos", "detach_chaos",
           "chaos_probes", "chaotic_regularizers", "chaos_scale", "ChaosScale"]
