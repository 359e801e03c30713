"""A simulated CUDA device: a CPU stand-in for CuPy, so the test suite exercises the GPU code path.

No machine that builds minigen has a GPU. This module provides a backend that is registered under
the device type ``'cuda'`` (``install()`` / ``uninstall()`` / ``with simulated_cuda():``) and whose
arrays behave like ``cupy.ndarray`` in the ways that catch device bugs:

* ``SimArray`` wraps a NumPy array (attribute ``_a``) but is *not* one. ``numpy.asarray(sim)`` and
  ``numpy.array(sim)`` raise ``TypeError`` with CuPy's message; a host copy must be asked for
  explicitly (``sim.get()``, ``backend.to_numpy(sim)``, ``simnp.asnumpy(sim)``).
* A ``SimArray`` never mixes with a host ``numpy.ndarray`` (of any ndim, 0-d included): operators
  (both orders, in place too), ``simnp`` functions, ``__setitem__`` values and index arrays all
  raise ``TypeError`` naming both types. Python scalars and NumPy scalars (``numpy.float32(1)``)
  mix fine, as in CuPy. ``simnp.asarray`` / ``simnp.array`` accept host arrays: that is the
  explicit host-to-device copy, as ``cupy.asarray(numpy_array)`` is.
* Results are always device arrays: reductions and scalar indexing give 0-d ``SimArray``\\ s,
  never NumPy scalars (CuPy has no device scalars either). ``float(a)``, ``int(a)``, ``bool(a)``,
  ``a.item()``, ``a.tolist()`` work (on CuPy they synchronize and copy).
* **Out-of-range indices wrap.** CuPy wraps out-of-range *integer-array* indices silently (modulo
  the axis size) where NumPy raises ``IndexError``. The simulation reproduces this in
  ``SimArray.__getitem__`` / ``__setitem__`` with integer-array (or list) indices, in
  ``simnp.take`` / ``put`` / ``take_along_axis`` / ``put_along_axis``, in ``simnp.<ufunc>.at``
  and in ``SimulatedCudaBackend.scatter_add``. So a test that feeds a bad index only sees an
  ``IndexError`` if minigen's own bounds check (``backend.check_index``) catches it, exactly as
  on a real GPU. Plain Python-int indices still raise, as in CuPy.

Deliberate strictness beyond CuPy (so NumPy calls on device data are caught even where CuPy's
``__array_ufunc__`` / ``__array_function__`` would quietly dispatch them back to CuPy):
``numpy.exp(sim)``, ``numpy.sum(sim)`` and every other NumPy function or ufunc called *directly*
on a ``SimArray`` raise ``TypeError``; code must go through the backend's ``xp`` (here ``simnp``).
Ufuncs through ``simnp`` reject Python lists as operands (as CuPy's do); other ``simnp``
functions accept lists and tuples of numbers where CuPy is sometimes stricter.

Random numbers: ``SimulatedCudaBackend.generator(seed)`` returns a ``SimGenerator`` built on a
NumPy PCG64 generator seeded from ``(seed, 1)``: repeatable for a seed, but a different stream from
the CPU generator for the same seed, as on real hardware.

Not simulated: asynchrony (``synchronize()`` is a no-op), memory pools, streams, multiple devices.
"""
from __future__ import annotations

import contextlib
import gc
import operator
import types

import numpy

from minigen import backend as _backend

__all__ = [
    "SimArray", "SimGenerator", "SimulatedCudaBackend", "simnp", "install", "uninstall",
    "simulated_cuda",
]

_IMPLICIT_MSG = ("Implicit conversion to a NumPy array is not allowed. "
                 "Please use `.get()` to construct a NumPy array explicitly.")


def _host_msg(where, host):
    shape = getattr(host, "shape", None)
    return (f"{where}: cannot mix a device array (SimArray, the simulated cupy.ndarray on "
            f"device 'cuda') with a host array (numpy.ndarray, shape {shape}); move one side "
            "explicitly (backend.asarray(...) to the device, .get() to the host)")


# ----------------------------------------------------------------------------- wrap / unwrap
_PLAIN = frozenset({int, float, bool, complex, str, bytes, type(None), slice, type(Ellipsis)})


def _unwrap(x, where):
    """SimArray -> its ndarray (recursively through lists/tuples); a host ndarray is an error."""
    t = type(x)
    if t is SimArray:
        return x._a
    if t in _PLAIN:
        return x
    if t is list:
        return [_unwrap(v, where) for v in x]
    if t is tuple:
        return tuple([_unwrap(v, where) for v in x])
    if isinstance(x, numpy.ndarray):
        raise TypeError(_host_msg(where, x))
    return x


def _unwrap_host(x):
    """Like _unwrap, but host arrays are welcome (explicit host-to-device copies)."""
    t = type(x)
    if t is SimArray:
        return x._a
    if t is list:
        return [_unwrap_host(v) for v in x]
    if t is tuple:
        return tuple([_unwrap_host(v) for v in x])
    return x


def _wrap(r):
    """ndarray / NumPy scalar -> SimArray (recursively through lists/tuples); anything else as is."""
    t = type(r)
    if t is numpy.ndarray:
        return SimArray(r)
    if t is tuple:
        return tuple([_wrap(v) for v in r])
    if t is list:
        return [_wrap(v) for v in r]
    if isinstance(r, numpy.generic):
        return SimArray(numpy.asarray(r))
    if isinstance(r, numpy.ndarray):  # a subclass (memmap, ...): keep only the plain array
        return SimArray(r.view(numpy.ndarray))
    return r


def _operand(x, where):
    """An operator's other operand: SimArray or scalar; NotImplemented for anything else."""
    t = type(x)
    if t is SimArray:
        return x._a
    if t is int or t is float or t is bool or t is complex or isinstance(x, numpy.generic):
        return x
    if isinstance(x, numpy.ndarray):
        raise TypeError(_host_msg(where, x))
    return NotImplemented


def _wrap_index_arrays(items, shape):
    """Replace out-of-range integer index arrays in ``items`` (a list) by their value mod size."""
    ndim = len(shape)
    consumed = 0
    for k in items:
        if k is None or k is Ellipsis or type(k) is bool or isinstance(k, numpy.bool_):
            continue
        if isinstance(k, numpy.ndarray) and k.dtype.kind == "b":
            consumed += k.ndim
        else:
            consumed += 1
    ax = 0
    for i, k in enumerate(items):
        if k is None or type(k) is bool or isinstance(k, numpy.bool_):
            continue
        if k is Ellipsis:
            ax += max(ndim - consumed, 0)
            continue
        if isinstance(k, numpy.ndarray):
            if k.dtype.kind == "b":
                ax += k.ndim
                continue
            if k.dtype.kind in "iu" and ax < ndim:
                n = shape[ax]
                if n > 0 and k.size and (k.min() < -n or k.max() >= n):
                    items[i] = k % n  # CuPy wraps where NumPy raises
        ax += 1
    return items


def _index_key(key, shape, where="SimArray index"):
    """Translate an index for the wrapped ndarray, wrapping out-of-range integer arrays as CuPy."""
    t = type(key)
    if t is int or t is slice or key is None or key is Ellipsis:
        return key
    single = t is not tuple
    items = [key] if single else list(key)
    has_array = False
    for i, k in enumerate(items):
        tk = type(k)
        if tk is SimArray:
            items[i] = k._a
            has_array = True
        elif tk is list:
            if not k:
                items[i] = numpy.zeros(0, dtype=numpy.intp)
            else:
                items[i] = numpy.asarray(_unwrap(k, where))
            has_array = True
        elif isinstance(k, numpy.ndarray):
            raise TypeError(_host_msg(where, k) + " (index arrays must be device arrays)")
    if not has_array:
        return key
    items = _wrap_index_arrays(items, shape)
    return items[0] if single else tuple(items)


# ----------------------------------------------------------------------------- the array
class SimDevice:
    """What ``SimArray.device`` returns (CuPy returns a ``cupy.cuda.Device``)."""

    __slots__ = ()
    id = 0

    def synchronize(self):
        pass

    def use(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return isinstance(other, SimDevice)

    def __hash__(self):
        return hash("simulated-cuda-0")

    def __repr__(self):
        return "<CUDA Device 0 (simulated)>"


_DEVICE = SimDevice()

# Attributes of a NumPy array that would hand out host memory or host-only views.
_BLOCKED = frozenset({"data", "ctypes", "flat", "to_device", "tofile", "dump", "dumps"})


class SimArray:
    """A simulated ``cupy.ndarray``: wraps a NumPy array, refuses to turn into or mix with one."""

    __slots__ = ("_a",)
    __array_ufunc__ = None  # NumPy ufuncs/operators defer to us or raise TypeError
    __hash__ = None

    def __init__(self, a):
        self._a = a

    # --- refusing NumPy ----------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT_MSG)

    def __array_function__(self, func, types, args, kwargs):
        name = getattr(func, "__name__", str(func))
        msg = (f"numpy.{name}() was called on a device array (SimArray, the simulated "
               f"cupy.ndarray); call xp.{name} through the array's backend instead, or copy to "
               "the host explicitly with .get()")
        if numpy.ndarray in types:
            msg += "; it also mixes device and host (numpy.ndarray) arrays"
        raise TypeError(msg)

    # --- explicit host transfer --------------------------------------------------------------
    def get(self, stream=None, order="C", out=None, blocking=True):
        """A NumPy copy (as ``cupy.ndarray.get``)."""
        if out is not None:
            if not isinstance(out, numpy.ndarray):
                raise TypeError("get(out=...): out must be a numpy.ndarray")
            out[...] = self._a
            return out
        return self._a.copy(order=order)

    def set(self, arr, stream=None):
        """Copy a host array into this array (as ``cupy.ndarray.set``)."""
        if not isinstance(arr, numpy.ndarray):
            raise TypeError(f"set: expected a numpy.ndarray, got {type(arr).__name__}")
        if arr.shape != self._a.shape:
            raise ValueError(f"set: shape mismatch {arr.shape} vs {self._a.shape}")
        self._a[...] = arr

    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __bool__(self):
        return bool(self._a)

    def __index__(self):
        return operator.index(self._a)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __contains__(self, value):
        return bool((self == value).any())

    def __repr__(self):
        r = repr(self._a)
        if r.startswith("array("):
            lines = r[6:].split("\n")
            return "SimArray(" + "\n".join(
                [lines[0]] + [("   " + ln) if ln else ln for ln in lines[1:]])
        return f"SimArray({r})"

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec)

    def __copy__(self):
        return SimArray(self._a.copy())

    def __deepcopy__(self, memo):
        return SimArray(self._a.copy())

    def __reduce__(self):
        return (SimArray, (self._a.copy(),))

    # --- attributes --------------------------------------------------------------------------
    @property
    def shape(self):
        return self._a.shape

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def strides(self):
        return self._a.strides

    @property
    def nbytes(self):
        return self._a.nbytes

    @property
    def itemsize(self):
        return self._a.itemsize

    @property
    def flags(self):
        return self._a.flags

    @property
    def T(self):
        return SimArray(self._a.T)

    @property
    def mT(self):
        return SimArray(self._a.mT)

    @property
    def real(self):
        return _wrap(self._a.real)

    @property
    def imag(self):
        return _wrap(self._a.imag)

    @property
    def base(self):
        b = self._a.base
        return SimArray(b) if isinstance(b, numpy.ndarray) else None

    @property
    def device(self):
        return _DEVICE

    def __getattr__(self, name):
        # Only reached for names not defined on the class. Never forward dunders: NumPy probes
        # __array_interface__ / __array_struct__ / __dlpack__, which would leak the host array.
        if name.startswith("__") or name == "_a":
            raise AttributeError(name)
        if name in _BLOCKED:
            raise AttributeError(f"SimArray (simulated cupy.ndarray) has no host attribute {name!r}")
        attr = getattr(self._a, name)
        if callable(attr):
            where = f"SimArray.{name}"

            def method(*args, **kw):
                if args:
                    args = [_unwrap(a, where) for a in args]
                if kw:
                    kw = {k: _unwrap(v, where) for k, v in kw.items()}
                return _wrap(attr(*args, **kw))

            method.__name__ = name
            return method
        return _wrap(attr)

    # --- indexing ----------------------------------------------------------------------------
    def __getitem__(self, key):
        k = _index_key(key, self._a.shape)
        r = self._a[k]
        if type(r) is numpy.ndarray:
            return SimArray(r)
        # NumPy gives a scalar (a copy) for a full integer index; CuPy gives a 0-d *view*, so
        # ``x = a[0, 0]; x += 1`` changes ``a`` on the GPU. An added Ellipsis makes NumPy agree.
        if type(k) is tuple:
            if not any(i is Ellipsis for i in k):
                return SimArray(self._a[k + (Ellipsis,)])
        elif k is not Ellipsis:
            return SimArray(self._a[k, ...])
        return _wrap(r)

    def __setitem__(self, key, value):
        key = _index_key(key, self._a.shape, "SimArray.__setitem__")
        t = type(value)
        if t is SimArray:
            value = value._a
        elif t is list or t is tuple:
            value = _unwrap(value, "SimArray.__setitem__")
        elif isinstance(value, numpy.ndarray):
            raise TypeError(_host_msg("SimArray.__setitem__", value))
        self._a[key] = value

    def take(self, indices, axis=None, out=None, mode="wrap"):
        return simnp.take(self, indices, axis=axis, out=out, mode=mode)

    def put(self, indices, values, mode="wrap"):
        simnp.put(self, indices, values, mode=mode)


def _make_method(name):
    unbound = getattr(numpy.ndarray, name)
    where = f"SimArray.{name}"

    def method(self, *args, **kw):
        if args:
            args = [_unwrap(a, where) for a in args]
        if kw:
            kw = {k: _unwrap(v, where) for k, v in kw.items()}
        return _wrap(unbound(self._a, *args, **kw))

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
        return _wrap(fn(o, self._a) if reflected else fn(self._a, o))
    return op


def _make_iop(fn, symbol):
    def op(self, other):
        o = _operand(other, f"operator {symbol}=")
        if o is NotImplemented:
            return NotImplemented
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
    setattr(SimArray, f"__{_base}__", (lambda fn: lambda self: _wrap(fn(self._a)))(_fn))

del _name, _sym, _base, _fn, _ifn


# ----------------------------------------------------------------------------- simnp
def _wrap_function(f, where):
    def call(*args, **kw):
        if kw:
            kw = {k: _unwrap(v, where) for k, v in kw.items()}
        return _wrap(f(*[_unwrap(a, where) for a in args], **kw))

    call.__name__ = getattr(f, "__name__", where)
    call.__qualname__ = where
    call.__doc__ = getattr(f, "__doc__", None)
    call.__wrapped_numpy__ = f
    return call


def _ufunc_operand(x, where):
    t = type(x)
    if t is SimArray:
        return x._a
    if t is int or t is float or t is bool or t is complex or isinstance(x, numpy.generic):
        return x
    if isinstance(x, numpy.ndarray):
        raise TypeError(_host_msg(where, x))
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
        return _wrap(self._uf(*[_ufunc_operand(a, where) for a in args], **kw))

    def at(self, a, indices, b=None):
        where = self._where + ".at"
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


# ----------------------------------------------------------------------------- random
def _device(r, dtype=None):
    if type(r) is numpy.ndarray:
        return SimArray(r)
    return SimArray(numpy.asarray(r, dtype=dtype))


class SimGenerator:
    """The simulated ``cupy.random.Generator``: NumPy's Generator, device arrays out."""

    __slots__ = ("_g",)

    def __init__(self, generator):
        self._g = generator

    @property
    def bit_generator(self):
        return self._g.bit_generator

    def random(self, size=None, dtype=numpy.float64, out=None):
        if out is not None:
            self._g.random(size, dtype=dtype, out=_require(out, "Generator.random(out=)"))
            return out
        return _device(self._g.random(size, dtype=dtype), dtype)

    def standard_normal(self, size=None, dtype=numpy.float64, out=None):
        if out is not None:
            self._g.standard_normal(size, dtype=dtype,
                                    out=_require(out, "Generator.standard_normal(out=)"))
            return out
        return _device(self._g.standard_normal(size, dtype=dtype), dtype)

    def integers(self, low, high=None, size=None, dtype=numpy.int64, endpoint=False):
        w = "Generator.integers"
        return _device(self._g.integers(_unwrap(low, w), _unwrap(high, w), size=size,
                                        dtype=dtype, endpoint=endpoint), dtype)

    def permutation(self, x, axis=0):
        return _device(self._g.permutation(_unwrap(x, "Generator.permutation"), axis=axis))

    def shuffle(self, x, axis=0):
        self._g.shuffle(_require(x, "Generator.shuffle"), axis=axis)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=numpy.float64):
        w = "Generator.uniform"
        r = self._g.uniform(_unwrap(low, w), _unwrap(high, w), size)
        return _device(numpy.asarray(r).astype(dtype, copy=False))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=numpy.float64):
        w = "Generator.normal"
        r = self._g.normal(_unwrap(loc, w), _unwrap(scale, w), size)
        return _device(numpy.asarray(r).astype(dtype, copy=False))

    def choice(self, a, size=None, replace=True, p=None, axis=0, shuffle=True):
        w = "Generator.choice"
        return _wrap(numpy.asarray(self._g.choice(_unwrap(a, w), size=size, replace=replace,
                                                  p=_unwrap(p, w), axis=axis, shuffle=shuffle)))

    def __getattr__(self, name):
        if name.startswith("__") or name == "_g":
            raise AttributeError(name)
        f = getattr(self._g, name)
        if not callable(f):
            return f
        where = f"Generator.{name}"

        def call(*args, **kw):
            args = [_unwrap(a, where) for a in args]
            kw = {k: _unwrap(v, where) for k, v in kw.items()}
            r = f(*args, **kw)
            return None if r is None else _device(r) if not isinstance(r, (tuple, list)) else _wrap(r)

        call.__name__ = name
        return call

    def __repr__(self):
        return f"SimGenerator({self._g.bit_generator.__class__.__name__})"


def _default_rng(seed=None):
    if isinstance(seed, SimGenerator):
        return seed
    return SimGenerator(numpy.random.default_rng(seed))


simnp.random.default_rng = _default_rng
simnp.random.Generator = SimGenerator


# ----------------------------------------------------------------------------- the backend
class SimulatedCudaBackend(_backend.Backend):
    """The 'cuda' backend of the test suite: CuPy's rules, NumPy's arithmetic, the CPU's silicon."""

    name = "cuda"
    xp = simnp
    array_types = (SimArray,)
    array_type = SimArray

    def asarray(self, data, dtype=None):
        """Device array from host data (always a copy) or a device array (no copy if possible)."""
        return _asarray(data, dtype=dtype)

    def to_numpy(self, a):
        """A host copy (as ``cupy.asnumpy``)."""
        if type(a) is SimArray:
            return a._a.copy()
        return numpy.array(a, copy=True)

    def scatter_add(self, target, index, values):
        """``target[index] += values`` with repeated indices adding up (as ``cupyx.scatter_add``).

        Out-of-range integer indices wrap around, as on the GPU.
        """
        where = "scatter_add"
        a = _require(target, where)
        key = _index_key(index, a.shape, where)
        numpy.add.at(a, key, _unwrap(values, where))

    def generator(self, seed):
        if seed is None:
            return SimGenerator(numpy.random.default_rng())
        # Mix the seed so cuda's stream differs from cpu's for the same manual_seed().
        ss = numpy.random.SeedSequence([int(seed), 1])
        return SimGenerator(numpy.random.Generator(numpy.random.PCG64(ss)))

    def synchronize(self):
        pass

    def where(self, cond, a, b):
        return self.xp.where(cond, a, b)

    def sum(self, x, axes=None, keepdims=False):
        return x.sum(axis=axes, keepdims=keepdims)  # as CuPy: its own reduction kernel

    def as_strided(self, a, shape, strides):
        arr = _require(a, "as_strided")
        return SimArray(numpy.lib.stride_tricks.as_strided(arr, shape, strides, writeable=False))

    def is_available(self):
        return True

    def memory_allocated(self):
        """Bytes held by live simulated arrays (each underlying buffer counted once)."""
        seen = set()
        total = 0
        for o in gc.get_objects():
            if type(o) is not SimArray:
                continue
            a = o._a
            while True:
                b = a.base
                if isinstance(b, numpy.ndarray):
                    a = b
                elif isinstance(getattr(b, "base", None), numpy.ndarray):  # as_strided's holder
                    a = b.base
                else:
                    break
            if id(a) not in seen:
                seen.add(id(a))
                total += a.nbytes
        return total

    def __repr__(self):
        return "SimulatedCudaBackend()"


_installed = None


def install():
    """Register the simulated device under 'cuda' and return its backend."""
    global _installed
    if _installed is None:
        _installed = SimulatedCudaBackend()
    _backend.register_backend("cuda", _installed)
    return _installed


def uninstall():
    """Remove the 'cuda' backend registration (a real CuPy is looked for again afterwards)."""
    _backend.unregister_backend("cuda")


@contextlib.contextmanager
def simulated_cuda():
    """``with simulated_cuda() as b:`` -- the simulated device is 'cuda' inside the block."""
    previous = _backend._backends.get("cuda")
    b = install()
    try:
        yield b
    finally:
        uninstall()
        if previous is not None:  # put back what was there (a real GPU, or an outer install())
            _backend.register_backend("cuda", previous)
