"""More elementwise math and reductions (being written)."""
__all__ = []
TENSOR_METHODS = []
