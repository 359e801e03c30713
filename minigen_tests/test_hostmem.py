"""minigen.hostmem: importing minigen asks glibc's malloc to keep freed memory for reuse.

The check is the mechanism itself: a process whose "steps" each allocate, write and free ten
4 MiB arrays maps fresh pages every step under glibc's defaults (a page fault per 4 KiB: the
40 MiB freed at the top of the heap is more than the trim threshold, so it goes back to the OS)
and reuses its pages once minigen is imported. Page-fault counts come from the kernel
(``getrusage``), not from a clock, so the test does not depend on the machine's speed.
"""
import os
import subprocess
import sys

import pytest

import minigen
from minigen import hostmem

GLIBC = hostmem._glibc() is not None and sys.platform.startswith("linux")

# 20 steps after two of warm-up; print the page faults.
_CHURN = """
import resource, sys
if sys.argv[1] == "import":
    import minigen
import numpy as np
def churn():  # a "step": ten 4 MiB arrays live at once, then all freed
    arrays = [np.empty(1 << 20, np.float32) for _ in range(10)]
    for a in arrays:
        a[...] = 1.0
    del arrays
for _ in range(2):
    churn()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""


def _faults(mode, **env):
    out = subprocess.run([sys.executable, "-c", _CHURN, mode], capture_output=True, text=True,
                         env=dict(os.environ, **env), timeout=120, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's (Linux); elsewhere nothing is set")
def test_import_keeps_freed_memory_for_reuse():
    plain = _faults("numpy-only")
    kept = _faults("import")
    opted_out = _faults("import", MINIGEN_HOST_MALLOC="system")
    # 20 x 40 MiB of fresh pages is up to 204,800 faults of 4 KiB (fewer where the kernel
    # backs them with 2 MiB pages, still hundreds); reused pages fault only where the heap
    # first grows
    assert kept < 100, kept
    assert plain > 10 * max(kept, 10), (plain, kept)
    assert opted_out > 10 * max(kept, 10), (opted_out, kept)


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's (Linux); elsewhere nothing is set")
def test_setting_is_reported_and_memory_can_be_released():
    assert "mmap threshold 32 MiB" in hostmem.host_allocator()
    assert "trim threshold 512 MiB" in hostmem.host_allocator()
    assert isinstance(minigen.release_host_memory(), bool)


def test_opt_out_and_other_c_libraries_change_nothing(monkeypatch):
    saved = dict(hostmem._state)
    try:
        monkeypatch.setenv("MINIGEN_HOST_MALLOC", "system")
        hostmem.configure()
        assert hostmem.host_allocator() == "system defaults (MINIGEN_HOST_MALLOC=system)"
        monkeypatch.delenv("MINIGEN_HOST_MALLOC")
        hostmem._state["libc"] = False  # as on macOS, Windows or musl
        hostmem.configure()
        assert hostmem.host_allocator() == "system defaults (not glibc)"
        assert minigen.release_host_memory() is False
    finally:
        hostmem._state.clear()
        hostmem._state.update(saved)
