"""``minigen.sparse``: minigen has no sparse layout, so sparse programs run densely.

``sparse_coo_tensor(indices, values, size)`` builds the dense tensor those coordinates
describe (repeated coordinates add up, as ``coalesce`` would), ``x.to_sparse()`` is ``x``, and
``sparse.mm`` / ``spmm`` are matrix products. The numbers are those of the sparse program; the
memory and time savings are not.
"""
import numpy

__all__ = ["mm", "sum", "softmax", "log_softmax", "sparse_coo_tensor"]


def mm(mat1, mat2):
    from .ops import mm as _mm
    return _mm(mat1, mat2)


def sum(input, dim=None, dtype=None):
    from .ops import sum as _sum
    return _sum(input) if dim is None else _sum(input, dim=dim)


def softmax(input, dim, dtype=None):
    return input.softmax(dim)


def log_softmax(input, dim, dtype=None):
    return input.log_softmax(dim)


def sparse_coo_tensor(indices, values, size=None, dtype=None, device=None, requires_grad=False,
                      check_invariants=None, is_coalesced=None):
    """The dense tensor with ``values[k]`` added at coordinate ``indices[:, k]``."""
    from .autograd import Tensor
    from .creation import tensor as _tensor
    idx = numpy.asarray(indices.cpu().numpy() if isinstance(indices, Tensor) else indices)
    val = values.cpu().numpy() if isinstance(values, Tensor) else numpy.asarray(values)
    if idx.ndim != 2:
        raise ValueError(f"sparse_coo_tensor: indices must be 2-D (ndim, nnz), got shape {idx.shape}")
    if val.shape[:1] != idx.shape[1:]:
        raise ValueError(f"sparse_coo_tensor: {idx.shape[1]} coordinates but values of shape "
                         f"{val.shape}")
    if size is None:
        size = tuple(int(m) + 1 for m in idx.max(axis=1)) + val.shape[1:]
    out_dtype = dtype if dtype is not None else val.dtype
    dense = numpy.zeros(tuple(size), dtype=numpy.result_type(val.dtype, numpy.float64)
                        if numpy.dtype(out_dtype).kind == "f" else val.dtype)
    numpy.add.at(dense, tuple(idx.astype(numpy.int64)), val)
    return _tensor(dense.astype(out_dtype), device=device, requires_grad=requires_grad)
