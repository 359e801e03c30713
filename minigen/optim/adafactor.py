"""Adafactor (Shazeer and Stern, 2018) as PyTorch 2.13 runs it: second moments kept factored
(a row and a column vector for a matrix), relative step sizes, update clipping.

For a parameter theta with gradient g (after g <- -g if ``maximize``) at step t = 1, 2, ...:

    beta2_t' = t^beta2_decay                 (the weight of the new g^2; beta2_decay = -0.8)
    rho_t = min(lr, 1 / sqrt(t))
    alpha = max(eps2, RMS(theta)) rho_t      (RMS(x) = |x|_2 / sqrt(numel x))
    theta <- theta (1 - lr lambda)           (decoupled weight decay)
    matrices (the last two dimensions):
        R <- lerp(R, mean_cols(g^2), beta2_t')      ('row_var', shape [..., n, 1])
        C <- lerp(C, mean_rows(g^2), beta2_t')      ('col_var', shape [..., 1, m])
        V = R C / max(mean(R), eps1)                (a rank-1 estimate of the second moment)
    vectors:  V <- lerp(V, g^2, beta2_t')           ('variance')
    U = g / sqrt(max(V, eps1^2))
    theta <- theta - alpha / max(1, RMS(U) / d) U   (d: the clipping threshold)

eps1 (``eps[0]``) defaults to the machine epsilon of the parameter's dtype.
"""
from __future__ import annotations

import numpy

from ..autograd import _wrap, no_grad
from .optimizer import Optimizer

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """``Adafactor(params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
    weight_decay=0.0, *, foreach=None, maximize=False)``; ``foreach`` has no effect here."""

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize))

    @staticmethod
    def _init(p):
        xp, shape = p.xp, p.array.shape
        if p.array.ndim > 1:
            return {"step": 0,
                    "row_var": _wrap(xp.zeros(shape[:-1] + (1,), p.array.dtype)),
                    "col_var": _wrap(xp.zeros(shape[:-2] + (1, shape[-1]), p.array.dtype))}
        return {"step": 0, "variance": _wrap(xp.zeros_like(p.array))}

    @no_grad()
    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, decay, d, lam = group["lr"], group["beta2_decay"], group["d"], group["weight_decay"]
            eps1, eps2 = group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp, theta = p.xp, p.array
                g = -p.grad.array if group["maximize"] else p.grad.array
                e1 = float(numpy.finfo(theta.dtype).eps) if eps1 is None else eps1
                st = self._state_for(p, self._init)
                st["step"] += 1
                t = float(st["step"])
                w = t ** decay
                rho = min(lr, 1 / (t ** 0.5))
                alpha = max(eps2, float(xp.sqrt((theta * theta).sum())) / (theta.size ** 0.5)) * rho
                if lam != 0:
                    theta *= 1 - lr * lam
                g2 = g * g
                if g.ndim > 1:
                    R, C = st["row_var"].array, st["col_var"].array
                    # R <- lerp(R, mean over columns of g^2, w);  C likewise over rows
                    _lerp_(R, g2.mean(-1, keepdims=True), w)
                    _lerp_(C, g2.mean(-2, keepdims=True), w)
                    v = (R @ C) / xp.maximum(R.mean(-2, keepdims=True), e1)
                else:
                    V = st["variance"].array
                    _lerp_(V, g2, w)
                    v = V.copy()
                u = g / xp.sqrt(xp.maximum(v, e1 * e1))
                denom = max(1.0, float(xp.sqrt((u * u).sum())) / ((u.size ** 0.5) * d))
                theta -= (alpha / denom) * u
        return loss



def _lerp_(a, b, w):
    """a <- a + w (b - a) in place, in PyTorch's two forms (w >= 1/2: b - (b - a)(1 - w))."""
    if w < 0.5:
        a += (b - a) * w
    else:
        a[...] = b - (b - a) * (1 - w)
