"""``torch.distributions.beta``: where PyTorch keeps Beta (minigen's is in dirichlet.py)."""
from .dirichlet import Beta  # noqa: F401

__all__ = ["Beta"]
