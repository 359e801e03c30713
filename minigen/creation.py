"""Making tensors: ``tensor``, ``zeros``, ``randn``, ... with PyTorch's signatures.

Every function takes ``dtype=``, ``device=`` and ``requires_grad=``; shapes may be given as
separate integers (``zeros(2, 3)``) or as one tuple (``zeros((2, 3))``). Floating tensors are
float32 unless a dtype says otherwise, as in PyTorch.
"""
from __future__ import annotations

import numbers

import numpy

from . import backend as B
from .autograd import Tensor, _wrap


# torch.set_default_device: where tensors are made when no device= is given
_DEFAULT_DEVICE = ["cpu"]


def _to_array(data, dtype=None, device=None):
    """A fresh device array from ``data`` (a Tensor, a device array, NumPy data or Python data)."""
    dtype = B.as_dtype(dtype)
    if isinstance(data, Tensor):
        data = data.array
    src = B._by_array_type.get(type(data))
    if src is not None and src is not B.CPU:  # an array already on an accelerator
        target = src if device is None else B.get_backend(device)
        data = target.asarray(src.to_numpy(data)) if target is not src else data.copy()
        return data if dtype is None else data.astype(dtype)
    if isinstance(data, (numpy.ndarray, numpy.generic)):
        arr = numpy.asarray(data)  # NumPy data keeps its dtype, as in torch.tensor
    else:
        try:
            arr = numpy.asarray(data)
        except (ValueError, TypeError) as e:
            raise TypeError(f"tensor: could not turn {type(data).__name__} into a tensor: {e}") from None
        if arr.dtype.kind == "f" and dtype is None:
            # Python floats become float32, as in PyTorch (with a dtype asked for, they go
            # straight to it: tensor([0.1], dtype=float64) must not round through float32)
            arr = arr.astype(B._default_dtype)
        elif arr.dtype.kind == "c" and dtype is None:  # Python complex: complex64, as PyTorch
            arr = arr.astype(B.complex64 if B._default_dtype != B.float64 else B.complex128)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(B.int64)
    if arr.dtype.kind not in "fiubc":
        raise TypeError(
            f"tensor: could not make a tensor of dtype {arr.dtype} from {type(data).__name__} "
            "(a ragged nested list, strings or objects?)")
    if dtype is not None:
        arr = arr.astype(dtype)
    if arr is data:
        arr = arr.copy()
    return B.get_backend(device or _DEFAULT_DEVICE[0]).asarray(arr)


def _finish(arr, requires_grad):
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, a NumPy array, a Tensor)."""
    return _finish(_to_array(data, dtype, device), requires_grad)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing its memory where it can (as ``torch.as_tensor``): a tensor
    with the dtype and device asked for is returned as it is, a NumPy array of that dtype headed
    for the cpu is wrapped without a copy; anything else is copied, as ``tensor`` does."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, numpy.ndarray) and data.dtype.kind in "biufc" \
            and (device is None or str(device) == "cpu") \
            and (dtype is None or numpy.dtype(B.as_dtype(dtype)) == data.dtype):
        return _wrap(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A CPU tensor that shares memory with the NumPy ``array`` (as ``torch.from_numpy``)."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected numpy.ndarray, got {type(array).__name__}")
    return _wrap(array)


def _shape(size, op):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool):
            raise TypeError(f"{op}: size must be integers, got {size!r}")
        if s < 0:
            raise RuntimeError(f"{op}: trying to create a tensor with negative dimension {s}: {list(size)}")
    return tuple(int(s) for s in size)


def _float_dtype(dtype):
    return B.as_dtype(dtype) or B._default_dtype


def _xp(device):
    return B.get_backend(device or _DEFAULT_DEVICE[0]).xp


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).zeros(_shape(size, "zeros"), _float_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).ones(_shape(size, "ones"), _float_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=None,
          layout=None, pin_memory=False):
    """Uninitialised values; ``memory_format`` is checked (channels_last needs 4 dims) and has
    no effect (minigen keeps its own layout)."""
    shape = _shape(size, "empty")
    if memory_format is not None:
        from .ops.shape import check_memory_format

        class _Shape:  # what check_memory_format reads
            ndim = len(shape)
        check_memory_format(_Shape, memory_format, "empty")
    return _finish(_xp(device).empty(shape, _float_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = (B.bool_ if isinstance(fill_value, bool) else
                 B.int64 if isinstance(fill_value, numbers.Integral) else B._default_dtype)
    shape = (int(size),) if isinstance(size, numbers.Integral) else _shape((size,), "full")
    return _finish(_xp(device).full(shape, fill_value, B.as_dtype(dtype)), requires_grad)


def _check_format(t, memory_format, op):
    """``memory_format=`` is accepted and checked; minigen keeps its own layout."""
    if memory_format is not None:
        from .ops.shape import check_memory_format
        check_memory_format(t, memory_format, op)


def _like(t, dtype, device):
    return (B.as_dtype(dtype) or t.dtype), (device or t.device)


def zeros_like(input, dtype=None, device=None, requires_grad=False, *, memory_format=None,
              layout=None):
    _check_format(input, memory_format, "zeros_like")
    dtype, device = _like(input, dtype, device)
    return _finish(_xp(device).zeros(input.shape, dtype), requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False, *, memory_format=None,
              layout=None):
    _check_format(input, memory_format, "ones_like")
    dtype, device = _like(input, dtype, device)
    return _finish(_xp(device).ones(input.shape, dtype), requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False, *, memory_format=None,
              layout=None):
    _check_format(input, memory_format, "empty_like")
    dtype, device = _like(input, dtype, device)
    return _finish(_xp(device).empty(input.shape, dtype), requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False, *,
              memory_format=None, layout=None):
    _check_format(input, memory_format, "full_like")
    dtype, device = _like(input, dtype, device)
    return _finish(_xp(device).full(input.shape, fill_value, dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` up to (not including) ``end``; int64 if all arguments are integers."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = B.as_dtype(dtype) or (B.int64 if ints else B._default_dtype)
    n = max(0, int(numpy.ceil((end - start) / step)))
    xp = _xp(device)
    arr = (xp.arange(n, dtype=numpy.float64) * step + start).astype(dtype) if not ints \
        else xp.arange(start, end, step, dtype=numpy.int64).astype(dtype)
    return _finish(arr, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    arr = _xp(device).linspace(start, end, int(steps), dtype=numpy.float64).astype(_float_dtype(dtype))
    return _finish(arr, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


# ----------------------------------------------------------------------------- random
def manual_seed(seed):
    """Seed the generators of every device; a CPU run then repeats bit for bit."""
    B.manual_seed(seed)


def seed():
    B._generators.clear()
    B._seed = None


def _gen(device):
    return B.generator_for(B.device(device or _DEFAULT_DEVICE[0]).type)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform samples on [0, 1)."""
    g = generator or _gen(device)
    dt = _float_dtype(dtype)
    arr = g.random(_shape(size, "rand"), dtype=dt if dt in (B.float32, B.float64) else B.float64)
    return _finish(arr.astype(dt, copy=False), requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal samples."""
    g = generator or _gen(device)
    dt = _float_dtype(dtype)
    arr = g.standard_normal(_shape(size, "randn"), dtype=dt if dt in (B.float32, B.float64) else B.float64)
    return _finish(arr.astype(dt, copy=False), requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, requires_grad=False, generator=None):
    """Integers uniform on [low, high). ``randint(high, size)`` and ``randint(low, high, size)``."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint: expected randint(low=0, high, size)")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    g = generator or _gen(device)
    arr = g.integers(low, high, size=_shape((size,) if isinstance(size, numbers.Integral) else tuple(size), "randint"))
    return _finish(arr.astype(B.as_dtype(dtype) or B.int64, copy=False), requires_grad)


def randperm(n, dtype=None, device=None, generator=None):
    g = generator or _gen(device)
    return _wrap(g.permutation(int(n)).astype(B.as_dtype(dtype) or B.int64, copy=False))


def rand_like(input, dtype=None, device=None, requires_grad=False, *, memory_format=None,
              layout=None):
    _check_format(input, memory_format, "rand_like")
    dtype, device = _like(input, dtype, device)
    return rand(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False, *, memory_format=None,
              layout=None):
    _check_format(input, memory_format, "randn_like")
    dtype, device = _like(input, dtype, device)
    return randn(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(input, low, high=None, dtype=None, device=None):
    dtype, device = _like(input, dtype, device)
    return randint(low, high, input.shape, dtype=dtype, device=device)


def normal(mean, std, size, dtype=None, device=None, requires_grad=False):
    t = randn(size, dtype=dtype, device=device)
    t.array *= std
    t.array += mean
    return _finish(t.array, requires_grad)


# ----------------------------------------------------------------------------- more grids
def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """``steps`` values ``base ** e`` for exponents e evenly spaced from ``start`` to ``end``."""
    # base^linspace(start, end, steps), computed in float64 then cast
    e = _xp(device).linspace(start, end, int(steps), dtype=numpy.float64)
    return _finish((float(base) ** e).astype(_float_dtype(dtype)), requires_grad)


def _tri_indices(row, col, offset, keep, dtype, device, op):
    if row < 0 or col < 0:
        raise RuntimeError(f"{op}: row and col must be non-negative, got row={row}, col={col}")
    # (i, j) of the kept triangle, row by row: j - i <= offset (lower) or >= offset (upper)
    i, j = numpy.indices((int(row), int(col))).reshape(2, -1)
    k = keep(j - i, offset)
    idx = numpy.stack([i[k], j[k]]).astype(B.as_dtype(dtype) or B.int64)
    return _wrap(B.get_backend(device or _DEFAULT_DEVICE[0]).asarray(idx))


def tril_indices(row, col, offset=0, dtype=None, device=None):
    """The coordinates [2, n] of the lower triangle of a row x col matrix (``j - i <= offset``),
    row by row, as ``torch.tril_indices``."""
    return _tri_indices(row, col, offset, lambda d, o: d <= o, dtype, device, "tril_indices")


def triu_indices(row, col, offset=0, dtype=None, device=None):
    """The coordinates [2, n] of the upper triangle (``j - i >= offset``), row by row."""
    return _tri_indices(row, col, offset, lambda d, o: d >= o, dtype, device, "triu_indices")


# PyTorch also takes the shape as a keyword (``torch.empty(size=(n, m))``) and accepts
# ``pin_memory`` (a CUDA-copy hint that changes no value): both are accepted here
def _size_keyword(fn):
    import functools

    @functools.wraps(fn)
    def wrapper(*size, **kwargs):
        if "size" in kwargs:
            if size:
                raise TypeError(f"{fn.__name__}: the size was given both positionally and as size=")
            s = kwargs.pop("size")
            size = (s,) if isinstance(s, numbers.Integral) else (tuple(s),)
        kwargs.pop("pin_memory", None)
        return fn(*size, **kwargs)
    return wrapper


zeros, ones, empty, rand, randn = (_size_keyword(f) for f in (zeros, ones, empty, rand, randn))
