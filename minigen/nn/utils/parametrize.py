"""``register_parametrization``: a tensor of a module computed from another on every access
(``torch.nn.utils.parametrize``).

    module.weight  :=  f_k( ... f_1(original) ... )

``register_parametrization(module, "weight", f)`` moves the parameter to
``module.parametrizations.weight.original`` and makes ``module.weight`` the output of the
parametrization modules ``f`` applied to it, recomputed at each access, so that gradients flow
to ``original`` through ``f``. The state dict keys are PyTorch's
(``parametrizations.weight.original``, ``parametrizations.weight.0.<f's buffers>``).
Spectral normalisation (``parametrizations.spectral_norm``) is one such ``f``.
"""
from __future__ import annotations

import contextlib

from ..container import ModuleDict, ModuleList
from ..module import Module
from ..parameter import Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "ParametrizationList"]


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, and the ``original`` they start from."""

    def __init__(self, modules, original):
        super().__init__(modules)
        if isinstance(original, Parameter):
            self.original = original
        else:
            self.register_buffer("original", original)

    def forward(self):
        # f_k( ... f_1(original))
        x = self.original
        for f in self:
            x = f(x)
        return x


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` the output of ``parametrization`` applied to the current
    tensor (kept as ``module.parametrizations.<tensor_name>.original``); a second call on the
    same name appends to the chain. Returns ``module``."""
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: parametrization must be an nn.Module, got "
                        f"{type(parametrization).__name__}")
    if is_parametrized(module, tensor_name):
        module.parametrizations[tensor_name].append(parametrization)
        return module
    if tensor_name in module._parameters:
        original = module._parameters.pop(tensor_name)
    elif tensor_name in module._buffers:
        original = module._buffers.pop(tensor_name)
    else:
        raise ValueError(f"register_parametrization: module '{type(module).__name__}' has no "
                         f"parameter or buffer with name '{tensor_name}'")
    if original is None:
        raise ValueError(f"register_parametrization: '{tensor_name}' of {type(module).__name__} "
                         "is None; there is nothing to parametrize")
    if not unsafe:
        y = parametrization(original)
        if tuple(y.shape) != tuple(original.shape) or y.dtype != original.dtype:
            raise ValueError(f"register_parametrization: the parametrization changes the tensor "
                             f"'{tensor_name}' from {original.dtype} {list(original.shape)} to "
                             f"{y.dtype} {list(y.shape)} (pass unsafe=True to allow it)")
    if "parametrizations" not in module._modules:
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = ParametrizationList([parametrization], original)
    return module


def is_parametrized(module, tensor_name=None):
    """Whether ``module`` (or its ``tensor_name``) has parametrizations."""
    plist = module._modules.get("parametrizations")
    if plist is None:
        return False
    return len(plist) > 0 if tensor_name is None else tensor_name in plist._modules


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo ``register_parametrization``: the tensor becomes a plain parameter again, holding
    its parametrized value (``leave_parametrized=True``) or the original."""
    from ...autograd import no_grad
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"remove_parametrizations: module {type(module).__name__} does not have "
                         f"a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    original = plist.original
    if leave_parametrized:
        with no_grad():
            value = plist()
        original = Parameter(value.detach(), requires_grad=original.requires_grad)
    del module.parametrizations[tensor_name]
    if len(module.parametrizations) == 0:
        del module.parametrizations
    module.register_parameter(tensor_name, original if isinstance(original, Parameter)
                              else Parameter(original))
    return module


@contextlib.contextmanager
def cached():
    """PyTorch caches parametrized tensors inside this context; minigen recomputes them (the
    values are the same), so the context changes nothing."""
    yield
