"""``torch.overrides``: the ``__torch_function__`` protocol's helpers, as code copied from
PyTorch's own functions calls them (``if has_torch_function_variadic(a, b): return
handle_torch_function(...)``).

minigen has no ``__torch_function__`` dispatch: no argument ever overrides an op, so the
``has_torch_function*`` checks answer False and the op runs as written.
``handle_torch_function`` (only reached when a check said True) raises.
"""
from __future__ import annotations

__all__ = ["has_torch_function", "has_torch_function_unary", "has_torch_function_variadic",
           "handle_torch_function", "is_tensor_like"]


def has_torch_function(relevant_args):
    """Whether any of ``relevant_args`` overrides ops through ``__torch_function__``: never in
    minigen."""
    return False


def has_torch_function_unary(arg):
    """``has_torch_function((arg,))``: False."""
    return False


def has_torch_function_variadic(*args):
    """``has_torch_function(args)``: False."""
    return False


def handle_torch_function(public_api, relevant_args, *args, **kwargs):
    """Dispatch to an argument's ``__torch_function__``; minigen has no such dispatch."""
    raise NotImplementedError(f"handle_torch_function: minigen has no __torch_function__ "
                              f"dispatch (called for {getattr(public_api, '__name__', public_api)})")


def is_tensor_like(inp):
    """Whether ``inp`` is a minigen Tensor."""
    from .autograd import Tensor
    return isinstance(inp, Tensor)
