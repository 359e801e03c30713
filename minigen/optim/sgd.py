"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay.

For each parameter theta with gradient g (PyTorch's algorithm, step t = 1, 2, ...):

    g <- -g                              if maximize
    g <- g + lambda theta                (weight decay, an L2 penalty)
    b_t = g                              if t = 1           (momentum mu != 0)
    b_t = mu b_{t-1} + (1 - tau) g       otherwise          (tau: dampening)
    g <- g + mu b_t   if nesterov,  else  g <- b_t
    theta <- theta - lr g

With ``maximize`` the gradient is negated *before* weight decay is added, as PyTorch's code
does (its documentation writes the sign flip at the end instead; the two differ when both
maximize and weight decay are on, and minigen follows the code, so trajectories match).
"""
from __future__ import annotations

from ..autograd import _wrap, no_grad
from ..backend import backend_of, fused
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
    maximize=False, foreach=None, differentiable=False, fused=None)``. ``foreach``/``fused``
    choose PyTorch's kernels (speed only) and ``differentiable`` lets autograd see the step;
    they are accepted, kept in the groups, and change nothing here. State: ``'momentum_buffer'`` (only when momentum != 0)."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
            lam, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                theta, b, c = p.array, None, 1 - tau
                if mu != 0:
                    state = self.state.setdefault(p, {})
                    if state.get("momentum_buffer") is None:
                        # b_1 = g: a zero buffer updated with c = 1 is exactly that
                        state["momentum_buffer"] = _wrap(p.xp.zeros_like(theta))
                        c = 1.0
                    b = state["momentum_buffer"].array
                # one CUDA kernel per parameter on a GPU (with momentum)
                backend_of(theta).fused(_sgd_update, p.grad.array, theta, b,
                                        -1.0 if group["maximize"] else 1.0, lam, mu, c,
                                        1.0 if nesterov else 0.0, lr)
        return loss


@fused(inputs=["g"], inouts=["theta", "b"], outputs=[],
       scalars=["sign", "lam", "mu", "c", "nesterov", "lr"], body="""
    // g <- -g (maximize);  g <- g + lambda theta (weight decay)
    T gt = sign * g;
    if (lam != (T)0) gt += lam * theta;
    // b_t = mu b_{t-1} + (1 - tau) g;  g <- g + mu b_t (Nesterov) or b_t
    b = b * mu + c * gt;
    T d = (nesterov != (T)0) ? gt + mu * b : b;
    // theta <- theta - lr g
    theta -= lr * d;""")
def _sgd_update(xp, g, theta, b, sign, lam, mu, c, nesterov, lr):
    """One SGD step of one parameter, in place on theta and the momentum buffer b (None
    without momentum), as in the module docstring; c = 1 - tau (1 on the first step, whose
    buffer starts at zero)."""
    if sign < 0:
        g = -g
    if lam != 0:
        # g <- g + lambda theta
        g = g + lam * theta
    if b is not None:
        # b_t = mu b_{t-1} + (1 - tau) g
        b *= mu
        b += c * g
        # g <- g + mu b_t (Nesterov) or g <- b_t
        g = g + mu * b if nesterov else b
    # theta <- theta - lr g   (in place: everything holding p sees the new values)
    theta -= lr * g
