"""Muon (Jordan et al., 2024): momentum SGD whose update for a weight matrix is replaced by an
approximately orthogonalised one (the U V^T of its SVD), as PyTorch 2.13's ``optim.Muon``.

For each 2-d parameter W with gradient G:

    B <- lerp(B, G, 1 - mu)                         ('momentum_buffer')
    M = lerp(G, B, mu) if nesterov else B
    O = NS(M): X = M / max(|M|_F, eps) (transposed if taller than wide), then ns_steps times
               A = X X^T;  X <- a X + (b A + c A A) X     ((a, b, c) = ns_coefficients)
    W <- W (1 - lr lambda)
    W <- W - lr' O,   lr' = lr sqrt(max(1, rows / cols))        (adjust_lr_fn None / 'original')
                      lr' = lr 0.2 sqrt(max(rows, cols))         ('match_rms_adamw')

One difference, deliberate: PyTorch runs the Newton-Schulz iteration in bfloat16 (fast on GPUs,
about 3 significant digits); minigen has no bfloat16 and runs it in the parameter's dtype, so its
updates are the exact iteration and differ from PyTorch's by bfloat16's rounding (~1e-2
relative in O).
"""
from __future__ import annotations

import math

from ..autograd import _wrap, no_grad
from .optimizer import Optimizer

__all__ = ["Muon"]


def _zeropower_newton_schulz(xp, g, coefficients, steps, eps):
    if steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if g.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = coefficients
    tall = g.shape[0] > g.shape[1]
    x = g.T if tall else g
    # spectral norm <= Frobenius norm: after this division it is at most 1
    x = x / max(float(xp.sqrt((x * x).sum())), eps)
    for _ in range(steps):
        A = x @ x.T
        x = a * x + (b * A + c * (A @ A)) @ x
    return x.T if tall else x


def _adjust_lr(lr, adjust_lr_fn, shape):
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr


class Muon(Optimizer):
    """``Muon(params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
    ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None)``;
    2-d parameters only (use another optimizer for biases and embeddings' neighbours)."""

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-07, ns_steps=5,
                 adjust_lr_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      nesterov=nesterov, ns_coefficients=ns_coefficients,
                                      eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn))
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {tuple(p.shape)}")

    @no_grad()
    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, mu, lam = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp, g = p.xp, p.grad.array
                st = self._state_for(p, lambda p: {
                    "momentum_buffer": _wrap(p.xp.zeros_like(p.array))})
                buf = st["momentum_buffer"].array
                # B <- lerp(B, G, 1 - mu)
                w = 1 - mu
                if w < 0.5:
                    buf += (g - buf) * w
                else:
                    buf[...] = g - (g - buf) * (1 - w)
                if group["nesterov"]:
                    # lerp(G, B, mu)
                    m = g + (buf - g) * mu if mu < 0.5 else buf - (buf - g) * (1 - mu)
                else:
                    m = buf
                o = _zeropower_newton_schulz(xp, m, group["ns_coefficients"], group["ns_steps"],
                                             group["eps"]).astype(p.array.dtype, copy=False)
                lr_adj = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
                p.array *= 1 - lr * lam
                p.array -= lr_adj * o
        return loss
