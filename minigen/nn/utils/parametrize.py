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
        # the stored tensor(s): right_inverse of each parametrization, last to first (PyTorch's
        # rule); one tensor keeps the original object (so an optimizer holding it still works),
        # a tuple (weight_norm's (g, v)) becomes original0, original1, ...
        from ...autograd import Tensor, no_grad
        new = original
        with no_grad():
            for f in reversed(list(self)):
                if hasattr(f, "right_inverse"):
                    new = f.right_inverse(new)
        if not isinstance(new, (Tensor, tuple, list)):
            raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors "
                             f"(list, tuple...). Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new is not original:
                with no_grad():
                    original.copy_(new)
            self._keep("original", original, original)
        else:
            for i, t in enumerate(new):
                t = t.detach()
                if isinstance(original, Parameter):
                    t = Parameter(t, requires_grad=original.requires_grad)
                self._keep(f"original{i}", t, original)

    def _keep(self, name, t, original):
        if isinstance(original, Parameter):
            self.register_parameter(name, t if isinstance(t, Parameter) else Parameter(t))
        else:
            self.register_buffer(name, t)

    def forward(self):
        # f_k( ... f_1(original))   (f_1(original0, original1, ...) for several originals)
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for f in list(self)[1:]:
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
    shape, dtype = tuple(original.shape), original.dtype
    plist = ParametrizationList([parametrization], original)
    if not unsafe:
        from ...autograd import no_grad
        with no_grad():
            y = plist()
        if tuple(y.shape) != shape or y.dtype != dtype:
            module.register_parameter(tensor_name, original) if isinstance(original, Parameter) \
                else module.register_buffer(tensor_name, original)
            raise ValueError(f"register_parametrization: the parametrization changes the tensor "
                             f"'{tensor_name}' from {dtype} {list(shape)} to "
                             f"{y.dtype} {list(y.shape)} (pass unsafe=True to allow it)")
    if "parametrizations" not in module._modules:
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = plist
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
    if not plist.is_tensor:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                             "that is parametrized in terms of a sequence of tensors.")
        original = plist.original0
    else:
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
