"""Connectionist temporal classification loss (Graves et al., 2006), ``F.ctc_loss``.

Given per-frame log-probabilities lp[t, c] (T frames, C classes, class ``blank`` = "no label")
and a target label sequence l = (l_1 .. l_S), the loss is -log p(l | x), where p sums the
probability of every frame-level path that collapses to l (merge repeats, then drop blanks).

The sum runs over the extended sequence l' = (blank, l_1, blank, l_2, ..., l_S, blank), of
length L = 2S + 1, by dynamic programming in log space (a + b below is log(e^a + e^b)):

    forward   alpha_0(0) = lp[0, blank],  alpha_0(1) = lp[0, l_1],  alpha_0(s > 1) = -inf
              alpha_t(s) = lp[t, l'_s] + (alpha_{t-1}(s) + alpha_{t-1}(s-1)
                                          [+ alpha_{t-1}(s-2) if l'_s != blank, l'_s != l'_{s-2}])
    backward  beta_{T-1}(L-1) = lp[T-1, blank],  beta_{T-1}(L-2) = lp[T-1, l_S], others -inf
              beta_t(s) = lp[t, l'_s] + (beta_{t+1}(s) + beta_{t+1}(s+1)
                                         [+ beta_{t+1}(s+2) if l'_s != blank, l'_s != l'_{s+2}])
    loss      nll = -(alpha_{T-1}(L-1) + alpha_{T-1}(L-2))

(T is each sample's own ``input_lengths[n]``, S its ``target_lengths[n]``.) Both alpha_t(s) and
beta_t(s) contain the frame-t factor, so alpha_t(s) + beta_t(s) - lp[t, l'_s] is the log of the
total probability of the paths through (t, s), and for every t

    sum_s exp(alpha_t(s) + beta_t(s) - lp[t, l'_s]) = p(l | x)

Differentiating p with respect to lp[t, c] (each path's probability is a product of e^lp):

    d nll / d lp[t, c] = -exp(nll - lp[t, c] + log sum_{s: l'_s = c} e^{alpha_t(s) + beta_t(s)})
                       = -gamma_t(c),   gamma_t(c): the posterior that frame t emits c,
                                        sum_c gamma_t(c) = 1

PyTorch's gradient (which minigen returns, for the same numbers) is that plus e^{lp[t, c]}:

    grad[t, c] = e^{lp[t, c]} - gamma_t(c)        (0 for t >= input_lengths[n])

which is the gradient of the loss with respect to the *logits* z when lp = log_softmax(z):
there d nll/dz = -gamma + e^lp sum_c gamma = e^lp - gamma, and pushing PyTorch's value through
log_softmax's backward (g - e^lp sum_c g, here sum_c g = 1 - 1 = 0) gives the same e^lp - gamma.
So a model that applies log_softmax (as CTC models do) gets the exact gradient either way; a
``log_probs`` that does not sum to one gets PyTorch's value, not d nll / d lp.
The loss is one Function with this explicit backward (first order only, as in PyTorch).
"""
from __future__ import annotations

import numpy

from ..autograd import Function, Tensor, _wrap

__all__ = ["ctc_loss"]

_NEG_INF = -numpy.inf


def _lse(xp, *terms):
    """log(sum exp(terms)) elementwise, -inf where every term is -inf."""
    m = terms[0]
    for a in terms[1:]:
        m = xp.maximum(m, a)
    safe = xp.where(xp.isfinite(m), m, 0.0)
    acc = 0.0
    for a in terms:
        acc = acc + xp.exp(a - safe)
    with numpy.errstate(divide="ignore"):
        return xp.where(xp.isfinite(m), safe + xp.log(acc), m)


class CTCLossFunction(Function):
    """nll[n] = -log p(target_n | log_probs[:, n]) for log_probs (T, N, C); the recursions and
    the gradient are derived in the module docstring."""

    def forward(self, lp, labels, skip, in_len, tg_len, blank, zero_infinity):
        xp = self.xp
        Tn, N, C = lp.shape
        L = labels.shape[1]
        s_idx = xp.arange(L)
        valid = s_idx[None, :] < (2 * tg_len + 1)[:, None]                   # (N, L)
        rows = xp.arange(N)[:, None]
        flat_idx = (rows * C + labels).reshape(-1)                           # (n, l'_s) in N*C
        # lp[t, n, l'_s] for every t: (T, N, L)
        lpl = lp[:, rows, labels]
        lpl = xp.where(valid[None], lpl, _NEG_INF)
        ninf = xp.full((N, 1), _NEG_INF, dtype=lp.dtype)
        ninf2 = xp.full((N, 2), _NEG_INF, dtype=lp.dtype)
        with numpy.errstate(invalid="ignore"):
            alpha = xp.empty((Tn, N, L), dtype=lp.dtype)
            a = xp.where(s_idx[None, :] < 2, lpl[0], _NEG_INF)
            alpha[0] = a
            for t in range(1, Tn):
                a1 = xp.concatenate([ninf, a[:, :-1]], 1)
                a2 = xp.where(skip, xp.concatenate([ninf2, a[:, :-2]], 1), _NEG_INF)
                new = lpl[t] + _lse(xp, a, a1, a2)
                # past its own input length a sample's alpha stays where it was
                a = xp.where((t < in_len)[:, None], new, a)
                alpha[t] = a
            last = alpha[in_len - 1, xp.arange(N)]                          # (N, L)
            end = 2 * tg_len                                                 # index L_n - 1
            a_end = last[xp.arange(N), end]
            a_end1 = xp.where(tg_len > 0, last[xp.arange(N), xp.maximum(end - 1, 0)], _NEG_INF)
            nll = -_lse(xp, a_end, a_end1)
            # no frames at all: the empty target has probability 1, any other 0
            nll = xp.where(in_len == 0, xp.where(tg_len == 0, 0.0, numpy.inf), nll)
            # beta, from each sample's last frame backwards
            skip_b = xp.concatenate([skip[:, 2:], xp.zeros((N, 2), dtype=bool)], 1)  # s -> s+2
            b = xp.full((N, L), _NEG_INF, dtype=lp.dtype)
            grad = xp.zeros_like(lp)
            inf_loss = ~xp.isfinite(nll)
            for t in range(Tn - 1, -1, -1):
                b1 = xp.concatenate([b[:, 1:], ninf], 1)
                b2 = xp.where(skip_b, xp.concatenate([b[:, 2:], ninf2], 1), _NEG_INF)
                rec = lpl[t] + _lse(xp, b, b1, b2)
                init = xp.where((s_idx[None, :] == end[:, None])
                                | ((s_idx[None, :] == end[:, None] - 1) & (tg_len > 0)[:, None]),
                                lpl[t], _NEG_INF)
                first = (t == in_len - 1)[:, None]
                b = xp.where(first, init, xp.where((t < in_len - 1)[:, None], rec, _NEG_INF))
                # gamma_t(c) = sum_{s: l'_s = c} exp(alpha + beta - lp[t, c] + nll)
                occ = xp.exp(alpha[t] + b - lpl[t] + nll[:, None])
                occ = xp.where(valid & xp.isfinite(occ), occ, 0.0)
                gamma = xp.zeros(N * C, dtype=lp.dtype)
                self.backend.scatter_add(gamma, flat_idx, occ.reshape(-1))
                gamma = gamma.reshape(N, C)
                g = xp.exp(lp[t]) - gamma
                live = (t < in_len)[:, None]
                if zero_infinity:
                    live = live & ~inf_loss[:, None]
                else:  # an impossible alignment: PyTorch's gradient is NaN there
                    g = xp.where(inf_loss[:, None], numpy.nan, g)
                grad[t] = xp.where(live, g, 0.0)
        if zero_infinity:
            nll = xp.where(inf_loss, 0.0, nll)
        self.grad = grad
        return nll.astype(lp.dtype, copy=False)

    def backward(self, gl):
        # d loss / d lp[t, n, c] = gl[n] (e^lp - gamma)   (PyTorch's form, see the docstring)
        return gl.reshape(1, -1, 1) * _wrap(self.grad)


def _int_list(v, name, op):
    if isinstance(v, Tensor):
        v = v.tolist()
    if isinstance(v, (int, numpy.integer)):
        v = [int(v)]
    return [int(x) for x in v]


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """The CTC loss between ``log_probs`` (T, N, C), normally ``log_softmax`` outputs, or (T, C)
    unbatched, and ``targets``: (N, S) padded, or 1-D, all targets concatenated (each sample's
    ``target_lengths[n]`` labels in turn). ``input_lengths`` / ``target_lengths``: one length
    per sample (tuple, list or tensor). ``reduction``: 'none' (per sample), 'sum', or 'mean'
    (each loss divided by its target length (at least 1), then averaged over the batch).
    ``zero_infinity=True`` sets impossible (infinite) losses and their gradients to zero.
    The math and the gradient are in the docstring of ``minigen/ops/ctc.py``."""
    op = "ctc_loss"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not isinstance(log_probs, Tensor) or log_probs.ndim not in (2, 3):
        raise RuntimeError(f"{op}: log_probs must be (T, N, C) or unbatched (T, C), got "
                           + (f"shape {list(log_probs.shape)}" if isinstance(log_probs, Tensor)
                              else type(log_probs).__name__))
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    Tn, N, C = lp.shape
    tg = targets.tolist() if isinstance(targets, Tensor) else list(targets)
    tg_arr = numpy.asarray(tg, dtype=numpy.int64)
    if unbatched:
        tg_arr = tg_arr.reshape(1, -1)
    il = _int_list(input_lengths, "input_lengths", op)
    tl = _int_list(target_lengths, "target_lengths", op)
    if len(il) != N:
        raise RuntimeError("input_lengths must be of size batch_size")
    if len(tl) != N:
        raise RuntimeError("target_lengths must be of size batch_size")
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    for v in il:
        if v > Tn:
            raise RuntimeError(f"Expected input_lengths to have value at most {Tn}, but got "
                               f"value {v} (while checking arguments for ctc_loss)")
        if v < 0:
            raise RuntimeError(f"Expected input_lengths to have value at least 0, but got value "
                               f"{v} (while checking arguments for ctc_loss)")
    for v in tl:
        if v < 0:
            raise RuntimeError(f"Expected target_lengths to have value at least 0, but got "
                               f"value {v} (while checking arguments for ctc_loss)")
    S = max(tl) if tl else 0
    if tg_arr.ndim == 1:  # concatenated targets
        if tg_arr.size != sum(tl):
            raise RuntimeError(f"Expected tensor to have size {sum(tl)} at dimension 0, but got "
                               f"size {tg_arr.size} for argument #2 'targets' (while checking "
                               "arguments for ctc_loss)")
        offs = numpy.concatenate([[0], numpy.cumsum(tl)])
        seqs = [tg_arr[offs[n]:offs[n + 1]] for n in range(N)]
    else:
        if tg_arr.ndim != 2 or tg_arr.shape[0] != N and not unbatched:
            raise RuntimeError(f"{op}: targets must be (N, S) or 1-D concatenated, got shape "
                               f"{list(tg_arr.shape)} for a batch of {N}")
        if tg_arr.shape[1] < S:
            raise RuntimeError(f"Expected tensor to have size at least {S} at dimension 1, but "
                               f"got size {tg_arr.shape[1]} for argument #2 'targets' (while "
                               "checking arguments for ctc_loss)")
        seqs = [tg_arr[n, :tl[n]] for n in range(N)]
    for s in seqs:
        if s.size and (s.min() < 0 or s.max() >= C):
            raise IndexError(f"{op}: target labels must be in [0, {C - 1}], got "
                             f"{int(s.min()) if s.min() < 0 else int(s.max())}")
    if min(il, default=1) == 0 and Tn == 0:
        raise RuntimeError(f"{op}: log_probs has no frames")
    # extended labels l' = (blank, l_1, blank, ..., l_S, blank), padded with blanks
    L = 2 * S + 1
    labels = numpy.full((N, L), blank, dtype=numpy.int64)
    for n, s in enumerate(seqs):
        labels[n, 1:2 * len(s):2] = s
    # the skip s-2 -> s is allowed where l'_s is a label that differs from l'_{s-2}
    skip = numpy.zeros((N, L), dtype=bool)
    skip[:, 2:] = (labels[:, 2:] != blank) & (labels[:, 2:] != labels[:, :-2])
    xp = lp.xp
    in_len = numpy.asarray(il, dtype=numpy.int64)
    tg_len = numpy.asarray(tl, dtype=numpy.int64)
    if xp is not numpy:
        labels, skip, in_len, tg_len = (xp.asarray(a) for a in (labels, skip, in_len, tg_len))
    nll = CTCLossFunction.apply(lp, labels=labels, skip=skip, in_len=in_len, tg_len=tg_len,
                                blank=blank, zero_infinity=bool(zero_infinity))
    if reduction == "none":
        return nll[0] if unbatched else nll
    if reduction == "sum":
        return nll.sum()
    # 'mean': each loss over its target length (clamped at 1), then the batch mean
    denom = numpy.maximum(numpy.asarray(tl, dtype=numpy.float64), 1.0)
    from ..creation import tensor
    return (nll / tensor(denom, dtype=nll.dtype, device=nll.device)).mean()
