"""SparseAdam: Adam for sparse gradients (``nn.Embedding(sparse=True)``), updating only the
entries the gradient touches, as PyTorch's ``optim.SparseAdam``.

For the rows i present in the gradient g (after g <- -g if ``maximize``), at step t:

    m_i <- m_i + (1 - beta1) (g_i - m_i)
    v_i <- v_i + (1 - beta2) (g_i^2 - v_i)
    theta_i <- theta_i - lr sqrt(1 - beta2^t) / (1 - beta1^t) m_i / (sqrt(v_i) + eps)

rows absent from the gradient keep their moments and values. minigen holds the gradients of
``sparse=True`` embeddings dense (PyTorch's values, zeros elsewhere), so "present" is read from
the gradient itself: the rows (first dimension) with a nonzero entry, or the nonzero entries of a
1-d gradient. (A looked-up row whose gradient is exactly zero counts as absent here and as
present in PyTorch: its moments decay there and stay here.)
"""
from __future__ import annotations

import math

from ..autograd import _wrap, no_grad
from .optimizer import Optimizer

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """``SparseAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False)``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))

    @no_grad()
    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp = p.xp
                g = -p.grad.array if group["maximize"] else p.grad.array
                st = self._state_for(p, lambda p: {"step": 0,
                                                   "exp_avg": _wrap(xp.zeros_like(p.array)),
                                                   "exp_avg_sq": _wrap(xp.zeros_like(p.array))})
                st["step"] += 1
                t = st["step"]
                if g.ndim >= 2:
                    rows = xp.nonzero((g != 0).reshape(g.shape[0], -1).any(1))[0]
                else:
                    rows = xp.nonzero(g != 0)[0]
                if rows.size == 0:
                    continue
                m, v, theta = st["exp_avg"].array, st["exp_avg_sq"].array, p.array
                gi = g[rows]
                mu = (gi - m[rows]) * (1 - b1)
                vu = (gi * gi - v[rows]) * (1 - b2)
                m[rows] += mu
                v[rows] += vu
                numer = m[rows]
                denom = xp.sqrt(v[rows]) + eps
                step_size = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                theta[rows] += -step_size * (numer / denom)
        return loss
