"""Adam (Kingma and Ba, 2015) and AdamW (Loshchilov and Hutter, 2019).

For each parameter theta with gradient g, at step t = 1, 2, ... (PyTorch's algorithm):

    g <- -g                                         if maximize
    theta <- theta (1 - lr lambda)                  AdamW: decoupled weight decay
    g <- g + lambda theta                           Adam: L2 penalty folded into the gradient
    m_t = beta1 m_{t-1} + (1 - beta1) g             first moment  (state 'exp_avg')
    v_t = beta2 v_{t-1} + (1 - beta2) g^2           second moment (state 'exp_avg_sq')
    v_max = max(v_max, v_t)                         amsgrad only  (state 'max_exp_avg_sq')
    theta <- theta - (lr / (1 - beta1^t)) m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

The last line is the bias-corrected update lr m_hat / (sqrt(v_hat) + eps) with
m_hat = m_t / (1 - beta1^t) and v_hat = v_t / (1 - beta2^t), arranged as PyTorch computes it
(so that eps is added to sqrt(v_hat), and trajectories match PyTorch's). With amsgrad, v_max
replaces v_t there.

The difference between the two: Adam's weight decay goes through m and v, so it is rescaled
per coordinate by 1 / sqrt(v_hat); AdamW shrinks the weights directly, by lr lambda per step.
"""
from __future__ import annotations

import math

from ..autograd import _wrap, no_grad
from ..backend import backend_of, fused
from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


def check_adam_args(lr, betas, eps, weight_decay):
    """PyTorch's checks (and messages) for the Adam family's hyperparameters."""
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
    decoupled_weight_decay=False)``; ``decoupled_weight_decay=True`` is AdamW. ``foreach``,
    ``fused`` (PyTorch's kernel choices), ``capturable`` (CUDA-graph capture) and
    ``differentiable`` are accepted and kept in the groups, and change nothing here.
    State: ``'step'`` (an int), ``'exp_avg'``, ``'exp_avg_sq'`` and, with amsgrad,
    ``'max_exp_avg_sq'``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    @staticmethod
    def _init_state(amsgrad):
        def init(p):
            xp = p.xp
            st = {"step": 0, "exp_avg": _wrap(xp.zeros_like(p.array)),
                  "exp_avg_sq": _wrap(xp.zeros_like(p.array))}
            if amsgrad:
                st["max_exp_avg_sq"] = _wrap(xp.zeros_like(p.array))
            return st
        return init

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = self._closure(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            lam, amsgrad = group["weight_decay"], group["amsgrad"]
            decoupled = group.get("decoupled_weight_decay", False)
            for p in group["params"]:
                if p.grad is None:
                    continue
                xp, theta = p.xp, p.array
                state = self._state_for(p, self._init_state(amsgrad))
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"].array, state["exp_avg_sq"].array
                scalars = (-1.0 if group["maximize"] else 1.0,
                           lam if lam != 0 and not decoupled else 0.0,
                           1 - lr * lam if lam != 0 and decoupled else 1.0,
                           beta1, 1 - beta1, beta2, 1 - beta2,
                           math.sqrt(1 - beta2 ** t), eps, lr / (1 - beta1 ** t))
                if amsgrad:
                    _adam_update(xp, p.grad.array, theta, m, v, *scalars,
                                 v_max=state["max_exp_avg_sq"].array)
                else:  # one CUDA kernel per parameter on a GPU
                    backend_of(theta).fused(_adam_update, p.grad.array, theta, m, v, *scalars)
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay: ``AdamW(params, lr=1e-3, betas=(0.9, 0.999),
    eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False)``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         foreach=foreach, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)


@fused(inputs=["g"], inouts=["theta", "m", "v"], outputs=[],
       scalars=["sign", "l2", "decay", "beta1", "c1", "beta2", "c2", "sqrt_bc2", "eps", "step_size"],
       body="""
    // g <- -g (maximize);  g <- g + lambda theta (Adam's L2 penalty)
    T gt = sign * g;
    if (l2 != (T)0) gt += l2 * theta;
    // theta <- theta (1 - lr lambda) (AdamW's decoupled decay)
    if (decay != (T)1) theta *= decay;
    // m_t = beta1 m + (1 - beta1) g,   v_t = beta2 v + (1 - beta2) g^2
    m = m * beta1 + gt * c1;
    v = v * beta2 + (gt * gt) * c2;
    // theta <- theta - (lr / (1 - beta1^t)) m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)
    theta -= (m / (sqrt(v) / sqrt_bc2 + eps)) * step_size;""")
def _adam_update(xp, g, theta, m, v, sign, l2, decay, beta1, c1, beta2, c2, sqrt_bc2, eps,
                 step_size, v_max=None):
    """One Adam step of one parameter, in place on theta, m, v (and v_max with amsgrad), as
    in the module docstring; c1 = 1 - beta1, c2 = 1 - beta2, sqrt_bc2 = sqrt(1 - beta2^t),
    step_size = lr / (1 - beta1^t). On a GPU (without amsgrad) the CUDA twin above does all
    of it in one kernel; here every step works in place on one scratch array."""
    if sign < 0:
        g = -g
    if l2 != 0:
        # g <- g + lambda theta
        g = g + l2 * theta
    if decay != 1:
        # theta <- theta (1 - lr lambda)
        theta *= decay
    buf = xp.empty_like(theta)
    # m_t = beta1 m_{t-1} + (1 - beta1) g
    m *= beta1
    xp.multiply(g, c1, out=buf)
    m += buf
    # v_t = beta2 v_{t-1} + (1 - beta2) g^2
    v *= beta2
    xp.multiply(g, g, out=buf)
    buf *= c2
    v += buf
    if v_max is not None:
        # v_max = max(v_max, v_t)
        xp.maximum(v_max, v, out=v_max)
        v = v_max
    # denom = sqrt(v_t) / sqrt(1 - beta2^t) + eps
    xp.sqrt(v, out=buf)
    buf /= sqrt_bc2
    buf += eps
    # theta <- theta - (lr / (1 - beta1^t)) m_t / denom
    xp.divide(m, buf, out=buf)
    buf *= step_size
    theta -= buf
