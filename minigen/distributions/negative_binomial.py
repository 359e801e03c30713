"""``NegativeBinomial(total_count, probs=None, logits=None)``: the number of successes before
``total_count`` failures, each trial succeeding with probability p = sigmoid(logits).

    log p(k) = r log(1 - p) + k log p + lgamma(r + k) - lgamma(k + 1) - lgamma(r)
    mean = r e^logits = r p / (1 - p),  variance = mean / (1 - p),
    mode = floor((r - 1) e^logits) clamped at 0
    sample: Poisson(lambda) with lambda ~ Gamma(r, e^-logits) (the gamma-Poisson mixture)
"""
from __future__ import annotations

import minigen
from minigen.nn import functional as F

from . import constraints
from ._util import broadcast_params
from .distribution import Distribution, _shape
from .gamma import Gamma
from .poisson import Poisson

__all__ = ["NegativeBinomial"]


class NegativeBinomial(Distribution):
    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            self.total_count, self.probs = broadcast_params("NegativeBinomial",
                                                            total_count=total_count, probs=probs)
            eps = minigen.finfo(self.probs.dtype).eps
            p = self.probs.clamp(eps, 1 - eps)
            self.logits = p.log() - (-p).log1p()
        else:
            self.total_count, self.logits = broadcast_params("NegativeBinomial",
                                                             total_count=total_count,
                                                             logits=logits)
            self.probs = self.logits.sigmoid()
        self.total_count = self.total_count.to(self.logits.dtype)
        super().__init__(tuple(self.logits.shape), (), validate_args)

    @property
    def param_shape(self):
        return tuple(self.logits.shape)

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / (-self.logits).sigmoid()

    def sample(self, sample_shape=()):
        with minigen.no_grad():
            rate = Gamma(self.total_count.detach(), (-self.logits.detach()).exp(),
                         validate_args=False).sample(sample_shape)
            return Poisson(rate, validate_args=False).sample()

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        r, l = self.total_count, self.logits
        k = minigen.as_tensor(value).to(l.dtype)
        # r log(1 - p) + k log p
        log_unnorm = r * F.logsigmoid(-l) + k * F.logsigmoid(l)
        log_norm = -minigen.lgamma(r + k) + minigen.lgamma(1.0 + k) + minigen.lgamma(r)
        # r + k = 0: the distribution is a point mass at 0
        log_norm = log_norm.masked_fill(r + k == 0.0, 0.0)
        return log_unnorm - log_norm

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return NegativeBinomial(self.total_count.expand(shape), logits=self.logits.expand(shape),
                                validate_args=False)
