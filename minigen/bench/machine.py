"""What the benchmark ran on, how many threads it used, and the device's own GEMM peak.

A speed figure means nothing without the machine under it, so every results file starts with
``describe_machine()``: the CPU model and core count, the BLAS library NumPy uses and the kernel
it picked (from threadpoolctl), the library versions, the thread settings and the GPU if any.

``pin_threads(n)`` sets NumPy's BLAS (through threadpoolctl, which reaches the already-loaded
OpenBLAS/MKL) and PyTorch's intra-op pool to ``n`` threads. On a small shared machine one thread
gives ratios that hold from run to run; more threads give the machine's throughput.

``gemm_peak(device)`` times float32 square matrix products in the bare array library (NumPy or
CuPy) and keeps the best GFLOP/s: the device's *measured* GEMM peak, against which every
workload's achieved GFLOP/s is read as a fraction. The harness measures it before and after the
device's workloads and keeps the better, so one busy moment of a shared machine does not
lower the yardstick.
"""
from __future__ import annotations

import os
import platform
import sys
import time

import minigen

__all__ = ["describe_machine", "pin_threads", "gemm_peak", "blas_info"]

_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE", "MINIGEN_HOST_MALLOC")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info():
    """NumPy's BLAS as threadpoolctl sees it: library, version, kernel (architecture), threads."""
    try:
        import numpy  # noqa: F401  (load the BLAS before asking)
        from threadpoolctl import threadpool_info
    except ImportError:
        try:
            import numpy
            cfg = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
            return [{"internal_api": cfg.get("name"), "version": cfg.get("version"),
                     "architecture": "unknown (install threadpoolctl)", "num_threads": None}]
        except Exception:
            return [{"internal_api": "unknown (install threadpoolctl)"}]
    keep = ("user_api", "internal_api", "version", "architecture", "num_threads", "prefix",
            "threading_layer")
    return [{k: d.get(k) for k in keep} for d in threadpool_info()]


def describe_machine(devices_status, torch_loaded=False):
    """A JSON-able description of this machine and the libraries the benchmark used."""
    import numpy

    import minigen
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    d = {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "minigen": minigen.__version__,
        "blas": blas_info(),
        "host_allocator": minigen.hostmem.host_allocator(),
        "host_threads": minigen.threads.host_threads(),
        "env": {k: os.environ[k] for k in _ENV if k in os.environ},
        "devices": devices_status,
    }
    rev = _git_revision(os.path.dirname(os.path.dirname(os.path.abspath(minigen.__file__))))
    if rev:
        d["minigen_git"] = rev
    if torch_loaded and "torch" in sys.modules:
        torch = sys.modules["torch"]
        d["torch"] = torch.__version__
        d["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            d["torch_gpu"] = torch.cuda.get_device_name(0)
    else:
        try:
            from importlib.metadata import version
            d["torch"] = version("torch") + " (installed, not used in this run)"
        except Exception:
            d["torch"] = None
    from .. import backend
    if "cuda" in backend._backends:
        b = backend._backends["cuda"]
        xp = b.xp
        d["cuda_backend"] = type(b).__name__
        if type(b).__name__ == "CupyBackend":
            d["cupy"] = getattr(xp, "__version__", None)
            try:
                d["cuda_runtime"] = xp.cuda.runtime.runtimeGetVersion()
            except Exception:
                pass
    return d


def _git_revision(root):
    """The checkout's commit (``abc1234``, ``+dirty`` if files differ), or None outside git."""
    import subprocess
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no",
                                "--", "minigen"], capture_output=True, text=True, timeout=5)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


class _Pins:
    """Holds the thread limits for the whole run (threadpoolctl limits end when released)."""

    def __init__(self):
        self.limiter = None
        self.minigen_threads = None  # restore(): minigen's thread settings before the pin
        self.notes = []

    def release(self):
        if self.minigen_threads is not None:
            self.minigen_threads()      # minigen's host threads and its BLAS adaptation as before
            self.minigen_threads = None
        if self.limiter is not None:
            self.limiter.restore_original_limits()
            self.limiter = None


def pin_threads(n, with_torch=False):
    """Pin NumPy's BLAS (and OpenMP pools), minigen's own host threads and, if loaded, torch
    to ``n`` threads."""
    pins = _Pins()
    if n is None:
        return pins
    from minigen.threads import pin_host_threads
    # minigen's own threads here; BLAS's by threadpoolctl below (which puts them back itself)
    pins.minigen_threads = pin_host_threads(int(n))
    try:
        from threadpoolctl import threadpool_limits
        pins.limiter = threadpool_limits(limits=int(n))
    except ImportError:
        pins.notes.append("threadpoolctl is not installed: NumPy's BLAS threads were NOT pinned "
                          "(pip install threadpoolctl, or set OPENBLAS_NUM_THREADS before Python "
                          "starts)")
    if with_torch:
        import torch
        torch.set_num_threads(int(n))
    return pins


def gemm_peak(device, sizes=(1024, 2048), min_time=0.2, clock="wall"):
    """Float32 GEMM GFLOP/s of the bare array library on ``device``: the fastest of the timed
    repeats of ``C = A @ B`` at each of ``sizes`` (the best size's figure; its median beside)."""
    from .harness import CLOCKS, Lib
    tick = CLOCKS[clock]
    lib = Lib("numpy", device)
    xp = lib.xp
    best = None
    for n in sizes:
        a = lib.randn(n, n)
        b = lib.randn(n, n)
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < min_time / 4:  # warm-up: BLAS threads, page faults
            c = xp.matmul(a, b)
            lib.sync()
        ts, t_all = [], 0.0
        while t_all < min_time or len(ts) < 3:
            t0 = tick()
            c = xp.matmul(a, b)
            lib.sync()
            ts.append(tick() - t0)
            t_all += ts[-1]
        del c
        ts.sort()
        # the peak is what the device can do: the fastest repeat (the median is reported too)
        gflops = 2.0 * n ** 3 / ts[0] / 1e9
        if best is None or gflops > best["gflops"]:
            best = {"gflops": gflops, "gflops_median": 2.0 * n ** 3 / ts[len(ts) // 2] / 1e9,
                    "n": n, "repeats": len(ts),
                    "library": xp.__name__ if hasattr(xp, "__name__") else type(xp).__name__}
    return best
