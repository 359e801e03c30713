"""``SimArray``'s generated methods: the wrapped ``numpy.ndarray`` methods (reshape, sum, ...) and
the arithmetic, comparison and unary operators, attached to the class when this module is imported.
"""
from __future__ import annotations

import operator

import numpy

from .array import SimArray, _launched, _operand, _unwrap, _wrap


# methods that only look at memory differently (no kernel on a GPU) and those that return bytes
_FREE = frozenset({"reshape", "transpose", "swapaxes", "squeeze", "view", "diagonal", "tobytes"})


def _make_method(name):
    unbound = getattr(numpy.ndarray, name)
    where = f"SimArray.{name}"
    free = name in _FREE

    def method(self, *args, **kw):
        if args:
            args = [_unwrap(a, where) for a in args]
        if kw:
            kw = {k: _unwrap(v, where) for k, v in kw.items()}
        r = unbound(self._a, *args, **kw)
        if not free and r is not self._a:  # (astype(copy=False) to its own dtype: nothing)
            _launched("write" if name == "fill" else "op")
        return _wrap(r)

    method.__name__ = name
    method.__qualname__ = f"SimArray.{name}"
    method.__doc__ = f"Like numpy.ndarray.{name}; device arrays in, device arrays out."
    return method


for _name in (
        "reshape", "transpose", "swapaxes", "astype", "copy", "fill", "sum", "mean", "max", "min",
        "argmax", "argmin", "prod", "cumsum", "cumprod", "any", "all", "clip", "ravel", "flatten",
        "squeeze", "dot", "view", "var", "std", "nonzero", "repeat", "round", "conj", "conjugate",
        "diagonal", "trace", "argsort", "sort", "partition", "argpartition", "searchsorted",
        "compress", "tobytes", "byteswap"):
    setattr(SimArray, _name, _make_method(_name))


def _make_binop(fn, symbol, reflected=False):
    def op(self, other):
        o = _operand(other, f"operator {symbol}")
        if o is NotImplemented:
            return NotImplemented
        _launched()
        return _wrap(fn(o, self._a) if reflected else fn(self._a, o))
    return op


def _make_iop(fn, symbol):
    def op(self, other):
        o = _operand(other, f"operator {symbol}=")
        if o is NotImplemented:
            return NotImplemented
        _launched("write")
        self._a = fn(self._a, o)  # numpy's in-place op returns the same (mutated) array
        return self
    return op


for _sym, _base, _fn, _ifn in (
        ("+", "add", operator.add, operator.iadd), ("-", "sub", operator.sub, operator.isub),
        ("*", "mul", operator.mul, operator.imul), ("/", "truediv", operator.truediv, operator.itruediv),
        ("//", "floordiv", operator.floordiv, operator.ifloordiv),
        ("%", "mod", operator.mod, operator.imod), ("**", "pow", operator.pow, operator.ipow),
        ("@", "matmul", operator.matmul, operator.imatmul),
        ("&", "and", operator.and_, operator.iand), ("|", "or", operator.or_, operator.ior),
        ("^", "xor", operator.xor, operator.ixor),
        ("<<", "lshift", operator.lshift, operator.ilshift),
        (">>", "rshift", operator.rshift, operator.irshift)):
    setattr(SimArray, f"__{_base}__", _make_binop(_fn, _sym))
    setattr(SimArray, f"__r{_base}__", _make_binop(_fn, _sym, reflected=True))
    setattr(SimArray, f"__i{_base}__", _make_iop(_ifn, _sym))

for _sym, _base, _fn in (("<", "lt", operator.lt), ("<=", "le", operator.le),
                         (">", "gt", operator.gt), (">=", "ge", operator.ge),
                         ("==", "eq", operator.eq), ("!=", "ne", operator.ne)):
    setattr(SimArray, f"__{_base}__", _make_binop(_fn, _sym))

SimArray.__divmod__ = _make_binop(divmod, "divmod")
SimArray.__rdivmod__ = _make_binop(divmod, "divmod", reflected=True)

for _base, _fn in (("neg", operator.neg), ("pos", operator.pos), ("abs", operator.abs),
                   ("invert", operator.invert)):
    setattr(SimArray, f"__{_base}__", (lambda fn: lambda self: (_launched(), _wrap(fn(self._a)))[1])(_fn))

del _name, _sym, _base, _fn, _ifn
