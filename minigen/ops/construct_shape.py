"""Building tensors from others: ``diag``, ``diag_embed``, ``trace``, ``meshgrid``, the stacks
(``hstack``, ``vstack``, ``dstack``, ``column_stack``), ``tensor_split``, ``tile``,
``repeat_interleave``, ``fliplr``/``flipud``/``rot90`` and broadcasting helpers.

Every one is a composite of reshape, broadcast, cat, flip, transpose and indexing, so their
gradients (of any order) are those ops' own: no new Function here.
"""
from __future__ import annotations

import builtins
import numbers
import warnings

import numpy

from ..autograd import Tensor, _wrap, _wrap_dim
from .indexing import IndexAdd, getitem, index_select
from .linalg import diagonal
from .reduction import broadcast_to
from .join import cat
from .shape import flip, permute, repeat, reshape, transpose


def _tensors(args, op):
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = tuple(args[0])
    if not args:
        raise RuntimeError(f"{op}: expected a non-empty list of Tensors")
    return list(args)


# ----------------------------------------------------------------------------- diagonals
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose (dim1, dim2) planes hold the last dim of ``input`` on their ``offset``
    diagonal and zeros elsewhere: out[..., i, i + offset] = input[..., i] (offset >= 0)."""
    nd = input.array.ndim + 1
    d1, d2 = _wrap_dim(dim1, nd, "diag_embed"), _wrap_dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = input.array.shape[-1] if input.array.ndim else 1
    m = n + abs(offset)
    k = input.xp.arange(n)
    # rows i + max(-offset, 0), columns i + max(offset, 0)
    key = (Ellipsis, k + max(-offset, 0), k + max(offset, 0))
    x = input.reshape(1) if input.array.ndim == 0 else input
    plane = IndexAdd.apply(x, key=key, shape=tuple(x.array.shape[:-1]) + (m, m))
    # plane's dims are (batch..., row, col): move row to d1 and col to d2
    batch = iter(range(nd - 2))
    order = [nd - 2 if p == d1 else nd - 1 if p == d2 else next(batch) for p in range(nd)]
    return permute(plane, order)


def diag(input, diagonal=0):
    """1-D input: the square matrix with input on its ``diagonal``; 2-D input: that diagonal."""
    if input.array.ndim == 1:
        return diag_embed(input, diagonal)
    if input.array.ndim == 2:
        return _diagonal(input, diagonal)
    raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got shape {list(input.shape)}")


_diagonal = diagonal


def trace(input):
    """The sum of the main diagonal of a matrix."""
    if input.array.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, got shape {list(input.shape)}")
    return _diagonal(input).sum()


# ----------------------------------------------------------------------------- grids
def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors. ``indexing='ij'``: output k varies along dim k;
    ``'xy'``: the first two dims are swapped (as NumPy's default). Without ``indexing``
    PyTorch warns and uses 'ij'; so does minigen."""
    ts = _tensors(tensors, "meshgrid")
    if indexing is None:
        warnings.warn("meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument; using indexing='ij'", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in ts:
        if t.array.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0-D or 1-D tensors, got shape {list(t.shape)}")
    ts = [t.reshape(-1) for t in ts]
    sizes = [t.array.shape[0] for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for k, t in enumerate(ts):
        axis = (1 - k if k < 2 else k) if swap else k
        shape = [1] * len(ts)
        shape[axis] = -1
        out.append(broadcast_to(t.reshape(shape), tuple(sizes)))
    return tuple(out)


def broadcast_shapes(*shapes):
    """The shape that tensors of ``shapes`` broadcast to (as a tuple)."""
    shapes = [(s,) if isinstance(s, numbers.Integral) else tuple(s) for s in shapes]
    try:
        return tuple(numpy.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(f"broadcast_shapes: shapes {[list(s) for s in shapes]} cannot be "
                           "broadcast together") from None


def broadcast_tensors(*tensors):
    """Each tensor broadcast to their common shape (gradients sum back)."""
    ts = _tensors(tensors, "broadcast_tensors")
    shape = broadcast_shapes(*[t.array.shape for t in ts])
    return tuple(t if t.array.shape == shape else broadcast_to(t, shape) for t in ts)


# ----------------------------------------------------------------------------- stacks
def atleast_1d(*tensors):
    ts = _tensors(tensors, "atleast_1d")
    out = tuple(t.reshape(1) if t.array.ndim == 0 else t for t in ts)
    return out[0] if len(out) == 1 and isinstance(tensors[0], Tensor) else out


def atleast_2d(*tensors):
    ts = _tensors(tensors, "atleast_2d")
    out = tuple(t.reshape(1, -1) if t.array.ndim < 2 else t for t in ts)
    return out[0] if len(out) == 1 and isinstance(tensors[0], Tensor) else out


def atleast_3d(*tensors):
    """0-D -> [1, 1, 1], 1-D [n] -> [1, n, 1], 2-D [m, n] -> [m, n, 1] (as NumPy)."""
    def lift(t):
        nd = t.array.ndim
        if nd == 0:
            return t.reshape(1, 1, 1)
        if nd == 1:
            return t.reshape(1, -1, 1)
        return t.reshape(tuple(t.array.shape) + (1,)) if nd == 2 else t
    ts = _tensors(tensors, "atleast_3d")
    out = tuple(lift(t) for t in ts)
    return out[0] if len(out) == 1 and isinstance(tensors[0], Tensor) else out


def hstack(tensors):
    """Join along dim 1 (dim 0 for 1-D tensors)."""
    ts = [atleast_1d(t) for t in _tensors((tensors,), "hstack")]
    return cat(ts, 0 if ts[0].array.ndim == 1 else 1)


def vstack(tensors):
    """Join along dim 0 after making every tensor at least 2-D (a 1-D one becomes a row)."""
    return cat([atleast_2d(t) for t in _tensors((tensors,), "vstack")], 0)


row_stack = vstack


def dstack(tensors):
    """Join along dim 2 after making every tensor at least 3-D."""
    return cat([atleast_3d(t) for t in _tensors((tensors,), "dstack")], 2)


def column_stack(tensors):
    """Join along dim 1; 0-D and 1-D tensors become columns [n, 1] first."""
    ts = [t.reshape(-1, 1) if t.array.ndim < 2 else t for t in _tensors((tensors,), "column_stack")]
    return cat(ts, 1)


# ----------------------------------------------------------------------------- split, tile
def tensor_split(input, indices_or_sections, dim=0):
    """Split along ``dim`` into ``n`` nearly equal pieces (the first ``size % n`` one longer), or
    at the listed indices (``x[:i0], x[i0:i1], ..., x[ik:]``, as NumPy's ``array_split``)."""
    d = _wrap_dim(dim, input.array.ndim, "tensor_split")
    size = input.array.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.array.dtype.kind not in "iu" or ios.array.ndim > 1:
            raise RuntimeError("tensor_split: a tensor indices_or_sections must be a 0-D or "
                               f"1-D integer tensor, got {ios.array.dtype} {list(ios.shape)}")
        ios = int(ios.item()) if ios.array.ndim == 0 else [int(v) for v in ios.tolist()]
    if isinstance(ios, numbers.Integral):
        n = int(ios)
        if n <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {n}")
        q, r = divmod(size, n)
        bounds, start = [], 0
        for k in range(n):
            start += q + (1 if k < r else 0)
            bounds.append(start)
        bounds = bounds[:-1]
    else:
        bounds = [int(i) for i in ios]
    edges = [0] + bounds + [size]
    head = (builtins.slice(None),) * d
    return tuple(getitem(input, head + (builtins.slice(a, b),)) for a, b in zip(edges, edges[1:]))


def tile(input, dims):
    """Repeat ``input`` ``dims[k]`` times along dim k; missing leading reps count as 1."""
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    dims = (1,) * (input.array.ndim - len(dims)) + dims
    return repeat(input, dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (of the flattened input, or each slice along ``dim``) ``repeats``
    times: a number, or a tensor with one count per element. ``repeat_interleave(counts)``
    alone repeats 0, 1, 2, ... by ``counts``. The output is an ``index_select``."""
    xp = input.xp
    if repeats is None:  # repeat_interleave(counts): the indices 0..n-1, repeated
        counts = input.array
        return _wrap(xp.repeat(xp.arange(counts.shape[0]), counts))
    if dim is None:
        input, d = input.reshape(-1), 0
    else:
        d = _wrap_dim(dim, input.array.ndim, "repeat_interleave")
    n = input.array.shape[d] if input.array.ndim else 1
    if isinstance(repeats, Tensor):
        reps = repeats.array
        if reps.ndim > 1 or reps.size not in (1, n):
            raise RuntimeError(f"repeat_interleave: repeats must have the same size as input "
                               f"along dim {d} ({n}) or be a single value, got shape "
                               f"{list(repeats.shape)}")
        if reps.size and int(reps.min()) < 0:
            raise RuntimeError("repeat_interleave: repeats can not be negative")
        reps = reps.reshape(-1)
        reps = int(reps[0]) if reps.size == 1 else reps
    else:
        reps = int(repeats)
        if reps < 0:
            raise RuntimeError("repeat_interleave: repeats can not be negative")
    # source index j appears reps[j] times: [0]*r0 + [1]*r1 + ...
    idx = xp.repeat(xp.arange(n), reps)
    if output_size is not None and idx.shape[0] != output_size:
        raise RuntimeError(f"repeat_interleave: output_size {output_size} does not match the "
                           f"total of repeats {idx.shape[0]}")
    return index_select(input, d, _wrap(idx))


# ----------------------------------------------------------------------------- flips
def fliplr(input):
    """Reverse dim 1 (left/right); needs at least 2 dims."""
    if input.array.ndim < 2:
        raise RuntimeError(f"fliplr: input must be >= 2-d, got shape {list(input.shape)}")
    return flip(input, 1)


def flipud(input):
    """Reverse dim 0 (up/down); needs at least 1 dim."""
    if input.array.ndim < 1:
        raise RuntimeError("flipud: input must be >= 1-d")
    return flip(input, 0)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first dim towards the
    second. k=1 is flip(dims[1]) then swap the dims; k=2 flips both; k=3 swaps then flips."""
    dims = tuple(dims)
    nd = input.array.ndim
    if len(dims) != 2:
        raise RuntimeError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if nd < 2:
        raise RuntimeError(f"rot90: expected total dims >= 2, but got total dims = {nd}")
    a, b = _wrap_dim(dims[0], nd, "rot90"), _wrap_dim(dims[1], nd, "rot90")
    if a == b:
        raise RuntimeError(f"rot90: expected rotation dims to be different, got {dims}")
    k %= 4
    if k == 0:
        return input * 1 if input.requires_grad else _wrap(input.array.copy())
    if k == 1:
        return transpose(flip(input, b), a, b)
    if k == 2:
        return flip(input, (a, b))
    return flip(transpose(input, a, b), b)


__all__ = [
    "diag", "diag_embed", "trace", "meshgrid", "broadcast_shapes", "broadcast_tensors",
    "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "row_stack", "dstack",
    "column_stack", "tensor_split", "tile", "repeat_interleave", "fliplr", "flipud", "rot90",
]
TENSOR_METHODS = [
    "diag", "diag_embed", "trace", "tensor_split", "tile", "repeat_interleave", "fliplr",
    "flipud", "rot90",
]
