"""``Uniform(low, high)``: constant density on [low, high).

    log p(x) = -log(high - low)  for low <= x < high (-inf outside)
    mean = (low + high) / 2,  variance = (high - low)^2 / 12,  H = log(high - low)
    cdf(x) = clamp((x - low) / (high - low), 0, 1),  icdf(q) = low + q (high - low)
    rsample: x = low + u (high - low),  u ~ U[0, 1)
"""
from __future__ import annotations

from . import constraints
from ._util import broadcast_params, rand_like_shape
from .distribution import Distribution, _shape

__all__ = ["Uniform"]


class Uniform(Distribution):
    arg_constraints = {"low": constraints.dependent(is_discrete=False, event_dim=0),
                       "high": constraints.dependent(is_discrete=False, event_dim=0)}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = broadcast_params("Uniform", low=low, high=high)
        super().__init__(tuple(self.low.shape), (), validate_args)
        if self._validate_args:
            self._check_param("low", self.low, lambda v: v < self.high,
                              f"LessThan(upper_bound={self.high if self.high.ndim else self.high.item()})")

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return self.high * float("nan")

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = rand_like_shape(shape, self.low)
        # x = low + u (high - low)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        inside = ((self.low <= value) & (value < self.high)).to(self.low.dtype)
        # log 1[low <= x < high] - log(high - low)
        return inside.log() - (self.high - self.low).log()

    def cdf(self, value):
        if self._validate_args:
            self._check_support(value)
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    def entropy(self):
        return (self.high - self.low).log()

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Uniform(self.low.expand(shape), self.high.expand(shape), validate_args=False)
