"""``torch.autograd.forward_ad``: dual tensors and Jacobian-vector products.

PyTorch's forward mode carries a tangent with each tensor through every op (dual numbers,
x + t eps with eps^2 = 0) and reads it off with ``unpack_dual``. The API::

    with fwAD.dual_level():                      # tangents live only inside a level
        x = fwAD.make_dual(primal, tangent)      # primal + tangent eps
        y = f(x)
        jvp = fwAD.unpack_dual(y).tangent        # J_f(primal) @ tangent (None: y has no tangent)

minigen computes the same numbers with its reverse-mode graph instead of pushing tangents
through each op. ``make_dual`` returns a tensor on the graph (a view of ``primal`` if it requires
grad, else a fresh leaf that requires grad) and records its tangent at the current level.
``unpack_dual(y)`` differentiates twice: g(v) = v^T J is linear in v and recorded
(``create_graph``), so J t = d(sum_i g_i(v) . t_i)/dv, summed over the level's dual tensors.
A custom ``autograd.Function`` that defines ``jvp`` but no ``backward`` has its output made a
dual tensor at the call, its tangent given by its ``jvp``.

Differences from PyTorch: the dual tensor and what is computed from it require grad (the
reverse graph carries the tangent information); nested levels are refused, as PyTorch does.
"""
from __future__ import annotations

from collections import namedtuple

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])

_levels = []   # one entry per entered level: a list of (dual tensor, tangent)


def enter_dual_level():
    """Enter a new forward-AD level; returns its index. Nesting is not supported (as PyTorch)."""
    if _levels:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _levels.append([])
    return len(_levels) - 1


def exit_dual_level(*, level=None):
    """Leave the level: every tangent recorded in it is dropped."""
    if not _levels:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one created")
    _levels.pop().clear()


class dual_level:
    """Context manager (and decorator): ``with dual_level(): ...`` enters and exits a level."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with dual_level():
                return fn(*a, **k)
        return wrapper


def _current(name):
    if not _levels:
        raise RuntimeError(f"{name}: trying to create a dual Tensor for forward AD but no level "
                           f"exists, make sure to enter_dual_level() first.")
    return _levels[-1]


def _registered(t):
    if _levels:
        for d, tan in _levels[-1]:
            if d is t:
                return tan
    return None


def make_dual(tensor, tangent, *, level=None):
    """The dual tensor ``tensor + tangent eps`` at the current level. ``tangent`` must have
    ``tensor``'s shape; a tangent that is not contiguous is copied, else used as it is."""
    entries = _current("make_dual")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(tensor.shape)} while the given forward gradient is of "
                           f"size {list(tangent.shape)}.")
    if not tensor.is_floating_point():
        raise ValueError(f"make_dual: expected a floating point primal, got {tensor.dtype}")
    if not tangent.is_contiguous():
        tangent = tangent.contiguous().clone()
    tangent = tangent.to(tensor.dtype) if tangent.dtype != tensor.dtype else tangent
    if tensor.requires_grad:
        dual = tensor.view_as(tensor)
    else:
        dual = tensor.detach().requires_grad_(True)
    entries.append((dual, tangent))
    return dual


def _tangent(t):
    """J t of tensor ``t`` with respect to the current level's dual tensors (None: none)."""
    from ..tensor import Tensor
    from .functional import jvp_by_double_backward
    if not isinstance(t, Tensor) or not _levels:
        return None
    tan = _registered(t)
    if tan is not None:
        return tan
    entries = _levels[-1]
    if not entries or not t.requires_grad or t.creator is None:
        return None
    jv, = jvp_by_double_backward([t], [d for d, _ in entries], [tn for _, tn in entries])
    return None if jv is None else jv.detach()


def unpack_dual(tensor, *, level=None):
    """(primal, tangent) of ``tensor``: the tangent is J t with respect to the dual tensors of
    the current level, or None outside a level or when ``tensor`` does not depend on them."""
    return UnpackedDualTensor(tensor, _tangent(tensor))


def _custom_jvp(cls, ctx, args, outputs):
    """A custom Function with ``jvp`` and no ``backward`` called on dual inputs: its outputs
    become dual tensors whose tangents its ``jvp`` gives; None when that does not apply."""
    from ..tensor import Tensor
    from ..creation import zeros_like
    if not _levels or not _levels[-1]:
        return None
    tans = [(_tangent(a) if isinstance(a, Tensor) else None) for a in args]
    if all(t is None for t in tans):
        return None
    tans = [(zeros_like(a) if t is None else t) if isinstance(a, Tensor) else None
            for a, t in zip(args, tans)]
    out_t = cls.jvp(ctx, *tans)
    single = not isinstance(outputs, tuple)
    outs = (outputs,) if single else outputs
    out_t = (out_t,) if single else out_t
    res = []
    for o, ot in zip(outs, out_t):
        if isinstance(o, Tensor) and ot is not None:
            o = make_dual(o.detach(), ot)
        res.append(o)
    return res[0] if single else tuple(res)
