"""Where one minigen step spends its time: a per-op profile, split into GEMM, other kernels,
engine overhead and everything outside the ops.

Method (``OpProfiler``): for the duration of a ``with`` block it patches, and then restores,

* ``Function.apply``            -> the engine's work around an op (checks, graph recording),
* every ``Function`` subclass's own ``forward`` and ``backward``  -> the op's body,
* ``autograd.run_backward``     -> the graph walk of ``loss.backward()``.

Each patched call pushes a frame on a stack with ``time.perf_counter()``; when it returns its
*exclusive* time (its own time less that of the patched calls nested in it) is added to its op
and kind. So a hand-derived backward that calls ``matmul`` shows its own Python under
``Linear.backward`` and the product under ``MatMul.forward``. The buckets:

``gemm``        forward/backward bodies of ops whose work is a matrix product (MatMul, Linear,
                convolutions, attention, LSTM/GRU cells, einsum): BLAS time plus the op's glue.
``other_ops``   the bodies of every other op: elementwise, reductions, shape ops, norms, losses
                (memory-bound kernels plus their glue).
``engine``      ``Function.apply`` around the bodies and the graph walk outside the backward
                bodies: pure Python overhead of the autograd engine.
``outside_ops`` the step's time outside every op: Module calls, the optimizer's loop and any
                arithmetic it does on raw arrays, model code.

The profiler adds about a microsecond per patched call, so its total is a little above the
unprofiled median; both are reported. A second, patch-free measure of the fixed per-op cost is
``tiny_replay``: the same step with the same graph (same layers, same number of ops) on tiny
tensors, where the kernels cost next to nothing, so its time is almost all Python overhead.
"""
from __future__ import annotations

import re
import time

from .. import autograd
from ..autograd import Function

__all__ = ["OpProfiler", "profile_step", "GEMM_PATTERN"]

GEMM_PATTERN = re.compile(r"matmul|linear|conv|attention|lstm|gru|rnn|einsum|bmm|addmm|^mm$",
                          re.IGNORECASE)


def _all_subclasses(cls):
    out, stack = [], [cls]
    while stack:
        c = stack.pop()
        for s in c.__subclasses__():
            if s not in out:
                out.append(s)
                stack.append(s)
    return out


class OpProfiler:
    """Context manager: exclusive seconds per (op name, kind) while it is active."""

    def __init__(self, clock=time.perf_counter):
        self._clock = clock
        self.stats = {}      # (name, kind) -> [calls, seconds]
        self._stack = []     # frames: [name, kind, start, child_seconds]
        self._undo = []

    # -- frames --------------------------------------------------------------------------
    def _push(self, name, kind):
        self._stack.append([name, kind, self._clock(), 0.0])

    def _pop(self):
        name, kind, start, child = self._stack.pop()
        incl = self._clock() - start
        s = self.stats.get((name, kind))
        if s is None:
            s = self.stats[(name, kind)] = [0, 0.0]
        s[0] += 1
        s[1] += incl - child
        if self._stack:
            self._stack[-1][3] += incl

    # -- patching ------------------------------------------------------------------------
    def _wrap_method(self, cls, attr, kind):
        fn = cls.__dict__[attr]
        prof = self

        def wrapper(self_, *args, **kwargs):
            prof._push(type(self_).__name__, kind)
            try:
                return fn(self_, *args, **kwargs)
            finally:
                prof._pop()
        setattr(cls, attr, wrapper)
        self._undo.append((cls, attr, fn))

    def __enter__(self):
        prof = self
        orig_apply = Function.__dict__["apply"]
        inner = orig_apply.__func__

        def apply(cls, *inputs, **params):
            prof._push(cls.__name__, "engine")
            try:
                return inner(cls, *inputs, **params)
            finally:
                prof._pop()
        Function.apply = classmethod(apply)
        self._undo.append((Function, "apply", orig_apply))
        for cls in _all_subclasses(Function):
            for attr in ("forward", "backward"):
                if attr in cls.__dict__:
                    self._wrap_method(cls, attr, attr)
        orig_walk = autograd.run_backward

        def run_backward(*args, **kwargs):
            prof._push("graph walk", "engine")
            try:
                return orig_walk(*args, **kwargs)
            finally:
                prof._pop()
        autograd.run_backward = run_backward
        self._undo.append((autograd, "run_backward", orig_walk))
        return self

    def __exit__(self, *exc):
        for obj, attr, fn in reversed(self._undo):
            setattr(obj, attr, fn)
        self._undo.clear()
        self._stack.clear()

    # -- results -------------------------------------------------------------------------
    def summary(self, total, steps=1):
        """Buckets and a per-op table, in seconds per step."""
        ops = {}
        buckets = {"gemm": 0.0, "other_ops": 0.0, "engine": 0.0}
        for (name, kind), (calls, sec) in self.stats.items():
            row = ops.setdefault(name, {"op": name, "calls": 0, "forward_s": 0.0,
                                        "backward_s": 0.0, "engine_s": 0.0})
            row[kind + "_s"] += sec / steps
            if kind == "forward":
                row["calls"] += calls // steps
            if kind == "engine":
                buckets["engine"] += sec / steps
            elif GEMM_PATTERN.search(name):
                buckets["gemm"] += sec / steps
            else:
                buckets["other_ops"] += sec / steps
        buckets["outside_ops"] = max(0.0, total - sum(buckets.values()))
        table = sorted(ops.values(), key=lambda r: -(r["forward_s"] + r["backward_s"] +
                                                      r["engine_s"]))
        for r in table:
            r["kind"] = "graph" if r["op"] == "graph walk" else \
                "gemm" if GEMM_PATTERN.search(r["op"]) else "other"
        return buckets, table


def profile_step(case, lib, steps=3, tiny_case=None, unprofiled_s=None, top=15, clock="wall"):
    """Profile ``steps`` steps of a minigen case; returns a JSON-able dict (seconds per step)."""
    from .harness import CLOCKS
    tick = CLOCKS[clock]
    case.step()  # warm (the case has already been timed, but be safe after a rebuild)
    lib.sync()
    with OpProfiler(tick) as prof:
        t0 = tick()
        for _ in range(steps):
            case.step()
        lib.sync()
        total = (tick() - t0) / steps
    buckets, table = prof.summary(total, steps)
    out = {
        "method": "Function.apply/forward/backward and run_backward patched; exclusive times",
        "profiled_step_s": total,
        "unprofiled_step_s": unprofiled_s,
        "buckets_s": buckets,
        "buckets_fraction": {k: v / total for k, v in buckets.items()} if total > 0 else {},
        "op_calls": sum(r["calls"] for r in table),
        "ops": table[:top],
    }
    if tiny_case is not None:
        from .harness import time_cases
        t = time_cases([(lib, tiny_case)], warmup=2, repeats=5, min_time=0.02, clock=clock)[0]
        out["tiny_replay_s"] = t.get("median")
        if "error" in t:
            out["tiny_replay_error"] = t["error"]
    return out
