"""``torch.distributions.relaxed_bernoulli``: where PyTorch keeps LogitRelaxedBernoulli, RelaxedBernoulli
(minigen's are in relaxed.py)."""
from .relaxed import LogitRelaxedBernoulli, RelaxedBernoulli  # noqa: F401

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli"]
