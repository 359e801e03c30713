"""``LogisticNormal(loc, scale)``: the stick-breaking image of a diagonal Normal in R^(K-1), a
distribution on the K-simplex (event shape [K])."""
from __future__ import annotations

from . import constraints
from ._util import broadcast_params
from .distribution import _shape
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import StickBreakingTransform

__all__ = ["LogisticNormal"]


class LogisticNormal(TransformedDistribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        loc, scale = broadcast_params("LogisticNormal", loc=loc, scale=scale)
        base = Normal(loc, scale, validate_args=validate_args)
        if not base.batch_shape:
            base = base.expand((1,))
        super().__init__(base, StickBreakingTransform(), validate_args=validate_args)

    @property
    def loc(self):
        return self.base_dist.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.base_dist.scale

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape) + (self.loc.shape[-1],)
        return LogisticNormal(self.loc.expand(shape), self.scale.expand(shape),
                              validate_args=False)
