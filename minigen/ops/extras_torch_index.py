"""Selections, scatters and shape helpers PyTorch programs call:

    kthvalue(x, k, dim)   the k-th smallest along dim (1-based) and where it is
    mode(x, dim)          the most frequent value (the smallest on a tie) and its last index
    nanmedian(x, dim)     the lower median of the values that are not NaN
    unique_consecutive    each run of equal values (or slices along dim) once
    histc(x, bins, min, max)  counts in ``bins`` equal bins on [min, max] (the last one closed)
    masked_scatter(x, mask, src)  x with its masked places filled by src's elements, in order
    index_copy(x, dim, index, src)  x with x.select(dim, index[i]) = src.select(dim, i)
    scatter_reduce(x, dim, index, src, reduce, include_self)  reduce ('sum', 'prod', 'mean',
        'amax', 'amin') every src element into out[index along dim]
    sum_to_size, split_with_sizes, narrow_copy, ravel, moveaxis

Gradients: the selected values are gathers (their gradient scatters back); masked_scatter and
index_copy are ``where`` between x and a gather of src. scatter_reduce:
    sum:  d/dx = 1 (0 where include_self=False and something was scattered), d/dsrc = g[index]
    mean: the sum's, divided by the count of the place
    amax / amin: the gradient is shared evenly by every contributor equal to the result
    prod: d/dx = g out / x,  d/dsrc_j = g[index_j] out[index_j] / src_j, where no contributor is
        zero; with zeros, the product of the other contributors (computed as a constant)
"""
from __future__ import annotations

import builtins

from .. import backend as B
from ..autograd import Function, Tensor, _wrap, _wrap_dim
from .construct import _scatter_args, _index_array
from .elementwise import where
from .indexing import GetItem, IndexAdd, getitem, index_select, masked_fill
from .reduction import GatherAlong, sum_to
from .shape import movedim, reshape

__all__ = ["kthvalue", "mode", "nanmedian", "unique_consecutive", "histc", "masked_scatter",
           "index_copy", "scatter_reduce", "split_with_sizes", "narrow_copy", "ravel", "moveaxis"]
TENSOR_METHODS = list(__all__) + ["sum_to_size"]


class _ValuesIndices(tuple):
    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def _reduce_dim(input, dim, op):
    nd = builtins.max(input.ndim, 1)
    return _wrap_dim(dim, nd, op)


def _pick(input, idx, d, keepdim):
    """(values, indices) of input at ``idx`` (keepdim-shaped int64) along d."""
    if input.ndim == 0:
        return _ValuesIndices((input * 1 if input.requires_grad else input.clone(),
                               _wrap(input.xp.zeros((), "int64"))))
    values = GatherAlong.apply(input, index=idx, dim=d)
    if not keepdim:
        return _ValuesIndices((values.squeeze(d), _wrap(idx.squeeze(d))))
    return _ValuesIndices((values, _wrap(idx)))


def kthvalue(input, k, dim=-1, keepdim=False):
    """The k-th smallest element along ``dim`` (k counts from 1) and its index."""
    d = _reduce_dim(input, dim, "kthvalue")
    n = input.shape[d] if input.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d} "
                           f"(k = {k}, size {n})")
    if input.ndim == 0:
        return _pick(input, None, 0, keepdim)
    xp = input.xp
    order = xp.argsort(input.array, axis=d, kind="stable")  # NaNs sort last, as PyTorch's
    idx = xp.take(order, xp.asarray([k - 1]), axis=d).astype("int64")
    return _pick(input, idx, d, keepdim)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest among equally frequent ones) and
    the index of its last occurrence."""
    d = _reduce_dim(input, dim, "mode")
    if input.ndim == 0:
        return _pick(input, None, 0, keepdim)
    xp = input.xp
    a = xp.moveaxis(input.array, d, -1)
    n = a.shape[-1]
    if n == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    s = xp.sort(a, axis=-1)
    # run lengths in the sorted rows: start of each run, then its length at every position
    pos = xp.arange(n)
    new = xp.ones(s.shape, bool)
    new[..., 1:] = s[..., 1:] != s[..., :-1]
    start = xp.maximum.accumulate(xp.where(new, pos, 0), axis=-1)
    end = xp.flip(xp.minimum.accumulate(xp.flip(xp.where(
        xp.concatenate([new[..., 1:], xp.ones(s.shape[:-1] + (1,), bool)], axis=-1), pos, n),
        axis=-1), axis=-1), axis=-1)
    length = end - start + 1
    best = xp.argmax(length, axis=-1)[..., None]  # the first (smallest) of the longest runs
    value = xp.take_along_axis(s, best, axis=-1)
    hit = a == value
    last = (n - 1 - xp.argmax(xp.flip(hit, axis=-1), axis=-1))[..., None].astype("int64")
    idx = xp.moveaxis(last, -1, d)
    return _pick(input, idx, d, keepdim)


def nanmedian(input, dim=None, keepdim=False):
    """The lower median of the non-NaN values (NaN only where all are NaN). Without ``dim``,
    over all elements (a value); with it, (values, indices) along ``dim``."""
    xp = input.xp
    if input.array.dtype.kind != "f":
        from .mathfns_reduce import median
        return median(input, dim, keepdim) if dim is not None else median(input)
    if dim is None:
        a = input.array
        if a.size == 0:
            return _wrap(xp.asarray(float("nan"), dtype=a.dtype))
        flat = xp.sort(a.reshape(-1))  # NaNs last
        k = builtins.max((int((~xp.isnan(flat)).sum()) - 1) // 2, 0)
        m = flat[k:k + 1].reshape(())
        # every element equal to the median (or every NaN, if all are) shares its gradient
        tie = (a == m) | (xp.isnan(a) & xp.isnan(m))
        from .reduction import amax
        return amax(where(_wrap(tie), input, -float("inf")))
    d = _reduce_dim(input, dim, "nanmedian")
    if input.ndim == 0:
        return _pick(input, None, 0, keepdim)
    a = input.array
    n = a.shape[d]
    if n == 0:
        raise IndexError(f"nanmedian(): Expected reduction dim {d} to have non-zero size.")
    order = xp.argsort(a, axis=d, kind="stable")  # NaNs last
    count = (~xp.isnan(a)).sum(axis=d, keepdims=True)
    k = xp.maximum((count - 1) // 2, 0)
    idx = xp.take_along_axis(order, k, axis=d).astype("int64")
    return _pick(input, idx, d, keepdim)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Each run of consecutive equal elements (``dim=None``, flattened) or equal slices along
    ``dim`` kept once; optionally the run each element belongs to and the run lengths."""
    xp = input.xp
    if dim is None:
        a = input.array.reshape(-1)
        if a.size == 0:
            out, inv, counts = a.copy(), xp.zeros(input.shape, "int64"), xp.zeros(0, "int64")
        else:
            new = xp.concatenate([xp.ones(1, bool), a[1:] != a[:-1]])
            run = xp.cumsum(new) - 1
            out = a[new]
            inv = run.reshape(input.shape)
            counts = xp.bincount(run, minlength=int(out.shape[0]))
    else:
        d = _wrap_dim(dim, input.ndim, "unique_consecutive")
        a = xp.moveaxis(input.array, d, 0)
        m = a.shape[0]
        if m == 0:
            out, run = a.copy(), xp.zeros(0, "int64")
        else:
            flat = a.reshape(m, -1)
            diff = (flat[1:] != flat[:-1]).any(axis=1) if flat.shape[1] else xp.zeros(m - 1, bool)
            new = xp.concatenate([xp.ones(1, bool), diff])
            run = xp.cumsum(new) - 1
            out = a[new]
        out = xp.moveaxis(out, 0, d)
        inv = run
        counts = xp.bincount(run, minlength=int(out.shape[d])) if m else xp.zeros(0, "int64")
    res = [_wrap(xp.ascontiguousarray(out))]
    if return_inverse:
        res.append(_wrap(xp.asarray(inv).astype("int64")))
    if return_counts:
        res.append(_wrap(xp.asarray(counts).astype("int64")))
    return res[0] if len(res) == 1 else tuple(res)


def histc(input, bins=100, min=0, max=0):
    """A histogram of ``bins`` equal bins on [min, max] (min = max = 0: the data's range);
    elements outside are ignored, the last bin includes max. Float tensors only."""
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"\"histogram_cpu\" not implemented for '{input.array.dtype}'")
    if bins <= 0:
        raise RuntimeError(f"histc: bins must be > 0, but got {bins}")
    xp = input.xp
    a = input.array.reshape(-1)
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError(f"histc: max must be larger than min, got min={min}, max={max}")
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    keep = (a >= lo) & (a <= hi)
    v = a[keep].astype("float64")
    b = xp.floor((v - lo) * bins / (hi - lo)).astype("int64")
    b = xp.minimum(b, bins - 1)
    counts = xp.bincount(b, minlength=bins)[:bins]
    return _wrap(counts.astype(input.array.dtype))


# ----------------------------------------------------------------------------- scatters
def masked_scatter(input, mask, source):
    """input where mask is False; where it is True, source's elements in row-major order."""
    xp = input.xp
    m = mask.array if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype.kind != "b":
        raise RuntimeError(f"masked_scatter: expected a bool mask, got {m.dtype}")
    shape = xp.broadcast_shapes(m.shape, input.array.shape) if hasattr(xp, "broadcast_shapes") \
        else B.numpy.broadcast_shapes(m.shape, input.array.shape)
    if tuple(shape) != tuple(input.shape):
        raise RuntimeError(f"masked_scatter: mask {list(m.shape)} cannot be broadcast to input "
                           f"{list(input.shape)}")
    m = xp.broadcast_to(m, input.array.shape)
    k = int(m.sum())
    if source.numel() < k:
        raise RuntimeError(f"masked_scatter: expected source to have at least {k} elements "
                           f"(the number of ones in mask), got {source.numel()}")
    if k == 0:
        return input * 1 if input.requires_grad else input.clone()
    # place j of input takes source.flatten()[rank of j among the masked places]
    rank = (xp.cumsum(m.reshape(-1)) - 1).clip(0).astype("int64")
    src = reshape(source, (-1,))
    if src.array.dtype != input.array.dtype:
        src = src.to(input.array.dtype)
    placed = reshape(GetItem.apply(src, key=(rank,)), tuple(input.shape))
    return where(_wrap(xp.ascontiguousarray(m)), placed, input)


def index_copy(input, dim, index, source):
    """out = input; out.select(dim, index[i]) = source.select(dim, i)."""
    xp = input.xp
    d = _wrap_dim(dim, builtins.max(input.ndim, 1), "index_copy")
    idx = _index_array(index, input, "index_copy")
    if idx.ndim > 1:
        raise RuntimeError(f"index_copy: index must be 1-D, got shape {list(idx.shape)}")
    idx = idx.reshape(-1)
    if input.ndim == 0:
        return source.reshape(()) * 1 if idx.size else input.clone()
    n = input.shape[d]
    want = list(input.shape)
    want[d] = int(idx.shape[0])
    if list(source.shape) != want and not (source.ndim == 0 and want == [1]):
        raise RuntimeError(f"index_copy: source {list(source.shape)} must have shape {want} "
                           f"(input {list(input.shape)}, index of {idx.shape[0]} entries, "
                           f"dim {dim})")
    B.check_index(xp, idx, n, "index_copy", d)
    idx = xp.where(idx < 0, idx + n, idx)
    inv = xp.zeros(n, "int64")
    inv[idx] = xp.arange(idx.shape[0])  # the source slice each place takes (last one wins)
    hit = xp.zeros(n, bool)
    hit[idx] = True
    shape = [1] * input.ndim
    shape[d] = n
    src = source if source.array.dtype == input.array.dtype else source.to(input.array.dtype)
    placed = index_select(src, d, _wrap(inv))
    return where(_wrap(hit.reshape(shape)), placed, input)


_IDENTITY = {"sum": 0, "mean": 0, "prod": 1, "amax": -float("inf"), "amin": float("inf")}


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """out = input; every src[i][j] (dim = 0) is reduced into out[index[i][j]][j] with
    ``reduce`` ('sum', 'prod', 'mean', 'amax', 'amin'); include_self=False leaves input's own
    value out of the reduction wherever something is scattered."""
    if reduce not in _IDENTITY:
        raise RuntimeError(f"scatter_reduce: reduce argument must be either sum, prod, mean, "
                           f"amax or amin, got {reduce}")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce: src must be a Tensor, got {type(src).__name__}")
    key, src = _scatter_args("scatter_reduce", input, dim, index, src)
    xp = input.xp
    a = input.array
    written = xp.zeros(a.shape, bool)
    written[key] = True
    count = xp.zeros(a.shape, "int64")
    _scatter_into(count, key, xp.ones(src.array.shape, "int64"))
    keep_self = xp.logical_or(~written, include_self)
    if reduce in ("sum", "mean"):
        base = input if include_self else masked_fill(input, _wrap(written), 0)
        total = base + IndexAdd.apply(src, key=key, shape=a.shape)
        if reduce == "sum":
            return total
        n = count + keep_self
        if a.dtype.kind in "iub":
            return _wrap(xp.floor_divide(total.array, n).astype(a.dtype))
        return total / _wrap(n.astype(a.dtype))
    if reduce in ("amax", "amin"):
        if a.dtype.kind == "f":
            ident = _IDENTITY[reduce]
        else:
            info = B.numpy.iinfo(a.dtype) if a.dtype.kind != "b" else None
            ident = (info.min if reduce == "amax" else info.max) if info else reduce == "amin"
        res = xp.where(keep_self, a, ident).astype(a.dtype)
        _ufunc_at(xp, "maximum" if reduce == "amax" else "minimum", res, key, src.array)
        if a.dtype.kind not in "f":
            return _wrap(res)
        # every contributor equal to the result shares its gradient evenly; as in PyTorch, an
        # input value left out (include_self=False) but equal to the result counts in the share
        # (and gets none of it)
        self_all = a == res
        self_eq = xp.logical_and(keep_self, self_all)
        src_eq = src.array == res[key]
        n_eq = self_all.astype(a.dtype)
        _scatter_into(n_eq, key, src_eq)
        tot = where(_wrap(self_eq), input, 0.0) + IndexAdd.apply(
            where(_wrap(src_eq), src, 0.0), key=key, shape=a.shape)
        out = tot / _wrap(n_eq)
        left_out = xp.logical_and(~keep_self, self_all)
        if bool(left_out.any()):  # there the share of the left-out value is added as a constant
            out = out + _wrap(xp.where(left_out, res / n_eq, 0).astype(a.dtype))
        return out
    # prod
    if a.dtype.kind not in "f":
        res = xp.where(keep_self, a, 1).astype(a.dtype)
        _ufunc_at(xp, "multiply", res, key, src.array)
        return _wrap(res)
    return ScatterProd.apply(input, src, key=key, keep_self=keep_self)


def _ufunc_at(xp, name, target, key, values):
    """target[key] = name(target[key], values), repeated keys applied one after another
    (``numpy.multiply.at``); where the array module has no such ``ufunc.at``, on a host copy."""
    try:
        getattr(xp, name).at(target, key, values)
        return
    except (AttributeError, NotImplementedError, TypeError):
        if type(target) is B.numpy.ndarray:
            raise
    from ..backend import _by_array_type
    be = _by_array_type[type(target)]
    host = be.to_numpy(target)
    hkey = tuple(be.to_numpy(k) if type(k) is type(target) else k for k in key)
    getattr(B.numpy, name).at(host, hkey, be.to_numpy(values))
    target[...] = be.asarray(host)


def _scatter_into(target, key, values):
    """target[key] += values, through the backend's scatter-add (repeated keys add up)."""
    from ..backend import _by_array_type
    _by_array_type[type(target)].scatter_add(target, key, values.astype(target.dtype))


class ScatterProd(Function):
    """out = x (where keep_self, else 1) times every src element scattered to the place.
    Backward (module docstring): g out / x and g[key] out[key] / src where no contributor of the
    place is zero; with zeros, each contributor's gradient is g times the product of the others
    (computed as a constant: not differentiable again)."""

    def forward(self, x, src, key, keep_self):
        xp = self.xp
        self.key, self.keep_self = key, keep_self
        res = xp.where(keep_self, x, 1).astype(x.dtype)
        _ufunc_at(xp, "multiply", res, key, src)
        self.save_for_backward(x, src, res)
        return res

    def backward(self, gy):
        x, src, out = self.saved_tensors
        xp = self.xp
        key, keep = self.key, self.keep_self
        xa, sa = x.array, src.array
        zeros = xp.where(keep, xa == 0, False).astype("int64")
        _scatter_into(zeros, key, sa == 0)
        if not bool(zeros.any()):
            gx = where(_wrap(keep), gy * out / where(_wrap(keep), x, 1.0), 0.0)
            gs = GetItem.apply(gy * out, key=key) / src
            return gx, gs
        # product of the non-zero contributors, and how many zeros each place has
        nz = xp.where(keep & (xa != 0), xa, 1).astype(xa.dtype)
        _ufunc_at(xp, "multiply", nz, key, xp.where(sa != 0, sa, 1).astype(sa.dtype))
        zx = zeros
        others_x = xp.where(xa != 0, xp.where(zx == 0, nz / xp.where(xa != 0, xa, 1), 0),
                            xp.where(zx == 1, nz, 0))
        others_x = xp.where(keep, others_x, 0).astype(xa.dtype)
        nzk, zk = nz[key], zx[key]
        others_s = xp.where(sa != 0, xp.where(zk == 0, nzk / xp.where(sa != 0, sa, 1), 0),
                            xp.where(zk == 1, nzk, 0)).astype(sa.dtype)
        return gy * _wrap(others_x), GetItem.apply(gy, key=key) * _wrap(others_s)


# ----------------------------------------------------------------------------- shapes
def sum_to_size(self, *size):
    """Sum this tensor down to ``size`` (which must broadcast to its shape)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)) or (
            len(size) == 1 and type(size[0]).__name__ == "Size"):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    shape = tuple(self.shape)
    lead = len(shape) - len(size)
    if lead < 0 or builtins.any(s != 1 and s != t for s, t in zip(size, shape[lead:])):
        raise RuntimeError(f"size {list(size)} is not expandable to size {list(shape)}.")
    return sum_to(self, size)


def split_with_sizes(input, split_sizes, dim=0):
    """Split into pieces of the given sizes along dim (they must add up to its length)."""
    d = _wrap_dim(dim, input.ndim, "split_with_sizes")
    sizes = [int(s) for s in split_sizes]
    if builtins.sum(sizes) != input.shape[d] or builtins.any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to "
                           f"{input.shape[d]} (input tensor's size at dimension {dim}), but "
                           f"got split_sizes={sizes}")
    out, start = [], 0
    for s in sizes:
        key = (builtins.slice(None),) * d + (builtins.slice(start, start + s),)
        out.append(getitem(input, key))
        start += s
    return tuple(out)


def narrow_copy(input, dim, start, length):
    """A copy of input.narrow(dim, start, length)."""
    from .construct import narrow
    return narrow(input, dim, start, length).clone()


def ravel(input):
    """The elements as a 1-D tensor (row-major)."""
    return reshape(input, (-1,))


def moveaxis(input, source, destination):
    """Alias of movedim."""
    return movedim(input, source, destination)
