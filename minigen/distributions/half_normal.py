"""``HalfNormal(scale)`` and ``HalfCauchy(scale)``: |X| for X ~ Normal(0, s) / Cauchy(0, s).

    log p(x) = log 2 + log p_X(x) for x >= 0 (-inf below)
    cdf(x) = 2 F_X(x) - 1,  icdf(q) = F_X^-1((q + 1) / 2),  H = H(X) - log 2
    HalfNormal: mean = s sqrt(2 / pi), variance = s^2 (1 - 2 / pi), mode 0
    HalfCauchy: mean = inf, variance = inf, mode 0
"""
from __future__ import annotations

import math

import minigen

from . import constraints
from ._util import broadcast_params
from .cauchy import Cauchy
from .distribution import _shape
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import AbsTransform

__all__ = ["HalfNormal", "HalfCauchy"]


class _Half(TransformedDistribution):
    support = constraints.nonnegative
    has_rsample = True

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mode(self):
        return minigen.zeros_like(self.scale)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        lp = self.base_dist.log_prob(value) + math.log(2)
        return lp.masked_fill(value < 0, float("-inf")) if isinstance(value, minigen.Tensor) else lp

    def cdf(self, value):
        if self._validate_args:
            self._check_support(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        return self.base_dist.entropy() - math.log(2)


class HalfNormal(_Half):
    arg_constraints = {"scale": constraints.positive}

    def __init__(self, scale, validate_args=None):
        (scale,) = broadcast_params("HalfNormal", scale=scale)
        super().__init__(Normal(minigen.zeros_like(scale), scale, validate_args=False),
                         AbsTransform(), validate_args=validate_args)
        self._check_params(scale=scale)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return self.scale.pow(2) * (1 - 2 / math.pi)

    def expand(self, batch_shape, _instance=None):
        return HalfNormal(self.scale.expand(_shape(batch_shape)), validate_args=False)


class HalfCauchy(_Half):
    arg_constraints = {"scale": constraints.positive}

    def __init__(self, scale, validate_args=None):
        (scale,) = broadcast_params("HalfCauchy", scale=scale)
        super().__init__(Cauchy(minigen.zeros_like(scale), scale, validate_args=False),
                         AbsTransform(), validate_args=validate_args)
        self._check_params(scale=scale)

    @property
    def mean(self):
        return minigen.full_like(self.scale, float("inf"))

    @property
    def variance(self):
        return minigen.full_like(self.scale, float("inf"))

    def expand(self, batch_shape, _instance=None):
        return HalfCauchy(self.scale.expand(_shape(batch_shape)), validate_args=False)
