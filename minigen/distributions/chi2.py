"""``torch.distributions.chi2``: where PyTorch keeps Chi2 (minigen's is in gamma.py)."""
from .gamma import Chi2  # noqa: F401

__all__ = ["Chi2"]
