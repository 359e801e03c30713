"""``SimulatedCudaBackend`` (the 'cuda' backend of the test suite) and its registration:
``install()``, ``uninstall()`` and the ``simulated_cuda()`` context manager.
"""
from __future__ import annotations

import contextlib
import gc
import os
import types

import numpy

from minigen import backend as _backend

from .array import SimArray, _index_key, _launched, _synced, _unwrap, count_launches, count_syncs
from .generator import SimGenerator
from .namespace import _asarray, _require, simnp


# ----------------------------------------------------------------------------- fused kernels
def _kernels():
    """The simulated device's stand-in for CuPy's ``ElementwiseKernel``: the CUDA twin's body
    compiled for the host (``minigen.testing.kernels``), run on the arrays inside SimArrays.
    So every test on the simulated device runs the twins' CUDA C++, as a GPU does. None (the
    NumPy functions run instead) without a C++ compiler, or with ``MINIGEN_SIM_KERNELS=0``."""
    from .. import kernels as host

    if host.host_compiler() is None or os.environ.get("MINIGEN_SIM_KERNELS", "1") == "0":
        return None

    class ElementwiseKernel(host.HostElementwiseKernel):
        def __call__(self, *args):
            where = f"ElementwiseKernel {self.name}"
            _launched("fused")
            return super().__call__(*[a._a if type(a) is SimArray else _unwrap(a, where)
                                      for a in args])

    mod = types.ModuleType("simulated_cuda_kernels")
    mod.ElementwiseKernel = ElementwiseKernel
    mod.empty = simnp.empty
    mod.ascontiguousarray = simnp.ascontiguousarray
    return mod


# ----------------------------------------------------------------------------- the backend
class SimulatedCudaBackend(_backend.Backend):
    """The 'cuda' backend of the test suite: CuPy's rules, NumPy's arithmetic, the CPU's silicon."""

    name = "cuda"
    xp = simnp
    array_types = (SimArray,)
    array_type = SimArray

    def __init__(self):
        self.kernels = _kernels()

    def asarray(self, data, dtype=None):
        """Device array from host data (always a copy) or a device array (no copy if possible)."""
        return _asarray(data, dtype=dtype)

    def to_numpy(self, a):
        """A host copy (as ``cupy.asnumpy``)."""
        if type(a) is SimArray:
            _synced("to_numpy")
            return a._a.copy()
        return numpy.array(a, copy=True)

    def scatter_add(self, target, index, values):
        """``target[index] += values`` with repeated indices adding up (as ``cupyx.scatter_add``).

        Out-of-range integer indices wrap around, as on the GPU.
        """
        where = "scatter_add"
        a = _require(target, where)
        key = _index_key(index, a.shape, where)
        _launched("write")
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


def count_step(step):
    """What one call of ``step()`` asks of the (simulated) GPU, after two warm-up calls:
    ``(syncs, launches, launches_unfused)``, the host syncs as ``count_syncs`` logs them and
    the kernel launches with the fused kernels and, in a fourth call, without them."""
    step()
    step()
    with count_syncs() as syncs, count_launches() as fused:
        step()
    was = _backend._fused_enabled
    _backend.set_fused(False)
    try:
        with count_launches() as unfused:
            step()
    finally:
        _backend.set_fused(was)
    return syncs, sum(fused.values()), sum(unfused.values())


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
