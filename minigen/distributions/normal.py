"""``Normal(loc, scale)``: the Gaussian N(mu, sigma^2), with reparameterised draws.

    log p(x) = -(x - mu)^2 / (2 sigma^2) - log sigma - log sqrt(2 pi)
    H = 1/2 + log sqrt(2 pi) + log sigma
    rsample: x = mu + sigma * eps,  eps ~ N(0, 1)
"""
from __future__ import annotations

import math

import minigen

from . import constraints
from .distribution import _as_param, _shape
from .exp_family import ExponentialFamily

__all__ = ["Normal"]


class Normal(ExponentialFamily):
    support = constraints.real
    arg_constraints = {"loc": "real", "scale": "positive"}
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        loc, scale = _as_param("loc", "Normal", loc), _as_param("scale", "Normal", scale)
        self.loc, self.scale = minigen.broadcast_tensors(loc, scale)
        super().__init__(tuple(self.loc.shape), (), validate_args)
        self._check_param("loc", self.loc, lambda v: v.isfinite(), "Real()")
        self._check_param("scale", self.scale, lambda v: v > 0, "GreaterThan(lower_bound=0.0)")

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        # x = mu + sigma * eps, eps ~ N(0, 1): a differentiable function of mu and sigma
        eps = minigen.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        self._check_value(value, lambda v: v.isfinite(), "Real()")
        # -(x - mu)^2 / (2 sigma^2) - log sigma - log sqrt(2 pi)
        return (-((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log()
                - math.log(math.sqrt(2 * math.pi)))

    def entropy(self):
        # 1/2 + log sqrt(2 pi) + log sigma
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

    def cdf(self, value):
        # Phi((x - mu) / sigma) = (1 + erf((x - mu) / (sigma sqrt 2))) / 2
        return 0.5 * (1 + minigen.erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        # mu + sigma sqrt 2 erfinv(2 q - 1)
        return self.loc + self.scale * minigen.erfinv(2 * value - 1) * math.sqrt(2)

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Normal(self.loc.expand(shape), self.scale.expand(shape), self._validate_args)
