"""``torch.nn.utils.parametrizations``: ``spectral_norm`` as a parametrization (see
``spectral_norm.py`` for the math)."""
from .spectral_norm import _parametrized_spectral_norm as spectral_norm

__all__ = ["spectral_norm"]
