"""``Poisson(rate)`` and ``Binomial(total_count=1, probs=None, logits=None)``: counts.

Poisson:  log p(k) = k log lambda - lambda - lgamma(k + 1);  mean = variance = lambda
Binomial: log p(k) = lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) + k log p + (n - k) log(1 - p)
          computed from the logits l as  log C(n, k) + k l - n softplus(l)  (no log 0 for p in (0, 1))
          mean = n p,  variance = n p (1 - p),  mode = floor((n + 1) p) clamped to n
Samples come from the device generator and carry no gradient.
"""
from __future__ import annotations

import minigen
from minigen.nn import functional as F

from . import constraints
from ._util import broadcast_params, draw
from .distribution import Distribution, _shape
from .exp_family import ExponentialFamily

__all__ = ["Poisson", "Binomial"]


class Poisson(ExponentialFamily):
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_params("Poisson", rate=rate)
        super().__init__(tuple(self.rate.shape), (), validate_args)
        self._check_params(rate=self.rate)

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with minigen.no_grad():
            lam = self.rate.detach().expand(shape).array
            return draw(self.rate, "poisson", lam, shape=shape)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        value = minigen.as_tensor(value).to(self.rate.dtype)
        # k log lambda - lambda - lgamma(k + 1)
        return minigen.xlogy(value, self.rate) - self.rate - minigen.lgamma(value + 1)

    def expand(self, batch_shape, _instance=None):
        return Poisson(self.rate.expand(_shape(batch_shape)), validate_args=False)


class Binomial(Distribution):
    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            self.total_count, self.probs = broadcast_params("Binomial", total_count=total_count,
                                                            probs=probs)
            self.total_count = self.total_count.to(self.probs.dtype)
            eps = minigen.finfo(self.probs.dtype).eps
            p = self.probs.clamp(eps, 1 - eps)
            self.logits = p.log() - (-p).log1p()
        else:
            self.total_count, self.logits = broadcast_params("Binomial", total_count=total_count,
                                                             logits=logits)
            self.total_count = self.total_count.to(self.logits.dtype)
            self.probs = self.logits.sigmoid()
        super().__init__(tuple(self.logits.shape), (), validate_args)
        self._check_params(total_count=self.total_count,
                           **({"probs": self.probs} if probs is not None else {"logits": self.logits}))

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return _IntervalTo(self.total_count)

    @property
    def param_shape(self):
        return tuple(self.logits.shape)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with minigen.no_grad():
            n = self.total_count.detach().expand(shape).array.astype("int64")
            p = self.probs.detach().expand(shape).array
            return draw(self.probs, "binomial", n, p, shape=shape)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        n, l = self.total_count, self.logits
        k = minigen.as_tensor(value).to(l.dtype)
        log_comb = minigen.lgamma(n + 1) - minigen.lgamma(k + 1) - minigen.lgamma(n - k + 1)
        # k l - n softplus(l) = k log p + (n - k) log(1 - p)
        return log_comb + k * l - n * F.softplus(l)

    def entropy(self):
        n = int(self.total_count.max().item())
        if not bool((self.total_count == n).all().item()):
            raise NotImplementedError("Inhomogeneous total count not supported by `entropy`.")
        values = self.enumerate_support(False)
        lp = self.log_prob(values)
        return -(lp.exp() * lp).sum(0)

    def enumerate_support(self, expand=True):
        n = int(self.total_count.max().item())
        if not bool((self.total_count == n).all().item()):
            raise NotImplementedError("Inhomogeneous total count not supported by "
                                      "`enumerate_support`.")
        values = minigen.arange(n + 1, dtype=self.logits.dtype, device=self.logits.device)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + self.batch_shape) if expand else values

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Binomial(self.total_count.expand(shape), logits=self.logits.expand(shape),
                        validate_args=False)


class _IntervalTo(constraints.Constraint):
    """{0, 1, ..., n} with n a tensor (the Binomial's support)."""
    is_discrete = True

    def __init__(self, upper):
        self.lower_bound, self.upper_bound = 0, upper

    def check(self, value):
        return (value % 1 == 0) & (value >= 0) & (value <= self.upper_bound)

    def __repr__(self):
        return f"IntegerInterval(lower_bound=0, upper_bound={self.upper_bound})"
