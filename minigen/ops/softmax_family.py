"""The softmax family: softmax, log_softmax and logsumexp over a dimension.

Each forward subtracts the maximum first, so exp never overflows (softmax is unchanged by a
constant shift; logsumexp adds the shift back). Each backward is derived in its docstring.
"""
from __future__ import annotations

from ..autograd import Function, _wrap_dim
from .reduction import _dims, sum


class Softmax(Function):
    """y = exp(x - max) / sum(exp(x - max)).

    Backward: dL/dx_i = y_i (g_i - sum_j g_j y_j), from dy_j/dx_i = y_j (delta_ij - y_i).
    """

    def forward(self, x, dim):
        xp = self.xp
        self.dim = dim
        y = x - x.max(axis=dim, keepdims=True)
        xp.exp(y, out=y)
        y /= self.backend.sum(y, (dim,), keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return y * (gy - sum(gy * y, dim=self.dim, keepdim=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x).  Backward: dL/dx = g - softmax(x) sum(g) = g - exp(y) sum(g)."""

    def forward(self, x, dim):
        xp = self.xp
        self.dim = dim
        y = x - x.max(axis=dim, keepdims=True)
        y -= xp.log(self.backend.sum(xp.exp(y), (dim,), keepdims=True))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy - y.exp() * sum(gy, dim=self.dim, keepdim=True)


class LogSumExp(Function):
    """y = m + log(sum(exp(x - m))), m = max(x).  Backward: dL/dx = g * exp(x - y) = g softmax(x)."""

    def forward(self, x, axes, keepdim):
        xp = self.xp
        self.axes, self.keepdim = axes, keepdim
        m = x.max(axis=axes, keepdims=True) if x.size else xp.zeros_like(x.sum(axis=axes, keepdims=True))
        m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))  # an all -inf row stays -inf, not NaN
        y = m + xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True))
        self.save_for_backward(x, y)
        return y if keepdim else y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))

    def backward(self, gy):
        x, y = self.saved_tensors  # y: keepdim form (a constant copy unless keepdim)
        if not self.keepdim:
            y = _logsumexp_keep(x, self.axes)
            gy = gy.reshape(y.shape)
        return gy * (x - y).exp()


def _logsumexp_keep(x, axes):
    return LogSumExp.apply(x, axes=axes, keepdim=True)


def _softmax_dim(dim, input, op):
    if dim is None:  # PyTorch's implicit choice, which it warns about
        dim = 0 if input.array.ndim in (0, 1, 3) else 1
    return _wrap_dim(dim, input.array.ndim, op)


def _float_input(input, dtype, op):
    """``input`` in ``dtype`` if given; otherwise it must already be floating (as in PyTorch,
    which has no integer softmax)."""
    if dtype is not None:
        return input.to(dtype)
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype} (pass "
                           f"dtype=minigen.float32 to convert it)")
    return input


def softmax(input, dim=None, dtype=None):
    input = _float_input(input, dtype, "softmax")
    if input.array.ndim == 0:
        return input * 0 + 1
    return Softmax.apply(input, dim=_softmax_dim(dim, input, "softmax"))


def log_softmax(input, dim=None, dtype=None):
    input = _float_input(input, dtype, "log_softmax")
    if input.array.ndim == 0:
        return input * 0
    return LogSoftmax.apply(input, dim=_softmax_dim(dim, input, "log_softmax"))


def logsumexp(input, dim, keepdim=False):
    if input.array.ndim == 0:
        return input * 1
    axes = _dims(dim, input.array.ndim, "logsumexp")
    if axes is None:
        axes = tuple(range(input.array.ndim))
    return LogSumExp.apply(input, axes=axes, keepdim=keepdim)
