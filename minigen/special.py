"""``minigen.special``: PyTorch's ``torch.special`` names for functions minigen has.

    expit(x) = sigmoid(x) = 1 / (1 + e^-x)        logit(p) = log(p / (1 - p))
    ndtr(x)  = P(Z <= x) = (1 + erf(x / sqrt 2)) / 2,   log_ndtr(x) = log ndtr(x)
    xlogy(x, y) = x log y (0 where x = 0),   entr(x) = -x log x
    gammaln = lgamma, psi = digamma, polygamma, multigammaln = mvlgamma, erfinv, i0, i1, sinc
    (minigen/ops/extras_torch_special.py)
"""
import math

from .ops import (sigmoid as expit, logit, erf, erfc, exp2, expm1, log1p, xlogy, logsumexp,
                  softmax, log_softmax, log, mul, add, where)

from .ops.extras_torch_special import (lgamma as gammaln, digamma, digamma as psi, polygamma,  # noqa: E402
                                      mvlgamma as multigammaln, erfinv, i0, i1)
from .ops.extras_torch_elementwise import sinc  # noqa: E402

__all__ = ["expit", "logit", "erf", "erfc", "exp2", "expm1", "log1p", "xlogy", "logsumexp",
           "softmax", "log_softmax", "ndtr", "log_ndtr", "entr", "gammaln", "digamma", "psi",
           "polygamma", "multigammaln", "erfinv", "i0", "i1", "sinc"]


def ndtr(input):
    # (1 + erf(x / sqrt 2)) / 2
    return mul(add(erf(mul(input, 1.0 / math.sqrt(2.0))), 1.0), 0.5)


def log_ndtr(input):
    return log(ndtr(input))


def entr(input):
    # -x log x, 0 at x = 0, -inf for x < 0
    return where(input > 0, mul(xlogy(input, input), -1.0),
                 where(input == 0, mul(input, 0.0), mul(input, float("inf"))))
