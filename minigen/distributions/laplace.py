"""``Laplace(loc, scale)``: the double exponential, density exp(-|x - mu| / b) / (2 b).

    log p(x) = -log(2 b) - |x - mu| / b
    mean = mu,  variance = 2 b^2,  H = 1 + log(2 b)
    cdf(x) = 1/2 - 1/2 sign(x - mu) expm1(-|x - mu| / b)
    icdf(q) = mu - b sign(q - 1/2) log1p(-2 |q - 1/2|)
    rsample: x = mu - b sign(u) log1p(-|u|),  u ~ U(-1 + eps, 1)  (the inverse cdf at (u + 1) / 2)
"""
from __future__ import annotations

import math

import minigen

from . import constraints
from ._util import broadcast_params, rand_like_shape
from .distribution import Distribution, _shape

__all__ = ["Laplace"]


class Laplace(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_params("Laplace", loc=loc, scale=scale)
        super().__init__(tuple(self.loc.shape), (), validate_args)
        self._check_params(loc=self.loc, scale=self.scale)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return math.sqrt(2) * self.scale

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = minigen.finfo(self.loc.dtype).eps
        # u ~ U(eps - 1, 1): never exactly -1, so log1p(-|u|) stays finite
        u = rand_like_shape(shape, self.loc) * (2 - eps) + (eps - 1)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        if self._validate_args:
            self._check_support(value)
        d = value - self.loc
        return 0.5 - 0.5 * d.sign() * (-d.abs() / self.scale).expm1()

    def icdf(self, value):
        t = value - 0.5
        return self.loc - self.scale * t.sign() * (-2 * t.abs()).log1p()

    def entropy(self):
        return 1 + (2 * self.scale).log()

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Laplace(self.loc.expand(shape), self.scale.expand(shape), validate_args=False)
