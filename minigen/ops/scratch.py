"""Big scratch buffers for ops that run a loop on raw arrays (the recurrent layers).

Two helpers, both about memory rather than math:

* ``aligned_empty``: an empty array on a 64-byte boundary (BLAS kernels are faster on
  cache-line aligned operands; a host allocator only promises 16 bytes);
* ``SCRATCH``, a ``ScratchPool``: buffers given back by one call and taken again by the next,
  so that a multi-megabyte buffer is not fresh memory every call.
"""
from __future__ import annotations

import threading

__all__ = []


def aligned_empty(xp, shape, dtype, align=64):
    """An empty array whose first element sits on a 64-byte boundary.

    The BLAS kernels that multiply by W_hh every step run up to a quarter faster when W_hh is
    cache-line aligned, and a host allocator only promises 16 bytes. (Device allocators align
    to far more; arrays that do not expose a host address are returned as they are.)
    """
    a = xp.empty(shape, dtype=dtype)
    host = getattr(a, "ctypes", None)
    if host is None or host.data % align == 0:
        return a
    n, k = a.size, align // a.itemsize
    buf = xp.empty(n + k, dtype=dtype)
    off = (-buf.ctypes.data % align) // a.itemsize
    return buf[off:off + n].reshape(shape)


class ScratchPool:
    """Big per-call buffers kept for reuse between calls.

    A layer's buffers (the gates of every step, the cell states, dL/dA) are megabytes each. A
    fresh multi-megabyte array is usually memory the allocator has just handed back to the
    OS, and the OS gives it again one zeroed page at a time: on a small CPU that costs more
    than the arithmetic done in it. So the sequence Functions take these buffers from here,
    and give them back once their backward has run (``release``, after which nothing can
    read them). At most ``max_bytes`` are kept; ``clear()`` drops them all.
    """

    def __init__(self, max_bytes=128 << 20):
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.free = {}
        self.lock = threading.Lock()  # the parts of a split op (minigen/threads.py) share it

    def take(self, xp, shape, dtype):
        with self.lock:
            stack = self.free.get((xp, shape, dtype))
            if stack:
                a = stack.pop()
                self.nbytes -= a.nbytes
                return a
        return aligned_empty(xp, shape, dtype)

    def give(self, xp, *arrays):
        with self.lock:
            for a in arrays:
                if self.nbytes + a.nbytes <= self.max_bytes:
                    self.free.setdefault((xp, a.shape, a.dtype), []).append(a)
                    self.nbytes += a.nbytes

    def clear(self):
        with self.lock:
            self.free.clear()
            self.nbytes = 0


SCRATCH = ScratchPool()
