"""Elementwise PyTorch functions minigen adds for compatibility:

    acosh x = log(x + sqrt(x^2 - 1))   d/dx = 1 / sqrt(x^2 - 1)
    asinh x = log(x + sqrt(x^2 + 1))   d/dx = 1 / sqrt(x^2 + 1)
    atanh x = log((1 + x) / (1 - x)) / 2   d/dx = 1 / (1 - x^2)
    sinc x  = sin(pi x) / (pi x), 1 at 0
    hypot(a, b) = sqrt(a^2 + b^2)      d/da = a / hypot,  d/db = b / hypot
    copysign(a, b) = |a| with the sign bit of b      d/da = sign(a) sign(result) (0 at a = 0),
                                                     d/db = 0
    logaddexp2(a, b) = log2(2^a + 2^b)
    fmax / fmin = max / min that ignore a NaN operand (the gradient goes to the value chosen;
                  on a tie, to the first operand)
    deg2rad x = x pi / 180,  rad2deg x = x 180 / pi,  ldexp(x, e) = x 2^e
    frexp x = (m, e) with x = m 2^e, 1/2 <= |m| < 1    (d m / dx = 2^-e)
    logcumsumexp(x, dim)_i = log sum_{j<=i} e^(x_j);
        d/dx_j = sum_{i>=j} g_i e^(x_j - y_i), each e^(x_j - y_i) <= 1 (an n x n weight matrix
        per row; for long rows the sum is taken in log space instead, the positive and
        negative parts of g apart)
and the ones without a gradient: floor_divide, heaviside, nextafter, signbit, isposinf,
isneginf, isreal, the bitwise ops (integer and bool tensors), gcd, lcm.
"""
from __future__ import annotations

import math

from .. import backend as B
from ..autograd import Function, Tensor, _wrap
from .compare import sign
from .elementwise import div, mul, where
from .mathfns import _Elementary, log2, exp2
from .mathfns_binary import _float_operands, _operands, _require_float
from .reduction import sum_to
from .shape import flip
from .unary import _float, exp, log, rsqrt, sin

__all__ = ["acosh", "asinh", "atanh", "arccosh", "arcsinh", "arctanh", "sinc", "hypot",
           "copysign", "logaddexp2", "fmax", "fmin", "deg2rad", "rad2deg", "ldexp", "frexp",
           "logcumsumexp", "floor_divide", "heaviside", "nextafter", "signbit", "isposinf",
           "isneginf", "isreal", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
           "bitwise_left_shift", "bitwise_right_shift", "gcd", "lcm"]
TENSOR_METHODS = [n for n in __all__ if n not in ("isreal",)] + ["isreal"]


# ----------------------------------------------------------------------------- inverse hyperbolic
class Acosh(_Elementary):
    np_name = "arccosh"

    @staticmethod
    def derivative(x):
        return rsqrt(x * x - 1.0)


class Asinh(_Elementary):
    np_name = "arcsinh"

    @staticmethod
    def derivative(x):
        return rsqrt(x * x + 1.0)


class Atanh(_Elementary):
    np_name = "arctanh"

    @staticmethod
    def derivative(x):
        return 1.0 / (1.0 - x * x)


def _quiet_apply(cls, x):
    with B.numpy.errstate(all="ignore"):  # acosh(0.5) = NaN, atanh(1) = inf, as in PyTorch
        return cls.apply(x)


def acosh(input):
    return _quiet_apply(Acosh, _float(input))


def asinh(input):
    return _quiet_apply(Asinh, _float(input))


def atanh(input):
    return _quiet_apply(Atanh, _float(input))


arccosh, arcsinh, arctanh = acosh, asinh, atanh


def sinc(input):
    """sin(pi x) / (pi x), and 1 at x = 0 (its derivative there is 0)."""
    x = _float(input)
    zero = x == 0
    px = where(zero, 1.0, x) * math.pi  # no 0 / 0 in the graph, even on the branch not taken
    return where(zero, 1.0, sin(px) / px)


# ----------------------------------------------------------------------------- two operands
class Hypot(Function):
    """h = sqrt(a^2 + b^2) without overflow;  dh/da = a / h,  dh/db = b / h."""

    op = "hypot"

    def forward(self, a, b):
        h = self.xp.hypot(a, b)
        self.save_for_backward(a, b, h)
        return h

    def backward(self, gh):
        a, b, h = self.saved_tensors
        ga = sum_to(gh * a / h, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gh * b / h, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


def hypot(input, other):
    """sqrt(input^2 + other^2), elementwise (floating tensors, as in PyTorch)."""
    a, b = _operands(input, other, "hypot")
    _require_float(a, "hypot")
    return Hypot.apply(a, b)


class Copysign(Function):
    """y = |a| with b's sign bit.  dy/da = sign(a) sign(y) (0 at a = 0), dy/db = 0."""

    op = "copysign"

    def forward(self, a, b):
        y = self.xp.copysign(a, b)
        self.save_for_backward(a, y)
        self.bshape = b.shape
        return y

    def backward(self, gy):
        a, y = self.saved_tensors
        ga = sum_to(gy * (sign(a) * sign(y)), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * 0.0, self.bshape) if self.needs_input_grad[1] else None
        return ga, gb


def copysign(input, other):
    """|input| with the sign of other (of its sign bit: -0.0 counts as negative)."""
    a, b = _float_operands(input, other, "copysign")
    return Copysign.apply(a, b)


def logaddexp2(input, other):
    """log2(2^a + 2^b) = m + log2(2^(a-m) + 2^(b-m)), m = max(a, b) a constant shift."""
    a, b = _operands(input, other, "logaddexp2")
    if a.array.dtype.kind != "f":
        raise NotImplementedError(f"logaddexp2: not implemented for integer or bool tensors "
                                  f"(got {a.array.dtype}), as in PyTorch")
    xp = a.xp
    m = xp.maximum(a.array, b.array)
    m = _wrap(xp.where(xp.isfinite(m), m, 0.0).astype(m.dtype, copy=False))
    return m + log2(exp2(a - m) + exp2(b - m))


def _fextreme(input, other, op):
    a, b = _operands(input, other, op)
    xp = a.xp
    try:
        pick = getattr(xp, op)(a.array, b.array)
    except ValueError:
        raise RuntimeError(f"{op}: the shapes {list(a.shape)} and {list(b.shape)} cannot be "
                           "broadcast together") from None
    if a.array.dtype.kind not in "fc":
        return _wrap(xp.asarray(pick))
    cmp = (a.array >= b.array) if op == "fmax" else (a.array <= b.array)
    take_a = _wrap(xp.logical_or(cmp, xp.isnan(b.array)))
    return where(take_a, a, b)


def fmax(input, other):
    """The elementwise maximum, where a NaN loses to a number (NaN only if both are)."""
    return _fextreme(input, other, "fmax")


def fmin(input, other):
    """The elementwise minimum, where a NaN loses to a number (NaN only if both are)."""
    return _fextreme(input, other, "fmin")


def deg2rad(input):
    return mul(_float(input), math.pi / 180.0)


def rad2deg(input):
    return mul(_float(input), 180.0 / math.pi)


def ldexp(input, other):
    """input 2^other (a float result; differentiable in both)."""
    x = _float(input) if isinstance(input, Tensor) else input
    e = other if not isinstance(other, Tensor) or other.array.dtype.kind == "f" else \
        other.to(x.dtype if isinstance(x, Tensor) else B._default_dtype)
    if not isinstance(e, Tensor):
        return mul(x, 2.0 ** e)
    return mul(x, exp2(e))


class _MantissaExponent(tuple):
    @property
    def mantissa(self):
        return self[0]

    @property
    def exponent(self):
        return self[1]


def frexp(input):
    """(mantissa, exponent) with input = mantissa 2^exponent, 0.5 <= |mantissa| < 1; the
    exponent is int32, the mantissa carries the gradient 2^-exponent."""
    if not isinstance(input, Tensor) or input.array.dtype.kind != "f":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    xp = input.xp
    _, e = xp.frexp(input.array)
    e = xp.asarray(e).astype("int32")
    scale = xp.ldexp(xp.ones_like(input.array), -e)  # 2^-e, exact
    return _MantissaExponent((mul(input, _wrap(scale)), _wrap(e)))


# ----------------------------------------------------------------------------- logcumsumexp
def _lcse_raw(xp, a, d):
    if a.shape[d] == 0:
        return a.copy()
    with B.numpy.errstate(all="ignore"):
        try:
            return xp.logaddexp.accumulate(a, axis=d)
        except (AttributeError, NotImplementedError, TypeError):  # a module without it
            m = xp.moveaxis(a, d, 0).copy()
            for i in range(1, m.shape[0]):
                m[i] = xp.logaddexp(m[i - 1], m[i])
            return xp.moveaxis(m, 0, d)


class LogCumSumExp(Function):
    """y_i = log sum_{j<=i} e^(x_j) along ``dim`` (see the module docstring for the backward)."""

    def forward(self, x, dim):
        self.dim = dim
        y = _lcse_raw(self.xp, x, dim)
        self.save_for_backward(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved_tensors
        d = self.dim
        n = x.shape[d]
        if x.numel() * n <= _LCSE_DENSE_MAX:
            # d/dx_j = sum_{i>=j} g_i w_ij, w_ij = e^(x_j - y_i) <= 1 (y_i >= x_j for i >= j):
            # every term is bounded, so nothing overflows, and the formula is a plain
            # composite (differentiable again)
            xm, ym, gm = (t.movedim(d, -1) for t in (x, y, gy))
            lower = _wrap(x.xp.tril(x.xp.ones((n, n), dtype=bool)))  # [i, j]: i >= j
            w = exp(where(lower, xm.unsqueeze(-2) - ym.unsqueeze(-1), -math.inf))
            return (gm.unsqueeze(-1) * w).sum(-2).movedim(-1, d)
        # long rows: e^(x_j) sum_{i>=j} e^(log g_i - y_i) in log space, for the positive and
        # the negative part of g separately (exact first derivatives)
        out = None
        for s in (1.0, -1.0):
            pos = (gy * s) > 0
            lg = where(pos, log(where(pos, gy * s, 1.0)), -math.inf) - y
            rev = flip(logcumsumexp(flip(lg, (d,)), d), (d,))
            part = exp(rev + x) * s
            out = part if out is None else out + part
        return out


_LCSE_DENSE_MAX = 1 << 22


def logcumsumexp(input, dim):
    """log(cumsum(exp(input), dim)), computed without overflow."""
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f"logcumsumexp: not implemented for integer or bool tensors "
                                  f"(got {input.array.dtype}), as in PyTorch")
    x = input
    nd = max(x.ndim, 1)
    if not -nd <= dim < nd:
        raise IndexError(f"logcumsumexp: dim {dim} out of range for a tensor of {x.ndim} dims")
    if x.ndim == 0:
        return x.clone()
    return LogCumSumExp.apply(x, dim=dim % nd)


# ----------------------------------------------------------------------------- no gradient
def floor_divide(input, other):
    """floor(input / other) (PyTorch >= 1.13 rounds toward -inf); integer tensors stay integer."""
    return div(input, other, rounding_mode="floor")


def heaviside(input, values):
    """0 where input < 0, ``values`` where input == 0, 1 where input > 0 (same dtypes)."""
    if not isinstance(values, Tensor):
        raise TypeError(f"heaviside: values must be a Tensor, got {type(values).__name__}")
    if input.array.dtype != values.array.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    xp = input.xp
    try:
        out = xp.heaviside(input.array, values.array)
    except ValueError:
        raise RuntimeError(f"heaviside: the shapes {list(input.shape)} and {list(values.shape)} "
                           "cannot be broadcast together") from None
    return _wrap(xp.asarray(out).astype(input.array.dtype, copy=False))


def nextafter(input, other):
    """The next floating-point value after input, towards other."""
    a, b = _operands(input, other, "nextafter")
    _require_float(a, "nextafter")
    return _wrap(a.xp.asarray(a.xp.nextafter(a.array, b.array)))


def signbit(input):
    """True where the sign bit is set (-0.0 included)."""
    xp = input.xp
    a = input.array
    return _wrap(xp.asarray(xp.signbit(a) if a.dtype.kind != "b" else xp.zeros(a.shape, bool)))


def isposinf(input):
    xp = input.xp
    a = input.array
    return _wrap(xp.asarray(xp.isposinf(a) if a.dtype.kind == "f" else xp.zeros(a.shape, bool)))


def isneginf(input):
    xp = input.xp
    a = input.array
    return _wrap(xp.asarray(xp.isneginf(a) if a.dtype.kind == "f" else xp.zeros(a.shape, bool)))


def isreal(input):
    """True where the imaginary part is zero: everywhere, for minigen's real tensors."""
    return _wrap(input.xp.ones(input.shape, dtype=bool))


def _integer_op(name, np_name):
    def fn(input, other):
        a, b = _operands(input, other, name)
        if a.array.dtype.kind not in "biu" or b.array.dtype.kind not in "biu":
            raise RuntimeError(f"{name}: expected integer or bool tensors, got {a.array.dtype} "
                               f"and {b.array.dtype} (\"{name}_cpu\" not implemented for floats)")
        xp = a.xp
        try:
            return _wrap(xp.asarray(getattr(xp, np_name)(a.array, b.array)))
        except ValueError:
            raise RuntimeError(f"{name}: the shapes {list(a.shape)} and {list(b.shape)} cannot "
                               "be broadcast together") from None
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} of integer (or bool) tensors; no gradient."
    return fn


bitwise_and = _integer_op("bitwise_and", "bitwise_and")
bitwise_or = _integer_op("bitwise_or", "bitwise_or")
bitwise_xor = _integer_op("bitwise_xor", "bitwise_xor")
bitwise_left_shift = _integer_op("bitwise_left_shift", "left_shift")
bitwise_right_shift = _integer_op("bitwise_right_shift", "right_shift")
_gcd = _integer_op("gcd", "gcd")
_lcm = _integer_op("lcm", "lcm")


def _no_bool(fn, name):
    def wrapped(input, other):
        for t in (input, other):
            if isinstance(t, Tensor) and t.array.dtype.kind == "b":
                raise RuntimeError(f"\"{name}_cpu\" not implemented for 'Bool'")
        return fn(input, other)
    wrapped.__name__ = name
    wrapped.__doc__ = fn.__doc__
    return wrapped


bitwise_left_shift = _no_bool(bitwise_left_shift, "bitwise_left_shift")
bitwise_right_shift = _no_bool(bitwise_right_shift, "bitwise_right_shift")
gcd = _no_bool(_gcd, "gcd")
lcm = _no_bool(_lcm, "lcm")


def bitwise_not(input):
    """~x for integer tensors, logical not for bool tensors."""
    if input.array.dtype.kind not in "biu":
        raise RuntimeError(f"bitwise_not: expected an integer or bool tensor, got "
                           f"{input.array.dtype}")
    return _wrap(input.xp.asarray(input.xp.invert(input.array)))
