"""``torch.distributions.log_normal``: where PyTorch keeps LogNormal (minigen's is in transformed_distribution.py)."""
from .transformed_distribution import LogNormal  # noqa: F401

__all__ = ["LogNormal"]
