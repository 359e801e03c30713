"""Op specs of ``ctc_loss``, ``embedding_bag``, ``local_response_norm`` and ``gumbel_softmax``,
loaded by ``all_specs()``.

``ctc_loss`` (minigen/ops/ctc.py, ``CTCLossFunction``): the reference is independent of the alpha-beta recursion: it enumerates every frame-level path
(C^T of them, small here), collapses each (merge repeats, drop blanks) and adds up the
probabilities of those that give the target. The op is applied to log_softmax(x), where its
gradient (PyTorch's e^lp - gamma, see ops/ctc.py) is the exact derivative, so gradcheck holds.
Differentiable once (the backward is an explicit array formula), so ``second_order=False``.
"""
from __future__ import annotations

import itertools

import numpy as np

import minigen as mg
from minigen.ops.activation import embedding_bag
from minigen.ops.ctc import ctc_loss

from .op_specs import OpSpec, _ins, _n, register

_TARGETS = [[1, 1], [2, 0], [1, 2]]
_IN_LEN = [4, 3, 4]
_TG_LEN = [2, 1, 2]


def _np_ctc(x, blank=0):
    lp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    T, N, C = lp.shape
    out = []
    for n in range(N):
        target = tuple(_TARGETS[n][:_TG_LEN[n]])
        total = 0.0
        for path in itertools.product(range(C), repeat=_IN_LEN[n]):
            merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
            if tuple(c for c in merged if c != blank) == target:
                total += np.exp(sum(lp[t, n, c] for t, c in enumerate(path)))
        out.append(-np.log(total))
    return np.array(out)


register(OpSpec(
    "ctc_loss",
    lambda x: ctc_loss(x.log_softmax(2), _TARGETS, _IN_LEN, _TG_LEN, reduction="none"),
    _np_ctc, lambda r, d: _ins(d, _n(r, 4, 3, 3)),
    second_order=False, tags=("nn",),
    domain="log_softmax of N(0, 1) logits; repeated labels, a short input, a 1-label target"))


# ----------------------------------------------------------------------------- embedding_bag
_BAG_IDX = np.array([0, 2, 2, 5, 1, 3, 4])
_BAG_OFFS = [0, 2, 2, 5]   # bags [0, 2], [], [2, 5, 1], [3, 4]


def _np_bag(w, psw=None, mode="sum", padding_idx=None):
    ends = _BAG_OFFS[1:] + [len(_BAG_IDX)]
    out = []
    for a, e in zip(_BAG_OFFS, ends):
        keep = [k for k in range(a, e) if _BAG_IDX[k] != padding_idx]
        rows = w[_BAG_IDX[keep]] * (1.0 if psw is None else psw[keep][:, None])
        if not keep:
            out.append(np.zeros(w.shape[1]))
        else:
            out.append({"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[mode])
    return np.stack(out)


def _bag_fn(mode, padding_idx=None, psw=False):
    def fn(w, *p):
        i = mg.tensor(_BAG_IDX, device=w.device)
        o = mg.tensor(_BAG_OFFS, device=w.device)
        return embedding_bag(i, w, o, mode=mode, padding_idx=padding_idx,
                             per_sample_weights=p[0] if psw else None)
    return fn


register(OpSpec(
    "embedding_bag_sum_weighted", _bag_fn("sum", psw=True),
    lambda w, p: _np_bag(w, p, "sum"),
    lambda r, d: _ins(d, _n(r, 6, 3), _n(r, len(_BAG_IDX))), tags=("nn",)))
register(OpSpec(
    "embedding_bag_mean_padding_idx", _bag_fn("mean", padding_idx=2),
    lambda w: _np_bag(w, None, "mean", 2), lambda r, d: _ins(d, _n(r, 6, 3)), tags=("nn",)))
register(OpSpec(
    "embedding_bag_max", _bag_fn("max"),
    lambda w: _np_bag(w, None, "max"), lambda r, d: _ins(d, _n(r, 6, 3)), tags=("nn",),
    domain="N(0, 1) rows: no ties between the rows of a bag"))
