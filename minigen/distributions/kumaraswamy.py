"""``Kumaraswamy(concentration1 a, concentration0 b)``: on (0, 1) with cdf 1 - (1 - x^a)^b, so
x = (1 - u^(1/b))^(1/a) for u ~ U(0, 1) (differentiable draws).

    log p(x) = log a + log b + (a - 1) log x + (b - 1) log(1 - x^a)
    E[x^n] = b B(1 + n/a, b) = b Gamma(1 + n/a) Gamma(b) / Gamma(1 + n/a + b)
    mode = ((a - 1) / (a b - 1))^(1/a) (NaN unless a, b >= 1, as PyTorch)
    H = (1 - 1/b) + (1 - 1/a) (digamma(b + 1) + gamma) - log a - log b
"""
from __future__ import annotations

import minigen

from . import constraints
from ._util import broadcast_params
from .distribution import _shape
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, PowerTransform
from .uniform import Uniform

__all__ = ["Kumaraswamy"]

_EULER = 0.57721566490153286060


def _moment(a, b, n):
    arg = 1 + n / a
    return b * (minigen.lgamma(arg) + minigen.lgamma(b) - minigen.lgamma(arg + b)).exp()


class Kumaraswamy(TransformedDistribution):
    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_params(
            "Kumaraswamy", concentration1=concentration1, concentration0=concentration0)
        base = Uniform(minigen.zeros_like(self.concentration0),
                       minigen.ones_like(self.concentration0), validate_args=validate_args)
        super().__init__(base, [PowerTransform(self.concentration0.reciprocal()),
                                AffineTransform(1.0, -1.0),
                                PowerTransform(self.concentration1.reciprocal())],
                         validate_args=validate_args)

    @property
    def mean(self):
        return _moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        a, b = self.concentration1, self.concentration0
        log_mode = b.reciprocal() * (-b).log1p() - (-b * a).log1p()
        log_mode = log_mode.masked_fill((b < 1) | (a < 1), float("nan"))
        return log_mode.exp()

    @property
    def variance(self):
        return _moment(self.concentration1, self.concentration0, 2) - self.mean.pow(2)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        t1, t0 = 1 - a.reciprocal(), 1 - b.reciprocal()
        h0 = minigen.digamma(b + 1) + _EULER
        return t0 + t1 * h0 - a.log() - b.log()

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Kumaraswamy(self.concentration1.expand(shape), self.concentration0.expand(shape),
                           validate_args=False)
