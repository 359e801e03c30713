"""``torch.nn.utils.parametrizations``: ``spectral_norm`` and ``weight_norm`` as
parametrizations (the math is in ``spectral_norm.py`` and ``weight_norm.py``)."""
from .spectral_norm import _parametrized_spectral_norm as spectral_norm
from .weight_norm import _parametrized_weight_norm as weight_norm

__all__ = ["spectral_norm", "weight_norm"]
