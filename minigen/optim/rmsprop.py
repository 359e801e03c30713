"""RMSprop (Hinton's lecture 6e; the centered form from Graves, 2013).

For each parameter theta with gradient g (PyTorch's algorithm):

    g <- -g                                        if maximize
    g <- g + lambda theta                          (weight decay)
    v = alpha v + (1 - alpha) g^2                  (state 'square_avg')
    centered:  g_avg = alpha g_avg + (1 - alpha) g (state 'grad_avg');  v~ = v - g_avg^2
    otherwise: v~ = v
    momentum mu > 0:  b = mu b + g / (sqrt(v~) + eps);  theta <- theta - lr b
    otherwise:        theta <- theta - lr g / (sqrt(v~) + eps)

eps is added after the square root (TensorFlow adds it inside), as PyTorch does.
"""
from __future__ import annotations

from ..autograd import _wrap, no_grad
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False, capturable=False, foreach=None, maximize=False, differentiable=False)``
    (``capturable``, ``foreach``, ``differentiable``: accepted, no effect here). State: ``'step'``, ``'square_avg'``, and
    ``'momentum_buffer'`` (momentum > 0), ``'grad_avg'`` (centered)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      maximize=maximize, capturable=capturable,
                                      foreach=foreach, differentiable=differentiable))

    @staticmethod
    def _init_state(momentum, centered):
        def init(p):
            zeros = p.xp.zeros_like
            st = {"step": 0, "square_avg": _wrap(zeros(p.array))}
            if momentum > 0:
                st["momentum_buffer"] = _wrap(zeros(p.array))
            if centered:
                st["grad_avg"] = _wrap(zeros(p.array))
            return st
        return init

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            lam, mu, centered = group["weight_decay"], group["momentum"], group["centered"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp, theta = p.xp, p.array
                g = -p.grad.array if group["maximize"] else p.grad.array
                state = self._state_for(p, self._init_state(mu, centered))
                state["step"] += 1
                if lam != 0:
                    # g <- g + lambda theta
                    g = g + lam * theta
                # v = alpha v + (1 - alpha) g^2
                v = state["square_avg"].array
                v *= alpha
                v += (1 - alpha) * (g * g)
                if centered:
                    # g_avg = alpha g_avg + (1 - alpha) g;  v~ = v - g_avg^2
                    g_avg = state["grad_avg"].array
                    g_avg *= alpha
                    g_avg += (1 - alpha) * g
                    avg = xp.sqrt(v - g_avg * g_avg) + eps
                else:
                    avg = xp.sqrt(v) + eps
                if mu > 0:
                    # b = mu b + g / (sqrt(v~) + eps);  theta <- theta - lr b
                    b = state["momentum_buffer"].array
                    b *= mu
                    b += g / avg
                    theta -= lr * b
                else:
                    # theta <- theta - lr g / (sqrt(v~) + eps)
                    theta -= lr * (g / avg)
        return loss
