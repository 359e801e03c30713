"""Scaled dot-product attention as one Function with a hand-derived backward.

    S = Q K^T * scale (+ float mask)     scores, (..., L, S)
    P = softmax(S) over the keys          masked entries take no part (P = 0 there)
    O = P V                               (..., L, Ev)

The backward is derived in ``ScaledDotProductAttention``'s docstring.
"""
from __future__ import annotations

import math

import numpy

from ..autograd import Function, _wrap, is_grad_enabled
from ..backend import fused
from .attention_args import _OP, _check_inputs, _check_mask
from .elementwise import where
from .unary import exp
from .reduction import sum, sum_to

__all__ = ["scaled_dot_product_attention"]


class ScaledDotProductAttention(Function):
    """O = softmax(Q K^T * scale + B, masked) V, with optional dropout on the probabilities.

    Forward, for one batch entry (L queries, S keys):
        S = Q K^T * scale + B          B: the float mask, if any (0 where absent)
        P_ij = exp(S_ij - m_i) / sum_{j' kept} exp(S_ij' - m_i)  for kept j, else 0
               (m_i = max over kept j; a row with nothing kept is all zeros, never NaN)
        P~ = P * D                     D: dropout mask, 0 or 1/(1-p) (all ones without dropout)
        O = P~ V

    Backward (dO = dL/dO):
        dV = P~^T dO
        dP~ = dO V^T                   (+ dL/dP~ when the weights are an output too)
        dP = dP~ * D
        dS = P * (dP - rowsum(dP * P))     softmax: dP_ij/dS_ik = P_ij (delta_jk - P_ik)
        dQ = dS K * scale
        dK = dS^T Q * scale
        dB = dS (summed to B's shape)
    Masked entries have P = 0, so dS = 0 there: a fully masked row has zero gradients.

    The row sums need no (L, S) product (the trick FlashAttention uses): since dP * P =
    dP~ * P~ and O = P~ V,
        rowsum(dP * P)_i = sum_j (dO_i . V_j) P~_ij = dO_i . O_i     (+ rowsum(dL/dP~ * P~)).

    P, the largest array, is not saved: the backward recomputes it from Q and K (one more
    Q K^T, as FlashAttention does). With create_graph=True it is rebuilt in minigen ops, so the
    second derivative sees its dependence on the inputs; otherwise on raw arrays.
    """

    def forward(self, q, k, v, *bias, keep, dropout, scale, need_weights):
        self.scale, self.dropout, self.keep = scale, dropout, keep
        b = bias[0] if bias else None
        out = self._raw_output(q, k, v, b, need_weights)
        # P is not saved: it is (..., L, S), the biggest array here, and a first-order backward
        # recomputes it with one Q K^T (as FlashAttention does), which costs less than keeping it
        self.save_for_backward(q, k, v, b, out[0] if need_weights else out)
        return out

    def _raw_output(self, q, k, v, b, need_weights):
        """O = P~ V on raw arrays (with a copy of P~, (..., L, S), if wanted). The batch
        entries are independent, so on CPU they are shared out among the host threads along
        the leading axis where they can be (``_leading``)."""
        xp, d = self.xp, self.dropout
        n = 0 if need_weights else self._leading(q, k, v, b)
        if n == 0:
            lay = _Layout(k.shape[-2], self.backend)
            p = self._raw_probabilities(lay, q, k, b)
            pd = p * lay.of(d, p.ndim) if d is not None else p
            o = lay.p(pd) @ v
            return (o, lay.p(pd).copy()) if need_weights else o
        o = xp.empty(q.shape[:-1] + v.shape[-1:], dtype=q.dtype)

        def part(lo, hi):
            lay = _Layout(k.shape[-2], self.backend)
            p = self._raw_probabilities(lay, q[lo:hi], k[lo:hi], _cut(b, q.ndim, lo, hi))
            if d is not None:
                p *= lay.of(_cut(d, q.ndim, lo, hi), p.ndim)
            xp.matmul(lay.p(p), v[lo:hi], out=o[lo:hi])

        self.backend.parallel(part, n, _scores_bytes(q, k))
        return o

    def _leading(self, q, k, v, bias):
        """The length of the leading batch axis along which the raw first-order work splits
        into independent parts, or 0 where it does not split: Q, K and V must share their
        batch dims, and every mask either has the whole axis or broadcasts along it."""
        if q.ndim < 3 or not q.shape[:-2] == k.shape[:-2] == v.shape[:-2]:
            return 0
        n = q.shape[0]
        if self.keep is not None and self.keep.ndim == q.ndim and self.keep.shape[0] != 1:
            return 0  # (the additive -inf pattern made from it is cached whole)
        if bias is not None and not (bias.ndim == q.ndim and bias.shape[0] == n):
            return 0  # (its gradient would be summed across the parts)
        if self.keep is not None:
            self._keep_bias(q.dtype)  # made once, before the parts read it
        return n

    def _raw_scores(self, q, k, bias):
        """S = Q K^T * scale (+ B), with entries the mask drops set to -inf (raw arrays)."""
        xp = self.xp
        s = q @ xp.swapaxes(k, -1, -2)
        s *= self.scale
        if bias is not None:
            s = s + bias
        if self.keep is not None:
            s += self._keep_bias(s.dtype)
        return s

    def _keep_bias(self, dtype):
        """0 where the mask keeps an entry, -inf where it drops it (made once per call: a
        broadcast add of it is far faster than np.where on an (L, S) pattern)."""
        kb = getattr(self, "_kb", None)
        if kb is None or kb.dtype != dtype:
            kb = self._kb = self.xp.where(self.keep, 0.0, -self.xp.inf).astype(dtype)
        return kb

    def _raw_probabilities(self, lay, q, k, bias):
        """P = softmax(S) over the kept keys, on raw arrays, in the layout ``lay`` (a query row
        with no key kept is all zeros)."""
        xp = self.xp
        L, S = q.shape[-2], k.shape[-2]
        batch = numpy.broadcast_shapes(q.shape[:-2], k.shape[:-2])
        p = lay.empty(xp, batch, L, S, q.dtype)
        # S = (Q * scale) K^T, written straight into the layout
        lay.matmul(xp, q * self.scale, k, p)
        if bias is not None:
            p += lay.of(bias, p.ndim)
        if self.keep is not None:
            p += lay.of(self._keep_bias(p.dtype), p.ndim)
        masked = self.keep is not None or bias is not None
        # P = exp(S - m) / sum exp(S - m),  m the max over kept keys (masked: exp(-inf) = 0)
        # (each step after the max and the sum is one CUDA kernel on a GPU)
        self.backend.fused(_exp_shifted, p.max(axis=lay.keys, keepdims=True), p, masked)
        self.backend.fused(_divide_rows, self.backend.sum(p, (lay.keys,), keepdims=True), p,
                           masked)
        return p

    def _probabilities(self, q, k, bias):
        """P recomputed in minigen ops from q, k and bias: a graph tensor of them."""
        s = (q @ k.mT) * self.scale
        if bias is not None:
            s = s + bias
        if self.keep is None and bias is None:
            m = _wrap(s.array.max(axis=-1, keepdims=True))  # any constant shift: softmax ignores it
            e = exp(s - m)
            return e / sum(e, dim=-1, keepdim=True)
        # the entries that take part (bool mask, causal triangle, float mask > -inf)
        xp = self.xp
        kept_raw = self._raw_scores(q.array, k.array, None if bias is None else bias.array) != -xp.inf
        kept = _wrap(kept_raw)
        # masked entries are replaced by 0 before exp (no inf - inf), then zeroed
        s = where(kept, s, 0.0)
        m = xp.where(kept_raw, s.array, -xp.inf).max(axis=-1, keepdims=True)
        m = _wrap(xp.where(m == -xp.inf, 0.0, m))
        e = where(kept, exp(s - m), 0.0)
        z = sum(e, dim=-1, keepdim=True)
        return e / where(z > 0, z, 1.0)

    def backward(self, go, gw=None):
        q, k, v, bias, o = self.saved_tensors
        if not is_grad_enabled():
            return self._raw_backward(q, k, v, bias, o, go, gw)
        # create_graph: P and O must carry their dependence on the inputs (minigen ops)
        d = _wrap(self.dropout) if self.dropout is not None else None
        p = self._probabilities(q, k, bias)
        o = (p * d if d is not None else p) @ v
        pd = p * d if d is not None else p
        need = self.needs_input_grad
        # dV = P~^T dO
        gv = sum_to(pd.mT @ go, v.shape) if need[2] else None
        if not (need[0] or need[1] or (bias is not None and need[3])):
            return None, None, gv, None
        # dP~ = dO V^T (+ the gradient of the returned weights)
        gp = go @ v.mT
        # rowsum(dP * P) = rowsum(dP~ * P~) = dO . O  (+ rowsum(dL/dP~ * P~))
        r = sum(go * o, dim=-1, keepdim=True)
        if gw is not None:
            gp = gp + gw
            r = r + sum(gw * pd, dim=-1, keepdim=True)
        # dP = dP~ * D
        if d is not None:
            gp = gp * d
        # dS = P * (dP - rowsum(dP * P))
        gs = p * (gp - r)
        # dQ = dS K * scale;  dK = dS^T Q * scale   (scaling the small results, not dS)
        gq = sum_to((gs @ k) * self.scale, q.shape) if need[0] else None
        gk = sum_to((gs.mT @ q) * self.scale, k.shape) if need[1] else None
        if bias is None:
            return gq, gk, gv
        # dB = dS, summed back over the dims B was broadcast along
        return gq, gk, gv, (sum_to(gs, bias.shape) if need[3] else None)

    def _raw_backward(self, q, k, v, bias, o, go, gw):
        """The same backward on raw arrays. On CPU the batch entries are shared out among the
        host threads along the leading axis where they can be (``_leading``): each part
        writes its rows of dQ, dK, dV (and dB)."""
        need = self.needs_input_grad
        arrays = [t.array if t is not None else None for t in (q, k, v, bias, o, go, gw)]
        arrays.append(self.dropout)
        qa, ka, va, ba = arrays[:4]
        n = self._leading(qa, ka, va, ba)
        if n == 0:
            grads = self._raw_grads(*arrays)
        else:
            want = [need[0], need[1], need[2], ba is not None and need[3]]
            grads = [self.xp.empty_like(a) if w else None for a, w in zip(arrays, want)]

            def part(lo, hi):
                self._raw_grads(*(_cut(a, qa.ndim, lo, hi) for a in arrays),
                                outs=[_cut(g, qa.ndim, lo, hi) for g in grads])

            self.backend.parallel(part, n, _scores_bytes(qa, ka))
        if bias is None:
            grads = grads[:3]
        return tuple(_wrap_grad(g) for g in grads)

    def _raw_grads(self, qa, ka, va, ba, oa, goa, gwa, d, outs=None):
        """dQ, dK, dV, dB (None where not needed) from raw arrays, with P and dS in the layout
        of the forward; written into ``outs`` where given (then no input is broadcast)."""
        xp = self.xp
        outs = outs or [None] * 4
        lay = _Layout(ka.shape[-2], self.backend)
        p = self._raw_probabilities(lay, qa, ka, ba)
        d = lay.of(d, p.ndim) if d is not None else None
        pd = p * d if d is not None else p
        need = self.needs_input_grad
        # dV = P~^T dO
        gv = _product(xp, lay.pt(pd), goa, 1.0, va.shape, outs[2]) if need[2] else None
        if not (need[0] or need[1] or (ba is not None and need[3])):
            return None, None, gv, None
        # dP~ = dO V^T (+ the gradient of the returned weights); its batch dims are dO's, which
        # take in V's where V has more than Q and K
        gp = lay.empty(xp, goa.shape[:-2], qa.shape[-2], ka.shape[-2], p.dtype)
        lay.matmul(xp, goa, va, gp)
        p, pd, d = (None if a is None else lay.rank(a, gp.ndim) for a in (p, pd, d))
        # rowsum(dP * P) = dO . O  (+ rowsum(dL/dP~ * P~))
        prod = goa * oa
        r = lay.rows(self.backend.sum(prod, (prod.ndim - 1,)))
        if gwa is not None:
            gwl = lay.of(gwa, gp.ndim)
            gp += gwl
            r = r + self.backend.sum(gwl * pd, (lay.keys,), keepdims=True)
        # dP = dP~ * D;  dS = P * (dP - rowsum(dP * P))
        if d is not None:
            gp *= d
        gp -= r
        gp *= p
        # dQ = dS K * scale;  dK = dS^T Q * scale
        gq = _product(xp, lay.p(gp), ka, self.scale, qa.shape, outs[0]) if need[0] else None
        gk = _product(xp, lay.pt(gp), qa, self.scale, ka.shape, outs[1]) if need[1] else None
        gb = None
        if ba is not None and need[3]:
            # dB = dS, summed back over the dims B was broadcast along
            gb = _sum_to(lay.p(gp), ba.shape)
            if outs[3] is not None:
                outs[3][...] = gb
        return gq, gk, gv, gb


class _Layout:
    """Where the raw first-order code keeps the keys axis of its (L, S) arrays, P and dS.

    Softmax reduces over the keys, and NumPy runs one inner loop per reduced row, ~40 ns
    each. With few keys per row that overhead dominates: the GPT step's attention has 8192
    rows of 64 keys, and a row-wise max or divide there costs 0.1-0.5 ms. So with at most
    ``KEYS_FIRST_MAX`` keys the arrays are kept keys first, (S, ..., L): the max, subtract,
    sum (a matrix-vector product) and divide each run as a few long loops, 4-10x faster, and
    the products take the transposed views as they are (BLAS strides). With more keys rows
    are long and the usual (..., L, S) is faster (keys first there makes the products write
    and read rows far apart in memory: 1.8x slower at S = 256, measured). On a GPU each op is
    one kernel, with no per-row cost to save, so the usual layout is used there.
    """

    KEYS_FIRST_MAX = 128

    def __init__(self, S, backend):
        self.first = S <= self.KEYS_FIRST_MAX and backend.name == "cpu"
        self.keys = 0 if self.first else -1  # the keys axis

    def empty(self, xp, batch, L, S, dtype):
        return xp.empty((S,) + batch + (L,) if self.first else batch + (L, S), dtype=dtype)

    def matmul(self, xp, a, b, out):
        """out = A B^T for A (..., L, E), B (..., S, E), written into ``out`` (this layout)."""
        if self.first:  # computed as B A^T into the (..., S, L) view
            xp.matmul(b, xp.swapaxes(a, -1, -2), out=_keys_middle(out))
        else:
            xp.matmul(a, xp.swapaxes(b, -1, -2), out=out)

    def of(self, a, nd):
        """An (..., L, S) array (batch dims broadcastable) as a view in this layout."""
        return _keys_first(a, nd) if self.first else a

    def rank(self, a, nd):
        """An array of this layout with size-1 batch dims added up to ``nd`` dims, so that it
        broadcasts against one with more batch dims (keys first, they go after the keys)."""
        if not self.first or a.ndim == nd:
            return a
        return a.reshape(a.shape[:1] + (1,) * (nd - a.ndim) + a.shape[1:])

    def p(self, a):
        """An array of this layout as the (..., L, S) view."""
        return _keys_last(a) if self.first else a

    def pt(self, a):
        """An array of this layout as the (..., S, L) view."""
        return _keys_middle(a) if self.first else a.swapaxes(-1, -2)

    def rows(self, r):
        """A per-row vector (..., L) shaped to broadcast against this layout."""
        return r if self.first else r[..., None]


def _keys_first(a, nd):
    """An (..., L, S) array (batch dims broadcastable) as the keys-first view (S, ..., L) with
    ``nd`` dims."""
    a = a.reshape((1,) * (nd - a.ndim) + a.shape)
    return a.transpose((nd - 1,) + tuple(range(nd - 1)))


def _keys_last(at):
    """A keys-first array (S, ..., L) as the (..., L, S) view: P, dS."""
    return at.transpose(tuple(range(1, at.ndim)) + (0,))


def _keys_middle(at):
    """A keys-first array (S, ..., L) as the (..., S, L) view: P^T, dS^T per batch entry."""
    return at.transpose(tuple(range(1, at.ndim - 1)) + (0, at.ndim - 1))


def _cut(a, nd, lo, hi):
    """Rows lo:hi of ``a`` along the leading batch axis if it has that axis (``nd`` dims, as
    Q); otherwise ``a`` itself (None, or an array with fewer dims that broadcasts along it;
    ``_leading`` has ruled out a leading axis of length 1 where the work splits)."""
    return a[lo:hi] if a is not None and a.ndim == nd else a


def _scores_bytes(q, k):
    """Bytes of one (..., L, S) array: what each pass of the softmax touches."""
    return q.size // q.shape[-1] * k.shape[-2] * q.itemsize


def _product(xp, a, b, scale, shape, out):
    """(A B) * scale summed down to ``shape`` (undoing broadcasting), or written into ``out``."""
    c = xp.matmul(a, b, out=out)
    c *= scale
    return c if out is not None else _sum_to(c, shape)


def _sum_to(a, shape):
    """A raw array summed down to ``shape`` (undoing broadcasting), via ``sum_to``."""
    return a if a.shape == tuple(shape) else sum_to(_wrap(a), shape).array


def _wrap_grad(g):
    return None if g is None else _wrap(g)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, *, _need_weights=False):
    """Attention of ``query`` (..., L, E) over ``key`` (..., S, E) and ``value`` (..., S, Ev).

    As ``torch.nn.functional.scaled_dot_product_attention``: leading batch dims broadcast;
    ``attn_mask`` broadcastable to (..., L, S) is either bool (True = the key takes part) or
    float (added to the scores, -inf excludes); ``is_causal=True`` keeps key j for query i when
    j <= i (the lower triangle of an L x S matrix; not together with ``attn_mask``); ``scale``
    defaults to 1 / sqrt(E); ``dropout_p`` > 0 drops attention probabilities (and rescales the
    rest by 1 / (1 - p)) using minigen's generator on the tensors' device.

    Where minigen differs: a query row whose keys are all masked gives zeros (output and
    gradients), never NaN.
    """
    q, k, v = query, key, value
    # shapes, dtypes, devices and the mask checked as PyTorch does (attention_args.py)
    s_shape = _check_inputs(q, k, v, dropout_p)
    E, L, S = q.shape[-1], q.shape[-2], k.shape[-2]
    xp = q.xp
    keep, bias = None, None
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(f"{_OP}: explicit attn_mask should not be set when is_causal=True")
        # query i sees keys j <= i
        keep = xp.tril(xp.ones((L, S), dtype=bool))
    elif attn_mask is not None:
        # a bool mask says which keys take part; a float one is added to the scores
        if _check_mask(attn_mask, q, s_shape) == "bool":
            keep = attn_mask.array
        else:
            bias = attn_mask if attn_mask.dtype == q.dtype else attn_mask.to(q.dtype)
    scale = 1.0 / math.sqrt(E) if scale is None else float(scale)

    dropout = None
    if dropout_p > 0.0:
        from ..creation import rand
        u = rand(s_shape, dtype=q.dtype, device=q.device).array
        # D = 1{u >= p} / (1 - p): each probability is kept with chance 1 - p, rescaled
        dropout = (u >= dropout_p).astype(q.dtype) * (1.0 / (1.0 - dropout_p)) \
            if dropout_p < 1.0 else xp.zeros(s_shape, dtype=q.dtype)
    inputs = (q, k, v) if bias is None else (q, k, v, bias)
    return ScaledDotProductAttention.apply(*inputs, keep=keep, dropout=dropout, scale=scale,
                                           need_weights=_need_weights)


@fused(inputs=["m"], inouts=["p"], outputs=[], scalars=["masked"], body="""
    // p <- exp(p - m); a row with no key kept (masked, max -inf) is shifted by 0: its P stays 0
    p = exp(p - ((masked != (T)0 && isinf(m) && m < (T)0) ? (T)0 : m));""")
def _exp_shifted(xp, m, p, masked):
    """p <- exp(p - m) in place, m the max over each row of kept keys (masked: -inf where a row
    keeps no key, which shifts by 0 instead)."""
    if masked:
        m = xp.where(m == -xp.inf, 0.0, m)
    p -= m
    xp.exp(p, out=p)


@fused(inputs=["z"], inouts=["p"], outputs=[], scalars=["masked"], body="""
    p = p / ((masked != (T)0 && z == (T)0) ? (T)1 : z);""")
def _divide_rows(xp, z, p, masked):
    """p <- p / z in place, z each row's sum (masked: a row that kept no key has z = 0 and stays
    0)."""
    if masked:
        z = xp.where(z == 0, 1.0, z)
    p /= z
