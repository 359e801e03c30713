#!/usr/bin/env python
"""Re-time some workloads independently of the harness's timer and compare the ratios.

    python benchmarks/crosscheck.py RESULTS.json [--only NAME ...] [--threads 1] [--rounds 5]

The harness has minigen and PyTorch take turns in blocks and calibrates a loop count; this
script instead builds each workload afresh and times each library in its own block with
``timeit.repeat`` (``rounds`` blocks per library, alternating which library goes first), takes
the median, and prints the minigen/torch ratio beside the one in RESULTS.json. Agreement within
the spread between rounds says the harness's ratio is not an artefact of its own timing method.
"""
import argparse
import json
import os
import statistics
import sys
import timeit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results")
    p.add_argument("--only", action="append", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    import torch

    from minigen.bench.harness import Lib
    from minigen.bench.machine import pin_threads
    from minigen.bench.workloads_models import model_workloads
    from minigen.bench.workloads_ops import op_workloads

    pins = pin_threads(args.threads, with_torch=True)
    with open(args.results) as f:
        doc = json.load(f)
    quick = doc["settings"]["quick"]
    reported = {r["workload"]: r for r in doc["results"]
                if r["lib"] == "minigen" and r["device"] == "cpu" and r.get("ratio_to_torch")}
    only = args.only or ["tiny_chain", "tiny_op", "elementwise", "gpt_step", "dcgan_step",
                         "conv2d", "lstm", "model:vae"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); results "
          f"{os.path.basename(args.results)}")
    print(f"{'workload':46s} {'harness':>8s} {'timeit':>8s}  (spread of timeit rounds)")
    for w in op_workloads(quick) + model_workloads(quick):
        if w.name not in reported or not any(o in w.name for o in only):
            continue
        steps = {n: w.make(Lib(n, "cpu")).step for n in ("minigen", "torch")}
        for s in steps.values():  # warm up
            for _ in range(3):
                s()
        one = min(timeit.repeat(steps["minigen"], number=1, repeat=3))
        number = max(1, int(0.2 / max(one, 1e-9)))
        per = {"minigen": [], "torch": []}
        for r in range(args.rounds):
            order = ("minigen", "torch") if r % 2 == 0 else ("torch", "minigen")
            for n in order:
                ts = timeit.repeat(steps[n], number=number, repeat=3)
                per[n].append(min(ts) / number)
        ratios = [a / b for a, b in zip(per["minigen"], per["torch"])]
        ratio = statistics.median(per["minigen"]) / statistics.median(per["torch"])
        print(f"{w.name:46s} {reported[w.name]['ratio_to_torch']:7.2f}x {ratio:7.2f}x  "
              f"({min(ratios):.2f}-{max(ratios):.2f})")
    pins.release()


if __name__ == "__main__":
    main()
