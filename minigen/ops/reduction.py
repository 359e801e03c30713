"""Reductions, and the one helper that undoes broadcasting.

``sum_to(g, shape)`` sums a gradient back down to the shape an input had before it was
broadcast: the only place in minigen that does so. Its backward is ``broadcast_to`` and
``broadcast_to``'s backward is ``sum_to``: each is the other's adjoint.
"""
from __future__ import annotations

import builtins
from collections import namedtuple

from ..autograd import Function, Tensor, _wrap, _wrap_dim

return_types = namedtuple("return_types", ["values", "indices"])


# ----------------------------------------------------------------------------- broadcasting
def _sum_axes(shape, target):
    """Axes to sum, so that an array of ``shape`` becomes ``target`` (keepdims on the kept)."""
    lead = len(shape) - len(target)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(target) if n == 1 and shape[i + lead] != 1)
    return lead, axes


class SumTo(Function):
    def forward(self, x, shape):
        self.in_shape = x.shape
        lead, axes = _sum_axes(x.shape, shape)
        y = self.backend.sum(x, axes, keepdims=True) if axes else x
        return y.reshape(shape) if lead else y

    def backward(self, gy):
        return broadcast_to(gy, self.in_shape)


class BroadcastTo(Function):
    def forward(self, x, shape):
        self.in_shape = x.shape
        return self.xp.broadcast_to(x, shape)

    def backward(self, gy):
        return sum_to(gy, self.in_shape)


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the reverse of broadcasting ``shape`` up to ``x.shape``)."""
    shape = tuple(shape)
    if x.array.shape == shape:
        return x
    return SumTo.apply(x, shape=shape)


def broadcast_to(input, size):
    size = tuple(size)
    if input.array.shape == size:
        return input
    # -1 keeps the existing size, as in Tensor.expand
    lead = len(size) - input.array.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(size)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({input.array.ndim})")
    size = tuple(input.array.shape[i - lead] if s == -1 else s for i, s in enumerate(size))
    try:
        return BroadcastTo.apply(input, shape=size)
    except ValueError:
        raise RuntimeError(
            f"expand: the expanded size of the tensor {list(size)} must match the existing size "
            f"{list(input.shape)} at each non-singleton dimension") from None


def expand(input, *sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    return broadcast_to(input, sizes)


def expand_as(input, other):
    return broadcast_to(input, other.shape)


# ----------------------------------------------------------------------------- dims
def _dims(dim, ndim, op):
    """Normalise ``dim`` (None, an int, or a tuple) to a sorted tuple of axes, or None."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            return None
        axes = tuple(sorted(_wrap_dim(d, ndim, op) for d in dim))
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"{op}: dim {list(dim)} appears multiple times in the list of dims")
        return axes
    return (_wrap_dim(dim, ndim, op),)


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    def forward(self, x, axes, keepdim):
        self.in_shape = x.shape
        self.axes = axes
        return self.backend.sum(x, axes, keepdim)

    def backward(self, gy):
        axes = self.axes if self.axes is not None else tuple(range(len(self.in_shape)))
        # the gradient of a sum is the upstream gradient copied to every summed element
        return broadcast_to(gy.reshape(_kept_shape(self.in_shape, axes)), self.in_shape)


def sum(input, dim=None, keepdim=False, dtype=None):
    """Sum over ``dim`` (an int, a tuple, or None for all). Bool and int tensors sum to int64."""
    if dtype is not None:
        input = input.to(dtype)
    elif input.array.dtype.kind in "biu" and input.array.dtype != "int64":
        input = input.to("int64")  # as PyTorch: integer and bool sums are int64
    axes = _dims(dim, input.array.ndim, "sum")
    return Sum.apply(input, axes=axes, keepdim=keepdim)


def mean(input, dim=None, keepdim=False, dtype=None):
    """Arithmetic mean over ``dim``; floating tensors only (as in PyTorch)."""
    if dtype is not None:
        input = input.to(dtype)
    if input.array.dtype.kind not in "fc":
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {input.array.dtype}")
    axes = _dims(dim, input.array.ndim, "mean")
    n = _count(input.array.shape, axes)
    s = Sum.apply(input, axes=axes, keepdim=keepdim)
    return s / n if n else s * float("nan")


def _count(shape, axes):
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


def var(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance; unbiased (divides by n - 1) by default, as in PyTorch.

    ``correction`` (PyTorch 2's name) is the number subtracted from n; ``unbiased=False``
    means correction 0.
    """
    if isinstance(dim, bool):  # var(x, False): PyTorch's old positional form
        unbiased, dim = dim, None
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = _dims(dim, input.array.ndim, "var")
    n = _count(input.array.shape, axes)
    mu = mean(input, dim=axes, keepdim=True)
    d = input - mu
    return sum(d * d, dim=axes, keepdim=keepdim) / builtins.max(n - correction, 0)


def std(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """Standard deviation: sqrt of ``var`` with the same arguments."""
    return var(input, dim, unbiased, keepdim, correction).sqrt()


def var_mean(input, dim=None, unbiased=None, keepdim=False, correction=None):
    return var(input, dim, unbiased, keepdim, correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, correction=None):
    return std(input, dim, unbiased, keepdim, correction), mean(input, dim, keepdim)


# ----------------------------------------------------------------------------- max / min
class GatherAlong(Function):
    """y = take_along_dim(x, index, dim). Backward: scatter the gradient back."""

    def forward(self, x, index, dim):
        self.index, self.dim, self.in_shape = index, dim, x.shape
        return self.xp.take_along_axis(x, index, axis=dim)

    def backward(self, gy):
        return ScatterAlong.apply(gy, index=self.index, dim=self.dim, shape=self.in_shape)


class ScatterAlong(Function):
    """y = zeros(shape); y[index along dim] += x. The adjoint of GatherAlong."""

    def forward(self, x, index, dim, shape):
        self.index, self.dim = index, dim
        y = self.xp.zeros(shape, x.dtype)
        idx = list(self.xp.indices(index.shape, sparse=True))
        idx[dim] = index
        self.backend.scatter_add(y, tuple(idx), x)
        return y

    def backward(self, gy):
        return GatherAlong.apply(gy, index=self.index, dim=self.dim)


class AMax(Function):
    """max over dims; ties share the gradient evenly (as torch.amax does)."""

    def forward(self, x, axes, keepdim, fn):
        if x.size == 0 and (axes is None or any(x.shape[a] == 0 for a in axes)):
            # (reducing a non-empty dim of an empty tensor is fine: zeros(0, 3).amax(1) is [])
            raise RuntimeError(f"{fn}: cannot reduce an empty tensor of shape {list(x.shape)} "
                               f"over a dimension of size 0")
        y = getattr(x, fn)(axis=axes, keepdims=True)
        self.save_for_backward(x, y)
        self.axes, self.keepdim = axes, keepdim
        return y if keepdim else y.reshape(tuple(n for i, n in enumerate(x.shape)
                                                 if axes is not None and i not in axes))

    def backward(self, gy):
        x, y = self.saved_tensors  # y here is the keepdim version (a constant: ties fixed)
        mask = (x == y).to(gy.dtype)
        count = sum(mask, dim=self.axes, keepdim=True)
        g = gy.reshape(y.shape)
        return mask * (g / count)


def _reduce_extreme(input, dim, keepdim, fn, arg_fn, op):
    if dim is None:
        if input.array.size == 0:
            raise RuntimeError(
                f"{op}(): Expected reduction dim to be specified for input.numel() == 0.")
        return AMax.apply(input, axes=None, keepdim=False, fn=fn)
    d = _wrap_dim(dim, input.array.ndim, op)
    if input.array.ndim == 0:
        return return_types(input, _wrap(input.xp.zeros((), "int64")))
    if input.array.shape[d] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size.")
    idx = getattr(input.xp, arg_fn)(input.array, axis=d)
    idx_k = input.xp.expand_dims(idx, d)
    values = GatherAlong.apply(input, index=idx_k, dim=d)
    if not keepdim:
        values = values.squeeze(d)
        return return_types(values, _wrap(idx.astype("int64")))
    return return_types(values, _wrap(idx_k.astype("int64")))


def max(input, dim=None, keepdim=False, *, other=None):
    """``max(x)``: the largest value. ``max(x, dim)``: (values, indices). ``max(a, b)``: maximum."""
    if isinstance(dim, Tensor):
        from .elementwise import maximum
        return maximum(input, dim)
    return _reduce_extreme(input, dim, keepdim, "max", "argmax", "max")


def min(input, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        from .elementwise import minimum
        return minimum(input, dim)
    return _reduce_extreme(input, dim, keepdim, "min", "argmin", "min")


def amax(input, dim=(), keepdim=False):
    axes = _dims(dim, input.array.ndim, "amax")
    return AMax.apply(input, axes=axes, keepdim=keepdim, fn="max")


def amin(input, dim=(), keepdim=False):
    axes = _dims(dim, input.array.ndim, "amin")
    return AMax.apply(input, axes=axes, keepdim=keepdim, fn="min")


def argmax(input, dim=None, keepdim=False):
    """Index of the largest value (of the flattened tensor when dim is None); int64."""
    return _arg(input, dim, keepdim, "argmax")


def argmin(input, dim=None, keepdim=False):
    return _arg(input, dim, keepdim, "argmin")


def _arg(input, dim, keepdim, fn):
    xp = input.xp
    if input.array.size == 0:
        raise RuntimeError(f"{fn}(): Expected reduction dim to be specified for input.numel() == 0.")
    if dim is None:
        i = getattr(xp, fn)(input.array.reshape(-1))
        out = xp.asarray(i, dtype="int64")
        return _wrap(out.reshape((1,) * input.array.ndim) if keepdim else out)
    d = _wrap_dim(dim, input.array.ndim, fn)
    if input.array.ndim == 0:
        return _wrap(xp.zeros((), "int64"))
    i = getattr(xp, fn)(input.array, axis=d).astype("int64")
    return _wrap(xp.expand_dims(i, d) if keepdim else i)


# ----------------------------------------------------------------------------- scans, products
class Cumsum(Function):
    def forward(self, x, dim):
        self.dim = dim
        return self.xp.cumsum(x, axis=dim, dtype=x.dtype)

    def backward(self, gy):
        # y_i = sum_{j<=i} x_j  =>  dL/dx_j = sum_{i>=j} g_i: a cumulative sum from the end
        d = self.dim
        return gy.flip(d).cumsum(d).flip(d)


def cumsum(input, dim, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    elif input.array.dtype.kind in "bi":
        input = input.to("int64")
    if input.array.ndim == 0:
        return input * 1
    return Cumsum.apply(input, dim=_wrap_dim(dim, input.array.ndim, "cumsum"))


def cumprod(input, dim, dtype=None):
    """Cumulative product, differentiable through zeros: y_i = prod_{j<=i} x_j.

    Built from ``prod`` over a lower-triangular mask, so it costs O(n^2) along ``dim``.
    """
    if dtype is not None:
        input = input.to(dtype)
    if input.array.ndim == 0:
        return input * 1
    d = _wrap_dim(dim, input.array.ndim, "cumprod")
    n = input.array.shape[d]
    x = input.movedim(d, -1).unsqueeze(-2)                          # [..., 1, n]
    keep = _wrap(input.xp.tril(input.xp.ones((n, n), dtype=bool)))  # row i keeps j <= i
    from .elementwise import where
    y = prod(where(keep, x, 1.0), dim=-1)                           # [..., n]
    return y.movedim(-1, d)


def prod(input, dim=None, keepdim=False, dtype=None):
    """Product over ``dim`` (all elements when None). Its gradient is exact where inputs are 0:
    d(prod)/dx_k is the product of the *other* elements, computed without dividing."""
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        out = prod(input.reshape(-1), 0)
        return out.reshape((1,) * input.array.ndim) if keepdim else out
    d = _wrap_dim(dim, input.array.ndim, "prod")
    if input.array.ndim == 0:
        return input * 1
    return Prod.apply(input, dim=d, keepdim=keepdim)


class Prod(Function):
    def forward(self, x, dim, keepdim):
        self.save_for_backward(x)
        self.dim, self.keepdim = dim, keepdim
        return x.prod(axis=dim, keepdims=keepdim)

    def backward(self, gy):
        (x,) = self.saved_tensors
        d, n = self.dim, x.shape[self.dim]
        if not self.keepdim:
            gy = gy.unsqueeze(d)
        # others_k = prod_{j != k} x_j: put x on a new axis, replace the diagonal by 1, multiply
        xm = x.movedim(d, -1).unsqueeze(-2)                           # [..., 1, n]
        off = _wrap(x.xp.eye(n, dtype=bool) == False)                 # noqa: E712
        from .elementwise import where
        others = prod(where(off, xm, 1.0), dim=-1).movedim(-1, d)     # [..., n] -> dim d
        return gy * others
