"""Building, selecting and scattering tensors (being written)."""
__all__ = []
TENSOR_METHODS = []
