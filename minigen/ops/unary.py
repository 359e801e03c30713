"""Unary math: exp, log, sqrt, abs, sin, cos, tanh, sigmoid, relu, clamp, ...

Each derivative is written next to its forward, in minigen ops, so each is differentiable again
(d tanh/dx = 1 - tanh^2, d sigma/dx = sigma (1 - sigma), ...). Integer inputs are promoted to
float32 first, as PyTorch does for these functions.
"""
from __future__ import annotations

import numpy

from .. import backend as B
from ..autograd import Function, Tensor, _state, _wrap
from .compare import sign, _nondiff


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
        if x.array.dtype.kind == "c":
            # |z| = sqrt(x^2 + y^2): dL/dx + i dL/dy = g z / |z| (0 at z = 0), differentiable
            r = abs(x)
            return gy * x / (r + (r == 0).to(r.dtype))
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
        if not _state["grad"]:  # no graph recorded: the same formula, without an op call
            return _wrap(_tanh_grad(self.xp, gy.array, y.array))
        return TanhBackward.apply(gy, y)


def _tanh_grad(xp, g, y):
    """g (1 - y^2) on raw arrays (``out=``: an array even when y is 0-d)."""
    out = xp.multiply(y, y, out=xp.empty_like(y))
    xp.subtract(1.0, out, out=out)
    out *= g
    return out


class TanhBackward(Function):
    """g (1 - y^2): the gradient of tanh from its output y = tanh(x), as one node.

    It is an op of its own (as in PyTorch) so a backward through tanh costs one call, and it
    is differentiable in turn:  d/dg = 1 - y^2,  d/dy = -2 y g.
    """

    def forward(self, g, y):
        self.save_for_backward(g, y)
        return _tanh_grad(self.xp, g, y)

    def backward(self, gz):
        g, y = self.saved_tensors
        gg = gz * (1.0 - y * y) if self.needs_input_grad[0] else None
        gy = gz * g * y * -2.0 if self.needs_input_grad[1] else None
        return gg, gy


class Sigmoid(Function):
    def forward(self, x):
        # sigma(x) = 1 / (1 + e^-x). Where x < -88 (float32) e^-x overflows to inf and
        # y = 1/inf = 0, the correct limit, so that overflow is expected and silenced. This form
        # keeps relative accuracy in both tails and has no per-element branch (np.where is
        # slow on unpredictable masks).
        xp = self.xp
        y = xp.negative(x, out=xp.empty_like(x))  # an array even for 0-d x (NumPy: a scalar)
        with numpy.errstate(over="ignore"):
            xp.exp(y, out=y)
        y += 1.0
        xp.reciprocal(y, out=y)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        if not _state["grad"]:  # no graph recorded: the same formula, without an op call
            return _wrap(_sigmoid_grad(self.xp, gy.array, y.array))
        return SigmoidBackward.apply(gy, y)


def _sigmoid_grad(xp, g, y):
    """g y (1 - y) on raw arrays."""
    out = xp.subtract(1.0, y, out=xp.empty_like(y))
    out *= y
    out *= g
    return out


class SigmoidBackward(Function):
    """g y (1 - y): the gradient of sigmoid from its output y, as one node.
    Differentiable in turn:  d/dg = y (1 - y),  d/dy = g (1 - 2 y)."""

    def forward(self, g, y):
        self.save_for_backward(g, y)
        return _sigmoid_grad(self.xp, g, y)

    def backward(self, gz):
        g, y = self.saved_tensors
        gg = gz * y * (1.0 - y) if self.needs_input_grad[0] else None
        gy = gz * g * (1.0 - 2.0 * y) if self.needs_input_grad[1] else None
        return gg, gy


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
    if input.array.dtype.kind not in "fc":
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
    return input * input


def clamp(input, min=None, max=None):
    """Limit values to [min, max]; min and max may be numbers or tensors."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        from .elementwise import maximum, minimum
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


def _float(t):
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a Tensor, got {type(t).__name__}")
    return t if t.array.dtype.kind == "f" else t.to(B._default_dtype)
