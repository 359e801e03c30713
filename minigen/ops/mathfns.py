"""More elementwise math: inverse trig, hyperbolic, log2/log10/exp2, erf/erfc, logit,
nan_to_num, ...; the functions of two operands (fmod/remainder, atan2, lerp, logaddexp, xlogy,
float_power, isclose) are in mathfns_binary.py, and the reductions and products that
generative-model code uses (any, all, norm, median, cdist, addmm, ...) in mathfns_reduce.py.

Most are composites of existing minigen ops, so they are differentiable (twice and more) for
free. The ones NumPy computes better than a composite (tan, sinh, atan, log2, erf, fmod, ...) are
small Functions whose derivative, written in minigen ops next to the forward, is:

    d tan x  = 1 / cos^2 x        d sinh x = cosh x          d cosh x = sinh x
    d atan x = 1 / (1 + x^2)      d asin x = 1 / sqrt(1 - x^2)   d acos x = -1 / sqrt(1 - x^2)
    d log2 x = 1 / (x ln 2)       d log10 x = 1 / (x ln 10)  d 2^x = 2^x ln 2
    d erf x  = (2 / sqrt pi) e^(-x^2)                        d erfc x = -(2 / sqrt pi) e^(-x^2)
    atan2(y, x):  d/dy = x / (x^2 + y^2),   d/dx = -y / (x^2 + y^2)
    fmod(a, b) = a - trunc(a / b) b:   d/da = 1,  d/db = -trunc(a / b)   (away from the jumps)
    remainder(a, b) = a - floor(a / b) b:  d/da = 1,  d/db = -floor(a / b)

Integer inputs of the floating functions are promoted to float32, as in PyTorch; results that
have no derivative (trunc, isclose, sgn) are constants.
"""
from __future__ import annotations

import math

from .. import backend as B
from ..autograd import Function, _wrap
from ..backend import fused
from .compare import _nondiff, sign
from .elementwise import where
from .gelu import _normal_cdf
from .mathfns_binary import _require_float
from .unary import _float, cos, exp, log, neg, rsqrt

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ----------------------------------------------------------------------------- unary Functions
class _Elementary(Function):
    """y = f(x) for an ``f`` the array module has (``np_name``); backward gy * f'(x), with f'
    written in minigen ops by each subclass's ``derivative``, so it is differentiable again."""

    np_name = None

    def forward(self, x):
        self.save_for_backward(x)
        return getattr(self.xp, self.np_name)(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * self.derivative(x)


class Tan(_Elementary):
    np_name = "tan"

    @staticmethod
    def derivative(x):
        c = cos(x)
        return 1.0 / (c * c)  # d tan x / dx = sec^2 x


class Sinh(_Elementary):
    np_name = "sinh"

    @staticmethod
    def derivative(x):
        return Cosh.apply(x)


class Cosh(_Elementary):
    np_name = "cosh"

    @staticmethod
    def derivative(x):
        return Sinh.apply(x)


class Atan(_Elementary):
    np_name = "arctan"

    @staticmethod
    def derivative(x):
        return 1.0 / (x * x + 1.0)


class Asin(_Elementary):
    np_name = "arcsin"

    @staticmethod
    def derivative(x):
        return rsqrt(1.0 - x * x)


class Acos(_Elementary):
    np_name = "arccos"

    @staticmethod
    def derivative(x):
        return -rsqrt(1.0 - x * x)


class Log2(_Elementary):
    np_name = "log2"

    @staticmethod
    def derivative(x):
        return 1.0 / (x * _LN2)


class Log10(_Elementary):
    np_name = "log10"

    @staticmethod
    def derivative(x):
        return 1.0 / (x * _LN10)


class Exp2(Function):
    """y = 2^x;  dy/dx = 2^x ln 2 = y ln 2 (y is the saved output, so this differentiates again)."""

    def forward(self, x):
        y = self.xp.exp2(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y * _LN2


@fused(inputs=["x"], outputs=["y"], body="y = erf(x);")  # one CUDA kernel on a GPU
def _erf_raw(xp, x):
    # erf(x) = 2 Phi(x sqrt 2) - 1, Phi the normal CDF (accurate to ~1 ulp of 1, see gelu.py),
    # computed for |x| as 1 - 2 Phi(-|x| sqrt 2) and given the sign of x: exactly odd
    e = 1.0 - 2.0 * _normal_cdf(xp, xp.abs(x) * -math.sqrt(2.0))
    return xp.copysign(e, x).astype(x.dtype, copy=False)


@fused(inputs=["x"], outputs=["y"], body="y = erfc(x);")
def _erfc_raw(xp, x):
    # erfc(x) = 1 - erf(x) = 2 Phi(-x sqrt 2): the tail is computed directly, not as 1 - erf,
    # so erfc keeps its relative accuracy for large x (erfc(5) = 1.5e-12)
    y = 2.0 * _normal_cdf(xp, x * -math.sqrt(2.0))
    big = x > _ERFC_ASYMPTOTIC
    if not bool(big.any()):
        return y
    # beyond x = 8 (where gelu.py's erfcx series stops) the asymptotic series
    # erfc(x) = e^(-x^2) / (x sqrt pi) sum_k (-1)^k (2k-1)!! / (2 x^2)^k, cut after 12 terms
    # (the next is below 2e-14 at x = 8, smaller beyond)
    z = xp.where(big, x, _ERFC_ASYMPTOTIC)
    u = 1.0 / (2.0 * z * z)
    s = xp.ones_like(z)
    for k in range(12, 0, -1):  # Horner: 1 - u (1 - 3u (1 - 5u (...)))
        s = 1.0 - (2 * k - 1) * u * s
    tail = xp.exp(-(z * z)) / (z * math.sqrt(math.pi)) * s
    return xp.where(big, tail, y).astype(x.dtype, copy=False)


_ERFC_ASYMPTOTIC = 8.0


class Erf(_Elementary):
    """erf(x) = (2 / sqrt pi) int_0^x e^(-t^2) dt = 2 Phi(x sqrt 2) - 1.
    d erf / dx = (2 / sqrt pi) e^(-x^2)."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.backend.blockwise(_erf_raw, x)

    @staticmethod
    def derivative(x):
        return exp(-(x * x)) * _TWO_OVER_SQRT_PI


class Erfc(_Elementary):
    """erfc(x) = 1 - erf(x) = 2 Phi(-x sqrt 2).  d erfc / dx = -(2 / sqrt pi) e^(-x^2)."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.backend.blockwise(_erfc_raw, x)

    @staticmethod
    def derivative(x):
        return exp(-(x * x)) * -_TWO_OVER_SQRT_PI


# ----------------------------------------------------------------------------- unary functions
def reciprocal(input):
    """1 / x (integer tensors give float32)."""
    return 1.0 / _float(input)


def tan(input):
    return Tan.apply(_float(input))


def sinh(input):
    return Sinh.apply(_float(input))


def cosh(input):
    return Cosh.apply(_float(input))


def atan(input):
    return Atan.apply(_float(input))


def asin(input):
    return Asin.apply(_float(input))


def acos(input):
    return Acos.apply(_float(input))


def log2(input):
    return Log2.apply(_float(input))


def log10(input):
    return Log10.apply(_float(input))


def exp2(input):
    return Exp2.apply(_float(input))


def erf(input):
    """The error function, erf(x) = (2 / sqrt pi) int_0^x e^(-t^2) dt."""
    return Erf.apply(_float(input))


def erfc(input):
    """The complementary error function, 1 - erf(x), accurate in its tail."""
    return Erfc.apply(_float(input))


def trunc(input):
    """Round toward zero; a constant (its derivative is zero almost everywhere)."""
    return _nondiff(input, lambda xp, a: xp.trunc(a) if a.dtype.kind == "f" else a.copy())


fix = trunc


def frac(input):
    """x - trunc(x), with the sign of x; its gradient is 1."""
    _require_float(input, "frac")
    return input - trunc(input)


def sgn(input):
    """The sign of each element (for real tensors, the same as ``sign``)."""
    return sign(input)


def negative(input):
    return neg(input)


def positive(input):
    """Returns ``input`` itself, as torch.positive does."""
    if input.array.dtype.kind == "b":
        raise TypeError("positive: the positive operator, on a bool tensor, is not supported.")
    return input


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN to ``nan``, +inf to ``posinf`` and -inf to ``neginf`` (by default the largest and
    the smallest finite value of the dtype). The gradient passes where x was finite."""
    if input.array.dtype.kind != "f":
        return input.clone()
    info = B.numpy.finfo(input.array.dtype)
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf
    xp, a = input.xp, input.array
    out = where(_wrap(xp.isnan(a)), nan, input)
    out = where(_wrap(xp.isposinf(a)), posinf, out)
    return where(_wrap(xp.isneginf(a)), neginf, out)


def logit(input, eps=None):
    """log(x / (1 - x)); with ``eps``, x is first clamped to [eps, 1 - eps]."""
    x = _float(input)
    if eps is not None:
        x = x.clamp(eps, 1.0 - eps)
    return log(x / (1.0 - x))


arctan, arcsin, arccos = atan, asin, acos

from .mathfns_binary import *  # noqa: E402,F401,F403
from .mathfns_binary import __all__ as _binary_all  # noqa: E402
from .mathfns_reduce import *  # noqa: E402,F401,F403
from .mathfns_reduce import __all__ as _reduce_all  # noqa: E402

_ELEMENTWISE = [
    "reciprocal", "tan", "sinh", "cosh", "atan", "asin", "acos", "arctan", "arcsin", "arccos",
    "log2", "log10", "exp2", "erf", "erfc", "trunc", "fix", "frac", "sgn", "negative",
    "positive", "nan_to_num", "logit",
]
__all__ = _ELEMENTWISE + list(_binary_all) + list(_reduce_all)
TENSOR_METHODS = list(__all__)
