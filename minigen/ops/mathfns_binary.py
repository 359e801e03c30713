"""Elementwise math of two operands: atan2, fmod, remainder, lerp, logaddexp, xlogy,
float_power, isclose; and the operand helpers (a Python number on either side, PyTorch's
type promotion) that mathfns.py's one-operand functions share.

The derivatives of the Functions here (from mathfns.py's table):

    atan2(y, x):  d/dy = x / (x^2 + y^2),   d/dx = -y / (x^2 + y^2)
    fmod(a, b) = a - trunc(a / b) b:   d/da = 1,  d/db = -trunc(a / b)   (away from the jumps)
    remainder(a, b) = a - floor(a / b) b:  d/da = 1,  d/db = -floor(a / b)

The other functions are composites of minigen ops.
"""
from __future__ import annotations

from .. import backend as B
from ..autograd import Tensor, _wrap
from .elementwise import _Binary, _as_tensor, _promote, _scalar_operand, div, where
from .reduction import sum_to
from .unary import exp, log

__all__ = ["isclose", "atan2", "arctan2", "fmod", "remainder", "lerp", "logaddexp", "xlogy",
           "float_power"]


# ----------------------------------------------------------------------------- binary Functions
class Atan2(_Binary):
    """z = atan2(y, x), the angle of the point (x, y) in (-pi, pi].
    dz/dy = x / (x^2 + y^2),  dz/dx = -y / (x^2 + y^2)."""

    op = "atan2"

    def forward(self, y, x):
        self.save_for_backward(y, x)
        return self.xp.arctan2(y, x)

    def backward(self, gz):
        y, x = self.saved_tensors
        r2 = x * x + y * y
        gy = sum_to(gz * x / r2, y.shape) if self.needs_input_grad[0] else None
        gx = sum_to(-gz * y / r2, x.shape) if self.needs_input_grad[1] else None
        return gy, gx


class Fmod(_Binary):
    """r = fmod(a, b) = a - trunc(a / b) b (the sign of a, as C's fmod).
    dr/da = 1,  dr/db = -trunc(a / b) (the quotient is piecewise constant; undefined at jumps)."""

    op = "fmod"
    rounding = "trunc"

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.fmod(a, b)

    def backward(self, gr):
        a, b = self.saved_tensors
        ga = sum_to(gr, a.shape) if self.needs_input_grad[0] else None
        if self.needs_input_grad[1]:
            q = div(a, b, rounding_mode=self.rounding)  # a constant: no gradient through it
            gb = sum_to(-gr * q, b.shape)
        else:
            gb = None
        return ga, gb


class Remainder(Fmod):
    """r = remainder(a, b) = a - floor(a / b) b (the sign of b, as Python's %).
    dr/da = 1,  dr/db = -floor(a / b)."""

    op = "remainder"
    rounding = "floor"

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.remainder(a, b)


# ----------------------------------------------------------------------------- helpers
def _operands(a, b, op):
    """Two tensors of PyTorch's promoted dtype; either of ``a``, ``b`` may be a Python number."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if not isinstance(a, Tensor):
        b, a = _scalar_operand(b, a, op)
        return _as_tensor(a, b), b
    if not isinstance(b, Tensor):
        a, b = _scalar_operand(a, b, op)
        return a, _as_tensor(b, a)
    if a.array.dtype != b.array.dtype:
        a, b = _promote(a, b)
    return a, b


def _float_operands(a, b, op):
    a, b = _operands(a, b, op)
    if a.array.dtype.kind != "f":
        a, b = a.to(B._default_dtype), b.to(B._default_dtype)
    return a, b


def _require_float(t, op):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    if t.array.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point tensor, got {t.array.dtype} "
                           f"of shape {list(t.shape)}")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol |other|, elementwise; a bool tensor."""
    a, b = _operands(input, other, "isclose")
    xp = a.xp
    try:
        return _wrap(xp.asarray(xp.isclose(a.array, b.array, rtol=rtol, atol=atol,
                                           equal_nan=equal_nan)))
    except ValueError:
        raise RuntimeError(f"isclose: the shapes {list(a.shape)} and {list(b.shape)} cannot be "
                           f"broadcast together") from None


# ----------------------------------------------------------------------------- binary functions
def atan2(input, other):
    """The angle of the point (other, input): atan(input / other) in the right quadrant."""
    y, x = _float_operands(input, other, "atan2")
    return Atan2.apply(y, x)


arctan2 = atan2


def _rem(fn_cls, input, other, op):
    a, b = _operands(input, other, op)
    if a.array.dtype.kind != "f":
        # integers: exact and without gradient (division by zero is an error, as in PyTorch)
        if bool((b.array == 0).any()):
            raise ZeroDivisionError(f"{op}: integer division by zero (divisor shape "
                                    f"{list(b.shape)})")
        xp = a.xp
        return _wrap(xp.asarray(getattr(xp, fn_cls.__name__.lower())(a.array, b.array)))
    return fn_cls.apply(a, b)


def fmod(input, other):
    """a - trunc(a / b) b: the C remainder, with the sign of the dividend."""
    return _rem(Fmod, input, other, "fmod")


def remainder(input, other):
    """a - floor(a / b) b: Python's %, with the sign of the divisor."""
    return _rem(Remainder, input, other, "remainder")


def lerp(input, end, weight):
    """input + weight (end - input), weight a number or a tensor.

    As in PyTorch, weights >= 0.5 use the form end - (end - input)(1 - weight), which is exact
    at weight = 1 (both forms have the same derivatives)."""
    _require_float(input, "lerp")
    _require_float(end, "lerp")
    d = end - input
    if isinstance(weight, Tensor):
        _require_float(weight, "lerp")
        lo = input + weight * d
        hi = end - d * (1.0 - weight)
        return where(weight < 0.5, lo, hi)
    if weight < 0.5:
        return input + d * weight
    return end - d * (1.0 - weight)


def logaddexp(input, other):
    """log(e^a + e^b), computed as m + log(e^(a-m) + e^(b-m)), m = max(a, b) (a constant: the
    result does not depend on it, so neither does the gradient)."""
    a, b = _float_operands(input, other, "logaddexp")
    xp = a.xp
    m = xp.maximum(a.array, b.array)
    m = xp.where(xp.isfinite(m), m, 0.0).astype(m.dtype, copy=False)
    m = _wrap(m)
    return m + log(exp(a - m) + exp(b - m))


def xlogy(input, other):
    """x log(y), and 0 where x == 0 (unless y is NaN), as in PyTorch. Its gradients are
    d/dx = log y and d/dy = x / y (0 where x == 0)."""
    x, y = _float_operands(input, other, "xlogy")
    xp = x.xp
    # where x == 0 and y <= 0, log(y) is -inf or NaN: use y = 1 there, so no inf * 0 enters
    # the graph (its gradient would be NaN), and return 0. Elsewhere x log(y) is exact,
    # including x == 0 with y > 0 (0 * finite = 0, and d/dx = log y as in PyTorch).
    bad = _wrap(xp.logical_and(x.array == 0, y.array <= 0))
    y_safe = where(bad, 1.0, y)
    return where(bad, 0.0, x * log(y_safe))


def float_power(input, exponent):
    """input ** exponent computed in float64 (either may be a number)."""
    if isinstance(input, Tensor):
        input = input.to(B.float64)
    if isinstance(exponent, Tensor):
        exponent = exponent.to(B.float64)
    if not isinstance(input, Tensor):
        input = _as_tensor(float(input), exponent)
    return input ** (float(exponent) if not isinstance(exponent, Tensor) else exponent)
