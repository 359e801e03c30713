"""``torch.autograd.grad_mode``: where PyTorch keeps its grad-mode switches (the same objects
as ``minigen.no_grad`` and friends, defined in minigen/autograd/__init__.py)."""
from . import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
