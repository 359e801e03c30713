"""FlashAttention against standard attention: peak memory and time of forward + backward.

    python benchmarks/flash_attention.py                    # T = 256 .. 8192, writes the JSON and PNG
    python benchmarks/flash_attention.py --sizes 256 512    # a part (a smoke test)

One head, head dim d = 64, float32, no mask, on one thread: q, k, v are [1, T, 64] tensors
that require grad; one call is ``o = attn(q, k, v); o.backward(dO)``. The two paths:

* standard: ``minigen.nn.functional.scaled_dot_product_attention`` (one Function that keeps
  Q, K, V, O and recomputes P in the backward, but still makes the T x T scores and
  probabilities, and the T x T dP / dS of the backward);
* flash: ``minigen.nn.functional.flash_attention`` (tiles of ``--block`` x ``--block``, the
  online softmax; saves O and the row log-sum-exp only).

Peak memory: ``tracemalloc`` (NumPy reports its array allocations to it), started after the
inputs and dO exist, so the figure is the extra memory one forward + backward needs at its
peak, the gradients included. Time: the best of ``--repeats`` runs with tracemalloc off (the
fastest run is the one least disturbed by other processes on a shared machine), as CPU time
of this process (``time.process_time``) and as wall time.

PyTorch cross-check: ``torch.nn.functional.scaled_dot_product_attention`` on the same inputs
(float32) gives O and the gradients; the largest absolute differences from flash are recorded,
with PyTorch's time (its memory is not visible to tracemalloc).

Writes ``benchmarks/results/flash_attention.json`` and ``docs/images/flash_attention_memory.png``
(log-log, with O(T) and O(T^2) guide lines).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(HERE, "quality"))

import minigen  # noqa: E402
import minigen.nn.functional as F  # noqa: E402
import runner  # noqa: E402

D = 64
SIZES = (256, 512, 1024, 2048, 4096, 8192)


def _inputs(T, seed=0):
    rng = np.random.default_rng([seed, T])
    q, k, v, do = (rng.standard_normal((1, T, D)).astype(np.float32) for _ in range(4))
    return q, k, v, do


def _call(path, arrays, block, causal=False):
    """One forward + backward of ``path`` on fresh leaf tensors; returns (o, dq, dk, dv)."""
    q, k, v, do = arrays
    qt, kt, vt = (minigen.tensor(a, requires_grad=True) for a in (q, k, v))
    dot = minigen.tensor(do)
    if path == "flash":
        o = F.flash_attention(qt, kt, vt, is_causal=causal, block_q=block, block_k=block)
    else:
        o = F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)
    o.backward(dot)
    return o.array, qt.grad.array, kt.grad.array, vt.grad.array


def peak_bytes(path, arrays, block):
    """Peak bytes traced during one forward + backward (inputs already allocated)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    out = _call(path, arrays, block)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del out
    return peak


def best_seconds(fn, repeats):
    """(best wall seconds, best CPU seconds of this process) over ``repeats`` runs. On one
    thread the two agree on a quiet machine; on a shared one the CPU time leaves out the time
    the process waited for a core."""
    fn()  # warm-up
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu


def torch_check(arrays, flash_out):
    """PyTorch's sdpa on the same inputs: max |difference| of O and the grads, and its time."""
    import torch
    q, k, v, do = (torch.from_numpy(a) for a in arrays)

    def run():
        qt, kt, vt = (a.clone().requires_grad_(True) for a in (q, k, v))
        o = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt)
        o.backward(do)
        return [t.detach().numpy() for t in (o, qt.grad, kt.grad, vt.grad)]

    got = run()
    diffs = {name: float(np.abs(a - b).max()) for name, a, b in zip(("o", "dq", "dk", "dv"), got, flash_out)}
    return diffs, best_seconds(run, 3)[1]


def measure(sizes, block, repeats):
    rows = []
    for T in sizes:
        arrays = _inputs(T)
        row = {"T": T}
        for path in ("standard", "flash"):
            row[f"{path}_peak_bytes"] = peak_bytes(path, arrays, block)
            reps = repeats if T <= 2048 else max(1, repeats // 2)
            row[f"{path}_wall_seconds"], row[f"{path}_seconds"] = \
                best_seconds(lambda: _call(path, arrays, block), reps)
            # causal: flash skips the tiles above the diagonal (about half the work)
            row[f"{path}_causal_seconds"] = best_seconds(lambda: _call(path, arrays, block, True), reps)[1]
        # the two minigen paths agree (float32), and PyTorch agrees with flash
        fl, st = _call("flash", arrays, block), _call("standard", arrays, block)
        row["flash_vs_standard_max_abs"] = {n: float(np.abs(a - b).max())
                                            for n, a, b in zip(("o", "dq", "dk", "dv"), fl, st)}
        row["flash_vs_torch_max_abs"], row["torch_seconds"] = torch_check(arrays, fl)
        rows.append(row)
        print(f"T {T:5d}: peak MiB standard {row['standard_peak_bytes'] / 2**20:8.1f}  flash "
              f"{row['flash_peak_bytes'] / 2**20:6.2f}   seconds standard {row['standard_seconds']:.3f}"
              f"  flash {row['flash_seconds']:.3f}  torch {row['torch_seconds']:.3f}  causal standard "
              f"{row['standard_causal_seconds']:.3f} flash {row['flash_causal_seconds']:.3f}   "
              f"|O - O_torch| {row['flash_vs_torch_max_abs']['o']:.1e}", flush=True)
    return rows


def chart(rows, path):
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T = np.array([r["T"] for r in rows], float)
    st = np.array([r["standard_peak_bytes"] for r in rows], float) / 2**20
    fl = np.array([r["flash_peak_bytes"] for r in rows], float) / 2**20
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    ax.loglog(T, st, "o-", color="tab:red", label="standard attention")
    ax.loglog(T, fl, "s-", color="tab:blue", label="FlashAttention (tiles, online softmax)")
    # guide lines through the last point of each curve (where the leading term dominates)
    ax.loglog(T, st[-1] * (T / T[-1]) ** 2, ":", color="tab:red", alpha=0.6, label="O(T^2) guide")
    ax.loglog(T, fl[-1] * (T / T[-1]), ":", color="tab:blue", alpha=0.6, label="O(T) guide")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("peak extra memory, MiB (tracemalloc)")
    ax.set_title("forward + backward, one head, d 64, float32")
    ax.set_xticks(T)
    ax.set_xticklabels([str(int(t)) for t in T])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ts = np.array([r["standard_seconds"] for r in rows])
    tf = np.array([r["flash_seconds"] for r in rows])
    tt = np.array([r["torch_seconds"] for r in rows])
    bx.loglog(T, ts, "o-", color="tab:red", label="minigen standard")
    bx.loglog(T, tf, "s-", color="tab:blue", label="minigen flash")
    bx.loglog(T, tt, "^-", color="tab:gray", label="PyTorch sdpa (CPU)")
    bx.loglog(T, [r["flash_causal_seconds"] for r in rows], "s--", color="tab:blue", alpha=0.6,
              label="minigen flash, causal (tiles skipped)")
    bx.set_xlabel("sequence length T")
    bx.set_ylabel("CPU seconds, forward + backward (best of runs)")
    bx.set_title("time, one thread")
    bx.set_xticks(T)
    bx.set_xticklabels([str(int(t)) for t in T])
    bx.grid(True, which="both", alpha=0.3)
    bx.legend(fontsize=8)
    for a in (ax, bx):
        a.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    p.add_argument("--block", type=int, default=128, help="tile size (block_q = block_k)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--chart-only", action="store_true", help="redraw the PNG from the saved JSON")
    p.add_argument("--json", default=os.path.join(ROOT, "benchmarks", "results", "flash_attention.json"))
    p.add_argument("--chart", default=os.path.join(ROOT, "docs", "images", "flash_attention_memory.png"))
    args = p.parse_args(argv)
    if args.chart_only:
        with open(args.json) as f:
            chart(json.load(f)["rows"], args.chart)
        return
    runner.set_threads(1)
    rows = measure(args.sizes, args.block, args.repeats)
    # the growth exponents: slope of log(peak) against log(T) over the sizes measured
    logT = np.log([r["T"] for r in rows])
    slopes = {path: float(np.polyfit(logT, np.log([r[f"{path}_peak_bytes"] for r in rows]), 1)[0])
              for path in ("standard", "flash")} if len(rows) > 1 else {}
    import torch
    out = {"what": "peak extra memory (tracemalloc) and best time of forward + backward, one head",
           "d": D, "dtype": "float32", "block": args.block, "threads": 1, "rows": rows,
           "memory_growth_exponent": slopes, "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
           "numpy": np.__version__, "torch": torch.__version__, "minigen": minigen.__version__,
           "date": time.strftime("%Y-%m-%d"), "load_average_after": os.getloadavg(),
           "seconds": "CPU seconds of this process (time.process_time), best of the runs; "
                      "*_wall_seconds: wall time, best of the same runs",
           "command": "python benchmarks/flash_attention.py " + " ".join(argv or sys.argv[1:])}
    print("memory growth exponent (log-log slope):", {k: round(v, 2) for k, v in slopes.items()})
    if args.sizes == list(SIZES):
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        chart(rows, args.chart)
        print("wrote", args.json, "and", args.chart)


if __name__ == "__main__":
    main()
