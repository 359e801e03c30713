"""Helpers shared by the distributions: broadcasting parameters, noise draws, special functions."""
from __future__ import annotations

import minigen
from minigen import backend as B
from minigen.autograd import _wrap

from .distribution import _as_param


def broadcast_params(dist, **params):
    """Parameters as floating tensors broadcast to one shape, in the order given; plain numbers
    take the dtype and device of the tensors among them (PyTorch's ``broadcast_all``)."""
    ref = next((v for v in params.values() if isinstance(v, minigen.Tensor)
                and v.dtype.kind == "f"), None)
    ts = []
    for k, v in params.items():
        if ref is not None and not isinstance(v, minigen.Tensor):
            try:
                v = minigen.tensor(float(v), dtype=ref.dtype, device=ref.device)
            except (TypeError, ValueError):
                raise TypeError(f"{dist}: {k} must be a number or a floating tensor, got "
                                f"{type(v).__name__}") from None
        ts.append(_as_param(k, dist, v))
    return minigen.broadcast_tensors(*ts)


def generator(t):
    return B.generator_for(t.device.type)


def rand_like_shape(shape, ref):
    """U(0, 1) draws of ``shape`` in ``ref``'s dtype and device (no gradient)."""
    return minigen.rand(shape, dtype=ref.dtype, device=ref.device)


def clamp_probs(p):
    """p clamped to [eps, 1 - eps] of its dtype (so that log p and log(1 - p) stay finite)."""
    eps = minigen.finfo(p.dtype).eps
    return p.clamp(eps, 1 - eps)


def draw(t, method, *args, shape):
    """A draw from the device generator's ``method`` (gamma, poisson, binomial, ...), as a
    tensor of ``shape`` in ``t``'s dtype (no gradient)."""
    g = generator(t)
    arr = getattr(g, method)(*args, size=shape)
    return _wrap(t.xp.asarray(arr).astype(t.dtype))


def sum_rightmost(x, n):
    return x if n == 0 else x.sum(dim=tuple(range(-n, 0)))
