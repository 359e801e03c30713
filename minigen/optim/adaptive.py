"""Adadelta, Adagrad, Adamax, NAdam and RAdam: the per-coordinate adaptive optimizers PyTorch
ships beside Adam, each step as PyTorch computes it (so trajectories match PyTorch's).

Each takes PyTorch's full signature; ``foreach``, ``fused`` (kernel choices, speed only),
``capturable`` (CUDA-graph capture) and ``differentiable`` are accepted and kept in the parameter
groups (so state dicts carry PyTorch's keys) and have no effect here.

For a parameter theta with gradient g at step t = 1, 2, ... (after g <- -g if ``maximize``,
and g <- g + lambda theta for ``weight_decay`` lambda):

Adadelta (Zeiler, 2012)
    v_t = rho v + (1 - rho) g^2                              ('square_avg')
    delta = sqrt(u + eps) / sqrt(v_t + eps) g
    u_t = rho u + (1 - rho) delta^2                          ('acc_delta')
    theta <- theta - lr delta

Adagrad (Duchi et al., 2011)
    lr_t = lr / (1 + (t - 1) lr_decay)
    s_t = s + g^2                                            ('sum')
    theta <- theta - lr_t g / (sqrt(s_t) + eps)

Adamax (Kingma and Ba, 2015, section 7)
    m_t = beta1 m + (1 - beta1) g                            ('exp_avg')
    u_t = max(beta2 u, |g| + eps)                            ('exp_inf')
    theta <- theta - lr / (1 - beta1^t) m_t / u_t

NAdam (Dozat, 2016), with momentum schedule mu_t = beta1 (1 - 0.5 * 0.96^(t psi))
    m_t, v_t as Adam;  P_t = prod_{i<=t} mu_i                ('mu_product')
    d = sqrt(v_t / (1 - beta2^t)) + eps
    theta <- theta - lr (1 - mu_t) / (1 - P_t) g / d - lr mu_{t+1} / (1 - P_t mu_{t+1}) m_t / d

RAdam (Liu et al., 2020)
    m_t, v_t as Adam;  rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    if rho_t > 5:  r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                   theta <- theta - lr m_t / (1 - beta1^t) r_t sqrt(1 - beta2^t) / (sqrt(v_t) + eps)
    else:          theta <- theta - lr m_t / (1 - beta1^t)   (the variance estimate is not yet trusted)
"""
from __future__ import annotations

import math

from ..autograd import _wrap, no_grad
from .optimizer import Optimizer
from .adam import check_adam_args
from .asgd import _scalar_mul

__all__ = ["Adadelta", "Adagrad", "Adamax", "NAdam", "RAdam"]


def _check(name, value, low=0.0, high=None, what="value"):
    if not low <= value or (high is not None and not value < high):
        raise ValueError(f"Invalid {what}: {value}")


def _zeros(p):
    return _wrap(p.xp.zeros_like(p.array))


def _grad(p, group):
    """g, with maximize and (L2) weight decay applied (a new array; p.grad is left alone)."""
    g = -p.grad.array if group.get("maximize") else p.grad.array
    lam = group.get("weight_decay", 0)
    if lam != 0 and not group.get("decoupled_weight_decay", False):
        g = g + lam * p.array
    return g


class Adadelta(Optimizer):
    """``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False)``."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check("Adadelta", lr, what="learning rate")
        _check("Adadelta", rho, 0.0, 1.0 + 1e-12, what="rho value")
        _check("Adadelta", eps, what="epsilon value")
        _check("Adadelta", weight_decay, what="weight_decay value")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    @no_grad()
    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp, g = p.xp, _grad(p, group)
                st = self._state_for(p, lambda p: {"step": 0, "square_avg": _zeros(p),
                                                   "acc_delta": _zeros(p)})
                st["step"] += 1
                v, u = st["square_avg"].array, st["acc_delta"].array
                # v_t = rho v + (1 - rho) g^2
                v *= rho
                v += (1 - rho) * g * g
                # delta = sqrt(u + eps) / sqrt(v_t + eps) g
                delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * g
                # u_t = rho u + (1 - rho) delta^2
                u *= rho
                u += (1 - rho) * delta * delta
                # theta <- theta - lr delta
                p.array -= lr * delta
        return loss


class Adagrad(Optimizer):
    """``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, maximize=False)``."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check("Adagrad", lr, what="learning rate")
        _check("Adagrad", lr_decay, what="lr_decay value")
        _check("Adagrad", weight_decay, what="weight_decay value")
        _check("Adagrad", initial_accumulator_value, what="initial_accumulator_value")
        _check("Adagrad", eps, what="epsilon value")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    @no_grad()
    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, eps, decay = group["lr"], group["eps"], group["lr_decay"]
            init = group["initial_accumulator_value"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp, g = p.xp, _grad(p, group)
                st = self._state_for(p, lambda p: {
                    "step": 0, "sum": _wrap(p.xp.full_like(p.array, init))})
                st["step"] += 1
                # lr_t = lr / (1 + (t - 1) lr_decay)
                clr = lr / (1 + (st["step"] - 1) * decay)
                s = st["sum"].array
                # s_t = s + g^2
                s += g * g
                # theta <- theta - lr_t g / (sqrt(s_t) + eps)
                p.array -= clr * g / (xp.sqrt(s) + eps)
        return loss


class Adamax(Optimizer):
    """``Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False)``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, differentiable=differentiable,
                                      capturable=capturable))

    @no_grad()
    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp, g = p.xp, _grad(p, group)
                st = self._state_for(p, lambda p: {"step": 0, "exp_avg": _zeros(p),
                                                   "exp_inf": _zeros(p)})
                st["step"] += 1
                m, u = st["exp_avg"].array, st["exp_inf"].array
                # m_t = beta1 m + (1 - beta1) g
                m += (1 - b1) * (g - m)
                # u_t = max(beta2 u, |g| + eps)
                xp.maximum(u * b2, xp.abs(g) + eps, out=u)
                # theta <- theta - lr / (1 - beta1^t) m_t / u_t
                p.array -= (lr / (1 - b1 ** st["step"])) * (m / u)
        return loss


class NAdam(Optimizer):
    """``NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False)``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        check_adam_args(lr, betas, eps, weight_decay)
        _check("NAdam", momentum_decay, what="momentum_decay value")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable))

    @no_grad()
    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, (b1, b2), eps, psi = group["lr"], group["betas"], group["eps"], group["momentum_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp, g = p.xp, _grad(p, group)
                st = self._state_for(p, lambda p: {"step": 0, "mu_product": 1.0,
                                                   "exp_avg": _zeros(p), "exp_avg_sq": _zeros(p)})
                st["step"] += 1
                t = st["step"]
                if group["weight_decay"] and group["decoupled_weight_decay"]:
                    p.array *= 1 - lr * group["weight_decay"]
                # mu_t = beta1 (1 - 0.5 * 0.96^(t psi))
                mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
                mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
                # kept in PyTorch's scalar dtype (float32 unless the default dtype is float64),
                # so its rounding matches PyTorch's step for step
                st["mu_product"] = _scalar_mul(st["mu_product"], mu)
                P = st["mu_product"]
                m, v = st["exp_avg"].array, st["exp_avg_sq"].array
                m += (1 - b1) * (g - m)
                v *= b2
                v += (1 - b2) * g * g
                # d = sqrt(v_t / (1 - beta2^t)) + eps
                d = xp.sqrt(v / (1 - b2 ** t)) + eps
                p.array -= (lr * (1 - mu) / (1 - P)) * (g / d)
                p.array -= (lr * mu_next / (1 - P * mu_next)) * (m / d)
        return loss


class RAdam(Optimizer):
    """``RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    decoupled_weight_decay=False, maximize=False)``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable))

    @no_grad()
    def step(self, closure=None):
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp, g = p.xp, _grad(p, group)
                st = self._state_for(p, lambda p: {"step": 0, "exp_avg": _zeros(p),
                                                   "exp_avg_sq": _zeros(p)})
                st["step"] += 1
                t = st["step"]
                if group["weight_decay"] and group["decoupled_weight_decay"]:
                    p.array *= 1 - lr * group["weight_decay"]
                m, v = st["exp_avg"].array, st["exp_avg_sq"].array
                m += (1 - b1) * (g - m)
                v *= b2
                v += (1 - b2) * g * g
                bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
                m_hat = m / bc1
                rho_inf = 2 / (1 - b2) - 1
                rho_t = rho_inf - 2 * t * (b2 ** t) / bc2
                if rho_t > 5.0:
                    r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                  / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    adaptive = math.sqrt(bc2) / (xp.sqrt(v) + eps)
                    p.array -= m_hat * lr * adaptive * r
                else:
                    p.array -= m_hat * lr
        return loss
