"""Check the gradients of every registered op and print a table.

    python -m minigen.testing.gradcheck_table [--device cpu|cuda|all] [--only 'pad_*,matmul*']
                                              [--first-order-only] [--simulated-cuda]

For every spec in ``op_specs.all_specs()`` and every device, runs ``minigen.gradcheck`` (first
derivatives) and ``minigen.gradgradcheck`` (second derivatives, where the spec says the op is
twice differentiable) on the spec's float64 inputs, and prints

    op | device | 1st order | 2nd order | max error | time (ms)

``max error`` is the largest |numeric - analytic| Jacobian entry of either order, measured
independently of gradcheck by ``check.jacobian_error``; ``time`` is the two checks' time.
The exit code is 0 when every check passed, 1 when one failed, 2 when no requested device was
available. ``--simulated-cuda`` installs the test suite's CPU stand-in as 'cuda' (it proves the
code path, not the speed of a GPU).
"""
from __future__ import annotations

import argparse
import fnmatch
import sys
import time

import numpy

__all__ = ["run", "main"]


def _select(specs, only):
    if not only:
        return specs
    if isinstance(only, str):
        only = [p for p in only.split(",") if p]
    return [s for s in specs if any(fnmatch.fnmatchcase(s.name, p) for p in only)]


def _device_problem(device):
    """None if ``device`` can run, else a sentence saying why not."""
    from minigen import backend
    try:
        b = backend.get_backend(device)
        if not b.is_available():
            return f"device '{device}' is not available"
    except RuntimeError as e:
        return str(e)
    return None


def _check_one(spec, device, second_order):
    """(first: 'ok'|'FAIL', second: 'ok'|'FAIL'|'-', max error, ms, first failure text)."""
    import minigen as mg
    from .check import jacobian_error

    inputs = spec.make_inputs(numpy.random.default_rng(0), device)
    kw = dict(eps=spec.eps, atol=spec.atol, rtol=spec.rtol, mode=spec.gradcheck_mode)
    detail = None
    t0 = time.perf_counter()
    try:
        mg.gradcheck(spec.fn, inputs, **kw)
        first = "ok"
    except mg.GradcheckError as e:
        first, detail = "FAIL", str(e)
    second = "-"
    if second_order and spec.second_order:
        try:
            mg.gradgradcheck(spec.fn, inputs, **kw)
            second = "ok"
        except mg.GradcheckError as e:
            second, detail = "FAIL", detail or str(e)
    ms = 1000 * (time.perf_counter() - t0)
    err = float("nan")
    if spec.gradcheck_mode == "full":
        err = jacobian_error(spec.fn, inputs, order=1, eps=spec.eps)
        if second != "-":
            err = max(err, jacobian_error(spec.fn, inputs, order=2, eps=spec.eps))
    return first, second, err, ms, detail


def run(devices=("cpu",), only=None, second_order=True, out=None):
    """Gradcheck every registered spec on each device; print a table; return an exit code.

    ``devices``: names, or ``"all"`` for cpu and cuda. ``only``: spec names or glob patterns
    (a list, or one comma-separated string). Returns 0 when all passed, 1 on any failure,
    2 when none of the devices was available.
    """
    from .op_specs import all_specs

    out = out or sys.stdout
    if isinstance(devices, str):
        devices = ("cpu", "cuda") if devices == "all" else (devices,)
    specs = _select(all_specs(), only)
    if not specs:
        print(f"gradcheck: no registered op matches {only!r}", file=out)
        return 1
    usable = []
    for d in devices:
        why = _device_problem(d)
        if why:
            print(f"gradcheck: skipping device '{d}': {why}"
                  + (" (--simulated-cuda runs the CPU stand-in)" if d == "cuda" else ""), file=out)
        else:
            usable.append(d)
    if not usable:
        return 2
    width = max(len("op"), *(len(s.name) for s in specs))
    head = f"{'op':<{width}} | device | 1st order | 2nd order | max error | time (ms)"
    print(head, file=out)
    print("-" * len(head), file=out)
    failures = []
    total = time.perf_counter()
    for d in usable:
        for spec in specs:
            try:
                first, second, err, ms, detail = _check_one(spec, d, second_order)
            except Exception as e:  # an op that crashes is a failure too, not the end of the run
                first, second, err, ms = "ERROR", "-", float("nan"), 0.0
                detail = f"{type(e).__name__}: {e}"
            print(f"{spec.name:<{width}} | {d:<6} | {first:<9} | {second:<9} | {err:9.2e} | "
                  f"{ms:9.1f}", file=out)
            if detail:
                failures.append((spec.name, d, detail))
    n = len(specs) * len(usable)
    print(f"\n{n - len(failures)} of {n} passed in {time.perf_counter() - total:.1f} s", file=out)
    for name, d, detail in failures:
        print(f"\n--- {name} on {d}:\n{detail}", file=out)
    return 1 if failures else 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="minigen gradcheck",
                                description="Check the gradients of every registered op.")
    p.add_argument("--device", choices=["cpu", "cuda", "all"], default="cpu")
    p.add_argument("--only", default=None, help="comma-separated op names or glob patterns")
    p.add_argument("--first-order-only", action="store_true", help="skip gradgradcheck")
    p.add_argument("--simulated-cuda", action="store_true",
                   help="run 'cuda' on the test suite's simulated device (no GPU needed)")
    args = p.parse_args(argv)
    if args.simulated_cuda:
        from . import simulated_cuda
        simulated_cuda.install()
    return run(devices=args.device, only=args.only, second_order=not args.first_order_only)


if __name__ == "__main__":
    sys.exit(main())
