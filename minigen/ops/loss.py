"""Loss functions, with PyTorch's names, argument names, defaults and reductions.

Every loss takes ``reduction``: ``'none'`` (one value per element or sample), ``'sum'``, or
``'mean'`` (the default). The deprecated ``size_average`` / ``reduce`` arguments are accepted
where PyTorch still has them, so positional calls line up with PyTorch's.

Two losses are single Functions with a hand-derived backward:

* ``cross_entropy`` (``SoftmaxCrossEntropy``, in ``cross_entropy.py`` beside this file, with
  ``nll_loss``): dL/dz = s softmax(z) - q per sample, the heart of every classifier and
  language model;
* ``binary_cross_entropy`` (``BinaryCrossEntropy``): dL/dx = (x - y) / (x (1 - x)), with
  PyTorch's clamps so that x = 0 or 1 stays finite.

The others are short compositions of differentiable ops, so their gradients (and gradients of
gradients) come from the ops they are built of. ``gaussian_kl`` is the VAE's KL term.
"""
from __future__ import annotations

import math
import warnings

import numpy

from ..autograd import Function, _wrap
from .cross_entropy import (  # noqa: F401  (cross_entropy and nll_loss are re-exported here)
    _REDUCTIONS, _check_tensor, _reduce, _reduction, cross_entropy, nll_loss,
)
from .ctc import ctc_loss  # noqa: F401  (the CTC loss lives in ctc.py beside this file)
from .elementwise import where
from .unary import exp, log

__all__ = [
    "mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "nll_loss", "ctc_loss", "kl_div", "gaussian_nll_loss", "gaussian_kl",
]


# ----------------------------------------------------------------------------- helpers
def _clamped_log(t):
    """max(log t, -100), PyTorch's clamp for BCE; finite at t = 0 in value and in gradient."""
    pos = t > 0
    return where(pos, log(where(pos, t, 1.0)), -100.0).clamp_min(-100.0)


# ----------------------------------------------------------------------------- regression
def _pointwise(op, input, target, reduction, weight, fn):
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target, like=input)
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"{op}: using a target size ({list(target.shape)}) that is different to the "
                      f"input size ({list(input.shape)}); they will be broadcast, which is likely "
                      "not what you want", UserWarning, stacklevel=3)
    loss = fn(input - target)
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{op}: weight {list(weight.shape)} and input {list(input.shape)} must "
                         "have the same size")
    loss = loss * weight
    if reduction == "mean":  # a weighted mean: sum(w l) / sum(w), as PyTorch
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error, l = (x - y)^2 (times ``weight``; its 'mean' is sum(w l) / sum(w))."""
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    # l = (x - y)^2
    return _pointwise("mse_loss", input, target, reduction, weight, lambda d: d * d)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error, l = |x - y| (its gradient at x = y is 0, as in PyTorch)."""
    reduction = _reduction("l1_loss", reduction, size_average, reduce)
    # l = |x - y|
    return _pointwise("l1_loss", input, target, reduction, weight, lambda d: d.abs())


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log likelihood of ``target`` under N(input, var):

        l = 0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps))  [+ 0.5 log(2 pi) if full]

    ``var`` has input's shape, or one dimension fewer (one variance per sample), or is 1 in
    exactly one dimension, or is a Python float. As in PyTorch the clamp at ``eps`` changes the
    value only: the gradient flows to ``var`` as if it had not been clamped.
    """
    op = "gaussian_nll_loss"
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target, like=input)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{op}: var has negative entry/entries (var={var})")
        var = _wrap(input.xp.full(input.shape, var, dtype=input.dtype))
    _check_tensor(op, "var", var, like=input)
    if bool((var.array < 0).any()):
        raise ValueError(f"{op}: var has negative entry/entries")
    vs, xs = tuple(var.shape), tuple(input.shape)
    if vs != xs:
        if xs[:-1] == vs:  # one variance per sample: var[..., None] broadcasts over the last dim
            var = var.unsqueeze(-1)
        elif not (len(vs) == len(xs) and sum(v for x, v in zip(xs, vs) if x != v) == 1):
            raise ValueError(f"{op}: var of shape {list(vs)} is of incorrect size for input of "
                             f"shape {list(xs)}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not valid")
    var = _ClampValue.apply(var, lo=eps)
    # l = 0.5 (log var + (x - y)^2 / var)
    loss = 0.5 * (log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


class _ClampValue(Function):
    """y = max(x, lo) in value, but dy/dx = 1: PyTorch clamps ``var`` in place under no_grad."""

    def forward(self, x, lo):
        return self.xp.maximum(x, lo)

    def backward(self, gy):
        return gy


def gaussian_kl(mu, logvar, reduction="sum"):
    """KL(N(mu, exp(logvar)) || N(0, I)), the VAE's regulariser, in closed form:

        KL = -0.5 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))

    (Kingma and Welling 2014, appendix B). ``reduction='none'`` gives the per-element terms,
    ``'sum'`` (the default) their total, ``'mean'`` their mean over every element, and
    ``'batchmean'`` the total divided by the batch size ``mu.shape[0]``. The VAE
    (minigen/models/vae.py) reduces as ``'batchmean'`` does: the KL summed over latent
    dimensions per example, next to a reconstruction term summed over pixels, and the sum of
    the two averaged over the batch, so both terms of the ELBO are in nats per example.
    (This is not a PyTorch function.)
    """
    op = "gaussian_kl"
    _check_tensor(op, "mu", mu)
    _check_tensor(op, "logvar", logvar, like=mu)
    reduction = _reduction(op, reduction, allowed=_REDUCTIONS + ("batchmean",))
    if tuple(mu.shape) != tuple(logvar.shape):
        raise ValueError(f"{op}: mu {list(mu.shape)} and logvar {list(logvar.shape)} must have "
                         "the same shape")
    # kl_j = -0.5 (1 + logvar_j - mu_j^2 - exp(logvar_j))
    kl = -0.5 * (1.0 + logvar - mu * mu - exp(logvar))
    if reduction == "batchmean":
        return kl.sum() / (mu.shape[0] if mu.ndim else 1)
    return _reduce(kl, reduction)


# ----------------------------------------------------------------------------- binary
_BCE_EPS = float(numpy.float32(1e-12))  # PyTorch's constant, a float32 1e-12


class BinaryCrossEntropy(Function):
    """l = -(y log x + (1 - y) log(1 - x)), both logs clamped at -100 as PyTorch clamps them.

    Backward, from dl/dx = -y / x + (1 - y) / (1 - x) over a common denominator:

        dl/dx = (x - y) / (x (1 - x))       (the denominator clamped at 1e-12, as PyTorch,
                                             whose 1e-12 is a float32 constant even for float64)
        dl/dy = log(1 - x) - log x          (the same clamped logs)

    The target gradient is the exact derivative of the clamped loss; PyTorch's uses unclamped
    logs, so at x = 0 or 1 it is infinite where minigen's is +-100 (they agree elsewhere).

    Both are written in minigen ops, so the loss is twice differentiable.
    """

    def forward(self, x, y):
        xp = self.xp
        self.save_for_backward(x, y)
        # log x and log(1 - x), clamped at -100 (written so that log(0) raises no warning)
        log_x = xp.maximum(xp.where(x > 0, xp.log(xp.where(x > 0, x, 1)), -100), -100)
        log_1mx = xp.maximum(xp.where(x < 1, xp.log(xp.where(x < 1, 1 - x, 1)), -100), -100)
        return -(y * log_x + (1 - y) * log_1mx)

    def backward(self, gl):
        x, y = self.saved_tensors
        gx = gy = None
        if self.needs_input_grad[0]:
            # dl/dx = (x - y) / max(x (1 - x), 1e-12)
            gx = gl * (x - y) / (x * (1.0 - x)).clamp_min(_BCE_EPS)
        if self.needs_input_grad[1]:
            # dl/dy = log(1 - x) - log x
            gy = gl * (_clamped_log(1.0 - x) - _clamped_log(x))
        return gx, gy


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """Binary cross-entropy between probabilities ``input`` and ``target`` (both in [0, 1]):
    l = -w (y log x + (1 - y) log(1 - x)). ``weight`` broadcasts to the input's shape."""
    op = "binary_cross_entropy"
    reduction = _reduction(op, reduction, size_average, reduce)
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target, like=input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: using a target size ({list(target.shape)}) that is different to "
                         f"the input size ({list(input.shape)}) is not supported; please ensure "
                         "they have the same size")
    for name, t in (("input", input), ("target", target)):
        if t.numel() and not bool(((t.array >= 0) & (t.array <= 1)).all()):
            raise RuntimeError(f"{op}: all elements of {name} should be between 0 and 1")
    if input.dtype != target.dtype:
        target = target.to(input.dtype)
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight.expand(tuple(input.shape))
    return _reduce(loss, reduction)


class BinaryCrossEntropyWithLogits(Function):
    """l = (1 - y) x + w softplus(-x),  w = 1 + (p - 1) y  (p = pos_weight, 1 when absent).

    softplus(-x) = log(1 + e^-x) is computed as max(-x, 0) + log1p(e^-|x|), which never
    overflows (and is 10x faster than NumPy's logaddexp).
    Derivatives, with s = sigmoid(x) and d softplus(-x)/dx = -(1 - s):

        dl/dx = (1 - y) - w (1 - s) = w s - p y
        dl/dy = -x + (p - 1) softplus(-x)
        dl/dp = y softplus(-x)

    each written in minigen ops, so the loss is twice differentiable.
    """

    def forward(self, x, y, p=None):
        xp = self.xp
        self.save_for_backward(x, y, p)
        # softplus(-x) = max(-x, 0) + log1p(e^-|x|)   (out=: a 0-d x stays an array)
        sp = xp.abs(x, out=xp.empty_like(x))
        xp.negative(sp, out=sp)
        xp.exp(sp, out=sp)
        xp.log1p(sp, out=sp)
        sp += xp.maximum(-x, 0)
        if p is not None:
            sp *= 1.0 + (p - 1.0) * y                            # w softplus(-x)
        loss = 1.0 - y
        loss *= x                                                # (1 - y) x
        loss += sp
        return loss

    def backward(self, gl):
        x, y, p = self.saved_tensors
        need = self.needs_input_grad
        s = x.sigmoid()
        gx = gy = gp = None
        if need[0]:
            gx = gl * (s - y) if p is None else gl * (s * (1.0 + (p - 1.0) * y) - p * y)
        if need[1] or (p is not None and need[2]):
            sp = _softplus_neg(x)
            if need[1]:
                gy = gl * -x if p is None else gl * ((p - 1.0) * sp - x)
            if p is not None and need[2]:
                from .reduction import sum_to
                gp = sum_to(gl * y * sp, p.shape)
        return (gx, gy) if p is None else (gx, gy, gp)


def _softplus_neg(x):
    """softplus(-x) = log(1 + e^-x), through F.softplus: smooth at 0 with the right second
    derivative (relu(-x) + log1p(e^-|x|) has the same values, but its pieces have kinks at 0
    that autograd would differentiate)."""
    from .activation import softplus
    return softplus(-x)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Binary cross-entropy on logits x, l = -w (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))),
    with ``pos_weight`` p weighting the positive term (broadcast along the last dimension).

    With log sigmoid(x) = -softplus(-x) and log(1 - sigmoid(x)) = -x - softplus(-x):

        l = (1 - y) x + (1 + (p - 1) y) softplus(-x)

    computed by the Function ``BinaryCrossEntropyWithLogits`` (one node, as in PyTorch: a
    composite would keep ten full-size intermediates alive for its backward).
    """
    op = "binary_cross_entropy_with_logits"
    reduction = _reduction(op, reduction, size_average, reduce)
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target, like=input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: target size ({list(target.shape)}) must be the same as input "
                         f"size ({list(input.shape)})")
    if pos_weight is None:
        loss = BinaryCrossEntropyWithLogits.apply(input, target)
    else:
        loss = BinaryCrossEntropyWithLogits.apply(input, target, pos_weight.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise, with ``input`` log-probabilities:

        l = t (log t - x)          (0 where t = 0)   or, with log_target, exp(t) (t - x)

    ``reduction='batchmean'`` (sum / batch size) is the true KL divergence per sample; 'mean'
    divides by every element, and PyTorch warns about it, as minigen does."""
    op = "kl_div"
    reduction = _reduction(op, reduction, size_average, reduce,
                           allowed=_REDUCTIONS + ("batchmean",))
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target, like=input)
    if reduction == "mean" and size_average is None and reduce is None:
        warnings.warn("kl_div: reduction 'mean' divides the total loss by both the batch size "
                      "and the support size; 'batchmean' divides only by the batch size and "
                      "matches the definition of KL divergence", UserWarning, stacklevel=2)
    if log_target:
        # l = exp(t) (t - x)
        loss = exp(target) * (target - input)
    else:
        # l = t log t - t x, with 0 log 0 = 0
        zero = target == 0
        loss = where(zero, 0.0, target * log(where(zero, 1.0, target))) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)

