"""Energy per operation, and the two ways SNN papers turn operation counts into energy.

Defaults: the 45 nm CMOS figures for 32-bit floating point (Horowitz, "Computing's energy
problem", ISSCC 2014), used by most SNN papers:

    E_MAC = 4.6 pJ  (multiply 3.7 pJ + add 0.9 pJ),     E_AC = 0.9 pJ

**Exact form** (what :func:`snnzoo.profile` reports): with the AC and MAC counts of
:mod:`snnzoo.profiling.counts`,

    E_SNN = E_AC · Σ_l AC_l + E_MAC · Σ_l MAC_l,      E_ANN = E_MAC · Σ_l MAC_l^ANN (+ E_AC · adds)

**Rate form** (the estimate many SNN papers state as their energy equation, e.g. Spikformer;
meant to stand for the BPSA paper's Eq. 1, whose exact text was not checked here): each layer's
synaptic operations are estimated from the firing rate r_l of its input and its dense FLOP count,

    E_SNN = E_MAC · FLOPs_1 + E_AC · Σ_{l ≥ 2} T · r_l · FLOPs_l

with layer 1 the (real-valued) encoding layer. It equals the exact form when every input
element has the same fan-out (dense layers, convolutions without border effects) and differs at
borders, where the exact form counts the synapses that really exist (:func:`rate_form_energy`).
"""
from __future__ import annotations

__all__ = ["E_AC_45NM", "E_MAC_45NM", "EnergyModel", "rate_form_energy"]

#: 45 nm, 32-bit float multiply-accumulate / accumulate, in pJ (Horowitz 2014)
E_MAC_45NM = 4.6
E_AC_45NM = 0.9


class EnergyModel:
    """Energy per operation in pJ: ``EnergyModel(e_mac=4.6, e_ac=0.9)``.

    ``model(ac, mac)`` = ``e_ac · ac + e_mac · mac`` (pJ). Pass your hardware's figures (e.g.
    ``EnergyModel(e_mac=3.1, e_ac=0.1)`` for 45 nm 32-bit integer arithmetic) to
    :func:`snnzoo.profile` as ``energy=``; a dict ``{"e_mac": ..., "e_ac": ...}`` works too.
    """

    def __init__(self, e_mac=E_MAC_45NM, e_ac=E_AC_45NM):
        e_mac, e_ac = float(e_mac), float(e_ac)
        if not (e_mac >= 0 and e_ac >= 0):
            raise ValueError(f"EnergyModel: e_mac and e_ac must be >= 0 pJ, got {e_mac}, {e_ac}")
        self.e_mac, self.e_ac = e_mac, e_ac

    @classmethod
    def get(cls, energy):
        """``None`` (45 nm defaults), an ``EnergyModel``, or a dict of its arguments."""
        if energy is None:
            return cls()
        if isinstance(energy, cls):
            return energy
        if isinstance(energy, dict):
            return cls(**energy)
        raise ValueError(f"energy must be None, an EnergyModel or a dict(e_mac=..., e_ac=...), "
                         f"got {energy!r}")

    def __call__(self, ac=0.0, mac=0.0):
        return self.e_ac * float(ac) + self.e_mac * float(mac)

    def __repr__(self):
        return f"EnergyModel(e_mac={self.e_mac}, e_ac={self.e_ac})"


def rate_form_energy(flops, rates, time_steps, energy=None):
    """The papers' rate form E = E_MAC·FLOPs_1 + E_AC·Σ_{l≥2} T·r_l·FLOPs_l (module docstring).

    Args:
        flops: dense FLOP (MAC) counts of the synaptic layers, one time step, per sample, in
            order; the first is the encoding layer.
        rates: firing rate of each layer's input (``rates[0]`` is ignored: real-valued input).
        time_steps: T.
        energy: :class:`EnergyModel` (or its dict); default 45 nm.

    Returns:
        Energy per sample in pJ.
    """
    em = EnergyModel.get(energy)
    if len(flops) != len(rates) or not flops:
        raise ValueError("rate_form_energy: flops and rates need one entry per synaptic layer")
    e = em.e_mac * float(flops[0])
    for f, r in zip(flops[1:], rates[1:]):
        e += em.e_ac * float(time_steps) * float(r) * float(f)
    return e
