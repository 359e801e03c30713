"""``TransformedDistribution(base, transforms)`` and ``LogNormal(loc, scale)``.

Draws are the base's pushed through the transforms in order; the density by change of
variables, walking back from y:

    x_n = y,  x_{i-1} = f_i^-1(x_i)
    log p(y) = log p_base(x_0) - sum_i log |det J_{f_i}(x_{i-1})|

(each log|J| summed over the event dimensions it does not already cover). ``rsample`` is
differentiable when the base's is. ``cdf``/``icdf`` go through monotone transforms (a
decreasing one, sign -1, turns cdf into 1 - cdf).

LogNormal(mu, sigma) = exp of Normal(mu, sigma):
    mean = exp(mu + sigma^2 / 2),  variance = (exp(sigma^2) - 1) exp(2 mu + sigma^2)
    mode = exp(mu - sigma^2),  H = H(Normal) + mu
"""
from __future__ import annotations

import minigen

from . import constraints
from ._util import sum_rightmost
from .distribution import Distribution, _shape
from .independent import Independent
from .normal import Normal
from .transforms import ComposeTransform, ExpTransform, Transform

__all__ = ["TransformedDistribution", "LogNormal"]


class TransformedDistribution(Distribution):
    arg_constraints = {}

    def __init__(self, base_distribution, transforms, validate_args=None):
        if isinstance(transforms, Transform):
            transforms = [transforms]
        elif isinstance(transforms, (list, tuple)):
            if not all(isinstance(t, Transform) for t in transforms):
                raise ValueError("transforms must be a Transform or a list of Transforms")
            transforms = list(transforms)
        else:
            raise ValueError(f"transforms must be a Transform or list, but was {transforms}")
        self.transforms = transforms
        base_shape = base_distribution.batch_shape + base_distribution.event_shape
        base_event_dim = len(base_distribution.event_shape)
        chain = ComposeTransform(transforms)
        if len(base_shape) < chain.domain.event_dim:
            raise ValueError(f"base_distribution needs to have shape with size at least "
                             f"{chain.domain.event_dim}, but got {base_shape}.")
        forward_shape = chain.forward_shape(base_shape)
        expanded = chain.inverse_shape(forward_shape)
        if tuple(expanded) != tuple(base_shape):
            base_distribution = base_distribution.expand(
                tuple(expanded)[:len(expanded) - base_event_dim])
        # the base's batch dimensions that the transforms read as event dimensions
        reinterpreted = chain.domain.event_dim - base_event_dim
        if reinterpreted > 0:
            base_distribution = Independent(base_distribution, reinterpreted)
        self.base_dist = base_distribution
        event_dim = chain.codomain.event_dim + max(base_event_dim - chain.domain.event_dim, 0)
        cut = len(forward_shape) - event_dim
        super().__init__(tuple(forward_shape[:cut]), tuple(forward_shape[cut:]), validate_args)

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def support(self):
        if not self.transforms:
            return self.base_dist.support
        s = self.transforms[-1].codomain
        if len(self.event_shape) > s.event_dim:
            s = constraints.independent(s, len(self.event_shape) - s.event_dim)
        return s

    def sample(self, sample_shape=()):
        with minigen.no_grad():
            x = self.base_dist.sample(sample_shape)
            for t in self.transforms:
                x = t(x)
            return x

    def rsample(self, sample_shape=()):
        x = self.base_dist.rsample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        event_dim = len(self.event_shape)
        lp = 0.0
        y = value
        for t in reversed(self.transforms):
            x = t.inv(y)
            event_dim += t.domain.event_dim - t.codomain.event_dim
            lp = lp - sum_rightmost(t.log_abs_det_jacobian(x, y),
                                    event_dim - t.domain.event_dim)
            y = x
        base_lp = self.base_dist.log_prob(y)
        return lp + sum_rightmost(base_lp, event_dim - len(self.base_dist.event_shape))

    def _monotone_sign(self):
        sign = 1
        for t in self.transforms:
            sign = sign * t.sign
        if isinstance(sign, minigen.Tensor) and sign.numel() == 1:
            sign = int(sign.item())
        return sign

    def cdf(self, value):
        for t in reversed(self.transforms):
            value = t.inv(value)
        v = self.base_dist.cdf(value)
        sign = self._monotone_sign()
        # a decreasing map turns P(X <= x) into 1 - P(X <= x)
        return v if isinstance(sign, int) and sign == 1 else sign * (v - 0.5) + 0.5

    def icdf(self, value):
        sign = self._monotone_sign()
        if not (isinstance(sign, int) and sign == 1):
            value = sign * (value - 0.5) + 0.5
        x = self.base_dist.icdf(value)
        for t in self.transforms:
            x = t(x)
        return x

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        base_shape = shape + self.base_dist.batch_shape[len(self.batch_shape):]
        return TransformedDistribution(self.base_dist.expand(base_shape), self.transforms,
                                       validate_args=False)


class LogNormal(TransformedDistribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        base = Normal(loc, scale, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    @property
    def loc(self):
        return self.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.scale

    @property
    def mean(self):
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale.pow(2)).exp()

    @property
    def variance(self):
        s2 = self.scale.pow(2)
        return s2.expm1() * (2 * self.loc + s2).exp()

    def entropy(self):
        return self.base_dist.entropy() + self.loc

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return LogNormal(self.loc.expand(shape), self.scale.expand(shape), validate_args=False)
