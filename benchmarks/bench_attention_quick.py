"""Scaled dot-product attention, forward + backward, minigen vs PyTorch on one CPU thread.

    python benchmarks/bench_attention_quick.py [--repeats 7] [--json out.json]

Shapes: batch 8, heads 4, head dim 32, sequence length T = 64 .. 1024 (self-attention, no
mask, float32). Each figure is the median of ``--repeats`` timed runs after one warm-up.
The growth exponent is the slope of log(time) against log(T), fitted over all sizes and over
T >= 256, where the O(T^2) score matrix dominates (the smaller sizes carry fixed costs).
Times are given as wall time and as this process's CPU time (see ``_median_time``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
from minigen.bench.machine import pin_threads

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigen  # noqa: E402
from minigen.ops.attention import scaled_dot_product_attention  # noqa: E402

B, H, D = 8, 4, 32
SIZES = (64, 128, 256, 512, 1024)


def _median_time(fn, repeats):
    """(median wall seconds, median CPU seconds of this process). On one thread the two agree
    on a quiet machine; on a shared one the CPU time leaves out the time spent preempted."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def bench_minigen(T, repeats):
    rng = np.random.default_rng(0)
    q, k, v = (minigen.tensor(rng.standard_normal((B, H, T, D)).astype(np.float32),
                              requires_grad=True) for _ in range(3))
    g = minigen.tensor(rng.standard_normal((B, H, T, D)).astype(np.float32))

    def step():
        for t in (q, k, v):
            t.grad = None
        scaled_dot_product_attention(q, k, v).backward(g)
    return _median_time(step, repeats)


def bench_torch(T, repeats):
    import torch
    rng = np.random.default_rng(0)
    q, k, v = (torch.tensor(rng.standard_normal((B, H, T, D)).astype(np.float32),
                            requires_grad=True) for _ in range(3))
    g = torch.tensor(rng.standard_normal((B, H, T, D)).astype(np.float32))

    def step():
        for t in (q, k, v):
            t.grad = None
        torch.nn.functional.scaled_dot_product_attention(q, k, v).backward(g)
    return _median_time(step, repeats)


def growth_exponent(sizes, times, min_size=256):
    """Slope of log(time) on log(T) over the sizes >= min_size."""
    pts = [(s, t) for s, t in zip(sizes, times) if s >= min_size and t is not None]
    if len(pts) < 2:
        return None
    x = np.log([s for s, _ in pts])
    y = np.log([t for _, t in pts])
    return float(np.polyfit(x, y, 1)[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    pins = pin_threads(1, with_torch=torch is not None)  # BLAS, minigen's own, torch
    rows = []
    nan = (float("nan"), float("nan"))
    print(f"{'T':>5}  {'minigen wall/cpu ms':>22}  {'torch wall/cpu ms':>22}  minigen/torch (cpu)")
    for T in SIZES:
        ours = bench_minigen(T, args.repeats)
        theirs = bench_torch(T, args.repeats) if torch is not None else nan
        rows.append({"T": T, "minigen_wall_s": ours[0], "minigen_cpu_s": ours[1],
                     "torch_wall_s": theirs[0], "torch_cpu_s": theirs[1]})
        print(f"{T:5d}  {ours[0] * 1e3:10.2f} /{ours[1] * 1e3:10.2f}  "
              f"{theirs[0] * 1e3:10.2f} /{theirs[1] * 1e3:10.2f}  {ours[1] / theirs[1]:6.2f}x",
              flush=True)
    pins.release()
    sizes = [r["T"] for r in rows]
    exps = {}
    for who in ("minigen", "torch"):
        for kind in ("wall", "cpu"):
            for lo in (0, 256):
                exps[f"{who}_{kind}_T>={lo}"] = growth_exponent(
                    sizes, [r[f"{who}_{kind}_s"] for r in rows], min_size=lo)
    for lo in (256, 0):
        print(f"growth exponent, slope of log t on log T (T >= {lo}):  "
              + ", ".join(f"{w} {k} {exps[f'{w}_{k}_T>={lo}']:.2f}"
                          for w in ("minigen", "torch") for k in ("wall", "cpu")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"shape": {"batch": B, "heads": H, "head_dim": D}, "threads": 1,
                       "repeats": args.repeats, "rows": rows, "growth_exponent": exps}, f, indent=2)


if __name__ == "__main__":
    main()
