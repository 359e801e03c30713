"""The one seam between devices: 'cpu' is NumPy, 'cuda' is CuPy.

Every other module asks this one for the array module (``xp``) of a tensor or a device;
nothing else imports ``cupy``. What NumPy and CuPy do differently is handled here, once:

* host copies            ``Backend.to_numpy`` (CuPy refuses ``numpy.asarray(cupy_array)``)
* scatter-add            ``numpy.add.at`` against ``cupyx.scatter_add``
* random generators      ``numpy.random.Generator(PCG64)`` against ``cupy.random`` generators
* index bounds           CuPy wraps out-of-range integer indices silently where NumPy raises,
                         so ``check_index`` checks bounds itself on every device
* timing                 ``synchronize()`` waits for queued GPU work before a timer is read
* fusion                 a function of raw arrays decorated ``@fused`` runs as one CUDA kernel
                         on a GPU (``Backend.fused``), as its own NumPy operations elsewhere

A backend is registered under a device type. The test suite registers a *simulated* CUDA
backend (``minigen.testing.simulated_cuda``) under ``'cuda'``: a CPU stand-in whose arrays
refuse implicit conversion to NumPy and refuse to mix with host arrays, as CuPy's do.
"""
from __future__ import annotations

import os

import numpy

from . import threads

# ----------------------------------------------------------------------------- dtypes
# minigen's dtypes are NumPy's dtype objects (CuPy uses the same ones).
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
float16 = numpy.dtype("float16")
int64 = numpy.dtype("int64")
int32 = numpy.dtype("int32")
int8 = numpy.dtype("int8")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")
complex64 = numpy.dtype("complex64")
complex128 = numpy.dtype("complex128")

_default_dtype = float32

_DTYPE_NAMES = {
    "float32": float32, "float": float32, "float64": float64, "double": float64,
    "float16": float16, "half": float16, "int64": int64, "long": int64, "int32": int32,
    "int": int32, "int8": int8, "uint8": uint8, "bool": bool_,
    "complex64": complex64, "cfloat": complex64, "complex128": complex128, "cdouble": complex128,
}


def as_dtype(dtype):
    """Turn ``minigen.float32``, ``'float32'``, ``numpy.float32`` or ``float`` into a dtype."""
    if dtype is None:
        return None
    if isinstance(dtype, numpy.dtype):
        return dtype
    if dtype is float:
        return _default_dtype
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    if dtype is complex:
        return complex64 if _default_dtype == float32 else complex128
    if isinstance(dtype, str) and dtype in _DTYPE_NAMES:
        return _DTYPE_NAMES[dtype]
    try:
        return numpy.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; use minigen.float32, float64, int64 or bool")


def get_default_dtype():
    return _default_dtype


def set_default_dtype(dtype):
    """Set the floating dtype that creation functions use when none is given."""
    global _default_dtype
    dtype = as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default_dtype = dtype


def is_floating(dtype):
    return dtype.kind == "f"


# ----------------------------------------------------------------------------- devices
class device:
    """A device name as in PyTorch: ``device('cpu')``, ``device('cuda')``, ``device('cuda:0')``.

    Compares equal to its string form, so ``t.device == 'cpu'`` works.
    """

    __slots__ = ("type", "index")
    _cache: dict = {}

    def __new__(cls, spec="cpu", index=None):
        if isinstance(spec, device):
            return spec
        key = (spec, index)
        hit = cls._cache.get(key)
        if hit is not None:
            return hit
        if isinstance(spec, int) and not isinstance(spec, bool):
            # an integer is a GPU's ordinal, as in PyTorch: device(0) is cuda:0
            spec, index = f"cuda:{spec}", None
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda' (or a GPU ordinal, "
                            f"0), got {spec!r}")
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"device: unknown device type {spec!r}; expected 'cpu' or 'cuda'")
        if idx:
            index = int(idx)
        if kind == "cuda" and index not in (None, 0):
            raise ValueError(f"device: minigen uses one GPU, cuda:0; got {spec!r}")
        self = object.__new__(cls)
        self.type = kind
        self.index = None if kind == "cpu" else 0
        cls._cache[key] = self
        return self

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (ValueError, TypeError):
                return False
        return isinstance(other, device) and other.type == self.type

    def __hash__(self):
        return hash(self.type)

    def __str__(self):
        return self.type

    def __repr__(self):
        return f"device(type='{self.type}')"


# ----------------------------------------------------------------------------- backends
class Backend:
    """What one device needs: its array module and the few calls that differ between them."""

    name = "cpu"
    xp = numpy
    array_types: tuple = (numpy.ndarray,)
    array_type = numpy.ndarray  # the type its ops return (array_types may list more)

    def asarray(self, data, dtype=None):
        """Device array from host data (a NumPy array, Python numbers, nested lists)."""
        return numpy.asarray(data, dtype=dtype)

    def to_numpy(self, a):
        """A host copy (NumPy array) of a device array."""
        return numpy.array(a, copy=True)

    def scatter_add(self, target, index, values):
        """target[index] += values, adding repeated indices (in place).

        For rows picked by one integer index (an embedding's gradient), ``numpy.add.at`` does
        one small add per row; sorting the index and summing each run of equal indices with
        ``add.reduceat`` is ~7x faster (each run is summed in its original order)."""
        if (isinstance(index, numpy.ndarray) and index.ndim == 1 and index.dtype.kind in "iu"
                and index.size >= 256 and values.shape == index.shape + target.shape[1:]
                and index.min() >= 0):  # (-1 and n-1 would sort apart yet hit one row)
            order = numpy.argsort(index, kind="stable")
            idx = index[order]
            starts = numpy.flatnonzero(numpy.concatenate(([True], idx[1:] != idx[:-1])))
            target[idx[starts]] += numpy.add.reduceat(values[order], starts, axis=0)
            return
        numpy.add.at(target, index, values)

    def generator(self, seed):
        return numpy.random.Generator(numpy.random.PCG64(seed))

    def synchronize(self):
        pass

    def as_strided(self, a, shape, strides):
        return numpy.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)

    # elements per block for blockwise(): 128k float32 = 512 KiB, inside a core's L2 with the
    # temporaries (32k blocks were 5-10% slower for GELU at 1 thread, and at 2 threads each
    # thread's many short calls wait on the other for Python's lock: 4.9 ms against 3.0 ms)
    block = 131072

    def parallel(self, fn, n, nbytes, blas=False):
        """``[fn(lo, hi), ...]`` over [0, n) cut into contiguous ranges, one per host thread
        (``minigen/threads.py``), for work of ``nbytes`` whose rows are independent; too little
        work, or one thread, is one call ``fn(0, n)``. ``blas=True``: the parts call BLAS
        (which then runs on one thread per part). On a GPU (any backend but 'cpu') always one
        call: each op there is already one kernel over the whole array."""
        if self.name != "cpu":
            return [fn(0, n)]
        return threads.parallel(fn, threads.ranges(n, nbytes), blas=blas)

    def blockwise(self, fn, *xs):
        """``fn(xp, *xs)`` for an elementwise ``fn`` that makes many passes over its inputs (the
        normal CDF makes ~40). On a CPU each pass over a big array streams it from memory;
        done in cache-sized blocks, every pass after the first reads from cache (GELU on 4M
        floats: 18-20 ms against 28-31 ms in one go), and the array is shared out among the
        host threads (``parallel``), each doing its part a block at a time. The inputs all
        have one shape; ``fn`` returns an array of that shape, or a tuple of them. On a GPU
        one launch over the whole array is best, so CupyBackend calls ``fn`` once."""
        xp, blk = self.xp, self.block
        if self.kernels is not None:  # a device of kernels: one launch over the whole array
            return self.fused(fn, *xs)
        if xs[0].ndim == 0:
            # NumPy answers a 0-d array with a scalar, which fn's in-place steps cannot write
            # into: run fn on one-element arrays and give back 0-d ones
            out = fn(xp, *[x.reshape(1) for x in xs])
            return tuple(o.reshape(()) for o in out) if isinstance(out, tuple) else out.reshape(())
        if xs[0].size <= blk and xs[0].nbytes < 2 * threads.MIN_PART_BYTES:  # one small block
            return fn(xp, *xs)
        shape = xs[0].shape
        flats = [xp.ascontiguousarray(x).reshape(-1) for x in xs]
        # a one-element call tells the outputs' number and dtypes
        probe = fn(xp, *[f[:1] for f in flats])
        single = not isinstance(probe, tuple)
        outs = [xp.empty(flats[0].shape, part.dtype) for part in ((probe,) if single else probe)]

        def run(lo, hi):  # elements lo .. hi-1, a block at a time
            for i in range(lo, hi, blk):
                j = min(i + blk, hi)
                parts = fn(xp, *[f[i:j] for f in flats])
                for out, part in zip(outs, (parts,) if single else parts):
                    out[i:j] = part

        self.parallel(run, flats[0].size, sum(f.nbytes for f in flats))
        outs = tuple(out.reshape(shape) for out in outs)
        return outs[0] if single else outs

    def sum(self, x, axes=None, keepdims=False):
        """``x.sum(axis=axes, keepdims=keepdims)``; for big C-contiguous float arrays summed
        over their leading axes, or over short trailing rows, a product with a vector of ones.

        NumPy sums an (M, N) array over axis 0 one row at a time, and over axis 1 one short
        row at a time; both are matrix-vector products with ones, which BLAS runs 3-6x faster
        (bias gradients and normalisation statistics are such sums). Over the leading axes
        the rounding is the same (a running sum down each column); over rows of at most 4096
        elements it is within a few ulp of NumPy's pairwise sum."""
        if (axes is None or x.dtype not in (float32, float64) or x.size < 65536
                or not x.flags.c_contiguous):
            return x.sum(axis=axes, keepdims=keepdims)
        nd = x.ndim
        axes = tuple(sorted(a % nd for a in axes))
        k = len(axes)
        m = 1
        for a in axes:
            m *= x.shape[a]
        if axes == tuple(range(k)):  # leading axes: ones(m) @ x as (m, rest)
            y = self.xp.ones(m, dtype=x.dtype) @ x.reshape(m, -1)
        elif axes == tuple(range(nd - k, nd)) and m <= 4096:  # trailing: x as (rest, m) @ ones
            y = x.reshape(-1, m) @ self.xp.ones(m, dtype=x.dtype)
        else:
            return x.sum(axis=axes, keepdims=keepdims)
        kept = [1 if i in axes else n for i, n in enumerate(x.shape)]
        return y.reshape(kept if keepdims else [n for i, n in enumerate(x.shape) if i not in axes])

    def where(self, cond, a, b):
        """``where(cond, a, b)`` for float arrays. NumPy's ``where`` branches per element, so an
        unpredictable mask makes it ~15x slower than a multiply; for finite values the blend
        a*m + b*(1-m) gives exactly the same numbers (x*1 + y*0 = x), so it is used instead."""
        if (a.dtype.kind == "f" and a.dtype == b.dtype and numpy.size(cond) >= 4096
                and numpy.isfinite(a).all() and numpy.isfinite(b).all()):
            m = cond.astype(a.dtype)
            out = a * m
            m -= 1.0
            m *= b
            out -= m
            return out
        return numpy.where(cond, a, b)

    def is_available(self):
        return True

    def memory_allocated(self):
        return None


    # what compiles and runs ``@fused`` functions' CUDA twins: a module with CuPy's
    # ElementwiseKernel, empty and ascontiguousarray (cupy itself on a GPU); None: the
    # functions run as they are
    kernels = None

    def fused(self, fn, *args):
        """``fn(xp, *args)``, a function of raw arrays; if ``@fused`` gave it a CUDA twin and this
        device runs twins (``kernels``), the twin instead: one kernel for all its steps."""
        twin = getattr(fn, "cuda", None)
        if self.kernels is not None and twin is not None and _fused_enabled and twin.accepts(args):
            return twin(self.kernels, *args)
        return fn(self.xp, *args)


# ----------------------------------------------------------------------------- fused kernels
# On a GPU each array operation is one kernel launch plus CuPy's Python around it (~10 us),
# whatever the array's size; a NumPy function that makes 30 passes is 30 launches there. A
# function decorated with @fused carries a CUDA twin: one elementwise kernel that computes the
# same outputs in one pass, which CupyBackend runs instead (cupy.ElementwiseKernel, compiled
# once per dtype). The NumPy function stays the reference: the CPU runs it, and the tests run
# the twin's CUDA body on the host (compiled as C++, minigen.testing.kernels) against it.
FUSED_KERNELS = []  # every twin, for the tests
_fused_enabled = os.environ.get("MINIGEN_FUSED", "1") != "0"


def set_fused(enabled):
    """Use the fused CUDA kernels (default) or, with ``False``, the functions' own array
    operations on the GPU too (for timing the difference; ``MINIGEN_FUSED=0`` at start)."""
    global _fused_enabled
    _fused_enabled = bool(enabled)


class CudaTwin:
    """One elementwise CUDA kernel: ``inputs`` are read, ``inouts`` read and written in place,
    ``outputs`` written (allocated here, in the inputs' broadcast shape), ``scalars`` are
    numbers; every one has the arrays' floating type ``T`` (float or double). ``body`` is
    CUDA C++ run once per element, each name standing for that element (CuPy's
    ElementwiseKernel convention; ``i``, the element's index, is reserved).

    An input or inout given as ``(label, (name1, name2, ...), axis)`` is one argument that
    the kernel sees as equal blocks along ``axis``, one name each: the LSTM's (4H, B) gate
    block, say, as its o, i, f, g rows. An input named ``"raw name"`` is a whole array that the
    body indexes itself (C order, ``name[k]``; it takes no part in the broadcast), and a
    scalar named ``"int name"`` an integer (``long long``), for index arithmetic."""

    def __init__(self, name, inputs, outputs, body, inouts=(), scalars=()):
        self.name, self.body = name, body
        self.in_args = tuple(a.split()[-1] if isinstance(a, str) else a for a in inputs)
        self.raw = frozenset(a.split()[-1] for a in inputs
                             if isinstance(a, str) and a.split()[0] == "raw")
        self.inout_args = tuple(inouts)
        self.inputs, self.inouts = _names(self.in_args), _names(self.inout_args)
        self.outputs = tuple(outputs)
        self.scalars = tuple(a.split()[-1] for a in scalars)
        self.int_scalars = frozenset(a.split()[-1] for a in scalars if a.split()[0] == "int")
        for n in self.inputs + self.inouts + self.outputs + self.scalars:
            # CuPy's generated kernel names its own variables i, _ind and _raw_<name>
            if not n.isidentifier() or n.startswith("_") or n == "i":
                raise ValueError(f"fused kernel {name}: parameter name {n!r} must be an "
                                 "identifier that is not 'i' and does not start with '_'")
        self._compiled = {}

    def split(self, args):
        """(inputs, inouts, scalars) of the kernel from the NumPy function's arguments, the
        block arguments cut into their blocks."""
        na, ni = len(self.in_args), len(self.inout_args)
        return (_blocks(self.in_args, args[:na]), _blocks(self.inout_args, args[na:na + ni]),
                args[na + ni:])

    def __call__(self, xp, *args):
        """Run through ``xp`` (cupy, or a stand-in with its ElementwiseKernel, empty and
        ascontiguousarray); args in the NumPy function's order: inputs, inouts, scalars."""
        k = self._compiled.get(xp)
        if k is None:
            ins = [f"raw T {n}" if n in self.raw else f"T {n}" for n in self.inputs]
            ins += [f"int64 {n}" if n in self.int_scalars else f"T {n}" for n in self.scalars]
            outs = ", ".join(f"T {n}" for n in self.inouts + self.outputs)
            k = self._compiled[xp] = xp.ElementwiseKernel(", ".join(ins), outs, self.body,
                                                          "minigen_" + self.name)
        arrays, inouts, scalars = self.split(args)
        dt = (arrays + inouts)[0].dtype
        shape = numpy.broadcast_shapes(*(a.shape for n, a in zip(self.inputs, arrays)
                                         if n not in self.raw), *(a.shape for a in inouts))
        outs = [xp.empty(shape, dt) for _ in self.outputs]
        nums = [numpy.int64(v) if n in self.int_scalars else dt.type(v)
                for n, v in zip(self.scalars, scalars)]
        arrays = [xp.ascontiguousarray(a) if n in self.raw else a  # (the body indexes C order)
                  for n, a in zip(self.inputs, arrays)]
        k(*arrays, *nums, *inouts, *outs)
        return outs[0] if len(outs) == 1 else (tuple(outs) if outs else None)

    def accepts(self, args):
        """The twin is compiled for float32 and float64 arrays of one dtype; anything else
        (float16, mixed dtypes) runs the NumPy function's own operations."""
        n = len(self.in_args) + len(self.inout_args)
        dts = {getattr(a, "dtype", None) for a in args[:n]}
        return len(dts) == 1 and dts <= {float32, float64}


def _names(specs):
    names = []
    for spec in specs:
        names.extend([spec] if isinstance(spec, str) else spec[1])
    return tuple(names)


def _blocks(specs, arrays):
    out = []
    for spec, a in zip(specs, arrays):
        if isinstance(spec, str):
            out.append(a)
            continue
        _, parts, axis = spec
        axis %= a.ndim
        k = a.shape[axis] // len(parts)
        for j in range(len(parts)):
            idx = [slice(None)] * a.ndim
            idx[axis] = slice(j * k, (j + 1) * k)
            out.append(a[tuple(idx)])
    return tuple(out)


def fused(inputs, outputs, body, inouts=(), scalars=()):
    """Decorator: give ``fn(xp, *inputs, *inouts, *scalars)`` (which returns its outputs and
    updates its inouts in place) a CUDA twin with the same meaning; see ``CudaTwin``."""
    def attach(fn):
        fn.cuda = CudaTwin(fn.__name__.strip("_"), inputs, outputs, body, inouts, scalars)
        fn.cuda.reference = fn
        FUSED_KERNELS.append(fn.cuda)
        return fn
    return attach


class CupyBackend(Backend):
    """CuPy on a real GPU. Imported lazily: a machine without CuPy or a GPU imports minigen fine."""

    name = "cuda"

    def __init__(self):
        import cupy  # the only place minigen imports cupy
        import cupyx

        self.xp = self.kernels = cupy
        self._cupyx = cupyx
        self.array_types = (cupy.ndarray,)
        self.array_type = cupy.ndarray

    def asarray(self, data, dtype=None):
        return self.xp.asarray(data, dtype=dtype)

    def to_numpy(self, a):
        return self.xp.asnumpy(a)

    def scatter_add(self, target, index, values):
        self._cupyx.scatter_add(target, index, values)

    def generator(self, seed):
        return _CupyGenerator(self.xp, seed)

    def synchronize(self):
        self.xp.cuda.Stream.null.synchronize()

    def as_strided(self, a, shape, strides):
        return self.xp.lib.stride_tricks.as_strided(a, shape, strides)

    def where(self, cond, a, b):
        return self.xp.where(cond, a, b)

    def sum(self, x, axes=None, keepdims=False):
        return x.sum(axis=axes, keepdims=keepdims)  # CuPy's reduction kernel is the fast path

    def is_available(self):
        try:
            return bool(self.xp.cuda.is_available())
        except Exception:
            return False

    def memory_allocated(self):
        return self.xp.get_default_memory_pool().used_bytes()


class _CupyGenerator:
    """CuPy's ``Generator`` lacks some of NumPy's methods (``permutation``); this adds them."""

    def __init__(self, cupy, seed):
        self._xp = cupy
        self._g = cupy.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(self._g, name)

    def permutation(self, n):
        return self._xp.argsort(self._g.random(int(n)))

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._g.standard_normal(size) * scale + loc


CPU = Backend()
_backends = {"cpu": CPU}
_by_array_type = {numpy.ndarray: CPU}
_cuda_error = None


def register_backend(kind, backend):
    """Register ``backend`` for device type ``kind`` (the test suite's simulated CUDA uses this)."""
    _backends[kind] = backend
    for t in backend.array_types:
        _by_array_type[t] = backend
    _generators.pop(kind, None)


def unregister_backend(kind):
    backend = _backends.pop(kind, None)
    if backend is not None:
        for t in backend.array_types:
            _by_array_type.pop(t, None)
    _generators.pop(kind, None)


def _load_cupy():
    global _cuda_error
    if "cuda" in _backends or _cuda_error is not None:
        return
    try:
        b = CupyBackend()
    except Exception as e:  # ImportError, or a broken CUDA install
        _cuda_error = f"CuPy could not be imported ({type(e).__name__}: {e})"
        return
    if not b.is_available():
        _cuda_error = "CuPy is installed but sees no CUDA GPU"
        return
    register_backend("cuda", b)


def cuda_is_available():
    _load_cupy()
    return "cuda" in _backends and _backends["cuda"].is_available()


def get_backend(dev):
    """The backend of a device ('cpu', 'cuda', or a ``device``)."""
    kind = dev.type if isinstance(dev, device) else device(dev).type
    b = _backends.get(kind)
    if b is None:
        _load_cupy()
        b = _backends.get(kind)
        if b is None:
            raise RuntimeError(
                f"device 'cuda' is not available: {_cuda_error}. Install the extra with "
                "`pip install minigen[cuda12]` (or cuda13) on a machine with an NVIDIA GPU, "
                "or use device='cpu'.")
    return b


def backend_of(array):
    """The backend that owns an array, from its type."""
    b = _by_array_type.get(type(array))
    if b is None:
        raise TypeError(f"minigen: {type(array).__name__} is not an array of any registered device")
    return b


def synchronize(dev=None):
    """Wait for all queued work on a device (a no-op on CPU). Call before reading a timer."""
    if dev is None:
        for b in list(_backends.values()):
            b.synchronize()
    else:
        get_backend(dev).synchronize()


# ----------------------------------------------------------------------------- randomness
_seed = None
_generators: dict = {}


def manual_seed(seed):
    """Seed every device's generator; a CPU run then repeats bit for bit."""
    global _seed
    _seed = int(seed)
    _generators.clear()
    return _seed


def generator_for(kind):
    g = _generators.get(kind)
    if g is None:
        seed = _seed if _seed is not None else int(numpy.random.SeedSequence().entropy % (2**63))
        g = _generators[kind] = get_backend(kind).generator(seed)
    return g


def get_rng_state():
    """The CPU generator's state, as a dict of plain numbers (checkpoints store it)."""
    return generator_for("cpu").bit_generator.state


def set_rng_state(state):
    generator_for("cpu").bit_generator.state = state


# ----------------------------------------------------------------------------- bounds
def value_range(a):
    """(min, max) of a non-empty integer array as Python ints, in one read from the device.

    On a GPU each read of a device value on the host waits for all queued kernels (a host
    sync); the range checks below run every step (embedding indices, class targets), so they
    read both ends together: one sync, not two."""
    if type(a) is numpy.ndarray:
        return int(a.min()), int(a.max())
    lo, hi = backend_of(a).xp.stack((a.min(), a.max())).tolist()
    return int(lo), int(hi)


def check_index(xp, index, size, op, dim=0):
    """Raise IndexError if any integer in ``index`` lies outside [-size, size).

    NumPy raises on its own, but CuPy wraps out-of-range indices silently, so minigen checks
    on every device before it gathers or scatters.
    """
    if index.size == 0:
        return
    lo, hi = value_range(index)
    if hi >= size or lo < -size:
        bad = hi if hi >= size else lo
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {dim} with size {size}")
