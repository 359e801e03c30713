"""Indexing: ``x[key]`` with ints, slices, None, ``...``, bool masks and integer tensors, and
the gathers built on it (``index_select``, ``gather``, ``take_along_dim``, ``masked_fill``).

The gradient of a gather is the matching scatter-add: ``GetItem`` and ``IndexAdd`` are each
other's backward, so indexing is differentiable to any order. Integer indices are checked
against the bounds on every device (CuPy would wrap them silently).
"""
from __future__ import annotations

import builtins
import numbers

from ..autograd import Function, Tensor, _wrap, _wrap_dim


def _device_index(xp, v, input):
    """Turn an index component into something the array module accepts, on the right device."""
    if isinstance(v, Tensor):
        if type(v.array) is not type(input.array):
            from ..autograd import _device_mismatch
            _device_mismatch("index", [input, v])
        return v.array
    if isinstance(v, (list, tuple)) or type(v).__module__ == "numpy" and hasattr(v, "shape") and v.ndim:
        from ..backend import _by_array_type
        import numpy
        return _by_array_type[type(input.array)].asarray(numpy.asarray(v))
    return v


def _normalise_key(input, key):
    """Key for ``x[key]``: tensors become arrays of x's device; integer arrays are bounds-checked
    per dimension (CuPy would wrap them silently). Returns (key, advanced?)."""
    from ..backend import check_index
    xp = input.xp
    if not isinstance(key, tuple):
        key = (key,)
    key = tuple(_device_index(xp, k, input) for k in key)
    shape = input.array.shape
    # which input dimension each key item addresses
    n_consumed = builtins.sum(
        (k.ndim if hasattr(k, "dtype") and k.dtype.kind == "b" else 1)
        for k in key if k is not None and k is not Ellipsis)
    if n_consumed > len(shape):
        raise IndexError(f"index: too many indices for tensor of dimension {len(shape)} "
                         f"(got {n_consumed}, shape {list(shape)})")
    dim, advanced = 0, False
    for k in key:
        if k is None:
            continue
        if k is Ellipsis:
            dim += len(shape) - n_consumed
            continue
        if hasattr(k, "dtype"):
            if k.dtype.kind == "b":
                kshape = tuple(k.shape)
                if kshape != tuple(shape[dim:dim + k.ndim]):
                    raise IndexError(
                        f"index: the shape of the mask {list(kshape)} does not match the shape "
                        f"of the indexed tensor {list(shape)} starting at dimension {dim}")
                advanced = True
                dim += k.ndim
                continue
            if k.dtype.kind not in "iu":
                raise IndexError(f"index: tensors used as indices must be long, int or bool, got {k.dtype}")
            if k.ndim == 0:
                k = int(k)
            else:
                check_index(xp, k, shape[dim], "index", dim)
                advanced = True
                dim += 1
                continue
        if isinstance(k, numbers.Integral) and not isinstance(k, bool):
            if not -shape[dim] <= k < shape[dim]:
                raise IndexError(f"index {k} is out of bounds for dimension {dim} with size {shape[dim]}")
        dim += 1
    return key, advanced


class GetItem(Function):
    def forward(self, x, key):
        self.key, self.in_shape = key, x.shape
        return x[key]

    def backward(self, gy):
        return IndexAdd.apply(gy, key=self.key, shape=self.in_shape)


class IndexAdd(Function):
    """y = zeros(shape); y[key] += x (repeated indices add up). The adjoint of GetItem."""

    def forward(self, g, key, shape):
        self.key = key
        y = self.xp.zeros(shape, g.dtype)
        if _is_basic(key):
            y[key] = g  # slices and ints never repeat an element
        else:
            self.backend.scatter_add(y, key, g)
        return y

    def backward(self, gy):
        return GetItem.apply(gy, key=self.key)


def _is_basic(key):
    return all(k is None or k is Ellipsis or isinstance(k, (builtins.slice, numbers.Integral))
               for k in key)


def getitem(input, key):
    """``x[key]`` with ints, slices, None, ..., bool masks and integer tensors (as PyTorch)."""
    key, _ = _normalise_key(input, key)
    return GetItem.apply(input, key=key)


def index_select(input, dim, index):
    d = _wrap_dim(dim, input.array.ndim, "index_select")
    key = (builtins.slice(None),) * d + (index,)
    return getitem(input, key)


def gather(input, dim, index):
    """out[i][j] = input[index[i][j]][j] for dim=0 (and so on): ``torch.gather``."""
    from ..backend import check_index
    from .reduction import GatherAlong
    d = _wrap_dim(dim, input.array.ndim, "gather")
    idx = index.array
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"gather: expected index of dtype int64, got {idx.dtype}")
    if idx.ndim == 0 and input.array.ndim == 1:  # PyTorch: a 0-d index picks one element, 0-d out
        return gather(input, dim, index.reshape(1)).reshape(())
    if idx.ndim != input.array.ndim:
        raise RuntimeError(f"gather: index {list(index.shape)} and input {list(input.shape)} must "
                           "have the same number of dimensions")
    check_index(input.xp, idx, input.array.shape[d], "gather", d)
    if any(idx.shape[k] > input.array.shape[k] for k in range(idx.ndim) if k != d):
        # take_along_axis broadcasts; torch.gather reads a window: take that window first
        raise RuntimeError(f"gather: index {list(index.shape)} is larger than input "
                           f"{list(input.shape)} outside dimension {d}")
    window = tuple(builtins.slice(0, idx.shape[k]) if k != d else builtins.slice(None)
                   for k in range(idx.ndim))
    x = input[window] if any(idx.shape[k] != input.array.shape[k] for k in range(idx.ndim) if k != d) else input
    return GatherAlong.apply(x, index=idx, dim=d)


def take_along_dim(input, indices, dim=None):
    """``torch.take_along_dim``: ``gather`` with the arguments in (input, indices, dim) order;
    ``dim=None`` picks from the flattened input."""
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    return gather(input, dim, indices)


def masked_fill(input, mask, value):
    """Put ``value`` where ``mask`` is True (broadcasting the mask); no gradient flows there."""
    from .elementwise import where
    m = mask.array if isinstance(mask, Tensor) else mask
    if getattr(m, "dtype", None) is None or m.dtype.kind != "b":
        raise RuntimeError(f"masked_fill: expected a bool mask, got {getattr(m, 'dtype', type(m).__name__)}")
    if isinstance(value, Tensor):
        value = value.to(input.dtype)
    return where(mask, value, input) if isinstance(value, Tensor) else \
        where(mask, _wrap(input.xp.asarray(value, dtype=input.array.dtype)), input)
