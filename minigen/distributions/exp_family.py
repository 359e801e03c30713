"""``ExponentialFamily``: densities p(x; theta) = h(x) exp(<t(x), theta> - F(theta)).

A subclass gives ``_natural_params`` (theta), ``_log_normalizer(*theta)`` (F) and
``_mean_carrier_measure`` (E[log h(x)]); the entropy then follows from the Bregman identity

    H = F(theta) - <theta, grad F(theta)> - E[log h(x)]

with grad F computed by autograd, as PyTorch's base class does. minigen's Normal, Bernoulli,
Gamma, Exponential, Beta, Dirichlet, Poisson and ContinuousBernoulli are ExponentialFamily
instances as in PyTorch (each with its own closed-form entropy).
"""
from __future__ import annotations

import minigen

from .distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):

    @property
    def _natural_params(self):
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError

    def entropy(self):
        result = -self._mean_carrier_measure
        nparams = [p.detach().requires_grad_() for p in self._natural_params]
        with minigen.enable_grad():
            lg_normal = self._log_normalizer(*nparams)
            grads = minigen.autograd.grad(lg_normal.sum(), nparams, create_graph=True)
        result = result + lg_normal
        for p, g in zip(nparams, grads):
            result = result - (p * g).reshape(self.batch_shape + (-1,)).sum(-1)
        return result
