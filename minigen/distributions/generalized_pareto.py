"""``GeneralizedPareto(loc, scale, concentration)``: with z = (x - mu) / sigma and xi the
concentration,

    log p(x) = -log sigma - (1 / xi + 1) log1p(xi z)        (xi != 0)
             = -log sigma - z                                (xi = 0: the exponential)
    log S(x) = -log1p(xi z) / xi  (or -z),   cdf = 1 - S,   icdf(u) = mu + sigma expm1(-xi log(1 - u)) / xi
    mean = mu + sigma / (1 - xi) (xi < 1, else NaN),  variance = sigma^2 / ((1 - xi)^2 (1 - 2 xi))
    (xi < 1/2, else NaN),  mode = mu,  H = log sigma + xi + 1
    support [mu, mu - sigma / xi] for xi < 0, [mu, inf) otherwise;  rsample = icdf(u)
"""
from __future__ import annotations

import minigen

from . import constraints
from ._util import broadcast_params, rand_like_shape
from .distribution import Distribution, _shape

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_params(
            "GeneralizedPareto", loc=loc, scale=scale, concentration=concentration)
        super().__init__(tuple(self.loc.shape), (), validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        upper = minigen.where(self.concentration < 0, self.loc - self.scale / self.concentration,
                              minigen.full_like(self.loc, float("inf")))
        return constraints.interval(self.loc, upper)

    def _safe(self):
        zero = self.concentration.abs() <= 1e-8  # PyTorch's isclose(xi, 0)
        return zero, minigen.where(zero, minigen.ones_like(self.concentration), self.concentration)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        return self.icdf(rand_like_shape(shape, self.loc))

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        z = (value - self.loc) / self.scale
        zero, xi = self._safe()
        y = 1 / xi + 1
        nonzero = minigen.where(y == 0, y, y * (xi * z).log1p())
        return -self.scale.log() - minigen.where(zero, z, nonzero)

    def log_survival_function(self, value):
        z = (value - self.loc) / self.scale
        zero, xi = self._safe()
        return minigen.where(zero, -z, -(xi * z).log1p() / xi)

    def log_cdf(self, value):
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value):
        return self.log_cdf(value).exp()

    def icdf(self, value):
        zero, xi = self._safe()
        logu = (-value).log1p()
        return minigen.where(zero, self.loc - self.scale * logu,
                             self.loc + self.scale / xi * (-xi * logu).expm1())

    @property
    def mean(self):
        xi = self.concentration
        ok = xi < 1
        safe = minigen.where(ok, xi, minigen.full_like(xi, 0.5))
        return minigen.where(ok, self.loc + self.scale / (1 - safe),
                             minigen.full_like(xi, float("nan")))

    @property
    def variance(self):
        xi = self.concentration
        ok = xi < 0.5
        safe = minigen.where(ok, xi, minigen.full_like(xi, 0.25))
        return minigen.where(ok, self.scale.pow(2) / ((1 - safe).pow(2) * (1 - 2 * safe)),
                             minigen.full_like(xi, float("nan")))

    @property
    def mode(self):
        return self.loc

    def entropy(self):
        return (self.scale.log() + self.concentration + 1).expand(self.batch_shape)

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return GeneralizedPareto(self.loc.expand(shape), self.scale.expand(shape),
                                 self.concentration.expand(shape), validate_args=False)
