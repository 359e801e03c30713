"""Gradient clipping and flattening parameters to one vector (``torch.nn.utils``).

``clip_grad_norm_`` rescales all gradients together so that their joint norm is at most
``max_norm``:

    total = || (||g_1||_p, ||g_2||_p, ...) ||_p        (the p-norm of all gradients at once)
    g_i <- g_i min(1, max_norm / (total + 1e-6))

Rescaling (rather than clipping each entry) keeps the gradient's direction; it is what keeps
RNN and transformer training from blowing up on the occasional huge gradient.
"""
from __future__ import annotations

import math

import numpy

from ...autograd import Tensor, _wrap
from ...ops.join import cat

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def _as_list(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _check_same_device(op, tensors):
    for t in tensors[1:]:
        if type(t.array) is not type(tensors[0].array):
            raise RuntimeError(f"{op}: found tensors on two devices, {tensors[0].device} and "
                               f"{t.device}; move them to one device first")


def _vector_norm(xp, a, p):
    """||a||_p of a flattened array, in a's dtype, as a 0-d array of a's device."""
    a = xp.abs(a.reshape(-1))
    if p == math.inf:
        return a.max() if a.size else xp.zeros((), a.dtype)
    if p == -math.inf:
        return a.min() if a.size else xp.asarray(math.inf, a.dtype)
    if p == 0:
        return (a != 0).sum().astype(a.dtype)
    if p == 1:
        return a.sum()
    if p == 2:
        return xp.sqrt((a * a).sum())
    return (a ** p).sum() ** (1.0 / p)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of ``parameters`` in place so that their joint ``norm_type``-norm is
    at most ``max_norm``; returns that norm (before clipping) as a 0-d tensor.

    As PyTorch: each gradient's norm first, then the norm of those norms; the scale
    min(1, max_norm / (total + 1e-6)) is applied even when it is 1; a NaN or infinite total
    raises with ``error_if_nonfinite=True`` (before any gradient changes). ``foreach`` is
    accepted for compatibility and ignored.
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    max_norm, p = float(max_norm), float(norm_type)
    if not grads:
        from ...creation import tensor
        return tensor(0.0)
    _check_same_device("clip_grad_norm_", grads)
    xp = grads[0].xp
    dtype = grads[0].dtype
    for g in grads[1:]:
        dtype = numpy.promote_types(dtype, g.dtype)  # dtypes, not arrays
    # total = || (||g_1||_p, ||g_2||_p, ...) ||_p
    norms = xp.stack([_vector_norm(xp, g.array, p).astype(dtype) for g in grads])
    total = _vector_norm(xp, norms, p)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} for gradients from "
            "`parameters` is non-finite, so it cannot be clipped. To disable this error and "
            "scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    # scale = min(1, max_norm / (total + 1e-6))
    scale = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g.array *= scale.astype(g.dtype)
    return _wrap(xp.asarray(total))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient entry to [-clip_value, clip_value], in place."""
    c = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            g = p.grad.array
            g[...] = p.grad.xp.clip(g, -c, c)


def parameters_to_vector(parameters):
    """All parameters flattened and joined into one vector (differentiable, like PyTorch's)."""
    params = _as_list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    _check_same_device("parameters_to_vector", params)
    return cat([q.reshape(-1) for q in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the vector ``vec`` into ``parameters`` (in place, each in its
    own shape and dtype). The length must match the parameters' total size exactly."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, but got "
                        f"{type(vec).__name__}")
    params = _as_list(parameters)
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-d vector, got shape "
                         f"{list(vec.shape)}")
    n = sum(q.numel() for q in params)
    if vec.shape[0] != n:
        raise ValueError(f"vector_to_parameters: vector has {vec.shape[0]} elements, the "
                         f"parameters have {n}")
    for q in params:
        if type(q.array) is not type(vec.array):
            raise RuntimeError(f"vector_to_parameters: vec is on {vec.device} but a parameter "
                               f"is on {q.device}")
    start = 0
    for q in params:
        k = q.numel()
        q.array[...] = vec.array[start:start + k].reshape(q.shape).astype(q.dtype)
        start += k


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The old name of ``clip_grad_norm_`` (word_language_model's 2017 main.py calls it), kept by
    PyTorch with a FutureWarning: the same in-place clipping, the same returned total norm."""
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)
