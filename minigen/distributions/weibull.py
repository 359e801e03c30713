"""``Weibull(scale, concentration)``: x = lambda e^(1/k) for e ~ Exponential(1).

    log p(x) = log(k / lambda) + (k - 1) log(x / lambda) - (x / lambda)^k
    mean = lambda Gamma(1 + 1/k),  variance = lambda^2 (Gamma(1 + 2/k) - Gamma(1 + 1/k)^2)
    mode = lambda ((k - 1) / k)^(1/k) (NaN for k < 1, as PyTorch's)
    H = gamma (1 - 1/k) + log(lambda / k) + 1         (gamma: Euler's constant)
"""
from __future__ import annotations

import minigen

from . import constraints
from ._util import broadcast_params
from .distribution import _shape
from .exponential import Exponential
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, PowerTransform

__all__ = ["Weibull"]

_EULER = 0.57721566490153286060


class Weibull(TransformedDistribution):
    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, scale, concentration, validate_args=None):
        self.scale, self.concentration = broadcast_params("Weibull", scale=scale,
                                                          concentration=concentration)
        self.concentration_reciprocal = self.concentration.reciprocal()
        base = Exponential(minigen.ones_like(self.scale), validate_args=validate_args)
        super().__init__(base, [PowerTransform(self.concentration_reciprocal),
                                AffineTransform(0, self.scale)], validate_args=validate_args)

    @property
    def mean(self):
        return self.scale * minigen.lgamma(1 + self.concentration_reciprocal).exp()

    @property
    def mode(self):
        k = self.concentration
        return self.scale * ((k - 1) / k).pow(1 / k)

    @property
    def variance(self):
        r = self.concentration_reciprocal
        return self.scale.pow(2) * (minigen.lgamma(1 + 2 * r).exp()
                                    - minigen.lgamma(1 + r).exp().pow(2))

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        k, lam = self.concentration, self.scale
        z = value / lam
        return (k / lam).log() + (k - 1) * z.log() - z.pow(k)

    def cdf(self, value):
        return 1 - (-(value / self.scale).pow(self.concentration)).exp()

    def icdf(self, value):
        return self.scale * (-(-value).log1p()).pow(self.concentration_reciprocal)

    def entropy(self):
        return (_EULER * (1 - self.concentration_reciprocal)
                + (self.scale * self.concentration_reciprocal).log() + 1)

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Weibull(self.scale.expand(shape), self.concentration.expand(shape),
                       validate_args=False)
