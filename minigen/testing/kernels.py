"""Checking the CUDA twins of ``@fused`` functions without a GPU.

A twin's body is CUDA C++ run once per element (``minigen.backend.CudaTwin``). Two checks
need no GPU:

* ``run_on_host(fn, *args)`` wraps the body in a plain C++ loop over the elements, compiles
  it with the host's C++ compiler (``c++``/``g++``) and runs it on NumPy arrays through
  ``ctypes``: the body's arithmetic, run on real numbers, set against ``fn`` itself.
* ``compile_for_device(twin, dtype)`` wraps the same body in a ``__global__`` kernel and
  compiles it with ``nvcc`` to PTX: the body is valid device code (CUDA's float overloads of
  the math functions, no host-only calls).

Both wrappers bind each name as CuPy's ElementwiseKernel does (an input is a ``const T``
copy of the element, an inout or output a ``T&`` reference into its array, ``i`` the index),
so what passes here is the same text CuPy compiles on the GPU.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import types

import numpy

_CTYPES = {numpy.dtype("float32"): ("float", ctypes.c_float),
           numpy.dtype("float64"): ("double", ctypes.c_double)}
_cache_dir = None


def host_compiler():
    """The host's C++ compiler, or None."""
    return shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


def nvcc():
    """CUDA's compiler, or None."""
    return shutil.which("nvcc") or (os.path.exists("/usr/local/cuda/bin/nvcc")
                                    and "/usr/local/cuda/bin/nvcc") or None


def _source(name, body, ins, outs, ctype, device):
    """The kernel's C++: ``ins`` is a list of (name, kind), kind 'elem' (an array read element
    by element), 'raw' (a whole array the body indexes itself), 'T' or 'int64' (a number);
    ``outs`` the names of the arrays written element by element. Names are bound as CuPy's
    ElementwiseKernel binds them: an element as a ``const T`` copy, an output as a ``T&``, a raw
    array as the array, ``i`` the element's index."""
    params = ["long long _n"]
    params += [f"const T* _raw_{n}" for n, k in ins if k == "elem"]
    params += [f"const T* {n}" for n, k in ins if k == "raw"]
    params += [f"T* _raw_{n}" for n in outs]
    params += [f"const {'long long' if k == 'int64' else 'T'} {n}" for n, k in ins
               if k in ("T", "int64")]
    bind = " ".join([f"const T {n} = _raw_{n}[i];" for n, k in ins if k == "elem"]
                    + [f"T& {n} = _raw_{n}[i];" for n in outs])
    if device:
        return (f"typedef {ctype} T;\n"
                f'extern "C" __global__ void {name}({", ".join(params)}) {{\n'
                f"  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n"
                f"  if (i >= _n) return;\n  {bind}\n{body}\n}}\n")
    return (f"#include <cmath>\nusing namespace std;\ntypedef {ctype} T;\n"
            f'extern "C" void {name}({", ".join(params)}) {{\n'
            f"  for (long long i = 0; i < _n; ++i) {{ {bind}\n{body}\n  }}\n}}\n")


def device_source(twin, ctype):
    ins = [(n, "raw" if n in twin.raw else "elem") for n in twin.inputs]
    ins += [(n, "int64" if n in twin.int_scalars else "T") for n in twin.scalars]
    return _source(twin.name, twin.body, ins, twin.inouts + twin.outputs, ctype, device=True)


def _workdir():
    """A cache of compiled kernels shared by this user's processes (named by a hash of the
    compiler command and the source, so a changed body compiles afresh)."""
    global _cache_dir
    if _cache_dir is None:
        d = os.path.join(tempfile.gettempdir(), f"minigen-kernels-{os.getuid()}")
        os.makedirs(d, mode=0o700, exist_ok=True)
        _cache_dir = d
    return _cache_dir


def _compile(cmd_prefix, source, suffix, out_suffix):
    key = hashlib.sha1((" ".join(cmd_prefix) + source).encode()).hexdigest()[:16]
    out = os.path.join(_workdir(), key + out_suffix)
    if not os.path.exists(out):
        # written under a name of this process's own, then renamed: processes compiling the
        # same kernel at once never see half a file
        tmp = os.path.join(_workdir(), f"{key}.{os.getpid()}")
        with open(tmp + suffix, "w") as f:
            f.write(source)
        r = subprocess.run(cmd_prefix + ["-o", tmp + out_suffix, tmp + suffix],
                           capture_output=True, text=True)
        os.remove(tmp + suffix)
        if r.returncode != 0:
            raise RuntimeError(f"compiling failed ({' '.join(cmd_prefix)}):\n{r.stderr}\n"
                               f"--- source ---\n{source}")
        os.replace(tmp + out_suffix, out)
    return out


def compile_for_device(twin, dtype, arch="sm_90"):
    """PTX of the twin's kernel for ``dtype`` (raises RuntimeError with nvcc's message)."""
    ctype = _CTYPES[numpy.dtype(dtype)][0]
    out = _compile([nvcc(), "-ptx", f"-arch={arch}"], device_source(twin, ctype), ".cu", ".ptx")
    with open(out) as f:
        return f.read()


def _params(params):
    """[(name, kind)] from CuPy's parameter list: 'T x', 'raw T x' or 'int64 n'."""
    out = []
    for p in params.split(","):
        words = p.split()
        if words[:-1] == ["T"]:
            out.append((words[-1], "T"))
        elif words[:-1] == ["raw", "T"]:
            out.append((words[-1], "raw"))
        elif words[:-1] == ["int64"]:
            out.append((words[-1], "int64"))
        else:
            raise ValueError(f"host kernels take parameters 'T x', 'raw T x' or 'int64 n', "
                             f"got {p.strip()!r}")
    return out


class HostElementwiseKernel:
    """``cupy.ElementwiseKernel``'s interface for NumPy arrays, on the CPU: the body compiled
    as C++ by the host's compiler (parameters of type ``T``, ``raw T`` or ``int64``; every
    output passed in)."""

    def __init__(self, in_params, out_params, operation, name="kernel"):
        self.ins, self.outs = _params(in_params), [n for n, _ in _params(out_params)]
        self.body, self.name = operation, name
        self._fns = {}

    def __call__(self, *args):
        if len(args) != len(self.ins) + len(self.outs):
            raise TypeError(f"{self.name}: expected {len(self.ins) + len(self.outs)} arguments "
                            f"(inputs and outputs), got {len(args)}")
        ins, outs = args[:len(self.ins)], args[len(self.ins):]
        dtype, shape = outs[0].dtype, outs[0].shape
        for n, a in zip(self.outs, outs):
            if a.dtype != dtype or a.shape != shape:
                raise ValueError(f"{self.name}: output {n} must be a {dtype} array of shape "
                                 f"{shape}, got {a.dtype} {a.shape}")
        # the loop walks memory in order: a strided output is worked on as a copy, then put back
        work = [a if a.flags.c_contiguous else numpy.ascontiguousarray(a) for a in outs]
        # a 'T' parameter is an element-by-element array or a number, as it comes
        kinds = [("elem" if isinstance(a, numpy.ndarray) else "T") if k == "T" else k
                 for (_, k), a in zip(self.ins, ins)]
        ins_k = [(n, k) for (n, _), k in zip(self.ins, kinds)]
        key = (tuple(kinds), dtype)
        fn = self._fns.get(key)
        if fn is None:
            ctype, cscalar = _CTYPES[dtype]
            src = _source(self.name, self.body, ins_k, self.outs, ctype, device=False)
            # -ffp-contract=off: no fused multiply-adds, the host rounds each step as NumPy does
            so = _compile([host_compiler(), "-O1", "-shared", "-fPIC", "-ffp-contract=off"],
                          src, ".cpp", ".so")
            fn = getattr(ctypes.CDLL(so), self.name)
            n_ptr = sum(k in ("elem", "raw") for k in kinds) + len(outs)
            fn.argtypes = ([ctypes.c_longlong] + [ctypes.c_void_p] * n_ptr
                           + [ctypes.c_longlong if k == "int64" else cscalar
                              for k in kinds if k in ("T", "int64")])
            fn.restype = None
            self._fns[key] = fn
        elem = [numpy.ascontiguousarray(numpy.broadcast_to(a, shape), dtype)
                for a, k in zip(ins, kinds) if k == "elem"]
        raw = [numpy.ascontiguousarray(a, dtype) for a, k in zip(ins, kinds) if k == "raw"]
        nums = [int(a) if k == "int64" else float(a) for a, k in zip(ins, kinds)
                if k in ("T", "int64")]
        fn(int(numpy.prod(shape)), *[a.ctypes.data for a in elem + raw + work], *nums)
        for a, w in zip(outs, work):
            if a is not w:
                a[...] = w
        return outs[0] if len(outs) == 1 else tuple(outs)


# an array module, as CudaTwin sees one: ElementwiseKernel, empty and ascontiguousarray
HOST = types.ModuleType("minigen_host_kernels")
HOST.ElementwiseKernel = HostElementwiseKernel
HOST.empty = numpy.empty
HOST.ascontiguousarray = numpy.ascontiguousarray


def run_on_host(fn, *args):
    """Run ``fn``'s CUDA twin on the CPU (``CudaTwin.__call__`` itself, with the host's
    compiler standing in for CuPy's): NumPy arrays and numbers in ``fn``'s own argument order;
    returns the outputs as ``fn`` does, and updates the inout arrays in place."""
    return fn.cuda(HOST, *args)
