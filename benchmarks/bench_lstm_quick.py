"""LSTM layer forward + backward: minigen against PyTorch on the CPU, at 1 and 2 threads.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_lstm_quick.py

Shape: input 64, hidden 256, T = 50 steps, batch 32, float32 (``--batch-first`` is not used;
both libraries get (T, B, I)). One timed run is: the layer's forward, ``output.sum()``, and
``backward()`` into every parameter. Each library is warmed up, then the median of ``--runs``
runs is reported. Thread counts are set with threadpoolctl (NumPy's BLAS) and
torch.set_num_threads (PyTorch). Prints one line per thread count and, with ``--json``, writes
the figures to a file. On a busy machine, ``--clock cpu --threads 1`` times the process's
CPU time instead of the wall clock.
"""
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
from minigen import nn  # noqa: E402


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def _median_ms(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = clock()
        fn()
        ts.append(clock() - t0)
    return 1e3 * statistics.median(ts)


def bench_minigen(x_np, I, H, warmup, runs):
    lstm = nn.LSTM(I, H)
    x = minigen.tensor(x_np)

    def step():
        lstm.zero_grad()
        out, (h, c) = lstm(x)
        out.sum().backward()
    return _median_ms(step, warmup, runs)


def bench_torch(x_np, I, H, warmup, runs):
    import torch
    lstm = torch.nn.LSTM(I, H)
    x = torch.from_numpy(x_np)

    def step():
        lstm.zero_grad()
        out, (h, c) = lstm(x)
        out.sum().backward()
    return _median_ms(step, warmup, runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--input", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--clock", choices=list(CLOCK), default="wall",
                    help="wall time (default), or the process's CPU time: steadier on a busy "
                         "machine, meaningful at 1 thread only (it adds up all threads)")
    ap.add_argument("--json", default=None, help="write the results to this file")
    a = ap.parse_args()
    global clock
    clock = CLOCK[a.clock]
    x_np = np.random.default_rng(0).standard_normal((a.T, a.batch, a.input)).astype(np.float32)
    try:
        import torch
    except ImportError:
        torch = None
    results = []
    for n in a.threads:
        pins = pin_threads(n, with_torch=torch is not None)  # BLAS, minigen's own, torch
        try:
            ours = bench_minigen(x_np, a.input, a.hidden, a.warmup, a.runs)
            theirs = (bench_torch(x_np, a.input, a.hidden, a.warmup, a.runs)
                      if torch is not None else None)
        finally:
            pins.release()
        row = {"threads": n, "minigen_ms": round(ours, 2)}
        if torch is not None:
            row.update(torch_ms=round(theirs, 2), ratio=round(ours / theirs, 2))
        results.append(row)
        print(f"LSTM({a.input}, {a.hidden}) T={a.T} B={a.batch} fwd+bwd, {n} thread(s), "
              f"{a.clock} clock: "
              f"minigen {ours:.1f} ms" + (f", PyTorch {row['torch_ms']:.1f} ms, ratio "
                                          f"{row['ratio']:.2f}x" if torch is not None else ""))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"shape": vars(a), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
