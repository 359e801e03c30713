"""The simulated device array: ``SimArray`` (a simulated ``cupy.ndarray``), ``SimDevice`` and the
helpers that wrap, unwrap and index NumPy arrays under CuPy's rules.

The generated ndarray methods and operators are attached to ``SimArray`` by ``methods.py``.
"""
from __future__ import annotations

import contextlib
import operator
import sys

import numpy

_IMPLICIT_MSG = ("Implicit conversion to a NumPy array is not allowed. "
                 "Please use `.get()` to construct a NumPy array explicitly.")


def _host_msg(where, host):
    shape = getattr(host, "shape", None)
    return (f"{where}: cannot mix a device array (SimArray, the simulated cupy.ndarray on "
            f"device 'cuda') with a host array (numpy.ndarray, shape {shape}); move one side "
            "explicitly (backend.asarray(...) to the device, .get() to the host)")


# ----------------------------------------------------------------------------- host syncs
# On a GPU, reading a device value on the host (float(a), bool(a), a.item(), a.get(), ...)
# waits for every queued kernel to finish: a stall of the whole pipeline. Each such read of a
# SimArray is counted here, with the line of minigen that asked (count_syncs()).
_sync_log = None


def _synced(kind):
    if _sync_log is None:
        return
    f = sys._getframe(2)
    while f is not None and "simulated_cuda" in f.f_code.co_filename:
        f = f.f_back
    where = []  # the line that asked, and the one that called it
    while f is not None and len(where) < 2:
        where.append(f"{_short(f.f_code.co_filename)}:{f.f_lineno} ({f.f_code.co_name})")
        f = f.f_back
    key = (kind, " <- ".join(where))
    _sync_log[key] = _sync_log.get(key, 0) + 1


def _short(path):
    i = path.rfind("minigen")
    return path[i:] if i >= 0 else path


@contextlib.contextmanager
def count_syncs():
    """``with count_syncs() as log:`` -- ``log`` maps (kind, the minigen line that asked) to
    how many times device values were read on the host inside the block."""
    global _sync_log
    outer, _sync_log = _sync_log, {}
    log = _sync_log
    try:
        yield log
    finally:
        _sync_log = outer


# ----------------------------------------------------------------------------- launches
# On a GPU each array operation that computes is a kernel launch (CuPy's Python plus the
# driver's, ~5-10 us) whatever the array's size. count_launches() counts them here, roughly:
# a device array created with memory of its own (an op's output; views, reshapes and
# ``empty`` are free), and each write into an existing array (in-place operators, ``out=``,
# ``a[k] = v``, ``fill``, scatter-adds, a fused kernel's call).
_launch_log = None


def _launched(kind="op"):
    if _launch_log is not None:
        _launch_log[kind] = _launch_log.get(kind, 0) + 1


@contextlib.contextmanager
def count_launches():
    """``with count_launches() as log:`` -- ``log`` maps 'op' (a new array computed), 'write'
    (into an existing one) and 'fused' (a fused kernel) to how many happened in the block."""
    global _launch_log
    outer, _launch_log = _launch_log, {}
    log = _launch_log
    try:
        yield log
    finally:
        _launch_log = outer


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
        _synced("get")
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
        _synced("item")
        return self._a.item(*args)

    def tolist(self):
        _synced("tolist")
        return self._a.tolist()

    def __float__(self):
        _synced("float")
        return float(self._a)

    def __int__(self):
        _synced("int")
        return int(self._a)

    def __complex__(self):
        _synced("complex")
        return complex(self._a)

    def __bool__(self):
        _synced("bool")
        return bool(self._a)

    def __index__(self):
        _synced("index")
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
        if _launch_log is not None and type(r) is numpy.ndarray and r.base is None:
            _launched()  # advanced indexing: a gather kernel (basic slicing is a view)
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
        _launched("write")
        self._a[key] = value

    def take(self, indices, axis=None, out=None, mode="wrap"):
        from .namespace import simnp  # namespace.py imports this module: look simnp up at call time
        return simnp.take(self, indices, axis=axis, out=out, mode=mode)

    def put(self, indices, values, mode="wrap"):
        from .namespace import simnp  # namespace.py imports this module: look simnp up at call time
        simnp.put(self, indices, values, mode=mode)
