"""``InverseGamma(concentration, rate)``: 1 / X for X ~ Gamma(a, b).

    log p(x) = a log b - lgamma(a) - (a + 1) log x - b / x
    mean = b / (a - 1) (a > 1, else inf),  mode = b / (a + 1)
    variance = b^2 / ((a - 1)^2 (a - 2)) (a > 2, else inf)
    H = a + log b + lgamma(a) - (1 + a) digamma(a)
"""
from __future__ import annotations

import minigen

from . import constraints
from ._util import broadcast_params
from .distribution import _shape
from .gamma import Gamma
from .transformed_distribution import TransformedDistribution
from .transforms import PowerTransform

__all__ = ["InverseGamma"]


class InverseGamma(TransformedDistribution):
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        a, b = broadcast_params("InverseGamma", concentration=concentration, rate=rate)
        base = Gamma(a, b, validate_args=validate_args)
        neg_one = -minigen.ones_like(a)
        super().__init__(base, PowerTransform(neg_one), validate_args=validate_args)

    @property
    def concentration(self):
        return self.base_dist.concentration

    @property
    def rate(self):
        return self.base_dist.rate

    @property
    def mean(self):
        a, b = self.concentration, self.rate
        return minigen.where(a > 1, b / (a - 1), minigen.full_like(a, float("inf")))

    @property
    def mode(self):
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        a, b = self.concentration, self.rate
        v = b.pow(2) / ((a - 1).pow(2) * (a - 2))
        return minigen.where(a > 2, v, minigen.full_like(v, float("inf")))

    def entropy(self):
        a = self.concentration
        return a + self.rate.log() + minigen.lgamma(a) - (1 + a) * minigen.digamma(a)

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return InverseGamma(self.concentration.expand(shape), self.rate.expand(shape),
                            validate_args=False)
