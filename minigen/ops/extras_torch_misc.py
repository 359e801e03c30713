"""More of PyTorch's functions, as compositions of minigen's ops:

    diagonal_scatter(x, src, offset, dim1, dim2)   x with x.diagonal(offset, dim1, dim2) = src
    select_scatter(x, src, dim, index)             x with x.select(dim, index) = src
    slice_scatter(x, src, dim, start, end, step)   x with x[..., start:end:step, ...] = src
    put(x, index, source, accumulate)              x.flatten()[index] = source (or +=)
    index_reduce(x, dim, index, source, reduce)    scatter_reduce along dim with a 1-D index
    hsplit / vsplit / dsplit                       tensor_split along dim 1 (0 for 1-D), 0, 2
    msort(x) = sort(x, dim=0).values,  vdot(a, b) = sum conj(a) b,  absolute = abs,
    logical_xor,  histogram(x, bins, range, weight, density) -> (hist, bin_edges)
    x.H (2-D), x.mH, x.adjoint(): the conjugate transpose
    isin(elements, test_elements) (no gradient), combinations(x, r) (rows of x's elements),
    unravel_index(indices, shape), rsub(a, b, alpha) = b - alpha a,
    trapezoid(y, x or dx, dim) = sum_i (x_{i+1} - x_i) (y_i + y_{i+1}) / 2 (trapz: the same),
    cumulative_trapezoid: its running sums

The scatters into a view are ``where(place, gather(src), x)``: the places of the view get src's
elements (gradient to src through the gather), the others keep x's (gradient to x there).
"""
from __future__ import annotations

import builtins
import numbers

from ..autograd import Tensor, _wrap, _wrap_dim
from .elementwise import where
from .indexing import GetItem, IndexAdd
from .shape import reshape

__all__ = ["diagonal_scatter", "select_scatter", "slice_scatter", "index_reduce", "hsplit",
           "vsplit", "dsplit", "msort", "vdot", "absolute", "logical_xor", "histogram",
           "adjoint", "unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes", "put",
           "hardshrink", "isin", "combinations", "unravel_index", "trapezoid", "trapz",
           "cumulative_trapezoid", "rsub"]
TENSOR_METHODS = [n for n in __all__ if n not in (
    "isin", "combinations", "unravel_index", "trapezoid", "trapz", "cumulative_trapezoid",
    "rsub")]


def _scatter_into_view(input, src, view, op, what):
    """input with the elements of ``view(positions)`` replaced by src (row-major)."""
    xp = input.xp
    pos = xp.arange(input.numel()).reshape(input.shape)
    sel = xp.ascontiguousarray(view(pos))
    if tuple(sel.shape) != tuple(src.shape):
        raise RuntimeError(f"{op}: expected src to have a size equal to the {what} of self. "
                           f"src size = {list(src.shape)}, {what} size = {list(sel.shape)}")
    flat = sel.reshape(-1)
    take = xp.zeros(input.numel(), "int64")
    take[flat] = xp.arange(flat.shape[0])
    hit = xp.zeros(input.numel(), bool)
    hit[flat] = True
    s = src if src.array.dtype == input.array.dtype else src.to(input.array.dtype)
    if flat.shape[0] == 0:
        return input * 1 if input.requires_grad else input.clone()
    placed = reshape(GetItem.apply(reshape(s, (-1,)), key=(take,)), tuple(input.shape))
    return where(_wrap(hit.reshape(input.shape)), placed, input)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """input with its diagonal (offset, dim1, dim2) replaced by src."""
    return _scatter_into_view(
        input, src, lambda a: input.xp.diagonal(a, offset, dim1, dim2), "diagonal_scatter",
        "diagonal")


def select_scatter(input, src, dim, index):
    """input with input.select(dim, index) replaced by src."""
    d = _wrap_dim(dim, input.ndim, "select_scatter")
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select_scatter: index {index} out of range for dimension {dim} of "
                         f"size {n}")
    key = (builtins.slice(None),) * d + (index % n,)
    return _scatter_into_view(input, src, lambda a: a[key], "select_scatter", "slice")


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """input with input[..., start:end:step, ...] (along dim) replaced by src."""
    d = _wrap_dim(dim, input.ndim, "slice_scatter")
    key = (builtins.slice(None),) * d + (builtins.slice(start, end, step),)
    return _scatter_into_view(input, src, lambda a: a[key], "slice_scatter", "slice")


def put(self, index, source, accumulate=False):
    """A copy of self with self.flatten()[index] = source (accumulate=True: +=, repeated
    indices adding up); negative indices count from the end."""
    xp = self.xp
    idx = index.array if isinstance(index, Tensor) else xp.asarray(index)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"put: expected an integer index, got {idx.dtype}")
    n = self.numel()
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        raise IndexError(f"put: index out of range for a tensor of {n} elements")
    if source.array.dtype != self.array.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {self.array.dtype} and source.dtype = "
                           f"{source.array.dtype}")
    if source.numel() != idx.size:
        raise RuntimeError(f"put: expected source to have as many elements ({source.numel()}) as "
                           f"index ({idx.size})")
    idx = xp.where(idx < 0, idx + n, idx).reshape(-1).astype("int64")
    src = reshape(source if source.array.dtype == self.array.dtype else
                  source.to(self.array.dtype), (-1,))
    if accumulate:
        return self + reshape(IndexAdd.apply(src, key=(idx,), shape=(n,)), tuple(self.shape))
    return _scatter_into_view(self, src.reshape(idx.shape), lambda a: a.reshape(-1)[idx], "put",
                              "index")


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """Reduce source.select(dim, i) into input.select(dim, index[i]) with 'prod', 'mean',
    'amax' or 'amin' (scatter_reduce with the index broadcast along the other dims)."""
    from .extras_torch_index import scatter_reduce
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce: reduce argument must be either prod, mean, amax or "
                           f"amin, got {reduce}")
    xp = input.xp
    d = _wrap_dim(dim, builtins.max(input.ndim, 1), "index_reduce")
    idx = index.array if isinstance(index, Tensor) else xp.asarray(index)
    if idx.ndim != 1 or idx.shape[0] != (source.shape[d] if source.ndim else 1):
        raise RuntimeError(f"index_reduce: index {list(idx.shape)} must be 1-D with one entry per "
                           f"slice of source {list(source.shape)} along dim {dim}")
    shape = [1] * source.ndim
    shape[d] = idx.shape[0]
    full = xp.broadcast_to(idx.reshape(shape), tuple(source.shape)).astype("int64")
    return scatter_reduce(input, d, _wrap(xp.ascontiguousarray(full)), source, reduce,
                          include_self=include_self)


def _split_like(name, dim_of, min_dims):
    def fn(input, indices_or_sections):
        from .construct_shape import tensor_split
        if input.ndim < min_dims:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} "
                               f"dimension, but got a tensor with {input.ndim} dimensions!")
        d = dim_of(input)
        if isinstance(indices_or_sections, numbers.Integral):
            n = int(indices_or_sections)
            if n <= 0 or input.shape[d] % n:
                raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, but "
                                   f"the size of the dimension {input.shape[d]} is not divisible "
                                   f"by the split_size {n}!")
        return tuple(tensor_split(input, indices_or_sections, d))
    fn.__name__ = name
    fn.__doc__ = f"tensor_split along dimension {name[0]} (see the module docstring)."
    return fn


hsplit = _split_like("hsplit", lambda t: 1 if t.ndim > 1 else 0, 1)
vsplit = _split_like("vsplit", lambda t: 0, 2)
dsplit = _split_like("dsplit", lambda t: 2, 3)


def unsafe_chunk(input, chunks, dim=0):
    return input.chunk(chunks, dim)


def unsafe_split(input, split_size, dim=0):
    return input.split(split_size, dim)


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    from .extras_torch_index import split_with_sizes
    return split_with_sizes(input, split_sizes, dim)


def msort(input):
    """The values sorted along dim 0."""
    from .sorting import sort
    return sort(input, dim=0)[0]


def vdot(input, other):
    """sum_i conj(a_i) b_i of two 1-D tensors."""
    from .linalg import dot
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    a = input.conj() if input.array.dtype.kind == "c" else input
    return dot(a, other)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0 (its gradient: 1 there, 0 elsewhere)."""
    return where(input.abs() > lambd, input, 0.0)


def absolute(input):
    """Alias of abs."""
    from .unary import abs
    return abs(input)


def logical_xor(input, other):
    """True where exactly one of input, other is non-zero."""
    xp = input.xp
    o = other.array if isinstance(other, Tensor) else other
    return _wrap(xp.asarray(xp.logical_xor(input.array, o)))


class _Histogram(tuple):
    @property
    def hist(self):
        return self[0]

    @property
    def bin_edges(self):
        return self[1]


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """(hist, bin_edges): ``bins`` equal bins over ``range`` (default: the data's min and max)
    or the given edges (a 1-D tensor); the last bin includes its right edge. Float tensors."""
    xp = input.xp
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the same "
                           f"floating dtype, got {input.array.dtype}")
    for name, t in (("bins", bins), ("weight", weight)):
        if isinstance(t, Tensor) and t.array.dtype != input.array.dtype:
            raise RuntimeError(f"torch.histogram: input tensor and {name} tensor should have the "
                               f"same dtype, but got input {input.array.dtype} and {name} "
                               f"{t.array.dtype}")
    a = input.array.reshape(-1)
    w = None if weight is None else weight.array.reshape(-1)
    edges = bins.array if isinstance(bins, Tensor) else int(bins)
    if not isinstance(bins, Tensor) and range is None and a.size:
        lo, hi = float(a.min()), float(a.max())
        range = (lo, hi) if lo < hi else (lo - 0.5, hi + 0.5) if lo == hi else None
    hist, e = xp.histogram(a, bins=edges, range=range, weights=w, density=density)
    dt = input.array.dtype
    return _Histogram((_wrap(xp.asarray(hist).astype(dt)), _wrap(xp.asarray(e).astype(dt))))


def adjoint(input):
    """The conjugate transpose of the last two dims (x.mH)."""
    t = input.transpose(-2, -1)
    return t.conj() if input.array.dtype.kind == "c" else t


def _H(self):
    if self.ndim not in (0, 2):
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{self.ndim}-D tensor."
                           + (" For batches of matrices, consider using tensor.mH"
                              if self.ndim > 2 else ""))
    return adjoint(self) if self.ndim == 2 else self


def install(T):
    """Tensor properties and facts: x.H, x.mH, x.is_conj(), x.is_neg(), x.is_inference(),
    x.output_nr, x.const_data_ptr(), x.prelu(weight)."""
    from .extras_torch_tensor import data_ptr
    T.H = property(_H)
    T.mH = property(adjoint)
    T.is_conj = lambda self: False
    T.is_neg = lambda self: False
    T.is_inference = lambda self: False
    T.output_nr = property(lambda self: self._idx if self.creator is not None else 0)
    T.const_data_ptr = data_ptr

    def prelu(self, weight):
        from .extras import prelu as f
        return f(self, weight)

    T.prelu = prelu


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """True where an element of ``elements`` is in ``test_elements`` (either may be a number)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin: expected at least one Tensor")
    like = elements if isinstance(elements, Tensor) else test_elements
    xp = like.xp
    e = elements.array if isinstance(elements, Tensor) else xp.asarray(elements)
    t = test_elements.array if isinstance(test_elements, Tensor) else xp.asarray(test_elements)
    return _wrap(xp.asarray(xp.isin(e, t, invert=invert)))


def combinations(input, r=2, with_replacement=False):
    """The length-r combinations of the elements of 1-D input, one per row (as
    itertools.combinations / combinations_with_replacement), differentiable through indexing."""
    import itertools
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return _wrap(input.xp.zeros((0,), dtype=input.array.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    rows = list(pick(range(input.shape[0]), r))
    if not rows:
        return _wrap(input.xp.zeros((0, r), dtype=input.array.dtype))
    idx = input.xp.asarray(rows, dtype="int64")
    return GetItem.apply(input, key=(idx,))


def unravel_index(indices, shape):
    """The coordinates in ``shape`` of flat ``indices``: a tuple of int64 tensors."""
    xp = indices.xp if isinstance(indices, Tensor) else B_numpy()
    idx = indices.array if isinstance(indices, Tensor) else xp.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got {idx.dtype}")
    shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
    out = []  # (floor division and modulo, so out-of-range indices wrap, as in PyTorch)
    for s in reversed(shape):
        out.append(_wrap(xp.asarray(idx % s).astype("int64")))
        idx = idx // s
    return tuple(reversed(out))


def B_numpy():
    from .. import backend as B
    return B.numpy


def _trapezoid_parts(y, x, dx, dim, op):
    d = _wrap_dim(dim, y.ndim, op)
    n = y.shape[d]
    hi = y.narrow(d, 1, n - 1) if n > 1 else None
    lo = y.narrow(d, 0, n - 1) if n > 1 else None
    if x is None:
        spacing = 1.0 if dx is None else dx
    else:
        if x.ndim == 1:
            if x.shape[0] != n:
                raise RuntimeError(f"{op}: There must be one `x` value for each sample point")
            shape = [1] * y.ndim
            shape[d] = n
            x = reshape(x, tuple(shape))
        xd = _wrap_dim(d - y.ndim + x.ndim, x.ndim, op) if x.ndim != y.ndim else d
        spacing = x.narrow(xd, 1, n - 1) - x.narrow(xd, 0, n - 1) if n > 1 else None
    return d, n, hi, lo, spacing


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The integral of y by the trapezoid rule along dim, on the sample points x (or a spacing
    dx, default 1)."""
    if isinstance(x, numbers.Number) and dx is None:
        x, dx = None, x
    d, n, hi, lo, spacing = _trapezoid_parts(y, x, dx, dim, "trapezoid")
    if n <= 1:
        return (y * 0).sum(d)
    return ((hi + lo) * spacing).sum(d) / 2.0


def trapz(y, x=None, *, dx=None, dim=-1):
    """The old name of trapezoid."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoid-rule integrals of y along dim (one fewer than y's samples)."""
    if isinstance(x, numbers.Number) and dx is None:
        x, dx = None, x
    d, n, hi, lo, spacing = _trapezoid_parts(y, x, dx, dim, "cumulative_trapezoid")
    if n <= 1:
        return y.narrow(d, 0, 0) * 1.0
    return ((hi + lo) * spacing / 2.0).cumsum(d)


def rsub(input, other, alpha=1):
    """other - alpha input (either may be a number)."""
    from .elementwise import sub, mul
    return sub(other, input if alpha == 1 else mul(input, alpha))
