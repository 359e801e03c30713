"""Elementwise ops: arithmetic with broadcasting, unary math, comparisons.

Every backward here is written in minigen ops, so each is differentiable again.
A binary op that broadcasts hands its gradient to ``sum_to`` (ops/reduction.py), the one place
that sums a gradient back down to an input's shape.

Type promotion follows PyTorch: Python scalars never change a tensor's dtype (``x32 * 2.0`` is
float32); an integer tensor meeting a float becomes float32; between two float tensors the one
with dimensions wins over a 0-d one, otherwise the wider dtype wins.
"""
from __future__ import annotations

import numbers

import numpy

from .. import backend as B
from ..autograd import Function, Tensor, _wrap
from .reduction import sum_to

_PY_SCALARS = (int, float, bool)


def _is_scalar(v):
    return type(v) in _PY_SCALARS or (isinstance(v, numbers.Number) and not isinstance(v, Tensor))


def _promote(a, b):
    """Cast two tensors to the dtype PyTorch's promotion gives them."""
    da, db = a.data.dtype, b.data.dtype
    if da == db:
        return a, b
    fa, fb = da.kind == "f", db.kind == "f"
    if fa and not fb:
        target = da
    elif fb and not fa:
        target = db
    elif fa and fb and (a.data.ndim == 0) != (b.data.ndim == 0):
        target = da if b.data.ndim == 0 else db  # a dimensioned tensor wins over a 0-d one
    elif da.kind == "b":
        target = db
    elif db.kind == "b":
        target = da
    else:
        target = B.numpy.promote_types(da, db)
    return (a if da == target else a.to(target)), (b if db == target else b.to(target))


def _scalar_operand(t, c, op):
    """Cast ``t`` so that combining it with the Python scalar ``c`` keeps PyTorch's dtype."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    k = t.data.dtype.kind
    if k == "f":
        return t, c
    if isinstance(c, float) or (isinstance(c, numbers.Number) and not isinstance(c, numbers.Integral)):
        return t.to(B._default_dtype), c
    if k == "b" and not isinstance(c, bool):
        return t.to(B.int64), c
    return t, c


def _as_tensor(v, like):
    return _wrap(like.xp.asarray(v, dtype=like.data.dtype))


def _broadcast_error(op, a, b):
    raise RuntimeError(
        f"{op}: the size of tensor a {list(a.shape)} must match the size of tensor b "
        f"{list(b.shape)} at a non-singleton dimension (shapes {list(a.shape)} and "
        f"{list(b.shape)} cannot be broadcast)")


class _Binary(Function):
    """forward with broadcasting; a shape error names both shapes."""

    op = "binary"

    @classmethod
    def apply(cls, a, b):
        try:
            return super().apply(a, b)
        except ValueError as e:
            if "broadcast" in str(e) or "shape" in str(e):
                _broadcast_error(cls.op, a, b)
            raise


# ----------------------------------------------------------------------------- tensor op tensor
class Add(_Binary):
    op = "add"

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a + b

    def backward(self, gy):
        sa, sb = self.shapes
        return sum_to(gy, sa), sum_to(gy, sb)


class Sub(_Binary):
    op = "sub"

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, gy):
        sa, sb = self.shapes
        return sum_to(gy, sa), sum_to(-gy, sb)


class Mul(_Binary):
    op = "mul"

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, gy):
        a, b = self.saved_tensors
        ga = sum_to(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(_Binary):
    op = "div"

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    def backward(self, gy):
        a, b = self.saved_tensors
        ga = sum_to(gy / b, a.shape) if self.needs_input_grad[0] else None
        # d(a/b)/db = -a / b^2
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(_Binary):
    op = "pow"

    def forward(self, a, b):
        y = a ** b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, gy):
        a, b, y = self.saved_tensors
        ga = gb = None
        if self.needs_input_grad[0]:
            # d(a^b)/da = b a^(b-1); 0 where b == 0 (a^0 is constant; 0 * 0^-1 would be NaN)
            ga = sum_to(gy * where(b == 0, 0.0, b * a ** (b - 1)), a.shape)
        if self.needs_input_grad[1]:
            # d(a^b)/db = a^b log(a); PyTorch defines it as 0 where a == 0 and b >= 0
            safe = where((a == 0) & (b >= 0), 1.0, a)
            gb = sum_to(gy * where((a == 0) & (b >= 0), 0.0, y * log(safe)), b.shape)
        return ga, gb


class Maximum(_Binary):
    op = "maximum"

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.maximum(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        # the gradient goes to the larger input; ties split it evenly (as PyTorch does)
        wa = (a > b).to(gy.dtype) + (a == b).to(gy.dtype) * 0.5
        return sum_to(gy * wa, a.shape), sum_to(gy * (1.0 - wa), b.shape)


class Minimum(_Binary):
    op = "minimum"

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.minimum(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        wa = (a < b).to(gy.dtype) + (a == b).to(gy.dtype) * 0.5
        return sum_to(gy * wa, a.shape), sum_to(gy * (1.0 - wa), b.shape)


# ----------------------------------------------------------------------------- tensor op scalar
class AddScalar(Function):
    def forward(self, x, c):
        return x + c

    def backward(self, gy):
        return gy


class MulScalar(Function):
    def forward(self, x, c):
        self.c = c
        return x * c

    def backward(self, gy):
        return gy * self.c


class DivScalar(Function):
    """x / c"""

    def forward(self, x, c):
        self.c = c
        return x / c

    def backward(self, gy):
        return gy / self.c


class RDivScalar(Function):
    """c / x"""

    def forward(self, x, c):
        self.c = c
        y = c / x
        self.save_for_backward(x)
        return y

    def backward(self, gy):
        (x,) = self.saved_tensors
        # d(c/x)/dx = -c / x^2
        return gy * (-self.c) / (x * x)


class PowScalar(Function):
    """x ** c"""

    def forward(self, x, c):
        self.c = c
        self.save_for_backward(x)
        return x ** c

    def backward(self, gy):
        (x,) = self.saved_tensors
        if self.c == 0:
            return gy * 0.0
        # d(x^c)/dx = c x^(c-1)
        return gy * self.c * x ** (self.c - 1)


class RPowScalar(Function):
    """c ** x"""

    def forward(self, x, c):
        self.c = c
        y = self.xp.power(x.dtype.type(c), x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        import math
        # d(c^x)/dx = c^x log(c)
        return gy * y * (math.log(self.c) if self.c > 0 else float("nan") if self.c < 0 else 0.0)


# ----------------------------------------------------------------------------- the public binaries
def add(input, other, alpha=1):
    """input + alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    if isinstance(other, Tensor):
        if not isinstance(input, Tensor):
            input, other = other, input
            if isinstance(other, Tensor):
                raise TypeError("add: bad operands")
        else:
            if input.data.dtype is not other.data.dtype:
                input, other = _promote(input, other)
            return Add.apply(input, other)
    input, other = _scalar_operand(input, other, "add")
    return AddScalar.apply(input, c=other)


def sub(input, other, alpha=1):
    """input - alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        if input.data.dtype is not other.data.dtype:
            input, other = _promote(input, other)
        return Sub.apply(input, other)
    if isinstance(input, Tensor):
        input, other = _scalar_operand(input, other, "sub")
        return AddScalar.apply(input, c=-other)
    other, input = _scalar_operand(other, input, "sub")  # scalar - tensor
    return AddScalar.apply(neg(other), c=input)


def mul(input, other):
    """input * other, broadcasting."""
    if not isinstance(input, Tensor):
        input, other = other, input
    if isinstance(other, Tensor):
        if input.data.dtype is not other.data.dtype:
            input, other = _promote(input, other)
        return Mul.apply(input, other)
    input, other = _scalar_operand(input, other, "mul")
    return MulScalar.apply(input, c=other)


def div(input, other, rounding_mode=None):
    """input / other (true division: integer tensors give float32, as in PyTorch)."""
    if rounding_mode is not None:
        q = div(input, other)
        if rounding_mode == "trunc":
            return _nondiff(q, lambda xp, a: xp.trunc(a))
        if rounding_mode == "floor":
            return _nondiff(q, lambda xp, a: xp.floor(a))
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        if input.data.dtype.kind != "f" and other.data.dtype.kind != "f":
            input = input.to(B._default_dtype)
        if input.data.dtype is not other.data.dtype:
            input, other = _promote(input, other)
        return Div.apply(input, other)
    if isinstance(input, Tensor):
        if input.data.dtype.kind != "f":
            input = input.to(B._default_dtype)
        return DivScalar.apply(input, c=other)
    if other.data.dtype.kind != "f":
        other = other.to(B._default_dtype)
    return RDivScalar.apply(other, c=input)


true_divide = divide = div
multiply = mul
subtract = sub


def pow(input, exponent):
    """input ** exponent; either may be a Python number."""
    if isinstance(input, Tensor) and isinstance(exponent, Tensor):
        if input.data.dtype is not exponent.data.dtype:
            input, exponent = _promote(input, exponent)
        return Pow.apply(input, exponent)
    if isinstance(input, Tensor):
        if exponent == 1:
            return MulScalar.apply(input, c=1)
        input, exponent = _scalar_operand(input, exponent, "pow")
        return PowScalar.apply(input, c=exponent)
    exponent, input = _scalar_operand(exponent, input, "pow")
    return RPowScalar.apply(exponent, c=input)


def maximum(input, other):
    input, other = _pair(input, other)
    return Maximum.apply(input, other)


def minimum(input, other):
    input, other = _pair(input, other)
    return Minimum.apply(input, other)


def _pair(a, b):
    if not isinstance(a, Tensor):
        a = _as_tensor(a, b)
    if not isinstance(b, Tensor):
        b = _as_tensor(b, a)
    if a.data.dtype is not b.data.dtype:
        a, b = _promote(a, b)
    return a, b


# ----------------------------------------------------------------------------- unary
class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Exp(Function):
    def forward(self, x):
        y = self.xp.exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y  # d e^x / dx = e^x


class Log(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.log(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / x


class Log1p(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.log1p(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / (x + 1.0)  # d log(1 + x)/dx = 1 / (1 + x)


class Expm1(Function):
    def forward(self, x):
        y = self.xp.expm1(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (y + 1.0)  # d (e^x - 1)/dx = e^x = y + 1


class Sqrt(Function):
    def forward(self, x):
        y = self.xp.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy / (y * 2.0)  # d sqrt(x)/dx = 1 / (2 sqrt(x))


class Abs(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.abs(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * sign(x)  # sign(0) = 0: the subgradient PyTorch picks


class Sin(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.sin(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * cos(x)


class Cos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.cos(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return -gy * sin(x)


class Tanh(Function):
    def forward(self, x):
        y = self.xp.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (1.0 - y * y)  # d tanh/dx = 1 - tanh^2


class Sigmoid(Function):
    def forward(self, x):
        # sigma(x) = 1 / (1 + e^-x). For x < -88 (float32) e^-x overflows to inf and y = 0,
        # the correct limit, so the overflow is expected and silenced. Relative accuracy holds
        # in both tails (no cancellation), and there is no per-element branch (np.where is
        # slow on unpredictable masks).
        xp = self.xp
        with numpy.errstate(over="ignore"):
            y = xp.negative(x)
            xp.exp(y, out=y)
        y += 1.0
        xp.reciprocal(y, out=y)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y * (1.0 - y)  # d sigma/dx = sigma (1 - sigma)


class Relu(Function):
    def forward(self, x):
        y = self.xp.maximum(x, 0)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (y > 0).to(gy.dtype)  # the gradient at 0 is 0, as in PyTorch


class Clamp(Function):
    def forward(self, x, min=None, max=None):
        self.save_for_backward(x)
        self.lo, self.hi = min, max
        return self.xp.clip(x, min, max)

    def backward(self, gy):
        (x,) = self.saved_tensors
        # the gradient passes where min <= x <= max (both ends included, as in PyTorch)
        keep = None
        if self.lo is not None:
            keep = x >= self.lo
        if self.hi is not None:
            k = x <= self.hi
            keep = k if keep is None else keep & k
        return gy * keep.to(gy.dtype)


class Where(Function):
    def forward(self, cond, a, b):
        self.cond = cond
        self.shapes = (a.shape, b.shape)
        if a.dtype.kind == "f" and a.shape == b.shape == cond.shape:
            return self.backend.where(cond, a, b)
        return self.xp.where(cond, a, b)

    def backward(self, gy):
        c = _wrap(self.cond)
        zero = zeros_like_t(gy)
        sa, sb = self.shapes
        ga = sum_to(where(c, gy, zero), sa) if self.needs_input_grad[1] else None
        gb = sum_to(where(c, zero, gy), sb) if self.needs_input_grad[2] else None
        return None, ga, gb


def zeros_like_t(t):
    return _wrap(t.xp.zeros_like(t.data))


def neg(input):
    return Neg.apply(input)


def exp(input):
    return Exp.apply(_float(input))


def log(input):
    return Log.apply(_float(input))


def log1p(input):
    return Log1p.apply(_float(input))


def expm1(input):
    return Expm1.apply(_float(input))


def sqrt(input):
    return Sqrt.apply(_float(input))


def rsqrt(input):
    return pow(_float(input), -0.5)


def abs(input):
    if input.data.dtype.kind != "f":
        return _nondiff(input, lambda xp, a: xp.abs(a))
    return Abs.apply(input)


def sin(input):
    return Sin.apply(_float(input))


def cos(input):
    return Cos.apply(_float(input))


def tanh(input):
    return Tanh.apply(_float(input))


def sigmoid(input):
    return Sigmoid.apply(_float(input))


def relu(input):
    return Relu.apply(input)


def square(input):
    return mul(input, input)


def clamp(input, min=None, max=None):
    """Limit values to [min, max]; min and max may be numbers or tensors."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    return Clamp.apply(input, min=min, max=max)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def where(condition, input, other):
    """Elementwise ``input if condition else other``, broadcasting all three."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("where: at least one of input and other must be a Tensor")
    input, other = _pair(input, other)
    cond = condition.data if isinstance(condition, Tensor) else input.xp.asarray(condition)
    if cond.dtype.kind != "b":
        cond = cond.astype(bool)
    if type(cond) is not type(input.data):
        from ..autograd import _device_mismatch
        _device_mismatch("where", [_wrap(cond), input])
    try:
        return Where.apply(_wrap(cond), input, other)
    except ValueError:
        raise RuntimeError(
            f"where: condition {list(cond.shape)}, input {list(input.shape)} and other "
            f"{list(other.shape)} cannot be broadcast together") from None


def sign(input):
    """-1, 0 or 1; its gradient is zero everywhere."""
    return _nondiff(input, lambda xp, a: xp.sign(a))


def _float(t):
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a Tensor, got {type(t).__name__}")
    return t if t.data.dtype.kind == "f" else t.to(B._default_dtype)


def _nondiff(t, fn):
    """An op whose derivative is zero (or undefined) everywhere: its output is a constant."""
    return _result(t.xp, fn(t.xp, t.data))


def _result(xp, r):
    """A constant tensor of a raw result. NumPy turns 0-d results into scalars (numpy.bool_,
    numpy.float32), which are no device array: make them 0-d arrays again."""
    return _wrap(xp.asarray(r))


# ----------------------------------------------------------------------------- comparisons
def _compare(name):
    def cmp(input, other):
        xp = input.xp
        o = other.data if isinstance(other, Tensor) else other
        if isinstance(other, Tensor) and type(o) is not type(input.data):
            from ..autograd import _device_mismatch
            _device_mismatch(name, [input, other])
        try:
            return _result(xp, getattr(xp, name)(input.data, o))
        except ValueError:
            _broadcast_error(name, input, other)
    cmp.__name__ = name
    cmp.__doc__ = f"Elementwise {name}; returns a bool tensor (no gradient)."
    return cmp


eq = _compare("equal")
ne = _compare("not_equal")
lt = _compare("less")
le = _compare("less_equal")
gt = _compare("greater")
ge = _compare("greater_equal")
eq.__name__, ne.__name__, lt.__name__, le.__name__, gt.__name__, ge.__name__ = \
    "eq", "ne", "lt", "le", "gt", "ge"
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def logical_and(input, other):
    return _result(input.xp, input.xp.logical_and(input.data, other.data if isinstance(other, Tensor) else other))


def logical_or(input, other):
    return _result(input.xp, input.xp.logical_or(input.data, other.data if isinstance(other, Tensor) else other))


def logical_not(input):
    return _result(input.xp, input.xp.logical_not(input.data))


def isnan(input):
    return _result(input.xp, input.xp.isnan(input.data))


def isinf(input):
    return _result(input.xp, input.xp.isinf(input.data))


def isfinite(input):
    return _result(input.xp, input.xp.isfinite(input.data))


def equal(input, other):
    """True if both tensors have the same shape and values."""
    return input.shape == other.shape and bool((input.data == other.data).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(input.xp.allclose(input.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def floor(input):
    return _nondiff(input, lambda xp, a: xp.floor(a))


def ceil(input):
    return _nondiff(input, lambda xp, a: xp.ceil(a))


def round(input, decimals=0):
    return _nondiff(input, lambda xp, a: xp.round(a, decimals))
