"""Spectral normalisation (Miyato et al. 2018): a weight divided by its largest singular value,
so that the layer is 1-Lipschitz (a GAN critic's favourite constraint).

    W_sn = W / sigma(W),    sigma(W) = max_{||v|| = 1} ||W v||

sigma is estimated by power iteration on W as a matrix (dimension ``dim`` first, the rest
flattened), carrying the vectors u, v from one training step to the next so that one
iteration per step suffices:

    u <- normalize(W v),   v <- normalize(W^T u),   sigma = u^T W v

The iteration runs (without gradient) only in training mode; the gradient flows through
sigma = u^T W v with u, v held fixed (PyTorch's choice).

Two interfaces, as in PyTorch:
* ``nn.utils.parametrizations.spectral_norm(module)`` (the current one): a parametrization;
  state dict keys ``parametrizations.weight.original``, ``parametrizations.weight.0._u``, ``_v``;
  u and v start from 15 power iterations on the initial weight.
* ``nn.utils.spectral_norm(module)`` (the older one): ``weight_orig`` (a parameter), buffers
  ``weight_u`` and ``weight_v``, and ``weight`` recomputed before every forward by a hook;
  ``nn.utils.remove_spectral_norm`` undoes it.
"""
from __future__ import annotations

from ...autograd import no_grad
from ...creation import randn
from ...ops.linalg import dot as _dot
from ..module import Module
from ..parameter import Parameter

__all__ = ["spectral_norm", "remove_spectral_norm", "SpectralNorm"]


def normalize(x, dim=0, eps=1e-12):
    """x / max(||x||, eps) for a vector x."""
    return x / x.norm().clamp(min=eps)


def _default_dim(module):
    # ConvTranspose weights hold the output channels in dimension 1
    return 1 if type(module).__name__.startswith("ConvTranspose") else 0


def _as_matrix(weight, dim):
    """W as a matrix: dimension ``dim`` first, the others flattened."""
    if weight.ndim == 1:
        return weight.reshape(-1, 1)
    if dim != 0:
        order = [dim] + [d for d in range(weight.ndim) if d != dim]
        weight = weight.permute(*order)
    return weight.reshape(weight.shape[0], -1)


def _power_iteration(W, u, v, n, eps, u_first=False):
    """n steps of v <- normalize(W^T u), u <- normalize(W v), written into u and v (the
    parametrization updates u first, the older hook v first: both as PyTorch)."""
    with no_grad():
        for _ in range(n):
            if u_first:
                u.copy_(normalize(W @ v, dim=0, eps=eps))
            v.copy_(normalize(W.mT @ u, dim=0, eps=eps))
            if not u_first:
                u.copy_(normalize(W @ v, dim=0, eps=eps))


def _check(op, n_power_iterations, eps):
    if not isinstance(n_power_iterations, int) or n_power_iterations <= 0:
        raise ValueError(f"{op}: expected n_power_iterations to be positive, but got "
                         f"n_power_iterations={n_power_iterations}")
    if eps <= 0:
        raise ValueError(f"{op}: eps must be positive, got {eps}")


class SpectralNorm(Module):
    """The parametrization W -> W / sigma(W) (``parametrizations.spectral_norm``)."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        _check("spectral_norm", n_power_iterations, eps)
        ndim = weight.ndim
        if not -ndim <= dim < max(ndim, 1):
            raise IndexError(f"spectral_norm: dim {dim} is out of range for a weight of shape "
                             f"{list(weight.shape)}")
        self.dim = dim % ndim if ndim > 1 else 0
        self.n_power_iterations, self.eps = n_power_iterations, eps
        if ndim > 1:
            W = _as_matrix(weight.detach(), self.dim)
            h, w = W.shape
            u = normalize(randn(h, dtype=W.dtype, device=W.device), dim=0, eps=eps)
            v = normalize(randn(w, dtype=W.dtype, device=W.device), dim=0, eps=eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)
            _power_iteration(W, self._u, self._v, 15, eps, u_first=True)

    def forward(self, weight):
        if weight.ndim == 1:
            # a vector's spectral norm is its length
            return normalize(weight, dim=0, eps=self.eps)
        W = _as_matrix(weight, self.dim)
        if self.training:
            _power_iteration(W.detach(), self._u, self._v, self.n_power_iterations, self.eps,
                             u_first=True)
        u, v = self._u.clone(), self._v.clone()
        # sigma = u^T W v
        sigma = _dot(u, W @ v)
        return weight / sigma

    def right_inverse(self, value):
        return value


def _parametrized_spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Spectral normalisation of ``module.<name>`` as a parametrization; returns ``module``."""
    from .parametrize import register_parametrization
    weight = getattr(module, name, None)
    if weight is None or not hasattr(weight, "ndim"):
        raise ValueError(f"spectral_norm: module '{type(module).__name__}' has no parameter or "
                         f"buffer with name '{name}'")
    dim = _default_dim(module) if dim is None else dim
    register_parametrization(module, name, SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


class _SpectralNormHook:
    """The older interface: recompute ``module.<name>`` from ``<name>_orig`` before forward."""

    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n, self.dim, self.eps = name, n_power_iterations, dim, eps

    def compute(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        W = _as_matrix(weight, self.dim)
        if do_power_iteration:
            _power_iteration(W.detach(), u, v, self.n, self.eps)
            u, v = u.clone(), v.clone()
        # sigma = u^T W v;  W_sn = W / sigma
        return weight / _dot(u, W @ v)

    def __call__(self, module, args):
        object.__setattr__(module, self.name, self.compute(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """``torch.nn.utils.spectral_norm``: ``<name>_orig``, buffers ``<name>_u``/``<name>_v``,
    and ``<name>`` recomputed before every forward. Returns ``module``."""
    _check("spectral_norm", n_power_iterations, eps)
    if any(isinstance(h, _SpectralNormHook) and h.name == name
           for h in module._forward_pre_hooks.values()):
        raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    if name not in module._parameters or module._parameters[name] is None:
        raise ValueError(f"spectral_norm: module '{type(module).__name__}' has no parameter "
                         f"with name '{name}'")
    dim = _default_dim(module) if dim is None else dim
    weight = module._parameters.pop(name)
    W = _as_matrix(weight.detach(), dim)
    h, w = W.shape
    with no_grad():
        u = normalize(randn(h, dtype=W.dtype, device=W.device), dim=0, eps=eps)
        v = normalize(randn(w, dtype=W.dtype, device=W.device), dim=0, eps=eps)
    module.register_parameter(name + "_orig", weight)
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    object.__setattr__(module, name, weight.detach() * 1.0)
    hook = _SpectralNormHook(name, n_power_iterations, dim, eps)
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``<name>`` becomes a plain parameter holding W / sigma."""
    for key, h in list(module._forward_pre_hooks.items()):
        if isinstance(h, _SpectralNormHook) and h.name == name:
            with no_grad():
                weight = h.compute(module, False)
            del module._forward_pre_hooks[key]
            break
    else:
        raise ValueError(f"spectral_norm of '{name}' not found in {type(module).__name__}")
    del module._parameters[name + "_orig"]
    del module._buffers[name + "_u"]
    del module._buffers[name + "_v"]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight.detach()))
    return module
