"""``Exponential(rate)``: density lambda exp(-lambda x) on x >= 0.

    log p(x) = log lambda - lambda x
    mean = 1 / lambda,  variance = 1 / lambda^2,  H = 1 - log lambda
    cdf(x) = 1 - exp(-lambda x),  icdf(q) = -log(1 - q) / lambda
    rsample: x = e / lambda,  e ~ Exp(1)
"""
from __future__ import annotations

import minigen

from . import constraints
from ._util import broadcast_params, draw
from .distribution import _shape
from .exp_family import ExponentialFamily

__all__ = ["Exponential"]


class Exponential(ExponentialFamily):
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_params("Exponential", rate=rate)
        super().__init__(tuple(self.rate.shape), (), validate_args)
        self._check_params(rate=self.rate)

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return minigen.zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        e = draw(self.rate, "standard_exponential", shape=shape)
        return e / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._check_support(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        return -(-value).log1p() / self.rate

    def entropy(self):
        return 1.0 - self.rate.log()

    def expand(self, batch_shape, _instance=None):
        return Exponential(self.rate.expand(_shape(batch_shape)), validate_args=False)
