"""``simnp``, the simulated ``cupy`` namespace: ``SimUfunc``, ``SimNamespace`` and the functions
that replace NumPy's where CuPy differs (asarray, array, asnumpy, take, put, ...).
"""
from __future__ import annotations

import types

import numpy

from .array import (SimArray, _host_msg, _index_key, _launched, _operand, _unwrap, _unwrap_host,
                    _wrap)


# ----------------------------------------------------------------------------- simnp
# functions that launch no kernel on a GPU (views, shapes, dtypes, uninitialised memory)
_FREE = frozenset({
    "reshape", "transpose", "broadcast_to", "broadcast_arrays", "expand_dims", "squeeze",
    "swapaxes", "moveaxis", "rollaxis", "atleast_1d", "atleast_2d", "atleast_3d", "shape", "ndim",
    "size", "empty", "empty_like", "result_type", "can_cast", "promote_types", "iscomplexobj",
    "isrealobj", "isscalar", "may_share_memory", "shares_memory", "split", "array_split",
    "hsplit", "vsplit", "dsplit", "unravel_index", "ravel_multi_index", "broadcast_shapes",
    "real", "imag", "diagonal", "finfo", "iinfo", "dtype", "ascontiguousarray", "asfortranarray"})


def _wrap_function(f, where):
    free = getattr(f, "__name__", where) in _FREE or where.split(".")[-1] in _FREE

    def call(*args, **kw):
        if kw:
            kw = {k: _unwrap(v, where) for k, v in kw.items()}
        raw = [_unwrap(a, where) for a in args]
        r = f(*raw, **kw)
        if not free and not any(r is a for a in raw):
            _launched("write" if "out" in kw else "op")
        return _wrap(r)

    call.__name__ = getattr(f, "__name__", where)
    call.__qualname__ = where
    call.__doc__ = getattr(f, "__doc__", None)
    call.__wrapped_numpy__ = f
    return call


def _ufunc_operand(x, where):
    """As an operator's operand (``_operand``), but anything else is an error here."""
    r = _operand(x, where)
    if r is not NotImplemented:
        return r
    raise TypeError(f"{where}: unsupported operand type {type(x).__name__} (CuPy ufuncs take "
                    "device arrays and scalars only)")


class SimUfunc:
    """A NumPy ufunc behind CuPy's rules: device arrays and scalars in, device arrays out."""

    __slots__ = ("_uf", "_where")

    def __init__(self, uf, where):
        self._uf = uf
        self._where = where

    def __call__(self, *args, **kw):
        where = self._where
        if kw:
            kw = {k: _unwrap(v, where) for k, v in kw.items()}
        _launched("write" if "out" in kw else "op")
        return _wrap(self._uf(*[_ufunc_operand(a, where) for a in args], **kw))

    def at(self, a, indices, b=None):
        where = self._where + ".at"
        _launched("write")
        if type(a) is not SimArray:
            raise TypeError(f"{where}: expected a device array (SimArray), got {type(a).__name__}")
        key = _index_key(indices, a._a.shape, where)
        if b is None:
            self._uf.at(a._a, key)
        else:
            self._uf.at(a._a, key, _ufunc_operand(b, where))

    def _method(self, name, *args, **kw):
        where = f"{self._where}.{name}"
        if kw:
            kw = {k: _unwrap(v, where) for k, v in kw.items()}
        return _wrap(getattr(self._uf, name)(*[_unwrap(a, where) for a in args], **kw))

    def reduce(self, *args, **kw):
        return self._method("reduce", *args, **kw)

    def accumulate(self, *args, **kw):
        return self._method("accumulate", *args, **kw)

    def reduceat(self, *args, **kw):
        return self._method("reduceat", *args, **kw)

    def outer(self, *args, **kw):
        return self._method("outer", *args, **kw)

    def __getattr__(self, name):  # nin, nout, nargs, types, identity, __name__ ...
        if name in ("_uf", "_where"):
            raise AttributeError(name)
        return getattr(self._uf, name)

    def __repr__(self):
        return f"<simulated cupy ufunc {self._uf.__name__}>"


class SimNamespace:
    """A module-like view of a NumPy namespace that speaks CuPy's rules (``simnp``)."""

    def __init__(self, module, prefix):
        self._module = module
        self._prefix = prefix
        self.__name__ = prefix

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_module", "_prefix"):
            raise AttributeError(name)
        try:
            attr = getattr(self._module, name)
        except AttributeError:
            raise AttributeError(f"simulated cupy namespace {self._prefix!r} has no attribute "
                                 f"{name!r}") from None
        where = f"{self._prefix}.{name}"
        if isinstance(attr, numpy.ufunc):
            wrapped = SimUfunc(attr, where)
        elif isinstance(attr, types.ModuleType):
            wrapped = SimNamespace(attr, where)
        elif attr is numpy.ndarray:
            wrapped = SimArray
        elif isinstance(attr, type) or not callable(attr):
            wrapped = attr  # dtypes, classes, constants (pi, inf, newaxis)
        else:
            wrapped = _wrap_function(attr, where)
        setattr(self, name, wrapped)  # cache: later lookups never reach __getattr__
        return wrapped

    def __repr__(self):
        return f"<simulated cupy namespace {self._prefix!r} over {self._module.__name__}>"


simnp = SimNamespace(numpy, "cupy")
simnp.ndarray = SimArray


def _asarray(a, dtype=None, order=None, *, blocking=False):
    """Device array from device or host data (``cupy.asarray``); host data is copied."""
    if type(a) is SimArray:
        r = numpy.asarray(a._a, dtype=dtype, order=order)
        return a if r is a._a else SimArray(r)
    return SimArray(numpy.array(_unwrap_host(a), dtype=dtype, order=order or "K", copy=True))


def _array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    """``cupy.array``: host data is always copied to the device."""
    if type(obj) is SimArray:
        return SimArray(numpy.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    return SimArray(numpy.array(_unwrap_host(obj), dtype=dtype, copy=True, order=order,
                                ndmin=ndmin))


def _asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """``cupy.asnumpy``: a host copy (host arrays pass through, as in CuPy)."""
    if type(a) is SimArray:
        return a.get(order=order, out=out)
    if out is not None:
        out[...] = a
        return out
    return numpy.asarray(a, order=order)


def _require(a, where):
    if type(a) is not SimArray:
        if isinstance(a, numpy.ndarray):
            raise TypeError(_host_msg(where, a))
        raise TypeError(f"{where}: expected a device array (SimArray), got {type(a).__name__}")
    return a._a


def _wrapped_indices(indices, n, where):
    idx = indices._a if type(indices) is SimArray else numpy.asarray(_unwrap(indices, where))
    if idx.dtype.kind in "iu" and n > 0 and idx.size and (idx.min() < -n or idx.max() >= n):
        idx = idx % n  # CuPy wraps where NumPy raises
    return idx


def _take(a, indices, axis=None, out=None, mode="wrap"):
    """``cupy.take``: out-of-range indices wrap around (CuPy has no bounds check)."""
    where = "cupy.take"
    if isinstance(indices, numpy.ndarray):
        raise TypeError(_host_msg(where, indices))
    arr = _require(a, where)
    idx = indices._a if type(indices) is SimArray else _unwrap(indices, where)
    return _wrap(numpy.take(arr, idx, axis=axis, out=None if out is None else out._a, mode=mode))


def _put(a, ind, v, mode="wrap"):
    where = "cupy.put"
    arr = _require(a, where)
    numpy.put(arr, _unwrap(ind, where), _unwrap(v, where), mode=mode)


def _take_along_axis(arr, indices, axis):
    where = "cupy.take_along_axis"
    a = _require(arr, where)
    idx = _require(indices, where)
    n = a.size if axis is None else a.shape[axis]
    return SimArray(numpy.take_along_axis(a, _wrapped_indices(SimArray(idx), n, where), axis))


def _put_along_axis(arr, indices, values, axis):
    where = "cupy.put_along_axis"
    a = _require(arr, where)
    idx = _require(indices, where)
    n = a.size if axis is None else a.shape[axis]
    numpy.put_along_axis(a, _wrapped_indices(SimArray(idx), n, where), _unwrap(values, where), axis)


def _bool_result(f):
    def call(*args, **kw):
        return SimArray(numpy.asarray(bool(f(*args, **kw))))
    call.__name__ = f.__name__
    return call


simnp.asarray = _asarray
simnp.asanyarray = _asarray
simnp.array = _array
simnp.asnumpy = _asnumpy
simnp.take = _take
simnp.put = _put
simnp.take_along_axis = _take_along_axis
simnp.put_along_axis = _put_along_axis
for _name in ("allclose", "array_equal", "array_equiv"):  # CuPy returns 0-d arrays here
    setattr(simnp, _name, _bool_result(getattr(simnp, _name)))
del _name
