"""``Independent(base, n)``: the last ``n`` batch dimensions of ``base`` read as one event.

A diagonal Gaussian over a 784-pixel image is ``Independent(Normal(mu, sigma), 1)``: batch
shape [B], event shape [784], and

    log p(x) = sum over the event dimensions of the base's log p(x_i)
"""
from __future__ import annotations

from .distribution import Distribution

__all__ = ["Independent"]


def _sum_rightmost(x, n):
    return x if n == 0 else x.sum(dim=tuple(range(-n, 0)))


class Independent(Distribution):

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        if not isinstance(base_distribution, Distribution):
            raise TypeError(f"Independent: base_distribution must be a Distribution, got "
                            f"{type(base_distribution).__name__}")
        n = reinterpreted_batch_ndims
        shape = base_distribution.batch_shape
        if not isinstance(n, int) or n < 0 or n > len(shape):
            raise ValueError(f"Expected reinterpreted_batch_ndims <= len(base_distribution."
                             f"batch_shape), actual {n} vs {len(shape)} (batch_shape {shape})")
        self.base_dist, self.reinterpreted_batch_ndims = base_distribution, n
        cut = len(shape) - n
        super().__init__(shape[:cut], shape[cut:] + base_distribution.event_shape,
                         validate_args if validate_args is not None else base_distribution._validate_args)

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self):
        return False if self.reinterpreted_batch_ndims else self.base_dist.has_enumerate_support

    @property
    def support(self):
        from . import constraints
        s = self.base_dist.support
        return constraints.independent(s, self.reinterpreted_batch_ndims) \
            if self.reinterpreted_batch_ndims else s

    def expand(self, batch_shape, _instance=None):
        from .distribution import _shape
        shape = _shape(batch_shape)
        return Independent(self.base_dist.expand(shape + self.event_shape[
            :self.reinterpreted_batch_ndims]), self.reinterpreted_batch_ndims,
            validate_args=False)

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def mode(self):
        return self.base_dist.mode

    @property
    def variance(self):
        return self.base_dist.variance

    def sample(self, sample_shape=()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value):
        # sum of the base's log-densities over the reinterpreted dimensions
        return _sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        return _sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
