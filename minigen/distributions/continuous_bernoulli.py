"""``ContinuousBernoulli(probs=None, logits=None, lims=(0.499, 0.501))`` (Loaiza-Ganem and
Cunningham, 2019): the density on [0, 1] proportional to lambda^x (1 - lambda)^(1 - x).

    log p(x) = x log lambda + (1 - x) log(1 - lambda) + log C(lambda)
    C(lambda) = 2 atanh(1 - 2 lambda) / (1 - 2 lambda)
             = |log(1 - lambda) - log lambda| / |1 - 2 lambda|           (lambda != 1/2)
    mean = lambda / (2 lambda - 1) + 1 / (log(1 - lambda) - log lambda)
    variance = lambda (lambda - 1) / (1 - 2 lambda)^2 + 1 / (log(1 - lambda) - log lambda)^2
    cdf(x) = (lambda^x (1 - lambda)^(1 - x) + lambda - 1) / (2 lambda - 1)
    icdf(u) = (log1p(-lambda + u (2 lambda - 1)) - log1p(-lambda)) / (log lambda - log1p(-lambda))

These are 0/0 at lambda = 1/2: inside ``lims`` the Taylor series in d = lambda - 1/2 are used
(as PyTorch does): log C = log 2 + (4/3 + 104/45 d^2) d^2, mean = 1/2 + (1/3 + 16/45 d^2) d,
variance = 1/12 - (1/15 - 128/945 d^2) d^2, and x itself for cdf / icdf.
rsample = icdf(u), u ~ U(0, 1) (differentiable in lambda).
"""
from __future__ import annotations

import math

import minigen
from minigen.nn import functional as F

from . import constraints
from ._util import broadcast_params, clamp_probs, rand_like_shape
from .distribution import _shape
from .exp_family import ExponentialFamily

__all__ = ["ContinuousBernoulli"]


class ContinuousBernoulli(ExponentialFamily):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (p,) = broadcast_params("ContinuousBernoulli", probs=probs)
            self._check_raw = p
            self.probs = clamp_probs(p)
            self.logits = self.probs.log() - (-self.probs).log1p()
        else:
            (self.logits,) = broadcast_params("ContinuousBernoulli", logits=logits)
            self.probs = clamp_probs(self.logits.sigmoid())
            self._check_raw = None
        self._lims = lims
        super().__init__(tuple(self.probs.shape), (), validate_args)
        if self._check_raw is not None:
            self._check_param("probs", self._check_raw, constraints.unit_interval.check,
                              repr(constraints.unit_interval))

    @property
    def param_shape(self):
        return tuple(self.probs.shape)

    def _stable(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        return minigen.where(self._stable(), self.probs, minigen.full_like(self.probs, self._lims[0]))

    def _log_norm(self):
        p = self._cut_probs()
        below = minigen.where(p <= 0.5, p, minigen.zeros_like(p))
        above = minigen.where(p >= 0.5, p, minigen.ones_like(p))
        exact = ((-p).log1p() - p.log()).abs().log() - minigen.where(
            p <= 0.5, (-2.0 * below).log1p(), (2.0 * above - 1.0).log())
        d2 = (self.probs - 0.5).pow(2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * d2) * d2
        return minigen.where(self._stable(), exact, taylor)

    @property
    def mean(self):
        p = self._cut_probs()
        exact = p / (2.0 * p - 1.0) + 1.0 / ((-p).log1p() - p.log())
        d = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * d.pow(2)) * d
        return minigen.where(self._stable(), exact, taylor)

    @property
    def variance(self):
        p = self._cut_probs()
        exact = p * (p - 1.0) / (1.0 - 2.0 * p).pow(2) + 1.0 / ((-p).log1p() - p.log()).pow(2)
        d2 = (self.probs - 0.5).pow(2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * d2) * d2
        return minigen.where(self._stable(), exact, taylor)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        return self.icdf(rand_like_shape(shape, self.probs))

    def sample(self, sample_shape=()):
        with minigen.no_grad():
            return self.rsample(sample_shape)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        logits, value = minigen.broadcast_tensors(self.logits, value.to(self.logits.dtype))
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none") + self._log_norm()

    def cdf(self, value):
        p = self._cut_probs()
        cdfs = (p.pow(value) * (1.0 - p).pow(1.0 - value) + p - 1.0) / (2.0 * p - 1.0)
        unbounded = minigen.where(self._stable(), cdfs, value)
        return minigen.where(value <= 0.0, minigen.zeros_like(unbounded),
                             minigen.where(value >= 1.0, minigen.ones_like(unbounded), unbounded))

    def icdf(self, value):
        p = self._cut_probs()
        exact = (((-p) + value * (2.0 * p - 1.0)).log1p() - (-p).log1p()) / (p.log() - (-p).log1p())
        return minigen.where(self._stable(), exact, value)

    def entropy(self):
        log0, log1 = (-self.probs).log1p(), self.probs.log()
        return self.mean * (log0 - log1) - self._log_norm() - log0

    def expand(self, batch_shape, _instance=None):
        return ContinuousBernoulli(logits=self.logits.expand(_shape(batch_shape)),
                                   lims=self._lims, validate_args=False)
