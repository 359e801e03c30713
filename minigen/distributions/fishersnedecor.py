"""``FisherSnedecor(df1, df2)``: the F distribution, (X1 / d1) / (X2 / d2) for X ~ Chi2.

    log p(x) = lgamma((d1 + d2)/2) - lgamma(d1/2) - lgamma(d2/2) + d1/2 log(d1/d2)
               + (d1/2 - 1) log x - (d1 + d2)/2 log1p(d1 x / d2)
    mean = d2 / (d2 - 2) (d2 > 2, else NaN),  mode = (d1 - 2)/d1 d2/(d2 + 2) (d1 > 2, else NaN)
    variance = 2 d2^2 (d1 + d2 - 2) / (d1 (d2 - 2)^2 (d2 - 4)) (d2 > 4, else NaN)
    rsample: Gamma(d1/2, d1) / Gamma(d2/2, d2), differentiable through the implicit gradient
"""
from __future__ import annotations

import minigen

from . import constraints
from ._util import broadcast_params
from .distribution import Distribution, _shape
from .gamma import Gamma

__all__ = ["FisherSnedecor"]


class FisherSnedecor(Distribution):
    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        self.df1, self.df2 = broadcast_params("FisherSnedecor", df1=df1, df2=df2)
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1, validate_args=False)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2, validate_args=False)
        super().__init__(tuple(self.df1.shape), (), validate_args)

    @property
    def mean(self):
        d2 = self.df2.masked_fill(self.df2 <= 2, float("nan"))
        return d2 / (d2 - 2)

    @property
    def mode(self):
        m = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return m.masked_fill(self.df1 <= 2, float("nan"))

    @property
    def variance(self):
        d1 = self.df1
        d2 = self.df2.masked_fill(self.df2 <= 4, float("nan"))
        return 2 * d2.pow(2) * (d1 + d2 - 2) / (d1 * (d2 - 2).pow(2) * (d2 - 4))

    def rsample(self, sample_shape=()):
        tiny = minigen.finfo(self.df1.dtype).tiny
        x1 = self._gamma1.rsample(sample_shape)
        x2 = self._gamma2.rsample(sample_shape).clamp(min=tiny)
        return (x1 / x2).clamp(min=tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        c1, c2 = self.df1 * 0.5, self.df2 * 0.5
        c3 = self.df1 / self.df2
        t1 = minigen.lgamma(c1 + c2) - minigen.lgamma(c1) - minigen.lgamma(c2)
        t2 = c1 * c3.log() + (c1 - 1) * value.log()
        t3 = (c1 + c2) * (c3 * value).log1p()
        return t1 + t2 - t3

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return FisherSnedecor(self.df1.expand(shape), self.df2.expand(shape), validate_args=False)
