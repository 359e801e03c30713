"""``Geometric(probs=None, logits=None)``: the number of failures before the first success.

    log p(k) = k log(1 - p) + log p,  k = 0, 1, 2, ...
    mean = 1/p - 1,  variance = (1/p - 1) / p,  mode = 0
    H = BCE(logits, p) / p       (the entropy of one Bernoulli trial per expected trial)
    sample: floor(log u / log(1 - p)),  u ~ U(tiny, 1)
"""
from __future__ import annotations

import minigen
from minigen.nn import functional as F

from . import constraints
from ._util import broadcast_params, rand_like_shape
from .distribution import Distribution, _shape

__all__ = ["Geometric"]


class Geometric(Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = broadcast_params("Geometric", probs=probs)
            eps = minigen.finfo(self.probs.dtype).eps
            p = self.probs.clamp(eps, 1 - eps)
            self.logits = p.log() - (-p).log1p()
        else:
            (self.logits,) = broadcast_params("Geometric", logits=logits)
            self.probs = self.logits.sigmoid()
        super().__init__(tuple(self.probs.shape), (), validate_args)
        if self._validate_args and probs is not None:
            self._check_param("probs", self.probs, lambda v: (v > 0) & (v <= 1),
                              "Interval(lower_bound=0.0, upper_bound=1.0)")

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return minigen.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        tiny = minigen.finfo(self.probs.dtype).tiny
        with minigen.no_grad():
            u = rand_like_shape(shape, self.probs).clamp(min=tiny)
            return (u.log() / (-self.probs.detach()).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        value, probs = minigen.broadcast_tensors(value.to(self.probs.dtype), self.probs)
        # 0 log 0 = 0 where p = 1 and k = 0
        p = probs.masked_fill((probs == 1) & (value == 0), 0.0)
        return value * (-p).log1p() + self.probs.log()

    def entropy(self):
        return F.binary_cross_entropy_with_logits(self.logits, self.probs,
                                                  reduction="none") / self.probs

    def expand(self, batch_shape, _instance=None):
        return Geometric(logits=self.logits.expand(_shape(batch_shape)), validate_args=False)
