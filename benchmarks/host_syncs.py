"""Host syncs per training step, counted on the simulated CUDA device (issue #19).

On a GPU, every read of a device value on the host (``float(loss)``, ``bool(mask.any())``,
``int(index.max())``, ``.item()``, ``.get()``) waits for all queued kernels: the CPU stops
queueing work until the GPU is idle, and the launch overhead that overlapped with GPU work no
longer does. These reads are invisible on a CPU. The simulated device counts them
(``simulated_cuda.count_syncs``), with the minigen line that asked, so they can be found and
removed without a GPU.

    python benchmarks/host_syncs.py                 # every model workload of minigen bench
    python benchmarks/host_syncs.py --only gpt      # names containing 'gpt'
    python benchmarks/host_syncs.py --out FILE.md   # also write the table

For each workload of ``minigen bench``'s model group (quick sizes), it builds the step on the
simulated 'cuda' device, runs it twice (a warm-up), then counts the syncs of one more step.
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
                case = w.make(lib)
                case.step()
                case.step()
                with simulated_cuda.count_syncs() as log:
                    case.step()
            except Unavailable as e:
                rows.append((w.name, None, f"unavailable: {e}"))
                continue
            n = sum(log.values())
            top = sorted(log.items(), key=lambda kv: -kv[1])
            where = "; ".join(f"{c}x {kind} at {loc}" for (kind, loc), c in top[:3 if not verbose else 20])
            rows.append((w.name, n, where))
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
    lines = ["| workload (quick sizes) | host syncs per step | where (the most frequent) |",
             "|---|---:|---|"]
    for name, n, where in rows:
        lines.append(f"| {name} | {'-' if n is None else n} | {where} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
