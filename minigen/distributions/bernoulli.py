"""``Bernoulli(probs=None, logits=None)``: x in {0, 1} with P(x = 1) = p = sigmoid(logits).

    log p(x) = x log p + (1 - x) log(1 - p) = x l - softplus(l)        (l = logits, stable form)
    H = -(p log p + (1 - p) log(1 - p))
"""
from __future__ import annotations

import minigen
from minigen.nn import functional as F

from . import constraints
from .distribution import Distribution, _as_param, _shape
from .exp_family import ExponentialFamily

__all__ = ["Bernoulli"]


def _probs_or_logits(name, probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: either `probs` or `logits` must be specified, but not both")


class Bernoulli(ExponentialFamily):
    support = constraints.boolean
    arg_constraints = {"probs": "unit_interval", "logits": "real"}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        _probs_or_logits("Bernoulli", probs, logits)
        self._validate_args = Distribution._validate_default if validate_args is None else validate_args
        if probs is not None:
            self.probs = _as_param("probs", "Bernoulli", probs)
            self._check_param("probs", self.probs, lambda v: (v >= 0) & (v <= 1), "Interval(lower_bound=0.0, upper_bound=1.0)")
            # l = log p - log(1 - p), clamped away from 0 and 1
            eps = minigen.finfo(self.probs.dtype).eps
            p = self.probs.clamp(eps, 1 - eps)
            self.logits = p.log() - (1 - p).log()
        else:
            self.logits = _as_param("logits", "Bernoulli", logits)
            self.probs = self.logits.sigmoid()
        super().__init__(tuple(self.logits.shape), (), validate_args)

    @property
    def param_shape(self):
        return tuple(self.logits.shape)

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with minigen.no_grad():
            return minigen.bernoulli(self.probs.detach().expand(shape))

    def log_prob(self, value):
        self._check_value(value, lambda v: (v == 0) | (v == 1), "Boolean()")
        l, x = minigen.broadcast_tensors(self.logits, value.to(self.logits.dtype))
        # x l - softplus(l)
        return -F.binary_cross_entropy_with_logits(l, x, reduction="none")

    def entropy(self):
        # -(p log p + (1 - p) log(1 - p)) = BCE(l, p)
        return F.binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        values = minigen.arange(2, dtype=self.logits.dtype, device=self.logits.device)
        values = values.reshape((2,) + (1,) * len(self.batch_shape))
        return values.expand((2,) + self.batch_shape) if expand else values

    def expand(self, batch_shape, _instance=None):
        return Bernoulli(logits=self.logits.expand(_shape(batch_shape)), validate_args=self._validate_args)
