"""Host memory: minigen asks the C allocator to keep freed memory for reuse.

A training step allocates and frees the same few-megabyte arrays every step (activations,
gradients, im2col blocks). NumPy takes each one from the C library's ``malloc``, and glibc's
``malloc`` by default

* serves a request of 128 KiB or more (a threshold it raises as big blocks are freed, up to
  32 MiB) with a fresh ``mmap`` that ``free`` unmaps again, and
* hands the free memory at the top of its heap back to the OS once there is more of it than a
  trim threshold (twice the ``mmap`` threshold).

Either way the next step's arrays are new pages to the OS, which maps them one page fault per
4 KiB as they are first written. On this project's 2-core machine a plain training script took
~21,000 page faults per GPT-style step (4 layers, d 128, batch 32 x 64 tokens): 46 ms of system
time on top of a 180 ms step; the DCGAN step took 15,000 (36 ms). PyTorch, run the same way,
took 6,000 (10 ms) and 10,000 (20 ms).

So on import minigen sets glibc's two thresholds (``mallopt``): requests below 32 MiB come from
the heap, and up to ``TRIM_BYTES`` of free memory stays in the process. The steps then reuse the
same pages (a handful of faults per step). The cost is memory: what a step freed stays mapped for
the next one, as PyTorch's GPU caching allocator keeps its blocks. ``release_host_memory()``
gives the free memory back to the OS (``malloc_trim``), as ``torch.cuda.empty_cache()`` does on
a GPU. The setting is process-wide, so PyTorch in the same process runs under it too (the
benchmarks compare the two libraries on equal terms).

Opt out with the environment variable ``MINIGEN_HOST_MALLOC=system`` (set before import). On
other C libraries (macOS, Windows, musl) nothing is changed and ``host_allocator()`` says so.
"""
from __future__ import annotations

import ctypes
import os

__all__ = ["release_host_memory", "host_allocator"]

MMAP_BYTES = 32 << 20   # glibc's largest mmap threshold on 64-bit systems
TRIM_BYTES = 512 << 20  # free memory kept at the top of the heap before any goes back to the OS
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers

_state = {"libc": None, "setting": "not configured"}


def _glibc():
    """glibc's handle, or None where the C library is another one."""
    if _state["libc"] is None:
        try:
            libc = ctypes.CDLL(None)
            libc.mallopt, libc.malloc_trim  # noqa: B018  (both are glibc's)
            libc.gnu_get_libc_version.restype = ctypes.c_char_p
            _state["version"] = libc.gnu_get_libc_version().decode()
            _state["libc"] = libc
        except (OSError, AttributeError, TypeError):
            _state["libc"] = False
    return _state["libc"] or None


def configure():
    """Set glibc's thresholds (see the module docstring); called once, on import of minigen."""
    if os.environ.get("MINIGEN_HOST_MALLOC", "").strip().lower() == "system":
        _state["setting"] = "system defaults (MINIGEN_HOST_MALLOC=system)"
        return
    libc = _glibc()
    if libc is None:
        _state["setting"] = "system defaults (not glibc)"
        return
    ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES) and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES)
    _state["setting"] = (f"glibc {_state['version']}: freed memory kept for reuse (mmap threshold "
                         f"{MMAP_BYTES >> 20} MiB, trim threshold {TRIM_BYTES >> 20} MiB)"
                         if ok else "system defaults (mallopt refused the thresholds)")


def host_allocator():
    """How host memory is allocated in this process, in words (for benchmark reports)."""
    return _state["setting"]


def release_host_memory():
    """Give the free memory the C allocator holds back to the OS (glibc's ``malloc_trim``).
    Returns True if some was given back; does nothing (False) on other C libraries."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
