"""Joining and splitting along a dimension: cat, stack, split, chunk, unbind, and roll (a
composite of two slices and a cat).

Each backward is the other half of the pair: the gradient of a concatenation is split back
into the pieces' sizes, and the gradient of a split is their concatenation.
"""
from __future__ import annotations

import builtins
import numbers

from ..autograd import Function, _wrap, _wrap_dim
from .shape import squeeze, unsqueeze


class Cat(Function):
    def forward(self, *xs, dim):
        self.dim = dim
        self.sizes = [x.shape[dim] for x in xs]
        return self.xp.concatenate(xs, axis=dim)

    def backward(self, gy):
        return tuple(Split.apply(gy, sizes=tuple(self.sizes), dim=self.dim)) \
            if len(self.sizes) > 1 else gy


class Split(Function):
    """Several outputs: consecutive pieces of ``x`` along ``dim``. Backward: cat the pieces."""

    def forward(self, x, sizes, dim):
        self.dim = dim
        out, start = [], 0
        index = [builtins.slice(None)] * x.ndim
        for s in sizes:
            index[dim] = builtins.slice(start, start + s)
            out.append(x[tuple(index)])
            start += s
        return tuple(out)

    def backward(self, *gys):
        return Cat.apply(*gys, dim=self.dim)


def cat(tensors, dim=0):
    """Join tensors along an existing dimension."""
    tensors = [t for t in tensors]
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of Tensors")
    # PyTorch skips 1-D empty tensors, a legacy it keeps for compatibility
    ref = next((t for t in tensors if not (t.array.ndim == 1 and t.array.shape[0] == 0)), tensors[0])
    tensors = [t for t in tensors if t is ref or not (t.array.ndim == 1 and t.array.shape[0] == 0)]
    nd = ref.array.ndim
    if nd == 0:
        raise RuntimeError("cat: zero-dimensional tensor cannot be concatenated")
    d = _wrap_dim(dim, nd, "cat")
    for i, x in enumerate(tensors):
        if x.array.ndim != nd or any(a != b for k, (a, b) in enumerate(zip(x.shape, ref.shape)) if k != d):
            raise RuntimeError(
                f"cat: sizes of tensors must match except in dimension {d}: expected "
                f"{list(ref.shape)} but got {list(x.shape)} for tensor number {i} in the list")
    if len(tensors) == 1:
        return tensors[0] * 1 if tensors[0].requires_grad else _wrap(tensors[0].array.copy())
    tensors = _common_dtype(tensors)
    return Cat.apply(*tensors, dim=d)


concat = concatenate = cat


def _common_dtype(tensors):
    dt = tensors[0].array.dtype
    if all(t.array.dtype == dt for t in tensors):
        return tensors
    import numpy
    target = numpy.result_type(*[t.array.dtype for t in tensors])
    return [t if t.array.dtype == target else t.to(target) for t in tensors]


def stack(tensors, dim=0):
    """Join tensors of one shape along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of Tensors")
    s0 = tensors[0].shape
    for i, x in enumerate(tensors):
        if x.shape != s0:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got {list(s0)} "
                               f"at entry 0 and {list(x.shape)} at entry {i}")
    nd = len(s0)
    if not -nd - 1 <= dim <= nd:
        raise IndexError(f"stack: dimension out of range (expected to be in range of "
                         f"[{-nd - 1}, {nd}], but got {dim})")
    d = dim % (nd + 1)
    return cat([unsqueeze(x, d) for x in tensors], dim=d)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of listed sizes."""
    d = _wrap_dim(dim, tensor.array.ndim, "split")
    n = tensor.array.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        s = int(split_size_or_sections)
        if s <= 0 and n > 0:
            raise RuntimeError(f"split: split_size must be positive, got {s}")
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise RuntimeError(
                f"split: split_with_sizes expects split_sizes to sum exactly to {n} (input "
                f"tensor's size at dimension {d}), but got split_sizes={sizes}")
    if len(sizes) == 1:
        return (tensor,)
    return tuple(Split.apply(tensor, sizes=tuple(sizes), dim=d))


def chunk(input, chunks, dim=0):
    """``chunks`` pieces of equal size (the last smaller), as torch.chunk."""
    if chunks <= 0:
        raise RuntimeError(f"chunk: number of chunks must be greater than 0, got {chunks}")
    d = _wrap_dim(dim, input.array.ndim, "chunk")
    n = input.array.shape[d]
    if n == 0:  # torch gives `chunks` empty pieces
        return split(input, [0] * chunks, d)
    return split(input, -(-n // chunks), d)


def unbind(input, dim=0):
    d = _wrap_dim(dim, input.array.ndim, "unbind")
    return tuple(squeeze(p, d) for p in split(input, 1, d))


def roll(input, shifts, dims=None):
    """Shift elements along ``dims`` cyclically (``dims=None``: the flattened tensor).

    A composite of slicing and ``cat``, so its gradient is the opposite roll.
    """
    if dims is None:
        return roll(input.reshape(-1), shifts, 0).reshape(input.shape)
    if isinstance(shifts, numbers.Integral):
        shifts, dims = (shifts,), (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts ({len(shifts)}) and dims ({len(dims)}) must align")
    out = input
    for sh, d in zip(shifts, dims):
        d = _wrap_dim(d, input.array.ndim, "roll")
        n = input.array.shape[d]
        if n == 0 or sh % n == 0:
            continue
        k = sh % n
        head = [builtins.slice(None)] * input.array.ndim
        tail = list(head)
        head[d], tail[d] = builtins.slice(n - k, None), builtins.slice(0, n - k)
        out = cat([out[tuple(head)], out[tuple(tail)]], d)
    # a shift by a multiple of every size moves nothing, but still returns a new tensor (as
    # PyTorch's roll): the caller may write into the result
    return input.clone() if out is input else out
