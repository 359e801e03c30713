"""Scaled dot-product attention, forward + backward, minigen vs PyTorch on one CPU thread.

    python benchmarks/bench_attention_quick.py [--repeats 7] [--json out.json]

Shapes: batch 8, heads 4, head dim 32, sequence length T = 64 .. 1024 (self-attention, no
mask, float32). Each figure is the median of ``--repeats`` timed runs after one warm-up.
The growth exponent is the slope of log(time) against log(T) fitted over the points with
T >= 256, where the O(T^2) score matrix dominates (the smaller sizes carry fixed costs).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigen  # noqa: E402
from minigen.ops.attention import scaled_dot_product_attention  # noqa: E402

B, H, D = 8, 4, 32
SIZES = (64, 128, 256, 512, 1024)


def _median_time(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    rows = []
    with threadpool_limits(limits=1):
        for T in SIZES:
            ours = bench_minigen(T, args.repeats)
            theirs = bench_torch(T, args.repeats) if torch is not None else None
            rows.append({"T": T, "minigen_s": ours, "torch_s": theirs})
            ratio = f"{ours / theirs:6.2f}x" if theirs else "   n/a"
            print(f"T={T:5d}  minigen {ours * 1e3:9.2f} ms   torch "
                  f"{(theirs or float('nan')) * 1e3:9.2f} ms   minigen/torch {ratio}", flush=True)
    sizes = [r["T"] for r in rows]
    exp_ours = growth_exponent(sizes, [r["minigen_s"] for r in rows])
    exp_theirs = growth_exponent(sizes, [r["torch_s"] for r in rows])
    print(f"growth exponent (T >= 256): minigen {exp_ours:.2f}"
          + (f", torch {exp_theirs:.2f}" if exp_theirs is not None else ""))
    exp_all = growth_exponent(sizes, [r["minigen_s"] for r in rows], min_size=0)
    print(f"growth exponent (all T):    minigen {exp_all:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"shape": {"batch": B, "heads": H, "head_dim": D}, "threads": 1,
                       "repeats": args.repeats, "rows": rows,
                       "growth_exponent": {"minigen": exp_ours, "torch": exp_theirs}}, f, indent=2)


if __name__ == "__main__":
    main()
