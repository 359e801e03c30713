"""``Pareto(scale, alpha)``: x = s e^y for y ~ Exponential(alpha), density alpha s^alpha / x^(alpha+1)
on x >= s.

    log p(x) = log alpha + alpha log s - (alpha + 1) log x
    mean = alpha s / (alpha - 1) (alpha > 1, else inf),  mode = s
    variance = s^2 alpha / ((alpha - 1)^2 (alpha - 2)) (alpha > 2, else inf)
    H = log(s / alpha) + 1 / alpha + 1
"""
from __future__ import annotations

import minigen

from . import constraints
from ._util import broadcast_params
from .distribution import _shape
from .exponential import Exponential
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, ExpTransform

__all__ = ["Pareto"]


class Pareto(TransformedDistribution):
    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}
    has_rsample = True

    def __init__(self, scale, alpha, validate_args=None):
        self.scale, self.alpha = broadcast_params("Pareto", scale=scale, alpha=alpha)
        base = Exponential(self.alpha, validate_args=validate_args)
        super().__init__(base, [ExpTransform(), AffineTransform(0, self.scale)],
                         validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than_eq(self.scale)

    @property
    def mean(self):
        a = self.alpha.clamp(min=1)
        return minigen.where(self.alpha > 1, a * self.scale / (a - 1),
                             minigen.full_like(a, float("inf")))

    @property
    def mode(self):
        return self.scale

    @property
    def variance(self):
        a = self.alpha.clamp(min=2)
        v = self.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))
        return minigen.where(self.alpha > 2, v, minigen.full_like(v, float("inf")))

    def entropy(self):
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Pareto(self.scale.expand(shape), self.alpha.expand(shape), validate_args=False)
