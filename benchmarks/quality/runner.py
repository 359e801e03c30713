"""What every quality script shares: one thread per run, one JSON per (model, library, seed),
and the command line (run what is missing, ``--report``, ``--steps`` smoke tests)."""
from __future__ import annotations

import argparse
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def set_threads(n=1):
    """One thread for NumPy's BLAS, minigen's host threads and PyTorch's intra-op pool.
    (threadpoolctl's OpenMP limit is not used: with other processes on the cores it made
    PyTorch's small RNN steps 30-40x slower, 3.7 -> 120-170 ms, measured here.)"""
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n, user_api="blas")
    except ImportError:
        pass
    import minigen
    minigen.set_num_threads(n)
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass


def result_path(model_name, lib, seed):
    return os.path.join(RESULTS, f"{model_name}-{lib}-seed{seed}.json")


def load_results(model_name, lib, seeds=(0, 1, 2)):
    """The saved result dicts of ``model_name`` / ``lib`` for those ``seeds`` that exist."""
    rows = []
    for seed in seeds:
        p = result_path(model_name, lib, seed)
        if os.path.exists(p):
            with open(p) as f:
                rows.append(json.load(f))
    return rows


def main(model_names, run, table, describe, doc="", argv=None, chart=None):
    """``run(model, lib, seed, steps=None) -> dict``; ``table(models) -> str``;
    ``describe(result) -> str`` (one line); ``chart(models, path)`` draws the saved results."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--models", nargs="+", default=model_names, choices=model_names)
    p.add_argument("--libs", nargs="+", default=["minigen", "torch"], choices=["minigen", "torch"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--force", action="store_true", help="re-run results that exist")
    p.add_argument("--report", action="store_true", help="only print the table of the saved results")
    p.add_argument("--steps", type=int, help="a smoke test: this many steps, results not saved")
    if chart is not None:
        p.add_argument("--chart", help="also draw the saved results as a chart (PNG) here")
    args = p.parse_args(argv)
    os.makedirs(RESULTS, exist_ok=True)
    if args.steps is not None:
        set_threads(1)
        for m in args.models:
            for lib in args.libs:
                print(f"{m} {lib}: {describe(run(m, lib, args.seeds[0], steps=args.steps))}")
        return
    if not args.report:
        set_threads(1)
        for m in args.models:
            for seed in args.seeds:
                for lib in args.libs:
                    path = result_path(m, lib, seed)
                    if os.path.exists(path) and not args.force:
                        continue
                    r = run(m, lib, seed)
                    with open(path, "w") as f:
                        json.dump(r, f, indent=1)
                    print(f"{m} {lib} seed {seed}: {describe(r)} ({r['train_seconds']:.0f} s)", flush=True)
    print(table(args.models))
    if chart is not None and args.chart:
        chart(args.models, args.chart)
        print(f"wrote {args.chart}")
