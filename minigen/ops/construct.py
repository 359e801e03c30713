"""Selecting and scattering: ``nonzero``, ``unique``, ``masked_select``, ``scatter``,
``scatter_add``, ``index_add``, ``index_fill``, ``narrow``, ``select``, ``take``.

Most are composites of indexing (``GetItem``/``IndexAdd``, each the other's adjoint), so their
gradients of every order come for free. ``scatter`` with a tensor ``src`` is one Function
(``Scatter``): its forward overwrites, which no sum of existing ops reproduces when an index
repeats. Integer indices are bounds-checked on every device (CuPy wraps them silently).

The shape builders (``diag``, ``meshgrid``, ``hstack``, ``tile``, ...) live in
construct_shape.py, the tensor facts and utilities (``finfo``, ``Generator``, ``new_zeros``,
``stride``, ...) in construct_meta.py; both are re-exported from here.
"""
from __future__ import annotations

import builtins
import numbers

from ..autograd import Function, Tensor, _wrap, _wrap_dim
from ..backend import check_index
from .indexing import GetItem, IndexAdd, getitem, masked_fill
from .construct_shape import *  # noqa: F401,F403
from .construct_shape import __all__ as _shape_all, TENSOR_METHODS as _shape_methods
from .construct_meta import *  # noqa: F401,F403
from .construct_meta import __all__ as _meta_all, TENSOR_METHODS as _meta_methods
from .construct_meta import (  # noqa: F401  (Tensor methods whose names shadow builtins)
    type, nbytes, itemsize, stride, is_complex, new_zeros, new_ones, new_full, new_empty,
    new_tensor,
)


def _index_array(index, input, op):
    """The raw integer array of ``index`` (a Tensor on input's device)."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: expected index to be a Tensor, got {builtins.type(index).__name__}")
    if builtins.type(index.array) is not builtins.type(input.array):
        from ..autograd import _device_mismatch
        _device_mismatch(op, [input, index])
    idx = index.array
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected index of dtype int64, got {idx.dtype}")
    return idx


def _check_nonneg(xp, idx, size, op, dim):
    """Indices must lie in [0, size): torch's scatter family does not wrap negative ones."""
    check_index(xp, idx, size, op, dim)
    if idx.size and int(idx.min()) < 0:
        raise IndexError(f"{op}: index {int(idx.min())} is out of bounds for dimension {dim} "
                         f"with size {size}")


# ----------------------------------------------------------------------------- selecting
def nonzero(input, *, as_tuple=False):
    """Indices of the nonzero elements: an int64 tensor [n, ndim] (one row per element), or with
    ``as_tuple=True`` one 1-D tensor per dimension (as NumPy's ``nonzero``)."""
    a = input.array
    if a.ndim == 0:  # torch treats a 0-d tensor as one element with no coordinates
        hit = bool(a != 0)
        if as_tuple:
            return (_wrap(input.xp.zeros(int(hit), "int64")),)
        return _wrap(input.xp.zeros((int(hit), 0), "int64"))
    where = input.xp.nonzero(a)
    if as_tuple:
        return tuple(_wrap(w.astype("int64")) for w in where)
    return _wrap(input.xp.stack(where, axis=1).astype("int64"))


def argwhere(input):
    """``nonzero(input)``: one row of coordinates per nonzero element."""
    return nonzero(input)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of ``input`` (flattened), sorted; optionally the index of each input
    element in that list (``inverse``, shaped as input) and how often each value occurs.
    Not differentiable (as in PyTorch). ``dim`` must be None in minigen."""
    if dim is not None:
        raise NotImplementedError("unique: minigen supports dim=None only")
    xp = input.xp
    vals, inv, counts = xp.unique(input.array.reshape(-1), return_inverse=True, return_counts=True)
    out = [_wrap(vals)]
    if return_inverse:
        out.append(_wrap(inv.reshape(input.array.shape).astype("int64")))
    if return_counts:
        out.append(_wrap(counts.astype("int64")))
    return out[0] if len(out) == 1 else tuple(out)


def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` is True, as a 1-D tensor (both broadcast first).
    A boolean ``x[mask]``, so its gradient scatters back into the selected places."""
    from .reduction import broadcast_to
    m = mask.array if isinstance(mask, Tensor) else None
    if m is None or m.dtype.kind != "b":
        raise RuntimeError(f"masked_select: expected a bool mask, got "
                           f"{getattr(m, 'dtype', builtins.type(mask).__name__)}")
    xp = input.xp
    try:
        shape = xp.broadcast_shapes(input.array.shape, m.shape)
    except ValueError:
        raise RuntimeError(f"masked_select: the shape of the mask {list(m.shape)} cannot be "
                           f"broadcast to input {list(input.shape)}") from None
    x = input if input.array.shape == shape else broadcast_to(input, shape)
    if m.shape != shape:
        m = xp.broadcast_to(m, shape)
    return getitem(x, _wrap(m))


def narrow(input, dim, start, length):
    """``input`` restricted to ``start <= i < start + length`` along ``dim`` (a slice)."""
    d = _wrap_dim(dim, input.array.ndim, "narrow")
    n = input.array.shape[d]
    start = int(start)
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start} is out of range for dimension {d} with size {n}")
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                           f"({n}) of dimension {d} of input {list(input.shape)}")
    key = (builtins.slice(None),) * d + (builtins.slice(start, start + length),)
    return getitem(input, key)


def select(input, dim, index):
    """``input`` at position ``index`` of ``dim``; that dimension is removed."""
    d = _wrap_dim(dim, input.array.ndim, "select")
    return getitem(input, (builtins.slice(None),) * d + (int(index),))


def take(input, index):
    """``input.flatten()[index]``: the output has index's shape; negative indices count from the
    end, as in ``torch.take``."""
    idx = _index_array(index, input, "take")
    return getitem(input.reshape(-1), _wrap(idx))


# ----------------------------------------------------------------------------- scattering
def _along_key(xp, idx, dim):
    """The full advanced-index key that addresses ``out[..., idx[...], ...]`` along ``dim``:
    index j of every other dimension is its own coordinate (as gather/scatter read them)."""
    key = list(xp.indices(idx.shape, sparse=True))
    key[dim] = idx
    return tuple(key)


def _scatter_args(op, input, dim, index, src):
    d = _wrap_dim(dim, input.array.ndim, op)
    idx = _index_array(index, input, op)
    if idx.ndim == 0 and input.array.ndim == 1:
        # PyTorch counts a 0-d index (and src) as one element along the one dimension:
        # torch.zeros(10).scatter_(0, torch.tensor(y), value=1), the one-hot of the data tutorial
        idx = idx.reshape(1)
        if src is not None and src.array.ndim == 0:
            src = src.reshape(1)
    if idx.ndim != input.array.ndim:
        raise RuntimeError(f"{op}: index {list(idx.shape)} and input {list(input.shape)} must "
                           "have the same number of dimensions")
    for k in range(idx.ndim):
        if k != d and idx.shape[k] > input.array.shape[k]:
            raise RuntimeError(f"{op}: expected index {list(idx.shape)} to be no larger than "
                               f"input {list(input.shape)} in dimension {k}")
        if src is not None and idx.shape[k] > src.array.shape[k]:
            raise RuntimeError(f"{op}: expected index {list(idx.shape)} to be no larger than "
                               f"src {list(src.shape)} in dimension {k}")
    _check_nonneg(input.xp, idx, input.array.shape[d], op, d)
    key = _along_key(input.xp, idx, d)
    if src is not None:
        if src.array.ndim != idx.ndim:
            raise RuntimeError(f"{op}: src {list(src.shape)} and index {list(idx.shape)} must "
                               "have the same number of dimensions")
        if src.array.shape != idx.shape:  # only the window src[:index.shape] is read
            src = getitem(src, tuple(builtins.slice(0, s) for s in idx.shape))
        if src.array.dtype != input.array.dtype:
            src = src.to(input.array.dtype)
    return key, src


class Scatter(Function):
    """out = input; out[key] = src (``key`` from ``_along_key``: index along dim).

    Backward: an overwritten place of input no longer reaches the output, so d out/d input is
    1 where nothing was written and 0 where something was: g_input = g masked to 0 there.
    Each src element lands at out[key]: g_src = g[key] (a gather), also for an element whose
    write lost to a later one at a repeated index (PyTorch's convention).
    """

    def forward(self, x, src, key):
        self.key = key
        y = x.copy()
        y[key] = src
        return y

    def backward(self, gy):
        g_in = g_src = None
        if self.needs_input_grad[0]:
            written = self.xp.zeros(gy.array.shape, bool)
            written[self.key] = True
            g_in = masked_fill(gy, _wrap(written), 0.0)
        if self.needs_input_grad[1]:
            g_src = GetItem.apply(gy, key=self.key)
        return g_in, g_src


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """``out = input`` with ``out[index[i][j]][j] = src[i][j]`` for dim=0 (and so on); ``src``
    may be a tensor or a number (``value=``). Where an index repeats, one of the writes wins.
    ``reduce='add'`` / ``'multiply'`` (PyTorch's older API) combine instead of writing: that is
    scatter_reduce with 'sum' / 'prod' (ops/extras_torch_index.py)."""
    if src is None and value is None:
        raise TypeError("scatter: expected src (a Tensor) or value (a number)")
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError("reduce argument must be either add or multiply.")
        from .extras_torch_index import scatter_reduce
        if not isinstance(src, Tensor):
            v = src if src is not None else value
            idx = _index_array(index, input, "scatter")
            src = _wrap(input.xp.full(idx.shape, v, dtype=input.array.dtype))
        return scatter_reduce(input, dim, index, src, "sum" if reduce == "add" else "prod")
    if not isinstance(src, Tensor):
        value = src if src is not None else value
        key, _ = _scatter_args("scatter", input, dim, index, None)
        mask = input.xp.zeros(input.array.shape, bool)
        mask[key] = True
        return masked_fill(input, _wrap(mask), value)
    if builtins.type(src.array) is not builtins.type(input.array):
        from ..autograd import _device_mismatch
        _device_mismatch("scatter", [input, src])
    key, src = _scatter_args("scatter", input, dim, index, src)
    return Scatter.apply(input, src, key=key)


def scatter_add(input, dim, index, src):
    """``out = input`` plus ``out[index[i][j]][j] += src[i][j]`` for dim=0 (and so on); repeated
    indices add up. The scatter is ``IndexAdd``, whose adjoint is the gather g_src = g[key]."""
    key, src = _scatter_args("scatter_add", input, dim, index, src)
    return input + IndexAdd.apply(src, key=key, shape=input.array.shape)


def index_add(input, dim, index, source, *, alpha=1):
    """``out = input``; ``out[..., index[i], ...] += alpha * source[..., i, ...]`` along ``dim``
    (``index`` is 1-D; repeated indices add up)."""
    d = _wrap_dim(dim, input.array.ndim, "index_add")
    idx = _index_array(index, input, "index_add")
    if idx.ndim > 1:
        raise RuntimeError(f"index_add: index must be 1-D, got shape {list(idx.shape)}")
    idx = idx.reshape(-1)
    want = list(input.array.shape)
    if want:
        want[d] = idx.shape[0]
    if list(source.array.shape) != want:
        raise RuntimeError(f"index_add: source {list(source.shape)} must have input's shape "
                           f"{list(input.shape)} with dimension {d} of size {idx.shape[0]}")
    _check_nonneg(input.xp, idx, input.array.shape[d] if input.array.ndim else 1, "index_add", d)
    if source.array.dtype != input.array.dtype:
        source = source.to(input.array.dtype)
    key = (builtins.slice(None),) * d + (idx,)
    added = IndexAdd.apply(source, key=key, shape=input.array.shape)
    # out = input + alpha * sum over repeats of source
    return input + (added if alpha == 1 else added * alpha)


def index_fill(input, dim, index, value):
    """``input`` with every position whose coordinate along ``dim`` is in ``index`` set to
    ``value`` (a number or a 0-d tensor); no gradient reaches input there."""
    d = _wrap_dim(dim, input.array.ndim, "index_fill")
    idx = _index_array(index, input, "index_fill")
    if idx.ndim > 1:
        raise RuntimeError(f"index_fill: index must be 1-D, got shape {list(idx.shape)}")
    if isinstance(value, Tensor) and value.array.ndim != 0:
        raise RuntimeError(f"index_fill: value must be a number or a 0-d tensor, got shape "
                           f"{list(value.shape)}")
    n = input.array.shape[d] if input.array.ndim else 1
    check_index(input.xp, idx, n, "index_fill", d)
    mask = input.xp.zeros(input.array.shape, bool)
    mask[(builtins.slice(None),) * d + (idx.reshape(-1),)] = True
    return masked_fill(input, _wrap(mask), value)


__all__ = [
    "nonzero", "argwhere", "unique", "masked_select", "narrow", "select", "take", "scatter",
    "scatter_add", "index_add", "index_fill",
] + list(_shape_all) + list(_meta_all)

TENSOR_METHODS = [
    "nonzero", "argwhere", "unique", "masked_select", "narrow", "select", "take", "scatter",
    "scatter_add", "index_add", "index_fill",
] + list(_shape_methods) + list(_meta_methods)
