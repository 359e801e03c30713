"""``biject_to(constraint)`` and ``transform_to(constraint)``: a transform from unconstrained
real space onto a constraint's set (``torch.distributions.constraint_registry``), for
optimising a constrained parameter through an unconstrained one:

    real -> identity;  positive / nonnegative -> exp;  greater_than(a) -> a + exp(x);
    less_than(b) -> b - exp(x);  interval(a, b) -> a + (b - a) sigmoid(x) (sigmoid for [0, 1]);
    simplex -> stick-breaking (biject_to: a bijection from R^(K-1)) or softmax (transform_to);
    lower_cholesky -> LowerCholeskyTransform (transform_to);  corr_cholesky -> CorrCholeskyTransform;
    independent(c, n) -> IndependentTransform(the transform for c, n)

``register(constraint_or_type, factory)`` adds entries, as PyTorch's ``ConstraintRegistry``.
"""
from __future__ import annotations

from . import constraints as C
from . import transforms as T

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


class ConstraintRegistry:
    def __init__(self):
        self._registry = {}

    def register(self, constraint, factory=None):
        if factory is None:
            return lambda f: self.register(constraint, f)
        if isinstance(constraint, C.Constraint):
            constraint = type(constraint)
        if not (isinstance(constraint, type) and issubclass(constraint, C.Constraint)):
            raise TypeError("Expected constraint to be either a Constraint subclass or "
                            f"instance, but got {constraint}")
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint):
        try:
            factory = self._registry[type(constraint)]
        except KeyError:
            raise NotImplementedError(f"Cannot transform {type(constraint).__name__} "
                                      "constraints") from None
        return factory(constraint)


biject_to = ConstraintRegistry()
transform_to = ConstraintRegistry()


def _real(c):
    return T.identity_transform


def _positive(c):
    return T.ExpTransform()


def _greater_than(c):
    return T.ComposeTransform([T.ExpTransform(), T.AffineTransform(c.lower_bound, 1)])


def _less_than(c):
    return T.ComposeTransform([T.ExpTransform(), T.AffineTransform(c.upper_bound, -1)])


def _interval(c):
    lo, hi = c.lower_bound, c.upper_bound
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo == 0 and hi == 1:
        return T.SigmoidTransform()
    return T.ComposeTransform([T.SigmoidTransform(), T.AffineTransform(lo, hi - lo)])


def _independent(registry):
    def factory(c):
        return T.IndependentTransform(registry(c.base_constraint), c.reinterpreted_batch_ndims)
    return factory


for _reg in (biject_to, transform_to):
    _reg.register(C._Real, _real)
    _reg.register(C._GreaterThan, lambda c: _positive(c) if _is_zero(c.lower_bound)
                  else _greater_than(c))
    _reg.register(C._GreaterThanEq, lambda c: _positive(c) if _is_zero(c.lower_bound)
                  else _greater_than(c))
    _reg.register(C._LessThan, _less_than)
    _reg.register(C._Interval, _interval)
    _reg.register(C._HalfOpenInterval, _interval)
    _reg.register(C._Independent, _independent(_reg))
biject_to.register(C._Simplex, lambda c: T.StickBreakingTransform())
transform_to.register(C._Simplex, lambda c: T.SoftmaxTransform())
transform_to.register(C._LowerCholesky, lambda c: T.LowerCholeskyTransform())
biject_to.register(C._CorrCholesky, lambda c: T.CorrCholeskyTransform())
transform_to.register(C._CorrCholesky, lambda c: T.CorrCholeskyTransform())
transform_to.register(C._PositiveDefinite, lambda c: T.PositiveDefiniteTransform())


def _is_zero(v):
    return isinstance(v, (int, float)) and v == 0
