"""``torch.distributions.binomial``: where PyTorch keeps Binomial (minigen's is in poisson.py)."""
from .poisson import Binomial  # noqa: F401

__all__ = ["Binomial"]
