"""Averaged SGD (Polyak and Juditsky, 1992; the schedule of Bottou, 2012), as PyTorch's ASGD.

For each parameter theta with gradient g at step t = 1, 2, ... (after g <- -g if ``maximize``
and g <- g + lambda_wd theta for weight decay):

    theta <- theta (1 - lambd eta)                decay term
    theta <- theta - eta g
    ax <- ax + (theta - ax) mu    (ax <- theta while mu = 1)     the average ('ax')
    eta <- lr / (1 + lambd lr t)^alpha            ('eta', starts at lr)
    mu <- 1 / max(1, t - t0)                      ('mu': averaging starts after t0 steps)

As in PyTorch, eta and mu are kept in the default "scalar" precision (float32 unless the default
dtype is float64), so their values are rounded to it before they multiply the parameters.
"""
from __future__ import annotations

import numpy

from .. import backend as B
from ..autograd import _wrap, no_grad
from .optimizer import Optimizer

__all__ = ["ASGD"]


def _scalar(v):
    """v rounded to PyTorch's scalar dtype for optimizer state (float64 only by default dtype)."""
    return float(numpy.float64(v)) if B.get_default_dtype() == B.float64 else float(numpy.float32(v))


def _scalar_mul(a, b):
    """a * b computed as PyTorch multiplies a 0-d scalar-dtype state tensor by a Python number:
    in float32 (both operands rounded first) unless the default dtype is float64."""
    if B.get_default_dtype() == B.float64:
        return float(a) * float(b)
    return float(numpy.float32(a) * numpy.float32(b))


class ASGD(Optimizer):
    """``ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
    maximize=False, differentiable=False, capturable=False)``; ``foreach``,
    ``differentiable``, ``capturable`` are accepted and have no effect here."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    @no_grad()
    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
            lam = group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp, theta = p.xp, p.array
                g = -p.grad.array if group["maximize"] else p.grad.array
                st = self._state_for(p, lambda p: {"step": 0, "eta": _scalar(lr), "mu": 1.0,
                                                   "ax": _wrap(xp.zeros_like(p.array))})
                st["step"] += 1
                t = st["step"]
                if lam != 0:
                    g = g + lam * theta
                eta = st["eta"]
                theta *= 1 - lambd * eta
                theta -= eta * g
                ax = st["ax"].array
                if st["mu"] != 1:
                    ax += (theta - ax) * theta.dtype.type(st["mu"])
                else:
                    ax[...] = theta
                st["eta"] = _scalar(lr / ((1 + lambd * lr * t) ** alpha))
                st["mu"] = _scalar(1 / max(1, t - t0))
        return loss
