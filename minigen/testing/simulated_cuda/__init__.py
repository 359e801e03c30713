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

Host syncs: every read of a device value on the host (``float``, ``bool``, ``int``, ``.item()``,
``.get()``, ``to_numpy``), each a stall of the GPU's queue on real hardware, is counted inside
``with count_syncs() as log:``, with the minigen line that asked.

Kernel launches, roughly (``with count_launches() as log:``): every array operation that
computes (a new array with memory of its own, or a write into one; views and ``empty`` are
free) and every fused kernel, as a GPU would launch them.

Not simulated: asynchrony (``synchronize()`` is a no-op), memory pools, streams, multiple devices.
"""
from __future__ import annotations

# Import order matters only in that methods.py completes SimArray and generator.py fills in
# simnp.random; importing any submodule runs this file first, so both always happen.
from .array import SimArray, SimDevice, count_launches, count_syncs  # noqa: F401  (SimDevice: was a module attribute)
from . import methods  # noqa: F401  (attaches SimArray's ndarray methods and operators)
from .namespace import SimNamespace, SimUfunc, simnp  # noqa: F401  (as SimDevice)
from .generator import SimGenerator
from .backend import SimulatedCudaBackend, count_step, install, simulated_cuda, uninstall

__all__ = [
    "SimArray", "SimGenerator", "SimulatedCudaBackend", "simnp", "install", "uninstall",
    "simulated_cuda", "count_syncs", "count_launches", "count_step",
]
