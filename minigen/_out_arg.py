"""PyTorch's ``out=`` keyword on the ``torch.*`` functions: ``torch.matmul(a, b, out=c)``.

In PyTorch nearly every function of the ``torch`` namespace takes ``out=``, a tensor (or, for
functions that return several, a tuple of tensors) that receives the result; the call returns
``out`` itself. The result is cast to ``out``'s dtype; an ``out`` of another shape is resized to
the result's shape (PyTorch warns when it held elements). Autograd does not flow through
``out=``: with grad mode on, a call whose result would require grad raises RuntimeError.

``install`` wraps each public tensor function of the ``minigen`` namespace (ops, creation)
whose signature has neither ``out`` nor ``**kwargs``; the wrapper computes the result the
ordinary way and writes it into ``out``. A call without ``out`` goes straight through.
"""
from __future__ import annotations

import functools
import inspect
import types
import warnings


def _takes_out(fn):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True  # unknown: leave it alone
    return "out" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _write(name, dst, src):
    from .tensor import Tensor
    if not isinstance(dst, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be a Tensor, not {type(dst).__name__}")
    if not isinstance(src, Tensor):
        raise TypeError(f"{name}(): out= given but the result is a {type(src).__name__}, "
                        f"not a Tensor")
    if src.array.dtype.kind in "fc" and dst.array.dtype.kind not in "fc":
        raise RuntimeError(f"{name}(): result type {src.dtype} can't be cast to the desired "
                           f"output type {dst.dtype}")
    if tuple(dst.shape) != tuple(src.shape):
        if dst.numel() != 0:
            warnings.warn(f"{name}(): an output with one or more elements was resized since it "
                          f"had shape {list(dst.shape)}, which does not match the required "
                          f"output shape {list(src.shape)}.", UserWarning, stacklevel=3)
        dst.array = dst.xp.empty(tuple(src.shape), dtype=dst.array.dtype)
    from .autograd import no_grad
    with no_grad():
        dst.copy_(src)
    return dst


def _wrapped(fn):
    @functools.wraps(fn)
    def call(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        from .autograd import is_grad_enabled
        res = fn(*args, **kwargs)
        many = isinstance(res, tuple)
        if is_grad_enabled() and any(getattr(r, "requires_grad", False)
                                     for r in (res if many else (res,))):
            raise RuntimeError(f"{fn.__name__}(): functions with out=... arguments don't support "
                               f"automatic differentiation, but one of the arguments requires "
                               f"grad.")
        if many:
            if not isinstance(out, (tuple, list)) or len(out) != len(res):
                raise TypeError(f"{fn.__name__}(): out= must be a tuple of {len(res)} tensors")
            for d, s in zip(out, res):
                _write(fn.__name__, d, s)
            return type(res)(out) if type(res) is tuple else res.__class__(*out)
        return _write(fn.__name__, out, res)

    call._out_arg = True
    return call


# where minigen's tensor functions live (ops, creation, the torch.* extras)
_TENSOR_MODULES = ("minigen.ops.", "minigen.torch_functional", "minigen.creation",
                   "minigen.linalg_decomp")


def install(namespace):
    """Give the public functions of ``namespace`` (a module's dict) the ``out=`` keyword."""
    for name, obj in list(namespace.items()):
        if name.startswith("_") or not isinstance(obj, types.FunctionType):
            continue
        if hasattr(obj, "_out_arg"):
            continue
        inner = obj
        while hasattr(inner, "__wrapped__"):
            inner = inner.__wrapped__
        if not (getattr(inner, "__module__", "") or "").startswith(_TENSOR_MODULES):
            continue  # grad modes, seeds, io...: not tensor functions, left as they are
        if not _takes_out(obj):
            namespace[name] = _wrapped(obj)
