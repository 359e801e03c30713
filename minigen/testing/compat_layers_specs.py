"""Op specs of ``ctc_loss``, ``embedding_bag``, ``local_response_norm`` and ``gumbel_softmax``,
loaded by ``all_specs()``.

``ctc_loss`` (minigen/ops/ctc.py, ``CTCLossFunction``): the reference is independent of the
alpha-beta recursion: it enumerates every frame-level path (C^T of them, small here), collapses each (merge repeats, drop blanks) and adds up the
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


# ----------------------------------------------------------------------------- local_response_norm
def _np_lrn(x, size, alpha, beta, k):
    C = x.shape[1]
    out = np.empty_like(x)
    for c in range(C):
        lo, hi = c - size // 2, c + (size - 1) // 2
        s = sum(x[:, j] ** 2 for j in range(max(lo, 0), min(hi, C - 1) + 1))
        out[:, c] = x[:, c] / (k + alpha / size * s) ** beta
    return out


register(OpSpec(
    "local_response_norm",
    lambda x: mg.nn.functional.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=1.2),
    lambda x: _np_lrn(x, 3, 0.5, 0.75, 1.2), lambda r, d: _ins(d, _n(r, 2, 5, 3)), tags=("nn",)))
register(OpSpec(
    "local_response_norm_4d_even_size",
    lambda x: mg.nn.functional.local_response_norm(x, 4, alpha=0.3, beta=0.6, k=2.0),
    lambda x: _np_lrn(x, 4, 0.3, 0.6, 2.0), lambda r, d: _ins(d, _n(r, 1, 6, 2, 3)),
    tags=("nn",)))


# ----------------------------------------------------------------------------- gumbel_softmax
_gumbel_seen = {}


def _gumbel_fn(x):
    """gumbel_softmax with a fixed seed; the noise it drew is kept for the reference."""
    from minigen.ops.activation import _gumbel_noise
    mg.manual_seed(7)
    _gumbel_seen["g"] = _gumbel_noise(x.detach()).cpu().numpy()
    mg.manual_seed(7)
    return mg.nn.functional.gumbel_softmax(x, tau=0.7, dim=0)


def _np_gumbel(x):
    z = (x + _gumbel_seen["g"]) / 0.7
    e = np.exp(z - z.max(0, keepdims=True))
    return e / e.sum(0, keepdims=True)


register(OpSpec(
    "gumbel_softmax", _gumbel_fn, _np_gumbel, lambda r, d: _ins(d, _n(r, 4, 3)), tags=("nn",),
    domain="soft samples, seeded; the reference reuses the noise the op drew"))


# ----------------------------------------------------------------------------- bicubic
def _np_bicubic(x, out_hw, align_corners, a=-0.75):
    """Each output pixel from its 4 x 4 source neighbourhood (not separable matrices)."""
    def w(d):
        d = abs(d)
        if d <= 1:
            return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
        return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a if d < 2 else 0.0

    def src(o, n, m):
        if align_corners:
            return o * (n - 1) / (m - 1) if m > 1 else 0.0
        return (o + 0.5) * n / m - 0.5

    N, C, H, W = x.shape
    Ho, Wo = out_hw
    y = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        sy = src(i, H, Ho)
        fy = int(np.floor(sy))
        for j in range(Wo):
            sx = src(j, W, Wo)
            fx = int(np.floor(sx))
            for p in range(fy - 1, fy + 3):
                for q in range(fx - 1, fx + 3):
                    y[:, :, i, j] += (w(sy - p) * w(sx - q)
                                      * x[:, :, min(max(p, 0), H - 1), min(max(q, 0), W - 1)])
    return y


for _ac in (False, True):
    register(OpSpec(
        "interpolate_bicubic" + ("_align_corners" if _ac else ""),
        lambda x, ac=_ac: mg.nn.functional.interpolate(x, size=(5, 3), mode="bicubic",
                                                      align_corners=ac),
        lambda x, ac=_ac: _np_bicubic(x, (5, 3), ac), lambda r, d: _ins(d, _n(r, 1, 2, 3, 4)),
        tags=("nn",)))
