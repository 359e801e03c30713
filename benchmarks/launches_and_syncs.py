"""Kernel launches and host syncs per training step, counted on the simulated CUDA device
(issue #19).

On a GPU minigen's cost per op is a kernel launch plus CuPy's and minigen's Python around it,
whatever the tensor's size, so a step's time there is close to (launches x a few us) until the
tensors are large. The simulated device counts the launches a GPU would make
(``simulated_cuda.count_launches``: every array operation that computes, every write into an
array, every fused kernel), once with the fused CUDA kernels (``@fused``) and once without
(``set_fused(False)``): what fusion removes.

On a GPU, every read of a device value on the host (``float(loss)``, ``bool(mask.any())``,
``int(index.max())``, ``.item()``, ``.get()``) waits for all queued kernels: the CPU stops
queueing work until the GPU is idle, and the launch overhead that overlapped with GPU work no
longer does. These reads are invisible on a CPU. The simulated device counts them
(``simulated_cuda.count_syncs``), with the minigen line that asked, so they can be found and
removed without a GPU.

    python benchmarks/launches_and_syncs.py                 # every model workload of minigen bench
    python benchmarks/launches_and_syncs.py --only gpt      # names containing 'gpt'
    python benchmarks/launches_and_syncs.py --out FILE.md   # also write the table

For each workload of ``minigen bench``'s model group (quick sizes), it builds the step on the
simulated 'cuda' device, runs it twice (a warm-up), then counts the syncs and launches of one
more step, and the launches of one more with the fused kernels off.
"""
from __future__ import annotations

import argparse
import sys


def count(workloads, verbose):
    from minigen.bench.harness import Lib, Unavailable
    from minigen.testing import simulated_cuda

    rows = []
    with simulated_cuda.simulated_cuda():
        lib = Lib("minigen", "cuda")
        for w in workloads:
            try:
                log, fused, unfused = simulated_cuda.count_step(w.make(lib).step)
            except Unavailable as e:
                rows.append((w.name, None, None, None, f"unavailable: {e}"))
                continue
            top = sorted(log.items(), key=lambda kv: -kv[1])
            where = "; ".join(f"{c}x {kind} at {loc}" for (kind, loc), c in top[:20 if verbose else 3])
            rows.append((w.name, sum(log.values()), fused, unfused, where))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="workloads whose name contains this")
    ap.add_argument("--out", default=None, help="also write the table (markdown) here")
    ap.add_argument("--verbose", action="store_true", help="every line that syncs, not the top 3")
    args = ap.parse_args(argv)
    from minigen.bench.workloads_models import model_workloads

    ws = [w for w in model_workloads(quick=True) if args.only in w.name]
    rows = count(ws, args.verbose)
    lines = ["| workload (quick sizes) | launches, fused | launches, not fused | host syncs | "
             "where the syncs are (the most frequent) |", "|---|---:|---:|---:|---|"]
    for name, n, lf, lu, where in rows:
        cells = ["-" if v is None else str(v) for v in (lf, lu, n)]
        lines.append(f"| {name} | {' | '.join(cells)} | {where} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
