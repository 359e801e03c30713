"""Sorting and sampling: ``sort``, ``argsort``, ``topk``, ``multinomial``, ``bernoulli``.

The values that ``sort`` and ``topk`` return are a gather of the input at the sorted indices,
so their gradient is the scatter of the upstream gradient back to those indices (GatherAlong in
ops/reduction.py). Indices and samples carry no gradient.
"""
from __future__ import annotations

from collections import namedtuple

from .. import backend as B
from ..autograd import _wrap, _wrap_dim
from .reduction import GatherAlong

sort_result = namedtuple("sort_result", ["values", "indices"])
topk_result = namedtuple("topk_result", ["values", "indices"])


def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort ``input`` along ``dim`` (int64). Ties keep their order when stable."""
    xp = input.xp
    if input.array.ndim == 0:
        return _wrap(xp.zeros((), "int64"))
    d = _wrap_dim(dim, input.array.ndim, "argsort")
    a = input.array
    if descending:
        # sort the negation so equal elements keep their original order (a stable descending sort)
        a = -a if a.dtype.kind != "b" else ~a
    return _wrap(xp.argsort(a, axis=d, kind="stable").astype("int64"))


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) of ``input`` sorted along ``dim``."""
    idx = argsort(input, dim, descending, stable)
    if input.array.ndim == 0:
        return sort_result(input * 1 if input.requires_grad else input.clone(), idx)
    d = _wrap_dim(dim, input.array.ndim, "sort")
    return sort_result(GatherAlong.apply(input, index=idx.array, dim=d), idx)


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices."""
    d = _wrap_dim(dim, input.array.ndim, "topk")
    n = input.array.shape[d] if input.array.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {d} of size {n} "
                           f"(input shape {list(input.shape)})")
    idx = argsort(input, d, descending=largest).array
    index = [slice(None)] * idx.ndim
    index[d] = slice(0, k)
    idx = idx[tuple(index)]
    return topk_result(GatherAlong.apply(input, index=idx, dim=d), _wrap(idx))


def multinomial(input, num_samples, replacement=False, generator=None):
    """Draw category indices with probabilities proportional to the rows of ``input``.

    ``input`` is (C,) or (N, C) of non-negative weights; returns int64 (num_samples,) or
    (N, num_samples). Without replacement, each draw removes the chosen category.
    """
    if input.array.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {list(input.shape)}")
    xp = input.xp
    w = input.array.astype("float64")
    if bool((w < 0).any()) or not bool(xp.isfinite(w).all()):
        raise RuntimeError("multinomial: probability tensor contains either inf, nan or element < 0")
    rows = w.reshape(-1, w.shape[-1])
    if bool((rows.sum(axis=1) <= 0).any()):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    n_cat = rows.shape[1]
    if not replacement and num_samples > n_cat:
        raise RuntimeError(f"multinomial: cannot sample n_sample ({num_samples}) > prob_dist size "
                           f"({n_cat}) samples without replacement")
    g = generator or B.generator_for(input.device.type)
    out = xp.empty((rows.shape[0], num_samples), dtype="int64")
    rows = rows.copy()
    for s in range(num_samples):
        # inverse-CDF sampling: the first category whose cumulative weight exceeds u * total
        cdf = xp.cumsum(rows, axis=1)
        u = g.random((rows.shape[0], 1)) * cdf[:, -1:]
        pick = (cdf <= u).sum(axis=1)
        pick = xp.minimum(pick, n_cat - 1)
        out[:, s] = pick
        if not replacement:
            rows[xp.arange(rows.shape[0]), pick] = 0.0
    return _wrap(out if input.array.ndim == 2 else out[0])


def bernoulli(input, p=None, generator=None):
    """0/1 samples with probability ``input`` (or the scalar ``p``), in input's dtype."""
    g = generator or B.generator_for(input.device.type)
    prob = input.array if p is None else p
    u = g.random(input.array.shape)
    return _wrap((u < prob).astype(input.array.dtype))


__all__ = ["sort", "argsort", "topk", "multinomial", "bernoulli"]
