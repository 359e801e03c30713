"""FlashAttention as an algorithm: exact attention in tiles, never holding the T x T matrix
(Dao, Fu, Ermon, Rudra and Re 2022, "FlashAttention: Fast and Memory-Efficient Exact Attention
with IO-Awareness"; the loop order of the backward as in Dao 2023, FlashAttention-2).

Standard attention computes, for queries Q (T_q x d), keys K and values V (T_k x d):

    S = Q K^T * scale        P = softmax(S) row by row        O = P V

and keeps S and P, two T_q x T_k arrays, for the backward: memory O(T^2). FlashAttention gets
the same O with memory O(T): it walks over tiles of B_q query rows and B_k key columns and
folds each tile into the output with the *online softmax*. For one query row, after the key
tiles 1..j it holds

    m   = max_{c seen} S_c                               the running max
    l   = sum_{c seen} exp(S_c - m)                      the running normaliser
    acc = sum_{c seen} exp(S_c - m) V_c                  the unnormalised output

and a new tile S^(j) updates them exactly (the old terms were shifted by the old max; the
factor alpha = exp(m - m_new) re-shifts them to the new one):

    m_new = max(m, rowmax S^(j))
    P~    = exp(S^(j) - m_new)
    l     = alpha l + rowsum P~
    acc   = alpha acc + P~ V^(j)

After the last tile O = acc / l, which is softmax(S) V to rounding. Besides O the forward keeps
only the row log-sum-exp L = m + log l (T_q numbers): P_ic = exp(S_ic - L_i) gives back any
tile of probabilities from Q and K alone.

The backward (dO = dL/dO) recomputes each tile's P from Q, K and L, and accumulates

    D_i  = rowsum(dO_i * O_i)                 = sum_c P_ic dP_ic   (no T x T product needed)
    dV  += P^T dO
    dP   = dO V^T
    dS   = P * (dP - D)                       the softmax's Jacobian, dP_ic/dS_ik = P_ic (d_ck - P_ik)
    dQ  += dS K * scale
    dK  += dS^T Q * scale

with the key tiles outside and the query tiles inside: a key tile's dK and dV are finished in
one sweep, and dQ gathers over the key tiles (FlashAttention-2's order).

The causal mask (query i sees keys j <= i, the lower triangle of the T_q x T_k matrix, as
``is_causal`` in PyTorch) is free in this form: a tile entirely above the diagonal is skipped,
never computed (about half the work), and only tiles the diagonal crosses are masked.

What this file is and is not. It is the algorithm, in array operations of NumPy (or CuPy), so
its memory is that of the tiles: peak memory grows as O(T) against the standard path's O(T^2)
(``benchmarks/flash_attention.py`` measures both with ``tracemalloc``). It is not the fused
GPU kernel: the speed FlashAttention is known for comes from keeping the tiles in on-chip SRAM,
which Python cannot express; here each tile is a few library calls, so for short sequences it
is slower than the standard path.

Differentiable once. The backward works on raw arrays (the tiles, recomputed with the array
module), so it records no graph: ``create_graph=True`` through ``flash_attention`` raises a
RuntimeError instead of returning a wrong second derivative. For grad-of-grad use
``scaled_dot_product_attention``, whose backward is written in minigen ops.
"""
from __future__ import annotations

import math
import numbers

from ..autograd import Function, Tensor, _wrap, is_grad_enabled

__all__ = ["flash_attention"]

_OP = "flash_attention"


class FlashAttention(Function):
    """O = softmax(Q K^T * scale (causally masked)) V, tile by tile; saves Q, K, V, O and L."""

    def forward(self, q, k, v, *, is_causal, scale, block_q, block_k):
        xp = self.xp
        self.is_causal, self.scale, self.block_q, self.block_k = is_causal, scale, block_q, block_k
        batch, Tq, Tk = q.shape[:-2], q.shape[-2], k.shape[-2]
        o = xp.empty(batch + (Tq, v.shape[-1]), dtype=q.dtype)
        lse = xp.empty(batch + (Tq,), dtype=q.dtype)
        kT = xp.swapaxes(k, -1, -2)
        for r0 in range(0, Tq, block_q):
            r1 = min(r0 + block_q, Tq)
            # the query tile, scale folded in: Q_i * scale
            q_i = q[..., r0:r1, :] * scale
            m = xp.full(batch + (r1 - r0, 1), -xp.inf, dtype=q.dtype)
            l = xp.zeros(batch + (r1 - r0, 1), dtype=q.dtype)
            acc = xp.zeros(batch + (r1 - r0, v.shape[-1]), dtype=q.dtype)
            for c0 in range(0, self._keys_seen(r1, Tk), block_k):
                c1 = min(c0 + block_k, Tk)
                # S^(j) = Q_i K_j^T * scale
                s = q_i @ kT[..., c0:c1]
                if is_causal and c1 - 1 > r0:  # the diagonal crosses this tile: mask j > i
                    s += self._mask(r0, r1, c0, c1, s.dtype)
                # m_new = max(m, rowmax S^(j))
                m_new = xp.maximum(m, s.max(axis=-1, keepdims=True))
                # P~ = exp(S^(j) - m_new)     (in place: s becomes P~)
                s -= m_new
                xp.exp(s, out=s)
                # alpha = exp(m - m_new): shifts what was summed so far to the new max
                alpha = xp.exp(m - m_new)
                # l = alpha l + rowsum P~
                l = alpha * l + s.sum(axis=-1, keepdims=True)
                # acc = alpha acc + P~ V_j
                acc *= alpha
                acc += s @ v[..., c0:c1, :]
                m = m_new
            # O_i = acc / l;   L_i = m + log l
            o[..., r0:r1, :] = acc / l
            lse[..., r0:r1] = (m + xp.log(l))[..., 0]
        self.save_for_backward(q, k, v, o, lse)
        return o

    def _keys_seen(self, r1, Tk):
        """How many keys the query rows below r1 see: all of them, or with the causal mask
        keys j <= r1 - 1 (the tiles after that lie entirely above the diagonal: skipped)."""
        return min(r1, Tk) if self.is_causal else Tk

    def _mask(self, r0, r1, c0, c1, dtype):
        """0 where key j <= query i, -inf where j > i, for the tile rows r0:r1, cols c0:c1."""
        xp = self.xp
        i = xp.arange(r0, r1).reshape(-1, 1)
        j = xp.arange(c0, c1).reshape(1, -1)
        return xp.where(j > i, -xp.inf, 0.0).astype(dtype)

    def backward(self, go):
        if is_grad_enabled():
            raise RuntimeError(
                f"{_OP}: the backward recomputes its tiles on raw arrays and records no graph, "
                "so it cannot be differentiated a second time (create_graph=True). Use "
                "minigen.nn.functional.scaled_dot_product_attention for second derivatives.")
        xp, scale, bq, bk = self.xp, self.scale, self.block_q, self.block_k
        q, k, v, o, lse = (t.array for t in self.saved_tensors)
        do = go.array
        Tq, Tk = q.shape[-2], k.shape[-2]
        # D_i = rowsum(dO_i * O_i)   (= sum_c P_ic dP_ic)
        D = (do * o).sum(axis=-1)
        dq, dk, dv = xp.zeros_like(q), xp.zeros_like(k), xp.zeros_like(v)
        for c0 in range(0, Tk, bk):
            c1 = min(c0 + bk, Tk)
            k_j, v_j = k[..., c0:c1, :], v[..., c0:c1, :]
            dk_j, dv_j = dk[..., c0:c1, :], dv[..., c0:c1, :]   # views: += writes into dK, dV
            # causal: query rows i < c0 see none of these keys; start at the tile holding c0
            first = (c0 // bq) * bq if self.is_causal else 0
            for r0 in range(first, Tq, bq):
                r1 = min(r0 + bq, Tq)
                q_i, do_i = q[..., r0:r1, :], do[..., r0:r1, :]
                # S = Q_i K_j^T * scale
                s = (q_i * scale) @ xp.swapaxes(k_j, -1, -2)
                if self.is_causal and c1 - 1 > r0:
                    s += self._mask(r0, r1, c0, c1, s.dtype)
                # P = exp(S - L_i)    (in place: s becomes P; masked entries exp(-inf) = 0)
                s -= lse[..., r0:r1, None]
                p = xp.exp(s, out=s)
                # dV_j += P^T dO_i
                dv_j += xp.swapaxes(p, -1, -2) @ do_i
                # dP = dO_i V_j^T
                dp = do_i @ xp.swapaxes(v_j, -1, -2)
                # dS = P * (dP - D_i)     (in place: dp becomes dS)
                dp -= D[..., r0:r1, None]
                dp *= p
                # dQ_i += dS K_j * scale;   dK_j += dS^T Q_i * scale
                dq[..., r0:r1, :] += (dp @ k_j) * scale
                dk_j += (xp.swapaxes(dp, -1, -2) @ q_i) * scale
        need = self.needs_input_grad
        return tuple(_wrap(g) if n else None for g, n in zip((dq, dk, dv), need))


def _check(q, k, v, is_causal, scale, block_q, block_k):
    """Clear errors for what flash_attention does not take; returns the scale to use."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{_OP}: expected {name} to be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{_OP}: expected {name} with at least 2 dims [..., T, d], "
                             f"got shape {list(t.shape)}")
    if not (q.dtype == k.dtype == v.dtype) or q.dtype.kind != "f":
        raise TypeError(f"{_OP}: q, k and v must have the same floating dtype, got "
                        f"q {q.dtype}, k {k.dtype}, v {v.dtype}")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"{_OP}: q {list(q.shape)} and k {list(k.shape)} must have the same "
                         f"last dim d, got {q.shape[-1]} and {k.shape[-1]}")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"{_OP}: k {list(k.shape)} and v {list(v.shape)} must have the same "
                         f"number of keys (dim -2), got {k.shape[-2]} and {v.shape[-2]}")
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(f"{_OP}: q {list(q.shape)}, k {list(k.shape)} and v {list(v.shape)} "
                         "must have the same batch dims (no broadcasting here; expand them first)")
    if k.shape[-2] == 0:
        raise ValueError(f"{_OP}: k {list(k.shape)} has no keys; attention needs at least one")
    for name, b in (("block_q", block_q), ("block_k", block_k)):
        if isinstance(b, bool) or not isinstance(b, numbers.Integral) or b < 1:
            raise ValueError(f"{_OP}: {name} must be a positive integer (the tile size), "
                             f"got {b!r}")
    if not isinstance(is_causal, bool):
        raise TypeError(f"{_OP}: is_causal must be True or False, got {is_causal!r}")
    if scale is None:
        return 1.0 / math.sqrt(q.shape[-1])
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale):
        raise ValueError(f"{_OP}: scale must be a finite real number or None (1/sqrt(d)), "
                         f"got {scale!r}")
    return float(scale)


def flash_attention(q, k, v, is_causal=False, scale=None, block_q=128, block_k=128):
    """softmax(q k^T * scale) v for q [..., T_q, d], k [..., T_k, d], v [..., T_k, d_v], computed
    in tiles of ``block_q`` queries by ``block_k`` keys with the online softmax: the same
    output and gradients as ``scaled_dot_product_attention(q, k, v, is_causal=is_causal,
    scale=scale)``, with memory O(T) instead of O(T^2).

    ``is_causal``: query i sees keys j <= i (tiles above the diagonal are skipped). ``scale``
    defaults to 1 / sqrt(d). q, k and v share their batch dims (no broadcasting) and their
    floating dtype. T need not be a multiple of the tile sizes (the last tile is shorter).

    Differentiable once: ``create_graph=True`` through it raises a RuntimeError (the backward
    works on raw arrays; see the module docstring).
    """
    scale = _check(q, k, v, is_causal, scale, block_q, block_k)
    return FlashAttention.apply(q, k, v, is_causal=is_causal, scale=scale, block_q=int(block_q),
                                block_k=int(block_k))
