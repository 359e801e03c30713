"""Weight normalisation (Salimans & Kingma 2016): a weight written as a direction times a length,

    w = g * v / ||v||,

the norm taken over every dimension except ``dim`` (one length per output channel for dim=0),
so that gradient descent on (g, v) moves the length and the direction separately. With
``dim=None`` (or -1, PyTorch's spelling of it) the norm is over the whole tensor and g is a
scalar. The gradient reaches g and v through the ops of the formula:

    dL/dg = sum_(except dim) dL/dw * v / ||v||
    dL/dv = (g / ||v||) (dL/dw - (dL/dw . u) u),   u = v / ||v||

Two interfaces, as in PyTorch:
* ``nn.utils.weight_norm(module, name='weight', dim=0)`` (the older one, deprecated in
  PyTorch): parameters ``<name>_g`` (shape 1 except along ``dim``) and ``<name>_v``, and
  ``<name>`` recomputed before every forward by a hook; ``remove_weight_norm`` undoes it.
* ``nn.utils.parametrizations.weight_norm(module, name='weight', dim=0)``: a parametrization with
  two originals, ``parametrizations.weight.original0`` = g and ``original1`` = v.
"""
from __future__ import annotations

import warnings

from ..module import Module
from ..parameter import Parameter

__all__ = ["weight_norm", "remove_weight_norm", "norm_except_dim", "WeightNorm"]


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of v over every dimension except ``dim``, kept with size 1 there
    (dim = -1: the norm of the whole tensor, a scalar; PyTorch's rule)."""
    if dim == -1:
        return v.norm(pow)
    d = dim % v.ndim
    others = tuple(i for i in range(v.ndim) if i != d)
    # (sum |v|^p)^(1/p) over the other dims
    if pow == 2:
        return (v * v).sum(dim=others, keepdim=True).sqrt() if others else v.abs()
    return (v.abs() ** pow).sum(dim=others, keepdim=True) ** (1.0 / pow) if others else v.abs()


def _weight_norm(v, g, dim=0):
    # w = v * (g / ||v||)
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook of ``nn.utils.weight_norm``: ``<name> = g * v / ||v||`` before every
    forward."""

    def __init__(self, name, dim):
        self.name, self.dim = name, (-1 if dim is None else dim)

    def compute_weight(self, module):
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"),
                            self.dim)

    @staticmethod
    def apply(module, name, dim):
        for h in module._forward_pre_hooks.values():
            if isinstance(h, WeightNorm) and h.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same "
                                   f"parameter {name}")
        fn = WeightNorm(name, dim)
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"weight_norm: module '{type(module).__name__}' has no parameter "
                             f"'{name}'")
        del module._parameters[name]
        w = weight.detach()
        module.register_parameter(name + "_g", Parameter(norm_except_dim(w, 2, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(w.clone()))
        object.__setattr__(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        from ...autograd import no_grad
        with no_grad():
            weight = self.compute_weight(module)
        module.__dict__.pop(self.name, None)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        object.__setattr__(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """``torch.nn.utils.weight_norm`` (deprecated in PyTorch, still common): replace
    ``module.<name>`` by parameters ``<name>_g`` and ``<name>_v`` and recompute
    ``<name> = g v / ||v||`` before every forward. Returns ``module``."""
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``<name>`` becomes a plain parameter holding g v / ||v||."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")


class _WeightNorm(Module):
    """The parametrization (g, v) -> g v / ||v|| (``parametrizations.weight_norm``); its
    ``right_inverse`` splits a weight into (||w||, w)."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def _parametrized_weight_norm(module, name="weight", dim=0):
    """Weight normalisation of ``module.<name>`` as a parametrization: ``original0`` = g,
    ``original1`` = v. Returns ``module``."""
    from .parametrize import register_parametrization
    if name not in module._parameters and name not in module._buffers and not (
            "parametrizations" in module._modules and name in module.parametrizations._modules):
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{name}'")
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module
