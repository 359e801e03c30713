"""Comparisons, logical ops and rounding. None of these has a useful derivative, so they return
constant tensors (no graph): comparisons and logical ops give bool tensors, and ``sign``,
``floor``, ``ceil``, ``round`` give tensors whose gradient is zero everywhere.
"""
from __future__ import annotations

from ..autograd import Tensor, _wrap


def _broadcast_error(op, a, b):
    raise RuntimeError(
        f"{op}: the size of tensor a {list(a.shape)} must match the size of tensor b "
        f"{list(b.shape)} at a non-singleton dimension (shapes {list(a.shape)} and "
        f"{list(b.shape)} cannot be broadcast)")


def _nondiff(t, fn):
    """An op whose derivative is zero (or undefined) everywhere: its output is a constant."""
    return _result(t.xp, fn(t.xp, t.array))


def _result(xp, r):
    """A constant tensor of a raw result. NumPy turns 0-d results into scalars (numpy.bool_,
    numpy.float32), which are no device array: make them 0-d arrays again."""
    return _wrap(xp.asarray(r))


def sign(input):
    """-1, 0 or 1; its gradient is zero everywhere."""
    return _nondiff(input, lambda xp, a: xp.sign(a))


def _compare(name):
    def cmp(input, other):
        xp = input.xp
        o = other.array if isinstance(other, Tensor) else other
        if isinstance(other, Tensor) and type(o) is not type(input.array):
            from ..autograd import _device_mismatch
            _device_mismatch(name, [input, other])
        try:
            return _result(xp, getattr(xp, name)(input.array, o))
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
    return _result(input.xp, input.xp.logical_and(input.array, other.array if isinstance(other, Tensor) else other))


def logical_or(input, other):
    return _result(input.xp, input.xp.logical_or(input.array, other.array if isinstance(other, Tensor) else other))


def logical_not(input):
    return _result(input.xp, input.xp.logical_not(input.array))


def isnan(input):
    return _result(input.xp, input.xp.isnan(input.array))


def isinf(input):
    return _result(input.xp, input.xp.isinf(input.array))


def isfinite(input):
    return _result(input.xp, input.xp.isfinite(input.array))


def equal(input, other):
    """True if both tensors have the same shape and values."""
    return input.shape == other.shape and bool((input.array == other.array).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(input.xp.allclose(input.array, other.array, rtol=rtol, atol=atol, equal_nan=equal_nan))


def floor(input):
    return _nondiff(input, lambda xp, a: xp.floor(a))


def ceil(input):
    return _nondiff(input, lambda xp, a: xp.ceil(a))


def round(input, decimals=0):
    return _nondiff(input, lambda xp, a: xp.round(a, decimals))
