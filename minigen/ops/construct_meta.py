"""Facts about tensors and dtypes, and the small utilities generative-model code reaches for:
``finfo``/``iinfo``, ``Generator``, ``inference_mode``, ``numel``, ``is_tensor``,
``is_floating_point``, and the Tensor methods ``new_zeros``/``new_ones``/``new_full``/
``new_empty``/``new_tensor``, ``stride``, ``type``, ``nbytes``, ``itemsize``.
"""
from __future__ import annotations

import builtins

import numpy

from .. import backend as B
from .. import creation as _creation
from ..autograd import Tensor, _GradMode
from ..creation import logspace, triu_indices, tril_indices  # noqa: F401  (re-exported)


# ----------------------------------------------------------------------------- predicates
def numel(input):
    """The number of elements of ``input``."""
    return int(input.array.size)


def is_tensor(obj):
    """True if ``obj`` is a minigen Tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(input):
    """True if ``input`` has a floating dtype (float16/32/64)."""
    return input.array.dtype.kind == "f"


def is_complex(input):
    """True if ``input`` has a complex dtype (minigen makes none, but NumPy data may)."""
    return input.array.dtype.kind == "c"


_INFERENCE = [False]  # torch.is_inference_mode_enabled()


class _InferenceMode(_GradMode):
    __slots__ = ("mode", "prev_mode")

    def __init__(self, enabled, mode):
        super().__init__(enabled)
        self.mode = mode

    def __enter__(self):
        self.prev_mode = _INFERENCE[0]
        _INFERENCE[0] = self.mode
        super().__enter__()

    def __exit__(self, *exc):
        _INFERENCE[0] = self.prev_mode
        super().__exit__(*exc)

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _InferenceMode(self.enabled, self.mode):
                return fn(*args, **kwargs)
        return wrapper


def inference_mode(mode=True):
    """As ``no_grad`` (minigen has no separate inference tensors): ops inside record no graph.
    ``inference_mode(False)`` leaves recording as it is set by an enclosing block.
    ``torch.is_inference_mode_enabled()`` tells whether the innermost block is on."""
    from ..autograd import _state
    if callable(mode):  # the bare decorator, @torch.inference_mode
        return _InferenceMode(False, True)(mode)
    return _InferenceMode(False if mode else _state["grad"], bool(mode))


# ----------------------------------------------------------------------------- dtype facts
class finfo:
    """Machine limits of a floating dtype (as ``torch.finfo``): ``eps`` (the gap above 1.0),
    ``max``, ``min`` (= -max), ``tiny`` (the smallest positive normal number, also
    ``smallest_normal``), ``resolution``, ``bits`` and ``dtype`` (its name)."""

    def __init__(self, type=None):
        dt = B.as_dtype(type) or B._default_dtype
        if dt.kind != "f":
            raise TypeError(f"finfo: expected a floating dtype, got {dt}")
        info = numpy.finfo(dt)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = float(info.resolution)
        self.dtype = str(dt)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, "
                f"eps={self.eps}, smallest_normal={self.tiny}, tiny={self.tiny}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype (as ``torch.iinfo``): ``bits``, ``max``, ``min``, ``dtype``."""

    def __init__(self, type):
        dt = B.as_dtype(type)
        if dt is None or dt.kind not in "iub":
            raise TypeError(f"iinfo: expected an integer dtype, got {dt}")
        info = numpy.iinfo(dt) if dt.kind != "b" else None
        self.bits = int(info.bits) if info else 8
        self.max = int(info.max) if info else 1
        self.min = int(info.min) if info else 0
        self.dtype = str(dt)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


# ----------------------------------------------------------------------------- Generator
_DEFAULT_SEED = 67280421310721  # PyTorch's default initial seed


class Generator:
    """A private random stream (as ``torch.Generator``), for ``minigen.rand(...,
    generator=g)``, ``randn``, ``randint``, ``randperm``, ``multinomial``, ``bernoulli`` and
    ``DataLoader(generator=g)``.

    It wraps the device backend's generator (NumPy's PCG64 on 'cpu') and hands every other
    attribute (``random``, ``standard_normal``, ``integers``, ``permutation``, ...) to it, so
    code that takes a NumPy-style generator takes this one too. ``get_state()`` returns the
    bit generator's state as a dict (PyTorch returns a byte tensor).
    """

    def __init__(self, device="cpu"):
        self.device = B.device(device)
        self._backend = B.get_backend(self.device)
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed):
        """Restart the stream from ``seed``; returns the generator (as PyTorch)."""
        self._seed = int(seed)
        self._g = self._backend.generator(self._seed)
        return self

    def seed(self):
        """Seed from fresh OS entropy; returns that seed."""
        s = int(numpy.random.SeedSequence().entropy % (2 ** 63))
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def _bits(self, op):
        bits = getattr(self._g, "bit_generator", None)
        if bits is None:
            raise RuntimeError(f"Generator.{op}: not supported for a {self.device.type} generator")
        return bits

    def get_state(self):
        """A copy of the stream's position: pass it to ``set_state`` to replay from here."""
        import copy
        return copy.deepcopy(self._bits("get_state").state)

    def set_state(self, new_state):
        import copy
        self._bits("set_state").state = copy.deepcopy(new_state)
        return self

    def __getattr__(self, name):  # random, standard_normal, integers, permutation, ...
        if name.startswith("__") or name == "_g":
            raise AttributeError(name)
        return getattr(self._g, name)

    def __repr__(self):
        return f"<minigen.Generator device={self.device.type} initial_seed={self._seed}>"


# ----------------------------------------------------------------------------- Tensor methods
def _new_kw(self, dtype, device):
    return (B.as_dtype(dtype) or self.array.dtype), (device or self.device)


def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    """Zeros of ``size`` with this tensor's dtype and device (unless given)."""
    dtype, device = _new_kw(self, dtype, device)
    return _creation.zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    dtype, device = _new_kw(self, dtype, device)
    return _creation.ones(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    dtype, device = _new_kw(self, dtype, device)
    return _creation.empty(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
    dtype, device = _new_kw(self, dtype, device)
    return _creation.full(size, fill_value, dtype=dtype, device=device,
                          requires_grad=requires_grad)


def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    """A copy of ``data`` with this tensor's dtype and device (unless given)."""
    dtype, device = _new_kw(self, dtype, device)
    return _creation.tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def _stride(self, dim=None):
    """Steps (in elements, not bytes) between neighbours along each dim."""
    st = tuple(builtins.int(s) // self.array.dtype.itemsize for s in self.array.strides)
    if dim is None:
        return st
    from ..autograd import _wrap_dim
    return st[_wrap_dim(dim, self.array.ndim, "stride")]


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int8": "CharTensor",
               "uint8": "ByteTensor", "bool": "BoolTensor"}


def _type(self, dtype=None, non_blocking=False):
    """``x.type(minigen.float64)``: cast (as ``x.to(dtype)``); also PyTorch's type forms,
    ``x.type(minigen.DoubleTensor)``, ``x.type('torch.DoubleTensor')`` and ``x.type(minigen.Tensor)``
    (the default dtype, as ``torch.Tensor`` is the default tensor type). ``x.type()``: the
    type's name, e.g. 'minigen.FloatTensor' (or 'minigen.cuda.FloatTensor'; 'torch.' while
    ``sys.modules['torch']`` is minigen, as a program written for PyTorch expects)."""
    import sys
    if dtype is None:
        name = _TYPE_NAMES.get(str(self.array.dtype), str(self.array.dtype))
        minigen = sys.modules.get(__name__.split(".")[0])
        prefix = "torch." if sys.modules.get("torch") is minigen else "minigen."
        return prefix + ("cuda." if self.device.type == "cuda" else "") + name
    if hasattr(dtype, "_dtype"):  # minigen.FloatTensor and friends (minigen/legacy.py)
        return self.to(dtype._dtype)
    if dtype is Tensor:  # x.type(torch.Tensor): the default tensor type (float32 unless changed)
        return self.to(B.get_default_dtype())
    if isinstance(dtype, str) and dtype.rsplit(".", 1)[-1] in _TYPE_NAMES.values():
        short = dtype.rsplit(".", 1)[-1]
        target = {v: k for k, v in _TYPE_NAMES.items()}[short]
        out = self.to(target)
        return out.to("cuda") if ".cuda." in dtype else out
    return self.to(B.as_dtype(dtype))


def _assert(condition, message):
    """``torch._assert(cond, msg)``: Python's ``assert cond, msg`` as a function (PyTorch's is
    the traceable spelling; torchvision's ViT checks input shapes with it). A one-element
    tensor condition is tested by its value."""
    assert condition, message


stride = _stride
type = _type  # noqa: A001  (the Tensor method's name; this module never calls builtins.type)
nbytes = property(lambda self: int(self.array.nbytes), doc="bytes the elements take")
itemsize = property(lambda self: int(self.array.dtype.itemsize), doc="bytes one element takes")

__all__ = ["_assert", "numel", "is_tensor", "is_floating_point", "is_complex", "inference_mode", "finfo",
           "iinfo", "Generator", "logspace", "triu_indices", "tril_indices"]
TENSOR_METHODS = ["is_floating_point", "is_complex", "new_zeros", "new_ones", "new_full",
                  "new_empty", "new_tensor", "stride", "type", "nbytes", "itemsize"]
