"""Where one minigen step spends its time: a per-op profile, split into GEMM, other kernels,
engine overhead and everything outside the ops.

Method (``OpProfiler``): for the duration of a ``with`` block it patches, and then restores,

* ``Function.apply``            -> the engine's work around an op (checks, graph recording),
* every ``Function`` subclass's own ``forward`` and ``backward``  -> the op's body,
* ``graph.run_backward``        -> the graph walk of ``loss.backward()``.

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

Beside PyTorch (``parts``, ``torch_parts``). The same time is also sorted into the parts of a
step that a reader recognises (linear layers, attention, activations, normalisation, the
optimizer, the engine, ...; ``PARTS``), once for minigen and once for PyTorch's profile of the
same step in the same run (``torch.profiler``: each event's *self* time, aten ops and autograd
nodes alike, sorted by its name with the same patterns), so that one table shows which part
of the step the gap is in. The optimizer's ``step`` and ``zero_grad`` are timed for this too
(PyTorch records them as ``Optimizer.step#...``); in the buckets they stay in ``outside_ops``.
A part holds an op's own work and its glue, not the engine's bookkeeping around it (minigen's
``Function.apply``, PyTorch's ``autograd::engine`` events and ``...Backward0`` nodes), which is
the part ``engine``; "outside the ops" is the profiled step's time that no op accounts for.
Both profilers add a little time per call: each side's profiled step time is reported.

The profiler adds about a microsecond per patched call, so its total is a little above the
unprofiled median; both are reported. A second, patch-free measure of the fixed per-op cost is
``tiny_replay``: the same step with the same graph (same layers, same number of ops) on tiny
tensors, where the kernels cost next to nothing, so its time is almost all Python overhead.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time

from .. import graph
from ..autograd import Function

__all__ = ["OpProfiler", "profile_step", "torch_parts", "part_of", "PARTS", "GEMM_PATTERN"]

GEMM_PATTERN = re.compile(r"matmul|linear|conv|attention|lstm|gru|rnn|einsum|bmm|addmm|^mm$",
                          re.IGNORECASE)

# The parts of a step, for minigen's op names (Function classes) and PyTorch's profiler events
# (aten ops, autograd nodes, the optimizer's record_function ranges) alike: a name goes to the
# first part whose pattern it matches (case ignored), else to "other" (shape ops, copies,
# elementwise arithmetic, reductions).
PARTS = (
    ("engine", r"^autograd::|Backward\d+$|^graph walk$"),
    ("optimizer", r"^Optimizer\.(step|zero_grad)|_foreach_|_fused_adam"),
    ("linear", r"^(Linear|MatMul|Einsum)$|^aten::(addmm|mm|bmm|matmul|linear|einsum)$"),
    ("attention", r"attention"),
    ("convolution", r"conv|im2col|col2im"),
    ("recurrent", r"lstm|gru|rnn"),
    ("activation", r"gelu|relu|elu|silu|sigmoid|tanh|softplus|threshold"),
    ("normalisation", r"norm"),
    ("loss", r"entropy|nll|log_softmax|bce|binary_cross|mse|loss"),
    ("embedding", r"embedding"),
)
_PART_PATTERNS = [(part, re.compile(pat, re.IGNORECASE)) for part, pat in PARTS]
OUTSIDE = "outside the ops"


def part_of(name):
    """The part of a step an op (a minigen Function's or a PyTorch profiler event's name) is in."""
    for part, pat in _PART_PATTERNS:
        if pat.search(name):
            return part
    return "other"


def _with_outside(parts, total):
    parts = {k: v for k, v in parts.items() if v > 0}
    parts[OUTSIDE] = max(0.0, total - sum(parts.values()))
    return parts


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
        from ..optim.optimizer import Optimizer
        for cls in [Optimizer] + _all_subclasses(Optimizer):
            for attr in ("step", "zero_grad"):
                if attr in cls.__dict__:
                    self._wrap_method(cls, attr, "optimizer")
        orig_walk = graph.run_backward

        def run_backward(*args, **kwargs):
            prof._push("graph walk", "engine")
            try:
                return orig_walk(*args, **kwargs)
            finally:
                prof._pop()
        graph.run_backward = run_backward
        self._undo.append((graph, "run_backward", orig_walk))
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
            if kind == "optimizer":  # (outside the ops here; a part of its own in ``parts``)
                continue
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

    def parts(self, total, steps=1):
        """Seconds per step in each part of ``PARTS`` (plus "outside the ops"): an op's
        forward and backward bodies go to its part, ``Function.apply`` and the graph walk to
        "engine", the optimizer's methods to "optimizer"."""
        parts = {}
        for (name, kind), (calls, sec) in self.stats.items():
            part = kind if kind in ("engine", "optimizer") else part_of(name)
            parts[part] = parts.get(part, 0.0) + sec / steps
        return _with_outside(parts, total)


def _torch_part(event):
    """An event's part: by its own name, or, for an event of no part of its own (a copy, an
    add_), the part of its nearest enclosing event that has one, the engine's nodes skipped:
    so the copy of the bias inside ``aten::addmm`` is the linear layer's, and the arithmetic
    inside ``Optimizer.step`` the optimizer's (as minigen's raw-array work inside its ops)."""
    part, up = part_of(event.name), event.cpu_parent
    while part == "other" and up is not None:
        p = part_of(up.name)
        if p not in ("other", "engine"):
            part = p
        up = up.cpu_parent
    return part


@contextlib.contextmanager
def _without_profiler_chatter():
    """PyTorch's profiler (Kineto) writes a "USDT: ... profiler_start" line to the process's
    stderr each time it starts and stops, from C++, past Python's ``sys.stderr``. Those lines
    are dropped; anything else written to stderr meanwhile is passed on."""
    fd = 2  # the process's stderr, where C++ writes, whatever sys.stderr is
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            lines = tmp.read().splitlines(keepends=True)
            os.write(fd, b"".join(ln for ln in lines if not ln.startswith(b"USDT:")))


def torch_parts(case, steps=3, rounds=3):
    """PyTorch's profile of a torch case on the CPU, sorted into the parts of ``PARTS`` by each
    event's self time (``_torch_part``); wall-clock seconds per step. The profiler slows some
    steps down by much more than others, so ``rounds`` profiles of ``steps`` steps are taken
    and the one with the median step time is kept."""
    from torch.profiler import ProfilerActivity, profile
    case.step()
    runs = []
    for _ in range(rounds):
        with _without_profiler_chatter(), profile(activities=[ProfilerActivity.CPU]) as prof:
            t0 = time.perf_counter()
            for _ in range(steps):
                case.step()
            total = (time.perf_counter() - t0) / steps
        parts = {}
        for e in prof.events():
            part = _torch_part(e)
            parts[part] = parts.get(part, 0.0) + e.self_cpu_time_total / 1e6 / steps
        runs.append((total, parts))
    total, parts = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    return {"method": "torch.profiler (CPU), self time of each event, the median of "
                      f"{rounds} profiles of {steps} steps",
            "profiled_step_s": total, "parts_s": _with_outside(parts, total)}


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
        "parts_s": prof.parts(total, steps),
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
