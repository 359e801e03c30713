"""Elementwise ops: arithmetic with broadcasting, unary math, comparisons (the nodes for a
tensor and a Python scalar are in elementwise_scalar.py).

Every backward here is written in minigen ops, so each is differentiable again.
A binary op that broadcasts hands its gradient to ``sum_to`` (ops/reduction.py), the one place
that sums a gradient back down to an input's shape.

Type promotion follows PyTorch: Python scalars never change a tensor's dtype (``x32 * 2.0`` is
float32); an integer tensor meeting a float becomes float32; between two float tensors the one
with dimensions wins over a 0-d one, otherwise the wider dtype wins.
"""
from __future__ import annotations

import numbers
import operator

from .. import backend as B
from ..autograd import Function, Tensor, _state, _wrap
from ..backend import _by_array_type
from .compare import _nondiff
from .elementwise_scalar import (AddScalar, DivScalar, MulScalar, PowScalar, RDivScalar,
                                 RPowScalar, RSubScalar, Square)
from .reduction import sum_to
from .unary import log


def _promote(a, b):
    """Cast two tensors to the dtype PyTorch's promotion gives them."""
    da, db = a.array.dtype, b.array.dtype
    if da == db:
        return a, b
    fa, fb = da.kind == "f", db.kind == "f"
    if (da.kind == "c") != (db.kind == "c"):  # complex wins over every real kind
        target = B.numpy.promote_types(da, db)
        if target == B.numpy.complex128 and (da == B.numpy.complex64 or db == B.numpy.complex64) \
                and B.numpy.float64 not in (da, db):
            target = B.numpy.dtype("complex64")  # complex64 with an integer stays complex64
    elif fa and not fb:
        target = da
    elif fb and not fa:
        target = db
    elif fa and fb and (a.array.ndim == 0) != (b.array.ndim == 0):
        target = da if b.array.ndim == 0 else db  # a dimensioned tensor wins over a 0-d one
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
    k = t.array.dtype.kind
    if k in "fc":
        return t, c
    if isinstance(c, float) or (isinstance(c, numbers.Number) and not isinstance(c, numbers.Integral)):
        return t.to(B._default_dtype), c
    if k == "b" and not isinstance(c, bool):
        return t.to(B.int64), c
    return t, c


def _as_tensor(v, like):
    return _wrap(like.xp.asarray(v, dtype=like.array.dtype))


class _Binary(Function):
    """An op of two broadcasting tensors. (A shape that cannot broadcast is reported by
    Function.apply, naming the op and both shapes.)"""

    op = "binary"


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
        if gy.array.dtype.kind == "c":  # complex: PyTorch's conjugate convention
            return _complex_grads(self, gy, a, b, "mul")
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
        if gy.array.dtype.kind == "c":  # complex: PyTorch's conjugate convention
            return _complex_grads(self, gy, a, b, "div")
        ga = sum_to(gy / b, a.shape) if self.needs_input_grad[0] else None
        # d(a/b)/db = -a / b^2
        gb = sum_to(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


def _complex_grads(f, gy, a, b, op):
    """Gradients of a * b or a / b when complex numbers are involved. PyTorch's gradient of a
    real loss L with respect to z = x + iy is dL/dx + i dL/dy, which for a holomorphic
    y = h(z) is g * conj(h'(z)): a * b gives g conj(b) and g conj(a); a / b gives g / conj(b)
    and -g conj(a / b^2). A real input receives the real part."""
    from .complex import conj, real_part_for
    if op == "mul":
        ga = gy * conj(b)
        gb = gy * conj(a)
    else:
        ga = gy / conj(b)
        gb = -gy * conj(a / (b * b))
    ga = real_part_for(sum_to(ga, a.shape), a) if f.needs_input_grad[0] else None
    gb = real_part_for(sum_to(gb, b.shape), b) if f.needs_input_grad[1] else None
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


# ----------------------------------------------------------------------------- the public binaries
def _lean(a, b, op):
    """``op(a, b)`` without the op machinery, or None when the full path is needed.

    When no graph is being recorded (inference, or any first-order backward, whose formulas
    are mostly these four operators) and both operands are floating arrays of one device and
    dtype (or a Python number), there is nothing to record, promote or check: the op call
    would only wrap one array operation. A shape that cannot broadcast goes back to the full
    path, which raises the error that names both shapes.
    """
    if not isinstance(a, Tensor) or _state["anomaly"]:
        return None
    x = a.array
    if x.dtype.kind != "f":
        return None
    if isinstance(b, Tensor):
        y = b.array
        if type(y) is not type(x) or y.dtype is not x.dtype:
            return None
    elif type(b) is float or type(b) is int:
        y = b
    else:
        return None
    try:
        r = op(x, y)
    except ValueError:
        return None
    if type(r) is not type(x):  # NumPy gives a scalar for 0-d operands
        r = _by_array_type[type(x)].xp.asarray(r)
    return _wrap(r)


def _deprecated_alpha_first(name, other, alpha):
    """PyTorch still takes the old overload ``name(input, Number alpha, Tensor other)`` (e.g.
    ``p.data.add_(-lr, p.grad.data)`` in older programs), with a deprecation warning: when the
    second argument is a number and the third a tensor, they are swapped back."""
    if isinstance(alpha, Tensor) and not isinstance(other, Tensor):
        import warnings
        warnings.warn(f"This overload of {name} is deprecated:\n\t{name}(Number alpha, Tensor other)\n"
                      f"Consider using one of the following signatures instead:\n\t{name}(Tensor other, *, "
                      f"Number alpha = 1)", UserWarning, stacklevel=3)
        return alpha, other
    return other, alpha


def add(input, other, alpha=1):
    """input + alpha * other, broadcasting. The deprecated ``add(input, alpha, other)`` form
    (a number, then a tensor) is taken as PyTorch takes it."""
    other, alpha = _deprecated_alpha_first("add", other, alpha)
    if not _state["grad"] and alpha == 1:  # no graph recorded: the lean path
        r = _lean(input, other, operator.add)
        if r is not None:
            return r
    if alpha != 1:
        other = mul(other, alpha)
    if isinstance(other, Tensor):
        if not isinstance(input, Tensor):
            input, other = other, input
            if isinstance(other, Tensor):
                raise TypeError("add: bad operands")
        else:
            if input.array.dtype is not other.array.dtype:
                input, other = _promote(input, other)
            return Add.apply(input, other)
    input, other = _scalar_operand(input, other, "add")
    return AddScalar.apply(input, c=other)


def sub(input, other, alpha=1):
    """input - alpha * other, broadcasting (and the deprecated ``sub(input, alpha, other)``)."""
    other, alpha = _deprecated_alpha_first("sub", other, alpha)
    if not _state["grad"] and alpha == 1:  # no graph recorded: the lean path
        r = _lean(input, other, operator.sub)
        if r is not None:
            return r
    if alpha != 1:
        other = mul(other, alpha)
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        if input.array.dtype is not other.array.dtype:
            input, other = _promote(input, other)
        return Sub.apply(input, other)
    if isinstance(input, Tensor):
        input, other = _scalar_operand(input, other, "sub")
        return AddScalar.apply(input, c=-other)
    other, input = _scalar_operand(other, input, "sub")  # scalar - tensor
    return RSubScalar.apply(other, c=input)


def mul(input, other):
    """input * other, broadcasting."""
    if not _state["grad"]:  # no graph recorded: the lean path
        r = _lean(input, other, operator.mul)
        if r is not None:
            return r
    if not isinstance(input, Tensor):
        input, other = other, input
    if isinstance(other, Tensor):
        if other is input:
            return Square.apply(input)
        if input.array.dtype is not other.array.dtype:
            input, other = _promote(input, other)
        return Mul.apply(input, other)
    input, other = _scalar_operand(input, other, "mul")
    return MulScalar.apply(input, c=other)


def div(input, other, rounding_mode=None):
    """input / other (true division: integer tensors give float32, as in PyTorch)."""
    if rounding_mode is None and not _state["grad"]:  # no graph recorded: the lean path
        r = _lean(input, other, operator.truediv)
        if r is not None:
            return r
    if rounding_mode is not None:
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        if _integral(input) and _integral(other):
            return _int_div(input, other, rounding_mode)
        q = div(input, other)
        if rounding_mode == "trunc":
            return _nondiff(q, lambda xp, a: xp.trunc(a))
        if rounding_mode == "floor":
            return _nondiff(q, lambda xp, a: xp.floor(a))
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        if input.array.dtype.kind not in "fc" and other.array.dtype.kind not in "fc":
            input = input.to(B._default_dtype)
        if input.array.dtype is not other.array.dtype:
            input, other = _promote(input, other)
        return Div.apply(input, other)
    if isinstance(input, Tensor):
        if input.array.dtype.kind not in "fc":
            input = input.to(B._default_dtype)
        return DivScalar.apply(input, c=other)
    if other.array.dtype.kind not in "fc":
        other = other.to(B._default_dtype)
    return RDivScalar.apply(other, c=input)


def _integral(v):
    # an integer tensor, or a Python integer (bool counts, as in PyTorch)
    if isinstance(v, Tensor):
        return v.array.dtype.kind in "iub"
    return isinstance(v, numbers.Integral)


def _int_div(input, other, mode):
    """Integer division of integers, staying integer as in PyTorch (``torch.div(a, b,
    rounding_mode='floor')`` of int64 tensors is int64); dividing by 0 raises."""
    t = input if isinstance(input, Tensor) else other
    xp = t.xp
    a = input.array if isinstance(input, Tensor) else input
    b = other.array if isinstance(other, Tensor) else other
    if bool(xp.any(xp.asarray(b) == 0)):
        raise ZeroDivisionError(f"div: integer division by zero (rounding_mode={mode!r})")
    q = xp.floor_divide(a, b)
    if mode == "trunc":
        # floor rounds toward -inf; truncation moves the inexact negative quotients up by one
        q = xp.where((q < 0) & (q * b != a), q + 1, q)
    return _wrap(xp.asarray(q))


true_divide = divide = div
multiply = mul
subtract = sub


def pow(input, exponent):
    """input ** exponent; either may be a Python number."""
    if isinstance(input, Tensor) and isinstance(exponent, Tensor):
        if input.array.dtype is not exponent.array.dtype:
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
    if a.array.dtype is not b.array.dtype:
        a, b = _promote(a, b)
    return a, b


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
    return _wrap(t.xp.zeros_like(t.array))


def where(condition, input=None, other=None):
    """Elementwise ``input if condition else other``, broadcasting all three. With the
    condition alone, ``torch.where(c)`` is ``nonzero(c, as_tuple=True)``, as in PyTorch."""
    if input is None and other is None:
        from .construct import nonzero
        return nonzero(condition, as_tuple=True)
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        # torch.where(c, 1, 0): two numbers make a tensor on c's device, of their type (bool,
        # int64, or the default float dtype if either is a float), as in PyTorch
        if not isinstance(condition, Tensor):
            raise TypeError("where: the condition must be a Tensor when input and other are "
                            f"both numbers, got {type(condition).__name__}")
        for name, v in (("input", input), ("other", other)):
            if not isinstance(v, numbers.Number):
                raise TypeError(f"where: {name} must be a Tensor or a number, got "
                                f"{type(v).__name__}")
        if isinstance(input, bool) and isinstance(other, bool):
            dt = B.bool_
        elif isinstance(input, numbers.Integral) and isinstance(other, numbers.Integral):
            dt = B.int64
        else:
            dt = B.get_default_dtype()
        input = _wrap(condition.xp.asarray(input, dtype=dt))
    input, other = _pair(input, other)
    cond = condition.array if isinstance(condition, Tensor) else input.xp.asarray(condition)
    if cond.dtype.kind != "b":
        cond = cond.astype(bool)
    if type(cond) is not type(input.array):
        from ..autograd import _device_mismatch
        _device_mismatch("where", [_wrap(cond), input])
    try:
        return Where.apply(_wrap(cond), input, other)
    except ValueError:
        raise RuntimeError(
            f"where: condition {list(cond.shape)}, input {list(input.shape)} and other "
            f"{list(other.shape)} cannot be broadcast together") from None
