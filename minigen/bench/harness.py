"""The timing core of ``minigen bench``: libraries on devices, workloads, timers, peak memory.

A *workload* is one thing to time (a GEMM of one size, one GPT training step), written once
against a library handle ``lib`` so the same code runs in minigen, in PyTorch and, where it makes
sense, in the bare array library underneath (NumPy on 'cpu', CuPy on 'cuda'). minigen copies
PyTorch's names, so ``lib.nn.Linear``, ``lib.F.softmax`` and ``lib.optim.AdamW`` mean the same
thing in both; the bare library gets its own few lines of arithmetic.

Timing (``time_cases``)
    Every case is warmed up, then timed ``repeats`` times; each repeat runs the step ``number``
    times in a row (``number`` calibrated so one repeat lasts at least ``min_time``) and the
    device is synchronised before each timer read, so queued GPU work is counted. When several
    libraries run the same workload they take turns in blocks of repeats (minigen, torch, numpy,
    minigen, torch, ...; see ``time_cases`` for why blocks), so a slow drift of a shared
    machine's load hits all of them alike and the ratio of their medians holds from run to run.
    Reported: median, min, max seconds.
    ``clock='cpu'`` times the process's CPU seconds instead of the wall clock: on a busy shared
    machine, with one thread, other processes' load then stays out of the figures.

Peak memory (``peak_memory``)
    CPU: the rise of the process's resident-set high-water mark during one step. Before the step
    the C allocator gives its free pages back (``malloc_trim(0)``) and the kernel's high-water mark
    is reset (``echo 5 > /proc/self/clear_refs``, Linux); after it, ``VmHWM - VmRSS(before)``.
    The same method measures minigen, PyTorch and NumPy alike (tracemalloc would miss PyTorch's
    allocations). Where ``/proc/self/clear_refs`` cannot be written, minigen and NumPy fall back
    to ``tracemalloc``'s traced peak and PyTorch reports no figure.
    GPU: CuPy's memory pool. Its cached free blocks are released, then one step runs; the bytes
    the pool had to hold afterwards, less those live before, are the step's peak (the pool keeps
    every block it allocated during the step, so this is its high-water mark). PyTorch on CUDA:
    ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``.

Nothing here estimates a figure: a device or library that cannot run a workload is reported as
``unavailable`` with the reason, and a workload that fails is reported as ``error`` with the
message; neither stops the run.
"""
from __future__ import annotations

import gc
import statistics
import time
import traceback
import tracemalloc
from dataclasses import dataclass, field
from typing import Callable

from ..hostmem import release_host_memory

__all__ = [
    "Unavailable", "Lib", "Case", "Workload", "time_cases", "peak_memory", "lib_available",
    "cuda_status", "CLOCKS",
]


class Unavailable(Exception):
    """Raised by a workload's build when a library or device cannot run it (a missing layer)."""


# ----------------------------------------------------------------------------- devices
def cuda_status():
    """(available, description) of minigen's 'cuda' device, without raising."""
    from .. import backend
    try:
        ok = backend.cuda_is_available()
    except Exception as e:  # a broken CUDA install must not stop a CPU benchmark
        return False, f"{type(e).__name__}: {e}"
    if not ok:
        return False, backend._cuda_error or "no CUDA backend"
    b = backend.get_backend("cuda")
    if type(b).__name__ != "CupyBackend":
        return True, f"simulated CUDA ({type(b).__name__}, a CPU stand-in: not GPU timings)"
    try:
        props = b.xp.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        return True, name.decode() if isinstance(name, bytes) else str(name)
    except Exception as e:
        return True, f"CUDA GPU (name unknown: {e})"


def _is_real_cupy(device):
    if device != "cuda":
        return False
    from .. import backend
    return type(backend.get_backend("cuda")).__name__ == "CupyBackend"


# ----------------------------------------------------------------------------- libraries
class Lib:
    """One library on one device, as a workload sees it.

    ``name`` is 'minigen', 'torch' or 'numpy' (the bare array module of the device: NumPy on
    'cpu', CuPy on 'cuda'). ``m`` is the top module (``minigen``, ``torch``, or the array module),
    ``nn``, ``F`` and ``optim`` its layers, functional forms and optimizers (None for 'numpy').
    """

    def __init__(self, name, device):
        self.name = name
        self.device = device
        self.nn = self.F = self.optim = None
        if name == "minigen":
            import minigen
            self.m = minigen
            self.nn, self.F, self.optim = minigen.nn, minigen.nn.functional, minigen.optim
        elif name == "torch":
            import torch
            self.m = torch
            self.nn, self.F, self.optim = torch.nn, torch.nn.functional, torch.optim
        elif name == "numpy":
            from .. import backend
            self.m = backend.get_backend(device).xp
        else:
            raise ValueError(f"unknown library {name!r}")

    @property
    def xp(self):
        """The bare array module (only for lib 'numpy')."""
        return self.m

    def __repr__(self):
        return f"Lib({self.name!r}, {self.device!r})"

    def sync(self):
        """Wait for queued device work, so a timer read after it counts that work."""
        if self.name == "torch":
            if self.device == "cuda":
                self.m.cuda.synchronize()
        else:
            from .. import backend
            backend.synchronize(self.device)

    def seed(self, s=0):
        if self.name == "torch":
            self.m.manual_seed(s)
        else:
            import minigen
            minigen.manual_seed(s)

    def need(self, *paths):
        """Raise Unavailable if ``lib.<path>`` is missing, e.g. ``need('nn.Conv2d', 'F.gelu')``."""
        for p in paths:
            obj = self
            for part in p.split("."):
                obj = getattr(obj, part, None)
                if obj is None:
                    raise Unavailable(f"{self.name}.{p.replace('F.', 'nn.functional.')} "
                                      "is not implemented yet")

    # -- tensors: float32 on this device -----------------------------------------------
    def randn(self, *shape, requires_grad=False, scale=1.0):
        if self.name == "torch":
            t = self.m.randn(*shape, device=self.device) * scale
            return t.requires_grad_(requires_grad)
        import minigen
        t = minigen.randn(*shape, device=self.device)
        if scale != 1.0:
            t = t * scale
        if self.name == "numpy":
            return t.array
        return t.detach().requires_grad_(requires_grad)

    def randint(self, high, shape):
        if self.name == "torch":
            return self.m.randint(0, high, shape, device=self.device)
        import minigen
        t = minigen.randint(0, high, shape, device=self.device)
        return t.array if self.name == "numpy" else t

    def ones(self, *shape):
        if self.name == "numpy":
            return self.m.ones(shape, dtype="float32")
        return self.m.ones(*shape, device=self.device)

    def to_device(self, module):
        return module.to(self.device)


def lib_available(name, device):
    """(ok, reason): can library ``name`` run on ``device`` at all?"""
    if name == "torch":
        try:
            import torch
        except Exception as e:
            return False, f"torch is not installed ({type(e).__name__})"
        if device == "cuda" and not torch.cuda.is_available():
            return False, "torch sees no CUDA device"
        return True, ""
    if device == "cuda":
        ok, why = cuda_status()
        return ok, ("" if ok else why)
    return True, ""


# ----------------------------------------------------------------------------- workloads
@dataclass
class Case:
    """A built workload: ``step()`` does one timed unit of work."""

    step: Callable
    flops: float | None = None     # floating-point operations in one step, where known
    extra: dict = field(default_factory=dict)  # per-step facts (e.g. per-op microseconds)


@dataclass
class Workload:
    """One thing to time.

    ``build(lib, **params)`` returns a ``Case`` (or a bare step callable); it raises
    ``Unavailable`` when ``lib`` lacks what the workload needs. ``libs`` names the libraries it
    has a version for; ``flops(**params)`` counts one step's floating-point operations;
    ``tiny_params`` (models) builds the same graph on tiny tensors.
    """

    name: str
    group: str
    build: Callable
    params: dict = field(default_factory=dict)
    libs: tuple = ("minigen", "torch")
    flops: Callable | None = None
    description: str = ""
    tiny_params: dict | None = None  # same graph on tiny tensors (the profile's overhead check)

    def make(self, lib, params=None):
        params = self.params if params is None else params
        case = self.build(lib, **params)
        if not isinstance(case, Case):
            case = Case(case)
        if case.flops is None and self.flops is not None:
            case.flops = float(self.flops(**params))
        return case


def describe_error(e):
    """One line for an exception, and the traceback's last frames for the JSON."""
    tb = traceback.format_exception(type(e), e, e.__traceback__)
    return f"{type(e).__name__}: {e}".splitlines()[0][:300], "".join(tb[-3:])[-2000:]


# ----------------------------------------------------------------------------- timing
# 'wall': time.perf_counter. 'cpu': time.process_time, the CPU seconds of this process's
# threads; on a shared machine other processes' load does not count in it. Only meaningful on
# 'cpu' with --threads 1 (with more threads it sums their CPU time; a GPU's work is not in it).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _run(case, lib, n, clock=time.perf_counter):
    step = case.step
    t0 = clock()
    for _ in range(n):
        step()
    lib.sync()
    return clock() - t0


def time_cases(cases, warmup=2, repeats=7, min_time=0.02, max_case_time=20.0, clock="wall",
               rounds=3):
    """Time several (lib, case) pairs of one workload, the pairs taking turns.

    Returns one dict per pair: ``{"median", "min", "max", "repeats", "number"}`` in seconds per
    step, or ``{"error": msg}`` if the step raised. ``max_case_time`` caps one pair's total timed
    seconds: a slow step gets fewer repeats (never fewer than one). ``clock``: a key of
    ``CLOCKS``.

    The pairs take turns in ``rounds`` blocks of repeats (so a slow spell of a shared machine
    hits every pair alike), and each block starts with one untimed step. Not step by step:
    with more than one thread, a library's idle worker threads keep spinning for a while after
    its call returns (OpenBLAS for ~0.1 s), and would eat the next library's cores; the
    untimed step absorbs that tail. (Measured: PyTorch's GPT step at 2 threads took 170 ms
    when the libraries alternated step by step, 95 ms on its own.)
    """
    clock = CLOCKS[clock]
    out = [None] * len(cases)
    plan = []  # (index, number, repeats)
    for i, (lib, case) in enumerate(cases):
        try:
            lib.sync()
            first = _run(case, lib, 1, clock)    # also the first warm-up step
            for _ in range(max(0, warmup - 1)):
                first = min(first, _run(case, lib, 1, clock))
            number = max(1, int(min_time / max(first, 1e-9)))
            reps = max(1, min(repeats, int(max_case_time / max(first * number, 1e-9))))
            plan.append((i, number, reps))
            out[i] = []
        except Exception as e:
            msg, tb = describe_error(e)
            out[i] = {"error": msg, "traceback": tb}
    for r in range(max(1, rounds)):
        for i, number, reps in plan:
            if isinstance(out[i], dict):
                continue
            # this pair's share of the repeats in round r
            block = reps // rounds + (r < reps % rounds) if rounds <= reps else int(r < reps)
            if not block:
                continue
            lib, case = cases[i]
            try:
                _run(case, lib, 1, clock)  # untimed: lets the previous pair's threads settle
                for _ in range(block):
                    out[i].append(_run(case, lib, number, clock) / number)
            except Exception as e:
                msg, tb = describe_error(e)
                out[i] = {"error": msg, "traceback": tb}
    for i, number, reps in plan:
        ts = out[i]
        if isinstance(ts, list):
            out[i] = {"median": statistics.median(ts), "min": min(ts), "max": max(ts),
                      "repeats": len(ts), "number": number}
    return out


# ----------------------------------------------------------------------------- memory
def _proc_status():
    got = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":")
                got[k] = int(v.split()[0]) * 1024
    return got


def _can_reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "VmHWM" in _proc_status()
    except OSError:
        return False


def _host_peak(step, lib):
    gc.collect()
    release_host_memory()  # the C allocator's free pages back to the OS (malloc_trim)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _proc_status()["VmRSS"]
    step()
    lib.sync()
    return max(0, _proc_status()["VmHWM"] - before)


def _tracemalloc_peak(step, lib):
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        step()
        lib.sync()
        return max(0, tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()


def _cupy_peak(step, lib):
    from .. import backend
    pool = backend.get_backend("cuda").xp.get_default_memory_pool()
    lib.sync()
    pool.free_all_blocks()
    before = pool.used_bytes()
    step()
    lib.sync()
    return max(0, pool.total_bytes() - before)


def _torch_cuda_peak(step, lib):
    torch = lib.m
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    return max(0, torch.cuda.max_memory_allocated() - before)


def peak_memory(case, lib, trials=3):
    """``{"peak_bytes": n, "method": ...}`` for one step of ``case`` (median of ``trials``),
    or ``{"peak_bytes": None, "method": why}`` where no honest figure can be had."""
    if lib.device == "cuda" and lib.name == "torch":
        fn, method = _torch_cuda_peak, "torch.cuda.max_memory_allocated"
    elif _is_real_cupy(lib.device):
        fn, method = _cupy_peak, "cupy pool high-water (free blocks released first)"
    elif _can_reset_hwm():
        fn, method = _host_peak, "process RSS high-water rise (malloc_trim + clear_refs)"
        if lib.device == "cuda":
            method += "; simulated CUDA device: host memory"
    elif lib.name != "torch":
        fn, method = _tracemalloc_peak, "tracemalloc traced peak (NumPy buffers + Python objects)"
    else:
        return {"peak_bytes": None,
                "method": "not measured: /proc/self/clear_refs unavailable and tracemalloc "
                          "does not see PyTorch's allocations"}
    try:
        got = sorted(fn(case.step, lib) for _ in range(max(1, trials)))
    except Exception as e:
        return {"peak_bytes": None, "method": f"not measured ({describe_error(e)[0]})"}
    return {"peak_bytes": int(got[len(got) // 2]), "method": method}
