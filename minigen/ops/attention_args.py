"""Argument checks of ``scaled_dot_product_attention`` (attention.py), with PyTorch's
messages: the op, the shapes, the dtypes and the devices."""
from __future__ import annotations

import numbers

import numpy

from ..autograd import Tensor

__all__ = []

_OP = "scaled_dot_product_attention"


def _shape(t):
    return list(t.shape)


def _check_inputs(q, k, v, dropout_p):
    """Query (..., L, E), key (..., S, E) and value (..., S, Ev): Tensors of one floating dtype
    on one device, whose batch dims broadcast. Returns the scores' shape (..., L, S)."""
    op = _OP
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
        if t.array.ndim < 2:
            raise RuntimeError(f"{op}: expected {name} with at least 2 dims (..., seq, dim), "
                               f"got shape {_shape(t)}")
    if not (q.dtype == k.dtype == v.dtype) or q.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected query, key and value to have the same floating "
                           f"dtype, but got query.dtype: {q.dtype}, key.dtype: {k.dtype} and "
                           f"value.dtype: {v.dtype}")
    if not (type(q.array) is type(k.array) is type(v.array)):
        raise RuntimeError(f"{op}: expected query, key and value on the same device, but got "
                           f"{q.device}, {k.device} and {v.device}")
    E, L, S = q.shape[-1], q.shape[-2], k.shape[-2]
    if k.shape[-1] != E:
        raise RuntimeError(f"{op}: query {_shape(q)} and key {_shape(k)} must have the same "
                           f"last dim (embedding), but got {E} and {k.shape[-1]}")
    if v.shape[-2] != S:
        raise RuntimeError(f"{op}: key {_shape(k)} and value {_shape(v)} must have the same "
                           f"sequence length (dim -2), but got {S} and {v.shape[-2]}")
    if not isinstance(dropout_p, numbers.Real) or not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    try:
        s_shape = numpy.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (L, S)
        numpy.broadcast_shapes(s_shape[:-2], v.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{op}: the batch dims of query {_shape(q)}, key {_shape(k)} and "
                           f"value {_shape(v)} cannot be broadcast together") from None
    return s_shape


def _check_mask(m, q, s_shape):
    """An attn_mask: a Tensor on query's device that broadcasts to the scores' shape without
    adding batch dims (as PyTorch). Returns its kind, 'bool' or 'float'."""
    op = _OP
    if not isinstance(m, Tensor):
        raise TypeError(f"{op}: expected attn_mask to be a Tensor, got {type(m).__name__}")
    if type(m.array) is not type(q.array):
        raise RuntimeError(f"{op}: expected attn_mask on the same device as query "
                           f"({q.device}), but got {m.device}")
    try:
        fits = numpy.broadcast_shapes(s_shape, m.shape) == tuple(s_shape)
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(f"{op}: attn_mask of shape {_shape(m)} cannot be broadcast to the "
                           f"attention scores of shape {list(s_shape)}")
    if m.dtype.kind == "b":
        return "bool"
    if m.dtype.kind == "f":
        return "float"
    raise RuntimeError(f"{op}: expected attn_mask dtype to be bool or float, but got "
                       f"attn_mask.dtype: {m.dtype}")
