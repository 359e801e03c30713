"""PyTorch names that older or device-agnostic programs use, mapped onto minigen.

``torch.FloatTensor`` and friends are the legacy typed constructors: ``FloatTensor([1, 2])``
is a float32 tensor, ``LongTensor(3)`` an int64 tensor of 3 elements, and
``isinstance(x, FloatTensor)`` asks whether ``x`` is a float32 tensor. ``Size`` is the tuple
type of shapes. ``Variable`` (PyTorch before 0.4) is the tensor itself. ``compile`` returns the
model unchanged (minigen has no compiler; the numbers are the same), and the precision and
determinism switches are accepted: minigen computes float32 as float32 and is deterministic.
"""
import numpy

from .autograd import Tensor

__all__ = [
    "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
    "CharTensor", "ByteTensor", "BoolTensor", "Size", "Variable", "compile",
    "set_float32_matmul_precision", "get_float32_matmul_precision",
    "use_deterministic_algorithms", "are_deterministic_algorithms_enabled", "is_tensor",
    "is_storage", "set_printoptions", "bfloat16",
]


class _MissingDtype:
    """A dtype PyTorch has and minigen has not. Programs may name it (``{'bfloat16':
    torch.bfloat16, ...}[dtype]``); making a tensor with it raises, naming the alternative."""

    def __init__(self, name):
        self.name = name
        self.is_floating_point = True

    def __repr__(self):
        return (f"minigen.{self.name} (minigen has no {self.name}: NumPy and CuPy have no such "
                "dtype; use minigen.float32)")


bfloat16 = _MissingDtype("bfloat16")


class _TypedTensorMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls._dtype

    def __call__(cls, *args, device=None):
        if not args:
            return Tensor(numpy.zeros((0,), dtype=cls._dtype), dtype=cls._dtype, device=device)
        data = args[0]
        if type(data) is int or (isinstance(data, tuple) and type(data) is not tuple):
            t = Tensor(*args)  # sizes
            return t.to(cls._dtype) if device is None else t.to(device, cls._dtype)
        if len(args) > 1:
            raise TypeError(f"{cls.__name__}: takes sizes (ints) or one sequence, got {len(args)} "
                            "arguments")
        if isinstance(data, Tensor):
            return data.to(cls._dtype)
        return Tensor(numpy.asarray(data, dtype=cls._dtype), dtype=cls._dtype, device=device)


def _typed(name, dtype):
    return _TypedTensorMeta(name, (), {"_dtype": numpy.dtype(dtype), "__doc__":
                                       f"{dtype} tensors: ``{name}(data)`` or ``{name}(*sizes)``."})


class _CudaTypedTensorMeta(_TypedTensorMeta):
    """``torch.cuda.FloatTensor`` and friends: ``isinstance(x, torch.cuda.FloatTensor)`` asks for
    a float32 tensor on the GPU (False on the CPU, as in old programs' ``isinstance(input.data,
    torch.cuda.FloatTensor) and ngpu > 1`` tests); calling one makes the tensor on the GPU."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls._dtype and obj.device.type == "cuda"

    def __call__(cls, *args, device=None):
        return _TypedTensorMeta.__call__(cls, *args, device="cuda" if device is None else device)


def _cuda_typed(name):
    """The ``torch.cuda.<name>`` class for a legacy typed-tensor name (``FloatTensor``...)."""
    cpu = globals()[name]
    return _CudaTypedTensorMeta(name, (), {"_dtype": cpu._dtype, "__qualname__": "cuda." + name,
                                           "__doc__": f"{cpu._dtype} tensors on the GPU."})


FloatTensor = _typed("FloatTensor", "float32")
DoubleTensor = _typed("DoubleTensor", "float64")
HalfTensor = _typed("HalfTensor", "float16")
LongTensor = _typed("LongTensor", "int64")
IntTensor = _typed("IntTensor", "int32")
ShortTensor = _typed("ShortTensor", "int16")
CharTensor = _typed("CharTensor", "int8")
ByteTensor = _typed("ByteTensor", "uint8")
BoolTensor = _typed("BoolTensor", "bool")


class Size(tuple):
    """A tensor's shape: a tuple of ints (``Size([2, 3]) == (2, 3)``). As ``torch.Size``, it
    stays a Size through ``+`` (either side), ``*`` and slicing, so ``FloatTensor(s + (n,))``
    still reads it as a shape, not as data."""

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__

    def __getitem__(self, key):
        out = tuple.__getitem__(self, key)
        return Size(out) if isinstance(key, slice) else out

    def numel(self):
        n = 1
        for s in self:
            n *= int(s)
        return n

    def __repr__(self):
        return f"minigen.Size({list(self)})"


def Variable(data, requires_grad=False, volatile=False):
    """PyTorch < 0.4's wrapper: today a tensor is its own Variable. ``requires_grad`` sets it."""
    if requires_grad and not data.requires_grad:
        data.requires_grad_(True)
    return data


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,
            options=None, disable=False):
    """minigen has no graph compiler: the model (or function) itself, unchanged. Usable as
    ``compile(model)`` and as a decorator ``@compile`` / ``@compile(mode=...)``."""
    if model is None:
        return lambda m: m
    return model


_matmul_precision = ["highest"]


def set_float32_matmul_precision(precision):
    """Accepted ('highest' | 'high' | 'medium'); minigen's float32 matmuls are always float32."""
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"set_float32_matmul_precision: precision must be 'highest', 'high' or "
                         f"'medium', got {precision!r}")
    _matmul_precision[0] = precision


def get_float32_matmul_precision():
    return _matmul_precision[0]


_deterministic = [False, False]  # (mode, warn_only)


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Accepted: minigen's kernels give the same result on every run already."""
    _deterministic[0] = bool(mode)
    _deterministic[1] = bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _deterministic[0]


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_storage(obj):
    return False


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Sets NumPy's print options, which minigen's tensor repr uses."""
    kw = {k: v for k, v in dict(precision=precision, threshold=threshold, edgeitems=edgeitems,
                                linewidth=linewidth).items() if v is not None}
    if sci_mode is not None:
        kw["suppress"] = not sci_mode
    numpy.set_printoptions(**kw)
