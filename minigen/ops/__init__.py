"""The primitive differentiable ops, and the Tensor methods that call them.

Each op is a function here (``minigen.exp(x)``) and, where PyTorch has one, a Tensor method
(``x.exp()``). This file only wires names; the math lives in the modules beside it.
"""
from ..autograd import Tensor, _wrap
from . import compare as _c
from . import linalg as _l
from . import reduction as _r
from . import indexing as _ix
from . import mathfns_binary as _mathfns_binary
from .elementwise import (
    add, sub, mul, div, true_divide, divide, multiply, subtract, pow, maximum, minimum, where,
)
from .unary import (
    neg, exp, log, log1p, expm1, sqrt, rsqrt, abs, sin, cos, tanh, sigmoid, relu, square, clamp,
    clip, clamp_min, clamp_max,
)
from .compare import (
    sign, eq, ne, lt, le, gt, ge, greater, greater_equal, less, less_equal, not_equal,
    logical_and, logical_or, logical_not, isnan, isinf, isfinite, equal, allclose, floor, ceil,
    round,
)
from .reduction import (
    sum_to, broadcast_to, expand, expand_as, sum, mean, var, std, var_mean, std_mean, max, min,
    amax, amin, argmax, argmin, cumsum, cumprod, prod,
)
from .softmax_family import softmax, log_softmax, logsumexp
from .shape import (
    reshape, view, flatten, unflatten, squeeze, unsqueeze, permute, transpose, swapaxes,
    swapdims, t, movedim, repeat, flip, pad, tril, triu, to, clone, contiguous,
)
from .join import cat, concat, concatenate, stack, split, chunk, unbind, roll
from .indexing import getitem, index_select, gather, take_along_dim, masked_fill
from .linalg import matmul, mm, bmm, dot, outer, einsum, diagonal
from .sorting import sort, argsort, topk, multinomial, bernoulli
from . import mathfns as _mathfns, construct as _construct
from .mathfns import *  # noqa: F401,F403
from .construct import *  # noqa: F401,F403
from . import complex as _complex
from .complex import (  # noqa: F401  (complex tensors: minigen/ops/complex.py)
    view_as_real, view_as_complex, real, imag, conj, conj_physical, resolve_conj, resolve_neg,
    polar, complex, angle,
)

__all__ = [n for n in dir() if not n.startswith("_") and n not in ("Tensor", "TENSOR_METHODS")]


def _r_(fn):
    """Reflected binary operator: ``2 - x`` calls ``x.__rsub__(2)``."""
    return lambda self, other: fn(other, self)


def _install():
    T = Tensor
    # operators
    T.__add__ = add
    T.__radd__ = add
    T.__sub__ = sub
    T.__rsub__ = _r_(sub)
    T.__mul__ = mul
    T.__rmul__ = mul
    T.__truediv__ = div
    T.__rtruediv__ = _r_(div)
    T.__pow__ = pow
    T.__rpow__ = _r_(pow)
    T.__matmul__ = matmul
    T.__rmatmul__ = _r_(matmul)
    T.__neg__ = neg
    T.__pos__ = lambda self: self
    T.__abs__ = abs
    T.__getitem__ = getitem
    T.__eq__ = eq
    T.__ne__ = ne
    T.__lt__ = lt
    T.__le__ = le
    T.__gt__ = gt
    T.__ge__ = ge
    T.__hash__ = lambda self: id(self)
    T.__and__ = logical_and
    T.__or__ = logical_or
    T.__invert__ = logical_not
    T.__xor__ = lambda self, other: \
        _c._wrap(self.xp.logical_xor(self.array, other.array if isinstance(other, Tensor) else other))
    T.__floordiv__ = lambda self, other: div(self, other, rounding_mode="floor")
    T.__rfloordiv__ = lambda self, other: div(other, self, rounding_mode="floor")
    # a % b = a - floor(a / b) b, with b's sign (Python's and PyTorch's convention)
    T.__mod__ = lambda self, other: _mathfns_binary.remainder(self, other)
    T.__rmod__ = lambda self, other: _mathfns_binary.remainder(other, self)

    def __setitem__(self, key, value):
        nkey, _ = _ix._normalise_key(self, key)
        if self._check_inplace("__setitem__", value):
            # recorded as out = x with out[key] = v (IndexPut), which this tensor becomes
            if not isinstance(value, Tensor):
                value = _wrap(self.xp.asarray(value, dtype=self.array.dtype))
            elif type(value.array) is not type(self.array):
                from ..autograd import _device_mismatch
                _device_mismatch("__setitem__", [self, value])
            self._rebase(_extras.IndexPut.apply(self, value.to(self.array.dtype), key=nkey),
                         "__setitem__")
            return
        self.array[nkey] = value.array if isinstance(value, Tensor) else value
    T.__setitem__ = __setitem__

    # methods with the same name as the function
    for name in [
        "add", "sub", "mul", "div", "pow", "maximum", "minimum", "neg", "exp", "log", "sqrt",
        "rsqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "square", "clamp", "clip",
        "clamp_min", "clamp_max", "sign", "eq", "ne", "lt", "le", "gt", "ge", "logical_and",
        "logical_or", "logical_not", "isnan", "isinf", "isfinite", "equal", "allclose", "floor",
        "ceil", "round", "sum_to", "expand", "expand_as", "sum", "mean", "var", "std", "max",
        "min", "amax", "amin", "argmax", "argmin", "cumsum", "cumprod", "prod", "softmax",
        "log_softmax", "logsumexp", "reshape", "view", "flatten", "unflatten", "squeeze",
        "unsqueeze", "permute", "transpose", "swapaxes", "t", "movedim", "repeat", "flip",
        "split", "chunk", "unbind", "tril", "triu", "index_select", "gather", "masked_fill",
        "to", "clone", "contiguous", "matmul", "mm", "bmm", "dot", "outer", "diagonal",
        "broadcast_to", "roll", "log1p", "expm1", "sort", "argsort", "topk",
    ]:
        setattr(T, name, globals()[name])
    # modules that list their own Tensor methods
    for name, fn in _complex.TENSOR_PROPERTIES.items():
        setattr(T, name, property(fn))
    for mod in (_mathfns, _construct, _complex):
        for name in mod.TENSOR_METHODS:
            setattr(T, name, getattr(mod, name))
    T.where = lambda self, condition, other: where(condition, self, other)
    T.multiply, T.divide, T.subtract, T.true_divide = mul, div, sub, div
    T.float = lambda self: to(self, "float32")
    T.double = lambda self: to(self, "float64")
    T.half = lambda self: to(self, "float16")
    T.long = lambda self: to(self, "int64")
    T.int = lambda self: to(self, "int32")
    T.bool = lambda self: to(self, "bool")
    T.cpu = lambda self: to(self, "cpu")
    T.cuda = lambda self: to(self, "cuda")
    T.type_as = lambda self, other: to(self, other.dtype)
    T.view_as = lambda self, other: reshape(self, other.shape)
    T.reshape_as = lambda self, other: reshape(self, other.shape)
    T.T = property(lambda self: permute(self, tuple(range(self.array.ndim - 1, -1, -1))))
    T.mT = property(lambda self: transpose(self, -2, -1))
    T.masked_fill_ = _inplace_from(masked_fill, "masked_fill_")
    T.clamp_ = _inplace_from(clamp, "clamp_")
    T.mul_ = _inplace_from(mul, "mul_")
    T.add_ = _inplace_from(add, "add_")
    T.sub_ = _inplace_from(sub, "sub_")
    T.div_ = _inplace_from(div, "div_")
    # x += y and friends are in place, as in PyTorch (an alias of x sees the change)
    T.__iadd__, T.__isub__, T.__imul__, T.__itruediv__ = T.add_, T.sub_, T.mul_, T.div_
    T.normal_ = _fill_random("normal_")
    T.uniform_ = _fill_random("uniform_")


def _inplace_from(fn, name):
    """``x.op_(...)``: compute ``op`` and write the result into x (recorded on the graph, see
    Tensor._write_back)."""
    def method(self, *args, **kwargs):
        return self._write_back(fn(self, *args, **kwargs), name)
    method.__name__ = name
    return method


def _fill_random(name):
    """``x.normal_(mean=0, std=1)`` / ``x.uniform_(from=0, to=1)`` in place (PyTorch's keyword
    names; ``from`` can only be passed as ``**{"from": a}`` in Python, or positionally)."""
    names = ("mean", "std") if name == "normal_" else ("from", "to")
    defaults = (0.0, 1.0)

    def method(self, *args, generator=None, **kwargs):
        from .. import creation
        if len(args) > 2:
            raise TypeError(f"{name}: takes at most 2 positional arguments ({len(args)} given)")
        vals = list(args) + [None] * (2 - len(args))
        for i, key in enumerate(names):
            if key in kwargs:
                if vals[i] is not None:
                    raise TypeError(f"{name}: got multiple values for argument '{key}'")
                vals[i] = kwargs.pop(key)
        if kwargs:
            raise TypeError(f"{name}: unexpected keyword argument {next(iter(kwargs))!r} "
                            f"(allowed: {names[0]}, {names[1]}, generator)")
        a, b = (defaults[i] if v is None else v for i, v in enumerate(vals))
        if self._check_inplace(name):
            raise RuntimeError(f"{name}: a tensor in the autograd graph cannot be refilled with "
                               "random numbers; do it under `with torch.no_grad():` or on a "
                               "detached tensor")
        r = (creation.randn if name == "normal_" else creation.rand)(
            self.shape, dtype=self.dtype, device=self.device, generator=generator)
        self.array[...] = (r.array * b + a) if name == "normal_" else (r.array * (b - a) + a)
        return self
    method.__name__ = name
    return method


_install()

from . import extras as _extras  # noqa: E402  (composites PyTorch programs use: losses, activations, x.unfold)
for _name, _fn in _extras.TENSOR_METHODS.items():
    setattr(Tensor, _name, getattr(_extras, _fn))

from . import extras_torch as _extras_torch  # noqa: E402  (diff, kron, quantile, searchsorted, ...)
for _name in _extras_torch.TENSOR_METHODS:
    setattr(Tensor, _name, getattr(_extras_torch, _name))
_extras.install_inplace(Tensor)  # (last: x.op_() for every x.op() installed above)
