"""``minigen.special``: PyTorch's ``torch.special`` names for functions minigen has.

    expit(x) = sigmoid(x) = 1 / (1 + e^-x)        logit(p) = log(p / (1 - p))
    ndtr(x)  = P(Z <= x) = (1 + erf(x / sqrt 2)) / 2,   log_ndtr(x) = log ndtr(x)
    xlogy(x, y) = x log y (0 where x = 0),   entr(x) = -x log x
    gammaln = lgamma, psi = digamma, polygamma, multigammaln = mvlgamma, erfinv, i0, i1, sinc
    (minigen/ops/extras_torch_special.py)
    gammainc(a, x) = P(a, x), gammaincc = 1 - P,   ndtri(p) = sqrt 2 erfinv(2p - 1)
    xlog1py(x, y) = x log(1 + y) (0 where x = 0),   i0e(x) = e^-|x| I0(x),  i1e(x) = e^-|x| I1(x)
"""
import math

from .ops import (sigmoid as expit, logit, erf, erfc, exp2, expm1, log1p, xlogy, logsumexp,
                  softmax, log_softmax, log, mul, add, where)

from .ops.extras_torch_special import (lgamma as gammaln, digamma, digamma as psi, polygamma,  # noqa: E402
                                      mvlgamma as multigammaln, erfinv, i0, i1)
from .ops.extras_torch_elementwise import sinc  # noqa: E402

__all__ = ["expit", "logit", "erf", "erfc", "exp2", "expm1", "log1p", "xlogy", "logsumexp",
           "softmax", "log_softmax", "ndtr", "log_ndtr", "entr", "gammaln", "digamma", "psi",
           "polygamma", "multigammaln", "erfinv", "i0", "i1", "sinc", "gammainc", "gammaincc",
           "ndtri", "xlog1py", "i0e", "i1e", "round"]


def ndtr(input):
    # (1 + erf(x / sqrt 2)) / 2
    return mul(add(erf(mul(input, 1.0 / math.sqrt(2.0))), 1.0), 0.5)


def log_ndtr(input):
    return log(ndtr(input))


def entr(input):
    # -x log x, 0 at x = 0, -inf for x < 0
    return where(input > 0, mul(xlogy(input, input), -1.0),
                 where(input == 0, mul(input, 0.0), mul(input, float("inf"))))


def gammainc(input, other):
    """The regularized lower incomplete gamma P(a, x) (minigen/distributions/gamma.py)."""
    from .distributions.gamma import gammainc as p
    return p(input, other)


def gammaincc(input, other):
    """Q(a, x) = 1 - P(a, x)."""
    return 1.0 - gammainc(input, other)


def ndtri(input):
    """The inverse of ndtr: sqrt(2) erfinv(2 p - 1)."""
    return mul(erfinv(add(mul(input, 2.0), -1.0)), math.sqrt(2.0))


def xlog1py(input, other):
    """x log(1 + y), 0 where x = 0 (even where log1p(y) is not finite)."""
    lg = log1p(other)
    # log1p(y) where it is finite or x != 0: the gradient in x stays log1p(y), as PyTorch's
    lg = where((input == 0) & ~lg.isfinite(), mul(lg, 0.0).nan_to_num(0.0), lg)
    return mul(input, lg)


def i0e(input):
    """e^-|x| I0(x), the exponentially scaled modified Bessel function."""
    return mul(i0(input), (-input.abs()).exp())


def i1e(input):
    """e^-|x| I1(x)."""
    return mul(i1(input), (-input.abs()).exp())


def round(input, *, decimals=0):
    return input.round(decimals=decimals)
