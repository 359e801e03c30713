"""``torch.distributions.half_cauchy``: where PyTorch keeps HalfCauchy
(minigen's is in half_normal.py)."""
from .half_normal import HalfCauchy  # noqa: F401

__all__ = ["HalfCauchy"]
