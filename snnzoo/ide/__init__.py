"""IDE: feedback spiking networks trained by implicit differentiation on the equilibrium state
(Xiao, Meng, Zhang, Wang, Lin, NeurIPS 2021), one concept per module:

* :mod:`~snnzoo.ide.equilibrium` — :class:`FeedbackEquilibrium`, the layer (input current →
  equilibrium firing rate);
* :mod:`~snnzoo.ide.modules` — the feed-forward / feedback modules: description, PyTorch
  geometry, forward and transpose;
* :mod:`~snnzoo.ide.module_layer` — :class:`IDEModule`, one module as a Keras layer (its
  weights, BN, inference and training forwards), a sub-layer of :class:`FeedbackEquilibrium`;
* :mod:`~snnzoo.ide.simulation` — the T-step spiking simulation (on ``snnzoo.backend.time_loop``);
* :mod:`~snnzoo.ide.implicit` — the implicit gradient (adjoint equation, custom gradient);
* :mod:`~snnzoo.ide.solvers` — Broyden / fixed-point solvers of the adjoint equation;
* :mod:`~snnzoo.ide.spectral_norm` — spectral normalisation of the feedback kernel;
* :mod:`~snnzoo.ide.batch_norm` — :class:`RateBatchNorm` (BN on the time-averaged input current);
* :mod:`~snnzoo.ide.initializers` — :class:`UnitNormUniform`;
* :mod:`~snnzoo.ide.decay` — the decay factor k = 1 − 1/τ (``decay``) and the weighted time mean.

The IDE models are :mod:`snnzoo.models.fsnn`; their recipes train through ``snnzoo train``.
"""
from snnzoo.ide.batch_norm import RateBatchNorm
from snnzoo.ide.decay import check_decay, check_leak
from snnzoo.ide.equilibrium import FeedbackEquilibrium
from snnzoo.ide.initializers import UnitNormUniform
from snnzoo.ide.module_layer import IDEModule
from snnzoo.ide.modules import module_apply, module_spec, module_vjp
from snnzoo.ide.solvers import SOLVERS, solve_adjoint

__all__ = ["FeedbackEquilibrium", "IDEModule", "RateBatchNorm", "SOLVERS", "UnitNormUniform", "check_decay",
           "check_leak", "module_apply", "module_spec", "module_vjp", "solve_adjoint"]
