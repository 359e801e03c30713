"""``Cauchy(loc, scale)``: density 1 / (pi s (1 + ((x - m) / s)^2)); no mean, no variance.

    log p(x) = -log pi - log s - log1p(((x - m) / s)^2)
    H = log(4 pi s);  cdf(x) = atan((x - m) / s) / pi + 1/2;  icdf(q) = m + s tan(pi (q - 1/2))
    rsample: x = m + s tan(pi (u - 1/2)),  u ~ U(0, 1)
    mean = NaN, variance = inf (PyTorch's values)
"""
from __future__ import annotations

import math

import minigen

from . import constraints
from ._util import broadcast_params, clamp_probs, rand_like_shape
from .distribution import Distribution, _shape

__all__ = ["Cauchy"]


class Cauchy(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_params("Cauchy", loc=loc, scale=scale)
        super().__init__(tuple(self.loc.shape), (), validate_args)

    @property
    def mean(self):
        return minigen.full_like(self.loc, float("nan"))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return minigen.full_like(self.loc, float("inf"))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = clamp_probs(rand_like_shape(shape, self.loc))
        return self.loc + self.scale * (math.pi * (u - 0.5)).tan()

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        z = (value - self.loc) / self.scale
        return -math.log(math.pi) - self.scale.log() - (z * z).log1p()

    def cdf(self, value):
        if self._validate_args:
            self._check_support(value)
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value):
        return (math.pi * (value - 0.5)).tan() * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Cauchy(self.loc.expand(shape), self.scale.expand(shape), validate_args=False)
