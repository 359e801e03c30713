"""``Gumbel(loc, scale)``: the distribution of maxima, cdf exp(-exp(-(x - m) / s)).

    log p(x) = -(log s + z + e^-z),  z = (x - m) / s
    mean = m + s gamma (gamma: Euler's constant),  variance = (pi s)^2 / 6,  mode = m
    H = log s + 1 + gamma;  icdf(q) = m - s log(-log q)
    rsample: x = m - s log(-log u),  u ~ U(tiny, 1 - eps)
"""
from __future__ import annotations

import math

from . import constraints
from ._util import broadcast_params, clamp_probs, rand_like_shape
from .distribution import Distribution, _shape

__all__ = ["Gumbel"]

_EULER = 0.57721566490153286060


class Gumbel(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_params("Gumbel", loc=loc, scale=scale)
        super().__init__(tuple(self.loc.shape), (), validate_args)

    @property
    def mean(self):
        return self.loc + self.scale * _EULER

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = clamp_probs(rand_like_shape(shape, self.loc))
        return self.loc - self.scale * (-u.log()).log()

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        z = (value - self.loc) / self.scale
        return -(self.scale.log() + z + (-z).exp())

    def cdf(self, value):
        return (-(-(value - self.loc) / self.scale).exp()).exp()

    def icdf(self, value):
        return self.loc - self.scale * (-value.log()).log()

    def entropy(self):
        return self.scale.log() + (1 + _EULER)

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Gumbel(self.loc.expand(shape), self.scale.expand(shape), validate_args=False)
