"""Rprop (Riedmiller and Braun, 1993): each coordinate keeps its own step size, grown while its
gradient keeps its sign and shrunk when the sign flips; only the gradient's sign is used.

For each parameter theta with gradient g (after g <- -g if ``maximize``), PyTorch's algorithm:

    s = sign(g g_prev)
    eta = eta+ where s > 0,  eta- where s < 0,  1 where s = 0
    step <- clamp(step eta, step_min, step_max)           ('step_size', starts at lr)
    g <- 0 where s < 0                                      (skip the coordinate after a flip)
    theta <- theta - sign(g) step
    g_prev <- g                                             ('prev')
"""
from __future__ import annotations

from ..autograd import _wrap, no_grad
from .optimizer import Optimizer

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """``Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
    foreach=None, maximize=False, differentiable=False)``; ``capturable``, ``foreach``,
    ``differentiable`` are accepted and have no effect here."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    @no_grad()
    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            (eta_minus, eta_plus), (lo, hi) = group["etas"], group["step_sizes"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp = p.xp
                g = -p.grad.array if group["maximize"] else p.grad.array.copy()
                lr = group["lr"]
                st = self._state_for(p, lambda p: {
                    "step": 0, "prev": _wrap(xp.zeros_like(p.array)),
                    "step_size": _wrap(xp.full_like(p.array, lr))})
                st["step"] += 1
                prev, size = st["prev"].array, st["step_size"].array
                s = xp.sign(g * prev)
                # eta+ where the sign held, eta- where it flipped, 1 where a factor was 0
                factor = xp.where(s > 0, eta_plus, xp.where(s < 0, eta_minus, 1.0)).astype(g.dtype)
                size *= factor
                xp.clip(size, lo, hi, out=size)
                g = xp.where(factor == g.dtype.type(eta_minus), 0, g).astype(g.dtype)
                p.array -= xp.sign(g) * size
                prev[...] = g
        return loss
