"""Arithmetic between a tensor and a Python scalar c: x + c, c - x, x * c, x / c, c / x,
x ** c, c ** x, and x * x when both operands are the same tensor.

The public ``add``, ``mul``, ... (ops/elementwise.py) pick these when one operand is a number:
a constant has no gradient of its own, so each is a node with one input, and c is kept on
the node rather than saved as an array. Each backward is written in minigen ops.
"""
from __future__ import annotations

import math

from ..autograd import Function


class AddScalar(Function):
    def forward(self, x, c):
        return x + c

    def backward(self, gy):
        return gy


class RSubScalar(Function):
    """c - x"""

    def forward(self, x, c):
        return c - x

    def backward(self, gy):
        return -gy


class Square(Function):
    """x * x, when both operands are the same tensor: dL/dx = 2 x g in one node."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, gy):
        (x,) = self.saved_tensors
        if x.array.dtype.kind == "c":  # PyTorch's complex convention: g conj(2 x)
            from .complex import conj
            x = conj(x)
        return gy * x * 2.0


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
        # d(c^x)/dx = c^x log(c)
        return gy * y * (math.log(self.c) if self.c > 0 else float("nan") if self.c < 0 else 0.0)
