"""``Dirichlet(concentration)`` and ``Beta(concentration1, concentration0)``.

Dirichlet over the simplex (K = concentration.shape[-1], a_0 = sum_k a_k):

    log p(x) = sum_k (a_k - 1) log x_k + lgamma(a_0) - sum_k lgamma(a_k)
    mean = a / a_0,  variance = a (a_0 - a) / (a_0^2 (a_0 + 1)),  mode = (a - 1)+ / sum (a - 1)+
    H = sum_k lgamma(a_k) - lgamma(a_0) - (K - a_0) digamma(a_0) - sum_k (a_k - 1) digamma(a_k)
    rsample: x = z / sum_k z_k with z_k ~ Gamma(a_k, 1) (reparameterised implicitly, gamma.py)

Beta(a, b) is the Dirichlet over (x, 1 - x): log p(x) = (a - 1) log x + (b - 1) log(1 - x)
- lbeta(a, b), mean a / (a + b), variance a b / ((a + b)^2 (a + b + 1)).
"""
from __future__ import annotations

import minigen

from . import constraints
from ._util import broadcast_params
from .distribution import _as_param, _shape
from .exp_family import ExponentialFamily
from .gamma import standard_gamma

__all__ = ["Dirichlet", "Beta"]


class Dirichlet(ExponentialFamily):
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        concentration = _as_param("concentration", "Dirichlet", concentration)
        if concentration.ndim < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(tuple(concentration.shape[:-1]), tuple(concentration.shape[-1:]),
                         validate_args)
        self._check_params(concentration=concentration)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        # (a - 1)+ / sum (a - 1)+; where every a_k < 1 the density peaks at the corner of the
        # largest a_k
        a = self.concentration
        c = (a - 1).clamp(min=0.0)
        mode = c / c.sum(-1, keepdim=True)
        corner = minigen.nn.functional.one_hot(a.argmax(-1), a.shape[-1]).to(a.dtype)
        return minigen.where((a < 1).all(-1, keepdim=True), corner, mode)

    @property
    def variance(self):
        a = self.concentration
        a0 = a.sum(-1, keepdim=True)
        return a * (a0 - a) / (a0.pow(2) * (a0 + 1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        z = standard_gamma(self.concentration.expand(shape))
        x = z / z.sum(-1, keepdim=True)
        tiny = minigen.finfo(x.dtype).tiny
        return x.clamp(tiny, 1 - minigen.finfo(x.dtype).eps)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        a = self.concentration
        # sum (a - 1) log x + lgamma(a_0) - sum lgamma(a)
        return (minigen.xlogy(a - 1.0, value).sum(-1) + minigen.lgamma(a.sum(-1))
                - minigen.lgamma(a).sum(-1))

    def entropy(self):
        a = self.concentration
        k = a.shape[-1]
        a0 = a.sum(-1)
        return (minigen.lgamma(a).sum(-1) - minigen.lgamma(a0) - (k - a0) * minigen.digamma(a0)
                - ((a - 1.0) * minigen.digamma(a)).sum(-1))

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Dirichlet(self.concentration.expand(shape + self.event_shape), validate_args=False)


class Beta(ExponentialFamily):
    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        c1, c0 = broadcast_params("Beta", concentration1=concentration1,
                                  concentration0=concentration0)
        self._dirichlet = Dirichlet(minigen.stack([c1, c0], -1), validate_args=validate_args)
        super().__init__(self._dirichlet.batch_shape, (), validate_args)

    @property
    def concentration1(self):
        return self._dirichlet.concentration[..., 0]

    @property
    def concentration0(self):
        return self._dirichlet.concentration[..., 1]

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        s = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (s.pow(2) * (s + 1))

    def rsample(self, sample_shape=()):
        return self._dirichlet.rsample(sample_shape)[..., 0]

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        x = minigen.stack([value, 1.0 - value], -1)
        return self._dirichlet.log_prob(x)

    def entropy(self):
        return self._dirichlet.entropy()

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Beta(self.concentration1.expand(shape), self.concentration0.expand(shape),
                    validate_args=False)

    def __repr__(self):
        return f"Beta(concentration1: {tuple(self.concentration1.shape)}, concentration0: " \
               f"{tuple(self.concentration0.shape)})"
