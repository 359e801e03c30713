"""Ops that move elements around without doing arithmetic on them.

Each backward puts the gradient back where the element came from: reshape undoes reshape,
transpose undoes transpose, concatenation splits, and so on.
"""
from __future__ import annotations

import builtins
import numbers

from ..autograd import Function, Tensor, _wrap, _wrap_dim


def _sizes(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


class Reshape(Function):
    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, gy):
        return gy.reshape(self.in_shape)


def reshape(input, *shape):
    """A tensor with the same elements in a new shape; one dimension may be -1 (inferred)."""
    shape = _sizes(shape)
    if shape == input.array.shape:
        return input
    n = input.array.size
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if (shape.count(-1) > 1 or (-1 not in shape and known != n)
            or (-1 in shape and (known == 0 or n % known))):
        raise RuntimeError(f"reshape: shape '{list(shape)}' is invalid for input of size {n} "
                           f"(input shape {list(input.shape)})")
    return Reshape.apply(input, shape=shape)


def view(input, *shape):
    """As ``reshape`` (minigen does not track contiguity; a view may copy).

    ``view(dtype)`` reinterprets the bytes as another dtype of the same size, as PyTorch does
    (no gradient flows through a reinterpretation)."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, numbers.Integral)):
        from .. import backend as B
        dt = B.as_dtype(shape[0])
        if dt.itemsize != input.array.dtype.itemsize:
            raise RuntimeError(f"view: cannot view a tensor of dtype {input.array.dtype} as "
                               f"{dt} (element sizes {input.array.dtype.itemsize} and {dt.itemsize} differ)")
        return _wrap(input.array.view(dt))
    return reshape(input, *shape)


def flatten(input, start_dim=0, end_dim=-1):
    nd = input.array.ndim
    if nd == 0:
        return reshape(input, 1)
    s, e = _wrap_dim(start_dim, nd, "flatten"), _wrap_dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError("flatten: start_dim cannot come after end_dim")
    shp = input.array.shape
    n = 1
    for k in shp[s:e + 1]:
        n *= k
    return reshape(input, shp[:s] + (n,) + shp[e + 1:])


def unflatten(input, dim, sizes):
    d = _wrap_dim(dim, input.array.ndim, "unflatten")
    shp = input.array.shape
    sizes = tuple(sizes)
    if -1 in sizes:
        known = 1
        for k in sizes:
            if k != -1:
                known *= k
        sizes = tuple(shp[d] // known if k == -1 else k for k in sizes)
    return reshape(input, shp[:d] + sizes + shp[d + 1:])


def squeeze(input, dim=None):
    shp = input.array.shape
    if dim is None:
        return reshape(input, tuple(n for n in shp if n != 1))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    dims = {_wrap_dim(d, len(shp), "squeeze") for d in dims}
    return reshape(input, tuple(n for i, n in enumerate(shp) if not (i in dims and n == 1)))


def unsqueeze(input, dim):
    nd = input.array.ndim
    if not -nd - 1 <= dim <= nd:
        raise IndexError(f"unsqueeze: dimension out of range (expected to be in range of "
                         f"[{-nd - 1}, {nd}], but got {dim})")
    d = dim % (nd + 1)
    shp = input.array.shape
    return reshape(input, shp[:d] + (1,) + shp[d:])


class Transpose(Function):
    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, gy):
        inv = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inv[a] = i
        return Transpose.apply(gy, axes=tuple(inv))


def permute(input, *dims):
    dims = _sizes(dims)
    nd = input.array.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute: number of dims don't match in permute: got {len(dims)} "
                           f"dims for a tensor of shape {list(input.shape)}")
    axes = tuple(_wrap_dim(d, nd, "permute") for d in dims)
    if sorted(axes) != list(range(nd)):
        raise RuntimeError(f"permute: repeated dim in {list(dims)}")
    if axes == tuple(range(nd)):
        return input
    return Transpose.apply(input, axes=axes)


def transpose(input, dim0, dim1):
    nd = input.array.ndim
    if nd == 0:
        return input
    d0, d1 = _wrap_dim(dim0, nd, "transpose"), _wrap_dim(dim1, nd, "transpose")
    axes = list(range(nd))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return permute(input, axes)


swapaxes = swapdims = transpose


def t(input):
    if input.array.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.array.ndim}D")
    return transpose(input, 0, 1) if input.array.ndim == 2 else input


def movedim(input, source, destination):
    """Move dim(s) ``source`` to position(s) ``destination`` (ints, or sequences of ints of
    the same length, as torch.movedim); the other dims keep their order."""
    nd = input.array.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    s = [_wrap_dim(i, nd, "movedim") for i in src]
    d = [_wrap_dim(i, nd, "movedim") for i in dst]
    if len(set(s)) != len(s) or len(set(d)) != len(d):
        raise RuntimeError(f"movedim: repeated dim in source ({src}) or destination ({dst})")
    order = [i for i in range(nd) if i not in s]
    for dd, ss in sorted(zip(d, s)):
        order.insert(dd, ss)
    return permute(input, order)


class Repeat(Function):
    def forward(self, x, reps):
        self.in_shape = x.shape
        self.reps = reps
        return self.xp.tile(x, reps)

    def backward(self, gy):
        # output dim i is reps[i] copies of input dim i: fold the copies out and sum them
        lead = len(self.reps) - len(self.in_shape)
        shape = (1,) * lead + tuple(self.in_shape)
        split = []
        for r, n in zip(self.reps, shape):
            split += [r, n]
        g = gy.reshape(split).sum(dim=tuple(range(0, 2 * len(shape), 2)))
        return g.reshape(self.in_shape)


def repeat(input, *sizes):
    reps = _sizes(sizes)
    if len(reps) < input.array.ndim:
        raise RuntimeError(
            f"repeat: number of repeat dims ({len(reps)}) can not be smaller than number of "
            f"dimensions of tensor ({input.array.ndim})")
    return Repeat.apply(input, reps=reps)


class Flip(Function):
    def forward(self, x, axes):
        self.axes = axes
        # a copy, as PyTorch's flip (NumPy's flip is a view, which a later in-place write
        # through the result would carry back into the input)
        return self.xp.flip(x, axis=axes).copy()

    def backward(self, gy):
        return Flip.apply(gy, axes=self.axes)


def flip(input, dims):
    if isinstance(dims, numbers.Integral):
        dims = (dims,)
    axes = tuple(_wrap_dim(d, input.array.ndim, "flip") for d in dims)
    return Flip.apply(input, axes=axes)


# ----------------------------------------------------------------------------- pad, tril
class Pad(Function):
    """Constant padding. Backward: cut the padded border off the gradient."""

    def forward(self, x, pad_width, value):
        self.pad_width = pad_width
        self.in_shape = x.shape
        return self.xp.pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, gy):
        index = tuple(builtins.slice(lo, lo + n) for (lo, _), n in zip(self.pad_width, self.in_shape))
        return gy[index]


def pad(input, pad, mode="constant", value=None):
    """``F.pad``: ``pad`` lists (left, right) pairs starting from the LAST dimension.

    Negative padding crops. Modes: 'constant', 'reflect', 'replicate', 'circular'.
    """
    if len(pad) % 2 or len(pad) // 2 > input.array.ndim:
        raise RuntimeError(f"pad: padding length must be even and at most 2 * ndim; got {len(pad)} "
                           f"for input of shape {list(input.shape)}")
    nd = input.array.ndim
    width = [[0, 0] for _ in range(nd)]
    for i in range(len(pad) // 2):
        width[nd - 1 - i] = [int(pad[2 * i]), int(pad[2 * i + 1])]
    x = input
    if any(lo < 0 or hi < 0 for lo, hi in width):  # negative padding crops
        index = tuple(builtins.slice(-lo if lo < 0 else 0, n + hi if hi < 0 else n)
                      for (lo, hi), n in zip(width, input.shape))
        x = input[index]
        width = [[builtins.max(lo, 0), builtins.max(hi, 0)] for lo, hi in width]
    if mode == "constant":
        return Pad.apply(x, pad_width=tuple(map(tuple, width)), value=0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: mode {mode!r} is not supported")
    # other modes gather from the input with an index per padded dimension (so the gradient is
    # the scatter-add of that gather)
    xp = x.xp
    for d, (lo, hi) in enumerate(width):
        if lo == 0 and hi == 0:
            continue
        n = x.array.shape[d]
        idx = xp.arange(-lo, n + hi)
        if mode == "reflect":
            if lo >= n or hi >= n:
                raise RuntimeError(f"pad: padding size should be less than the corresponding input "
                                   f"dimension, but got padding ({lo}, {hi}) at dimension {d} of size {n}")
            period = 2 * (n - 1)
            idx = xp.abs(idx) % period if period else xp.zeros_like(idx)
            idx = xp.where(idx >= n, period - idx, idx)
        elif mode == "replicate":
            idx = xp.clip(idx, 0, n - 1)
        else:
            idx = idx % n
        from .indexing import index_select
        x = index_select(x, d, _wrap(idx))
    return x


class Tril(Function):
    def forward(self, x, diagonal, upper):
        self.diagonal, self.upper = diagonal, upper
        return (self.xp.triu if upper else self.xp.tril)(x, diagonal)

    def backward(self, gy):
        return Tril.apply(gy, diagonal=self.diagonal, upper=self.upper)


def tril(input, diagonal=0):
    """Keep the lower triangle (on and below ``diagonal``) of the last two dims; zero the rest."""
    if input.array.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tril.apply(input, diagonal=diagonal, upper=False)


def triu(input, diagonal=0):
    if input.array.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Tril.apply(input, diagonal=diagonal, upper=True)


# ----------------------------------------------------------------------------- dtype, device
class Cast(Function):
    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        if x.dtype.kind == "c" and dtype.kind != "c":
            x = x.real  # complex -> real keeps the real part (PyTorch warns that it does)
        return x.astype(dtype)

    def backward(self, gy):
        if gy.array.dtype.kind == "c" and self.in_dtype.kind != "c":
            from .complex import real  # real -> complex: the real part goes back
            gy = real(gy)
        return Cast.apply(gy, dtype=self.in_dtype)


class ToDevice(Function):
    def forward(self, x, target):
        from ..backend import get_backend
        self.source = self.backend.name
        return get_backend(target).asarray(self.backend.to_numpy(x))

    def backward(self, gy):
        return ToDevice.apply(gy, target=self.source)


def _dtype_name(name):
    """The dtype a string names ('float32', ...), or None if it names none."""
    from .. import backend as B
    try:
        return B.as_dtype(name)
    except (TypeError, ValueError):
        return None


class memory_format:
    """``torch.memory_format``: how PyTorch lays a 4-d (5-d) tensor out in memory.

    ``contiguous_format`` is row-major NCHW; ``channels_last`` keeps the same logical NCHW
    tensor with strides of NHWC (``channels_last_3d``: NDHWC); ``preserve_format`` keeps the
    source's. minigen keeps every tensor in its own (C-contiguous) layout: the formats are
    accepted wherever PyTorch takes them (``Tensor.to``, ``contiguous``, ``clone``, the
    ``*_like`` constructors, ``Module.to``), checked as PyTorch checks them (channels_last needs
    a 4-d tensor), and change no value; a tensor does not remember a format (so
    ``is_contiguous(memory_format=channels_last)`` answers for the NCHW layout)."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"torch.{self._name}"

    def __reduce__(self):
        return (_memory_format_named, (self._name,))


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")
_MEMORY_FORMATS = {m._name: m for m in (contiguous_format, channels_last, channels_last_3d,
                                        preserve_format)}
_FORMAT_RANK = {"channels_last": 4, "channels_last_3d": 5}


def _memory_format_named(name):
    return _MEMORY_FORMATS[name]


def check_memory_format(t, fmt, op):
    """PyTorch's checks of a ``memory_format=`` argument (the format itself has no effect)."""
    if fmt is None:
        return
    if not isinstance(fmt, memory_format):
        raise TypeError(f"{op}(): argument 'memory_format' must be torch.memory_format, not "
                        f"{type(fmt).__name__}")
    rank = _FORMAT_RANK.get(fmt._name)
    if rank is not None and t is not None and t.ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {fmt._name} format")


def is_contiguous_as(t, memory_format=None):
    """PyTorch's ``t.is_contiguous(memory_format=...)`` for minigen's layout (the array's own
    strides): contiguous_format asks for row-major strides; channels_last (a 4-d tensor) asks
    that, visiting dimensions C, W, H, N and skipping those of size 1, each stride equal the
    product of the sizes visited before it (channels_last_3d: C, W, H, D, N on a 5-d tensor)."""
    fmt = "contiguous_format" if memory_format is None else memory_format._name
    arr = t.array
    if fmt in ("contiguous_format", "preserve_format"):
        return bool(arr.flags["C_CONTIGUOUS"])
    order = {"channels_last": (4, (1, 3, 2, 0)), "channels_last_3d": (5, (1, 4, 3, 2, 0))}[fmt]
    if arr.ndim != order[0]:
        return False
    strides = [st // arr.itemsize for st in arr.strides]
    expected = 1
    for d in order[1]:
        if arr.shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= arr.shape[d]
    return True


def to(input, *args, dtype=None, device=None, copy=False, non_blocking=False, memory_format=None):
    """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(other_tensor)``;
    ``memory_format`` is checked and has no effect (see ``memory_format``)."""
    check_memory_format(input, memory_format, "to")
    from .. import backend as B
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, B.device) or (isinstance(a, int) and not isinstance(a, bool)):
            device = a
        elif isinstance(a, str) and _dtype_name(a) is None:
            device = a      # a string is a device, as in PyTorch: 'gpu' is refused as one
        else:
            dtype = a
    out = input
    if device is not None:
        target = B.device(device)
        if target != input.device:
            B.get_backend(target)  # a clear error if the device is missing
            out = ToDevice.apply(out, target=target.type)
    if dtype is not None:
        dt = B.as_dtype(dtype)
        if dt != out.array.dtype:
            if input.requires_grad and dt.kind not in "fc":
                out = _wrap(out.array.astype(dt))
            else:
                out = Cast.apply(out, dtype=dt)
    if copy and out is input:
        out = input.clone()
    return out


class Clone(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def clone(input, *, memory_format=None):
    check_memory_format(input, memory_format, "clone")
    return Clone.apply(input)


def contiguous(input, memory_format=None):
    """The tensor itself (minigen's tensors are always contiguous in their own layout);
    ``memory_format`` is checked as PyTorch checks it."""
    check_memory_format(input, memory_format, "contiguous")
    return input

