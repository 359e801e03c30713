"""Tensor methods and properties PyTorch programs use that are facts about the tensor (or
aliases), not new math:

    (x.real and x.imag live with the complex tensors, in minigen/ops/complex.py)
    x.ndimension(), x.is_nonzero(), x.is_same_size(y), x.is_signed()
    x.retains_grad    True after x.retain_grad() on a non-leaf
    x.data_ptr()      the address of the first element (equal for x and a view at offset 0)
    x.storage_offset()  how many elements into its base array x starts
    x.as_strided(size, stride, offset)  a strided window onto x's memory (differentiable)
    x.new(...)        the legacy constructor: x.new(2, 3) / x.new(size) an uninitialised
                      tensor, x.new(data) a copy of data, both with x's dtype and device
    x.swapdims, x.greater / greater_equal / less / less_equal / not_equal, x.det(),
    x.inverse(), x.slogdet(), x.lu(), x.multinomial(...), x.bernoulli(...), x.take_along_dim(...),
    x.polygamma(n)
"""
from __future__ import annotations

import numbers

from .. import backend as B
from ..autograd import Tensor, _wrap

__all__ = ["is_nonzero", "is_same_size", "is_signed", "promote_types", "result_type", "can_cast",
           "scalar_tensor", "as_strided", "nonzero_static", "as_strided_scatter"]

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _dt(d):
    return B.as_dtype(d) if not isinstance(d, B.numpy.dtype) else d


def promote_types(type1, type2):
    """The smallest dtype both cast to, by PyTorch's rules (bool < integers < floats <
    complex by category; within one, the wider; int with float: the float)."""
    a, b = _dt(type1), _dt(type2)
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca != cb and {ca, cb} != {1}:
        hi, lo = (a, b) if ca > cb else (b, a)
        if hi.kind == "c" and lo.kind == "f" and lo.itemsize * 2 > hi.itemsize:
            return B.numpy.dtype("complex128")
        return hi
    return B.numpy.promote_types(a, b)


def result_type(tensor1, tensor2):
    """The dtype of an arithmetic op on the two (tensors or numbers), by PyTorch's rules: a
    dimensioned tensor over a 0-d one over a Python number, unless the lower one is of a higher
    category (bool < integer < float < complex)."""
    def rank(v):
        if isinstance(v, Tensor):
            return (2 if v.ndim else 1), v.array.dtype
        if isinstance(v, bool):
            return 0, B.numpy.dtype("bool")
        if isinstance(v, numbers.Integral):
            return 0, B.numpy.dtype("int64")
        if isinstance(v, numbers.Real):
            return 0, B.get_default_dtype()
        return 0, B.numpy.dtype("complex64") if B.get_default_dtype() == B.float32 else \
            B.numpy.dtype("complex128")
    (ra, da), (rb, db) = rank(tensor1), rank(tensor2)
    ca, cb = _CATEGORY[da.kind], _CATEGORY[db.kind]
    if ra == rb:
        return promote_types(da, db)
    (rh, dh, ch), (rl, dl, cl) = sorted([(ra, da, ca), (rb, db, cb)], key=lambda t: -t[0])
    if cl <= ch:
        return dh
    if rl == 0:  # a number of a higher category: the default dtype of that category
        if cl == 2:
            return B.get_default_dtype()
        if cl == 3:
            return B.numpy.dtype("complex128" if dh == B.float64 else "complex64")
        return B.numpy.dtype("int64")
    return dl if cl > ch else promote_types(dh, dl)


def can_cast(from_, to):
    """True unless the cast lowers the category (float to integer, complex to float, any to
    bool), as torch.can_cast."""
    return _CATEGORY[_dt(from_).kind] <= _CATEGORY[_dt(to).kind]


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False, **_):
    """A 0-d tensor holding the number s (float32 by default, as PyTorch)."""
    from .. import creation
    return creation.tensor(s, dtype=dtype or B.get_default_dtype(), device=device,
                           requires_grad=requires_grad)


def is_nonzero(input):
    """True if the single element of input is not zero."""
    n = input.numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.array.reshape(()) != 0)


def is_same_size(input, other):
    return tuple(input.shape) == tuple(other.shape)


def is_signed(input):
    """True for signed integer and floating dtypes (False for uint8 and bool)."""
    return input.array.dtype.kind in "ifc"


def _address(a):
    """The memory address of array ``a``'s first element, on any backend."""
    if isinstance(a, B.numpy.ndarray):
        return int(a.__array_interface__["data"][0])
    data = getattr(type(a), "data", None)
    if data is not None:
        try:
            return int(a.data.ptr)  # CuPy: a MemoryPointer
        except AttributeError:
            pass
    inner = getattr(a, "_a", None)  # the simulated CUDA device wraps a NumPy array
    if isinstance(inner, B.numpy.ndarray):
        return int(inner.__array_interface__["data"][0])
    raise RuntimeError(f"data_ptr: cannot find the address of a {type(a).__name__}")


def _root(a):
    while getattr(a, "base", None) is not None and hasattr(a.base, "shape"):
        a = a.base
    return a


def data_ptr(self):
    """The address of the tensor's first element (an int)."""
    return _address(self.array)


def storage_offset(self):
    """How many elements into its base memory the tensor starts (0 for a fresh tensor)."""
    a = self.array
    return (_address(a) - _address(_root(a))) // a.dtype.itemsize


def new(self, *args, device=None):
    """The legacy constructor: ``x.new()`` an empty tensor, ``x.new(2, 3)`` or
    ``x.new(x.size())`` an uninitialised one of that shape, ``x.new(data)`` (a list or a
    tensor) a copy of the data; all with x's dtype and device. Unlike PyTorch, a tuple of ints
    is a size (minigen's sizes are plain tuples)."""
    from .. import creation
    dev = self.device if device is None else device
    if not args:
        return creation.empty(0, dtype=self.dtype, device=dev)
    if len(args) == 1 and (type(args[0]).__name__ == "Size" or (
            isinstance(args[0], tuple) and all(isinstance(a, numbers.Integral)
                                               and not isinstance(a, bool) for a in args[0]))):
        # minigen's x.shape and x.size() are plain tuples, so a tuple of ints is read as a size
        # (x.new(x.size()), the common legacy spelling); pass a list for data
        return creation.empty(tuple(args[0]), dtype=self.dtype, device=dev)
    if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
        return creation.empty(tuple(int(a) for a in args), dtype=self.dtype, device=dev)
    if len(args) == 1:
        data = args[0]
        if isinstance(data, Tensor):
            return data.detach().to(dev).to(self.dtype).clone()
        if isinstance(data, (list, tuple)) or hasattr(data, "__array__"):
            return creation.tensor(data, dtype=self.dtype, device=dev)
        raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
    raise TypeError("new(): expected sizes (ints), a torch.Size, or one sequence of data")


def as_strided(input, size, stride, storage_offset=None):
    """A view of input's memory with the given sizes and strides (in elements) starting
    ``storage_offset`` elements into it (default: where input starts), as torch.as_strided.
    Differentiable: each element is a gather from input (overlapping windows add their
    gradients up); elements of the memory outside input are constants."""
    from .indexing import GetItem
    xp = input.xp
    a = input.array
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape: size {list(size)}, "
                           f"stride {list(stride)}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    root = _root(a)
    if not root.flags.c_contiguous:
        root = xp.ascontiguousarray(a)
    item = a.dtype.itemsize
    own = (_address(a) - _address(root)) // item if root is not a else 0
    off = own if storage_offset is None else int(storage_offset)

    def positions(start, shape, strides):
        p = xp.asarray(start, dtype="int64")
        for n, st in zip(shape, strides):
            p = p[..., None] + xp.arange(n, dtype="int64") * st
        return p

    want = positions(off, size, stride)
    if want.size and (int(want.min()) < 0 or int(want.max()) >= root.size):
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {off} are out of bounds for storage of size {root.size}")
    mine = positions(own, a.shape, tuple(st // item for st in a.strides)) if root is not a \
        else positions(0, a.shape, tuple(st // item for st in a.strides))
    owner = xp.full(root.size, -1, dtype="int64")
    owner[mine.reshape(-1)] = xp.arange(mine.size, dtype="int64")
    which = owner[want]
    flat = input.reshape(-1)
    got = GetItem.apply(flat, key=(xp.maximum(which, 0),)) if flat.shape[0] else None
    if bool((which >= 0).all()):
        return got
    const = _wrap(root.reshape(-1)[want])
    if got is None:
        return const
    from .elementwise import where
    return where(_wrap(which >= 0), got, const)


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """input with the elements that ``input.as_strided(size, stride, storage_offset)`` would
    read replaced by src's (differentiable in both: where(place, gather(src), input))."""
    xp = input.xp
    a = input.array
    n = a.size
    if not a.flags.c_contiguous:
        raise RuntimeError("as_strided_scatter: minigen supports a contiguous input only")
    size = tuple(int(v) for v in size)
    stride = tuple(int(v) for v in stride)
    if tuple(src.shape) != size:
        raise RuntimeError(f"as_strided_scatter: expected src to have the size {list(size)}, "
                           f"got {list(src.shape)}")
    off = 0 if storage_offset is None else int(storage_offset)
    positions = xp.asarray(off, dtype="int64")
    for k, st in zip(size, stride):
        positions = positions[..., None] + xp.arange(k, dtype="int64") * st
    if positions.size and (int(positions.min()) < 0 or int(positions.max()) >= n):
        raise RuntimeError(f"as_strided_scatter: sizes {list(size)}, strides {list(stride)}, "
                           f"storage offset {off} are out of bounds for {n} elements")
    from .extras_torch_misc import _scatter_into_view
    return _scatter_into_view(input, src, lambda p: p.reshape(-1)[positions], "as_strided_scatter",
                              "strided view")


def nonzero_static(input, *, size, fill_value=-1):
    """nonzero(input) with exactly ``size`` rows: cut, or padded with ``fill_value``."""
    from .construct import nonzero
    nz = nonzero(input).array
    xp = input.xp
    out = xp.full((int(size), nz.shape[1]), fill_value, dtype="int64")
    k = min(int(size), nz.shape[0])
    out[:k] = nz[:k]
    return _wrap(out)


def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor of ``size`` (minigen's tensors are C-ordered; stride is not
    kept), with self's dtype and device unless given."""
    from .. import creation
    out = creation.empty(tuple(size), dtype=dtype or self.dtype,
                         device=self.device if device is None else device)
    return out.requires_grad_() if requires_grad else out


def dim_order(self):
    """The dims from outermost to innermost in memory (by decreasing stride)."""
    st = self.array.strides
    return tuple(sorted(range(self.array.ndim), key=lambda i: -st[i]))


def _retains_grad(self):
    return bool(self._retain) and self.creator is not None


def install(T):
    """Put the methods and properties on Tensor ``T``."""
    from . import compare as c
    from .shape import swapdims
    from .indexing import take_along_dim
    from .sorting import multinomial, bernoulli
    T.ndimension = lambda self: self.array.ndim
    T.is_nonzero = is_nonzero
    T.is_same_size = is_same_size
    T.is_signed = is_signed
    T.retains_grad = property(_retains_grad)
    T.data_ptr = data_ptr
    T.as_strided = as_strided
    T.as_strided_scatter = as_strided_scatter
    for name in ("is_xla", "is_ipu", "is_vulkan", "is_maia", "is_mtia", "volatile"):
        setattr(T, name, property(lambda self: False))  # minigen's devices are cpu and cuda
    T.is_set_to = lambda self, other: (
        type(self.array) is type(other.array) and _address(self.array) == _address(other.array)
        and self.array.shape == other.array.shape and self.array.strides == other.array.strides)

    def bfloat16(self):
        from .. import bfloat16 as dt
        return self.to(dt)  # (raises: NumPy and CuPy have no bfloat16)

    T.bfloat16 = bfloat16
    T.nonzero_static = nonzero_static
    T.new_empty_strided = new_empty_strided
    T.dim_order = dim_order
    T.storage_offset = storage_offset
    T.new = new
    T.swapdims = swapdims
    T.greater, T.greater_equal, T.less, T.less_equal, T.not_equal = (
        c.greater, c.greater_equal, c.less, c.less_equal, c.not_equal)
    T.multinomial = multinomial
    T.bernoulli = bernoulli
    T.take_along_dim = take_along_dim

    def det(self):
        from ..linalg import det as f
        return f(self)

    def inverse(self):
        from ..linalg import inv as f
        return f(self)

    def slogdet(self):
        from ..linalg import slogdet as f
        return f(self)

    def polygamma(self, n):
        from .extras_torch_special import polygamma as f
        return f(n, self)

    def lu(self, pivot=True, get_infos=False):
        from ..linalg import _lu_deprecated as f
        return f(self, pivot, get_infos)

    T.det, T.inverse, T.slogdet, T.polygamma, T.lu = det, inverse, slogdet, polygamma, lu

    # & | ^ ~ << >> are bitwise, as in PyTorch: logical on bool tensors, bitwise on integer
    # ones, an error on floating ones
    from . import extras_torch_elementwise as e

    def _r(fn):
        return lambda self, other: fn(other, self)

    T.__and__, T.__rand__ = e.bitwise_and, _r(e.bitwise_and)
    T.__or__, T.__ror__ = e.bitwise_or, _r(e.bitwise_or)
    T.__xor__, T.__rxor__ = e.bitwise_xor, _r(e.bitwise_xor)
    T.__invert__ = e.bitwise_not
    T.__lshift__, T.__rlshift__ = e.bitwise_left_shift, _r(e.bitwise_left_shift)
    T.__rshift__, T.__rrshift__ = e.bitwise_right_shift, _r(e.bitwise_right_shift)
