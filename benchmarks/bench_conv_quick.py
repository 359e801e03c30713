"""Quick speed check: minigen's conv2d / conv_transpose2d forward+backward against PyTorch's CPU.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_conv_quick.py [--threads 1 2] [--repeat 9]

Both libraries run in this process, on the same data, limited to the same number of threads
(``threadpoolctl`` for NumPy's BLAS, ``torch.set_num_threads`` for PyTorch). Each case is warmed
up, then the two take turns in three blocks of runs (so a noisy neighbour hits both alike; not
run by run, because at 2 threads one library's idle worker threads spin for a while after each
call and slow the other down), each block after one untimed run, and the median
of ``--repeat`` runs is reported with the ratio minigen / PyTorch: wall-clock time, and the
process's CPU time too (steadier than wall time on a machine shared with other work; with more
than one thread it adds up every thread's time). A forward+backward is
y = f(x, w, b); y.backward(g) with a fixed random g, gradients for x, w and b.
(A standalone script; the full benchmark harness lives elsewhere.)
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigen  # noqa: E402
import minigen.nn.functional as F  # noqa: E402

CASES = [
    # name, op, x shape, w shape, kwargs, target ratio
    ("conv2d N64 C64->128 16x16 k3 p1", "conv2d", (64, 64, 16, 16), (128, 64, 3, 3),
     dict(stride=1, padding=1), 1.5),
    ("conv_transpose2d N64 128->64 8x8->16x16 k4 s2 p1", "conv_transpose2d", (64, 128, 8, 8),
     (128, 64, 4, 4), dict(stride=2, padding=1), 1.5),
]


def _median_ms(samples):
    return 1e3 * statistics.median(samples)


def run_case(name, op, xs, ws, kw, target, repeat, torch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) * 0.05).astype(np.float32)
    out_ch = ws[0] if op == "conv2d" else ws[1]
    b = rng.standard_normal(out_ch).astype(np.float32)

    mx = minigen.tensor(x, requires_grad=True)
    mw = minigen.tensor(w, requires_grad=True)
    mb = minigen.tensor(b, requires_grad=True)
    mf = getattr(F, op)
    g = minigen.tensor(rng.standard_normal(mf(mx, mw, mb, **kw).shape).astype(np.float32))

    def minigen_step():
        mx.grad = mw.grad = mb.grad = None
        mf(mx, mw, mb, **kw).backward(g)

    steps = {"minigen": minigen_step}
    if torch is not None:
        tx = torch.tensor(x, requires_grad=True)
        tw = torch.tensor(w, requires_grad=True)
        tb = torch.tensor(b, requires_grad=True)
        tf = getattr(torch.nn.functional, op)
        tg = torch.tensor(g.numpy())

        def torch_step():
            tx.grad = tw.grad = tb.grad = None
            tf(tx, tw, tb, **kw).backward(tg)

        steps["torch"] = torch_step
        # same numbers, or the timing means nothing
        minigen_step()
        torch_step()
        err = max(float(np.abs(mx.grad.numpy() - tx.grad.numpy()).max()),
                  float(np.abs(mw.grad.numpy() - tw.grad.numpy()).max() / (np.abs(tw.grad.numpy()).max())))
        assert err < 1e-3, f"{name}: minigen and torch disagree (max error {err:.3g})"

    for f in steps.values():  # warm-up
        f()
        f()
    wall = {k: [] for k in steps}
    cpu = {k: [] for k in steps}
    rounds = min(3, repeat)
    for r in range(rounds):  # the libraries take turns in blocks, each after an untimed step
        for k, f in steps.items():
            f()
            for _ in range(repeat // rounds + (r < repeat % rounds)):
                c0, t0 = time.process_time(), time.perf_counter()
                f()
                wall[k].append(time.perf_counter() - t0)
                cpu[k].append(time.process_time() - c0)
    m, mc = _median_ms(wall["minigen"]), _median_ms(cpu["minigen"])
    if torch is None:
        print(f"  {name:<50} minigen {m:7.1f} ms (cpu {mc:7.1f})   (torch not installed)")
        return None
    t, tc = _median_ms(wall["torch"]), _median_ms(cpu["torch"])
    ratio, ratio_cpu = m / t, mc / tc
    flag = "ok" if ratio <= target else f"OVER {target}x"
    print(f"  {name:<50} minigen {m:7.1f} ms   torch {t:7.1f} ms   ratio {ratio:5.2f} ({flag})"
          f"   | cpu time: {mc:7.1f} / {tc:7.1f} ms = {ratio_cpu:5.2f}")
    return ratio


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        torch = None
    from minigen.bench.machine import pin_threads
    for n in args.threads:
        print(f"threads={n} (OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})")
        pins = pin_threads(n, with_torch=torch is not None)  # BLAS, minigen's own, torch
        try:
            for case in CASES:
                run_case(*case, repeat=args.repeat, torch=torch)
        finally:
            pins.release()


if __name__ == "__main__":
    main()
