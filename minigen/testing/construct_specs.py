"""Op specs for minigen/ops/construct*.py: building, selecting and scattering tensors.

The references are written in NumPy alone (float64), independent of the minigen code.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen.testing.op_specs import _ins, _n, _spec, _unary

__all__ = []

TAGS = ("engine", "construct")


def _scatter_ref(x, src, idx, dim, add):
    out = x.copy()
    for pos in np.ndindex(*idx.shape):
        tgt = list(pos)
        tgt[dim] = idx[pos]
        if add:
            out[tuple(tgt)] += src[pos]
        else:
            out[tuple(tgt)] = src[pos]
    return out


# scatter: no repeated target, so the forward is unambiguous; src larger than index (a window)
_spec("scatter", lambda x, s, i: mg.scatter(x, 0, i, s),
      lambda x, s, i: _scatter_ref(x, s, i, 0, False),
      lambda r, d: _ins(d, _n(r, 3, 4), _n(r, 3, 5), np.array([[2, 0, 1, 2], [0, 1, 0, 1]])),
      tags=TAGS)
_spec("scatter_value", lambda x, i: x.scatter(1, i, value=2.5),
      lambda x, i: _scatter_ref(x, np.full(i.shape, 2.5), i, 1, False),
      lambda r, d: _ins(d, _n(r, 3, 4), np.array([[3], [0], [1]])), tags=TAGS)
# repeated indices add up; index smaller than input outside dim
_spec("scatter_add", lambda x, s, i: x.scatter_add(1, i, s),
      lambda x, s, i: _scatter_ref(x, s, i, 1, True),
      lambda r, d: _ins(d, _n(r, 3, 4), _n(r, 2, 3), np.array([[0, 0, 3], [2, 1, 2]])),
      tags=TAGS)


def _index_add_ref(x, i, s, dim, alpha):
    out = x.copy()
    for k, j in enumerate(i):
        sl = [slice(None)] * x.ndim
        sl[dim] = j
        src = [slice(None)] * x.ndim
        src[dim] = k
        out[tuple(sl)] += alpha * s[tuple(src)]
    return out


_spec("index_add", lambda x, i, s: mg.index_add(x, 1, i, s, alpha=2.0),
      lambda x, i, s: _index_add_ref(x, i, s, 1, 2.0),
      lambda r, d: _ins(d, _n(r, 2, 4), np.array([3, 0, 3]), _n(r, 2, 3)), tags=TAGS)


def _index_fill_ref(x, i, v):
    out = x.copy()
    out[i] = v
    return out


_spec("index_fill", lambda x, i: x.index_fill(0, i, -1.0), lambda x, i: _index_fill_ref(x, i, -1.0),
      lambda r, d: _ins(d, _n(r, 4, 3), np.array([1, -1])), tags=TAGS)
_spec("masked_select", lambda x, m: mg.masked_select(x, m), lambda x, m: np.broadcast_to(x, (3, 4))[m],
      lambda r, d: _ins(d, _n(r, 1, 4), r.random((3, 4)) > 0.5), tags=TAGS)
_unary("narrow", lambda x: x.narrow(1, 1, 2), lambda x: x[:, 1:3], shape=(2, 4), tags=TAGS)
_unary("select", lambda x: mg.select(x, 1, -1), lambda x: x[:, -1], shape=(2, 3, 2), tags=TAGS)
_spec("take", lambda x, i: mg.take(x, i), lambda x, i: x.reshape(-1)[i],
      lambda r, d: _ins(d, _n(r, 2, 3), np.array([[0, 5], [-1, 0]])), tags=TAGS)
_unary("diag_vector", lambda x: mg.diag(x, 1), lambda x: np.diag(x, 1), shape=(3,), tags=TAGS)
_unary("diag_matrix", lambda x: x.diag(-1), lambda x: np.diag(x, -1), shape=(3, 4), tags=TAGS)


def _diag_embed_ref(x, offset):
    n = x.shape[-1] + abs(offset)
    out = np.zeros(x.shape[:-1] + (n, n))
    for pos in np.ndindex(*x.shape):
        i = pos[-1]
        out[pos[:-1] + (i + max(-offset, 0), i + max(offset, 0))] = x[pos]
    return np.moveaxis(out, (-2, -1), (0, 2))


_unary("diag_embed", lambda x: mg.diag_embed(x, offset=-1, dim1=0, dim2=2),
       lambda x: _diag_embed_ref(x, -1), shape=(2, 3), tags=TAGS)
_unary("trace", lambda x: mg.trace(x), lambda x: np.trace(x), shape=(3, 4), tags=TAGS)
_spec("meshgrid_xy", lambda a, b: mg.meshgrid(a, b, indexing="xy"),
      lambda a, b: tuple(np.meshgrid(a, b, indexing="xy")),
      lambda r, d: _ins(d, _n(r, 2), _n(r, 3)), tags=TAGS)
_spec("broadcast_tensors", lambda a, b: mg.broadcast_tensors(a, b),
      lambda a, b: tuple(np.broadcast_arrays(a, b)),
      lambda r, d: _ins(d, _n(r, 2, 1), _n(r, 3)), tags=TAGS)
_spec("hstack", lambda a, b: mg.hstack([a, b]), lambda a, b: np.hstack([a, b]),
      lambda r, d: _ins(d, _n(r, 2, 1), _n(r, 2, 3)), tags=TAGS)
_spec("vstack", lambda a, b: mg.vstack([a, b]), lambda a, b: np.vstack([a, b]),
      lambda r, d: _ins(d, _n(r, 3), _n(r, 2, 3)), tags=TAGS)
_spec("dstack", lambda a, b: mg.dstack([a, b]), lambda a, b: np.dstack([a, b]),
      lambda r, d: _ins(d, _n(r, 3), _n(r, 1, 3, 2)), tags=TAGS)
_spec("column_stack", lambda a, b: mg.column_stack([a, b]), lambda a, b: np.column_stack([a, b]),
      lambda r, d: _ins(d, _n(r, 3), _n(r, 3, 2)), tags=TAGS)
_unary("tensor_split", lambda x: x.tensor_split(3, dim=1),
       lambda x: tuple(np.array_split(x, 3, axis=1)), shape=(2, 5), tags=TAGS)
_unary("tensor_split_indices", lambda x: mg.tensor_split(x, [3, 1]),
       lambda x: (x[:3], x[3:1], x[1:]), shape=(4, 2), tags=TAGS)
_unary("tile", lambda x: x.tile((2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)), shape=(2, 2),
       tags=TAGS)
_unary("repeat_interleave", lambda x: x.repeat_interleave(2), lambda x: np.repeat(x, 2),
       shape=(2, 3), tags=TAGS)
_spec("repeat_interleave_tensor", lambda x, r: mg.repeat_interleave(x, r, dim=0),
      lambda x, r: np.repeat(x, r, axis=0),
      lambda r, d: _ins(d, _n(r, 3, 2), np.array([2, 0, 3])), tags=TAGS)
_unary("fliplr", lambda x: x.fliplr(), lambda x: np.fliplr(x), shape=(2, 3), tags=TAGS)
_unary("flipud", lambda x: mg.flipud(x), lambda x: np.flipud(x), shape=(3, 2), tags=TAGS)
_unary("rot90", lambda x: x.rot90(1, (1, 2)), lambda x: np.rot90(x, 1, (1, 2)), shape=(2, 3, 4),
       tags=TAGS)
_unary("rot90_k3", lambda x: mg.rot90(x, -1), lambda x: np.rot90(x, -1), shape=(2, 3), tags=TAGS)
