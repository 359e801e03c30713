"""``StudentT(df, loc=0., scale=1.)``: the t distribution with nu = df degrees of freedom.

    log p(x) = -(nu + 1)/2 log1p(y^2 / nu) - log s - log(nu)/2 - log(pi)/2 - lgamma(nu/2)
               + lgamma((nu + 1)/2),      y = (x - m) / s
    mean = m (nu > 1, else NaN);  variance = s^2 nu / (nu - 2) (nu > 2), inf (1 < nu <= 2),
    NaN (nu <= 1);  mode = m
    H = log s + (nu + 1)/2 (psi((nu + 1)/2) - psi(nu/2)) + log(nu)/2 + lbeta(nu/2, 1/2)
    rsample: x = m + s z / sqrt(c / nu),  z ~ N(0, 1),  c ~ Chi2(nu) (implicit gradient in nu)
"""
from __future__ import annotations

import math

import minigen

from . import constraints
from ._util import broadcast_params
from .distribution import Distribution, _shape
from .gamma import standard_gamma

__all__ = ["StudentT"]


class StudentT(Distribution):
    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self.df, self.loc, self.scale = broadcast_params("StudentT", df=df, loc=loc, scale=scale)
        super().__init__(tuple(self.df.shape), (), validate_args)

    @property
    def mean(self):
        return self.loc.masked_fill(self.df <= 1, float("nan"))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        v = self.scale.pow(2) * df / (df - 2)
        v = minigen.where(df > 2, v, minigen.full_like(v, float("inf")))
        return v.masked_fill(df <= 1, float("nan"))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        z = minigen.randn(shape, dtype=self.df.dtype, device=self.df.device)
        # Chi2(nu) = 2 Gamma(nu / 2, 1)
        c = 2 * standard_gamma((0.5 * self.df).expand(shape))
        y = z * (c / self.df).rsqrt()
        return self.loc + self.scale * y

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        y = (value - self.loc) / self.scale
        df = self.df
        Z = (self.scale.log() + 0.5 * df.log() + 0.5 * math.log(math.pi)
             + minigen.lgamma(0.5 * df) - minigen.lgamma(0.5 * (df + 1.0)))
        return -0.5 * (df + 1.0) * (y.pow(2) / df).log1p() - Z

    def entropy(self):
        df = self.df
        lbeta = minigen.lgamma(0.5 * df) + math.lgamma(0.5) - minigen.lgamma(0.5 * (df + 1))
        return (self.scale.log() + 0.5 * (df + 1)
                * (minigen.digamma(0.5 * (df + 1)) - minigen.digamma(0.5 * df))
                + 0.5 * df.log() + lbeta)

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return StudentT(self.df.expand(shape), self.loc.expand(shape), self.scale.expand(shape),
                        validate_args=False)
