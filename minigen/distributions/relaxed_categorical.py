"""``torch.distributions.relaxed_categorical``: where PyTorch keeps ExpRelaxedCategorical, RelaxedOneHotCategorical
(minigen's are in relaxed.py)."""
from .relaxed import ExpRelaxedCategorical, RelaxedOneHotCategorical  # noqa: F401

__all__ = ["ExpRelaxedCategorical", "RelaxedOneHotCategorical"]
