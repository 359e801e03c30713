"""WaveNet's fast generation (per-layer queues, Paine et al. 2016) against naive generation
(the whole network over the last 512 samples for each new one): samples per second for one
second of audio (8,000 samples) at the default size, one thread, and whether the two draw the
same samples at the same seed.

    python benchmarks/wavenet_generation.py [CHECKPOINT] [--seconds 1.0]

Without a checkpoint the weights are a fresh model's (the speed does not depend on them).
Writes ``benchmarks/results/wavenet-generation-DATE.json``.
"""
import argparse
import json
import os
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "quality"))

import minigen  # noqa: E402
import runner  # noqa: E402
from minigen.models.wavenet import WaveNet  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", nargs="?")
    p.add_argument("--seconds", type=float, default=1.0)
    args = p.parse_args()
    runner.set_threads(1)
    minigen.manual_seed(0)
    model = WaveNet()
    if args.checkpoint:
        from minigen.train import load_checkpoint
        load_checkpoint(args.checkpoint, model)
    model.eval()
    n = int(args.seconds * 8000)
    out = {"samples": n, "checkpoint": args.checkpoint, "date": time.strftime("%Y-%m-%d %H:%M")}
    codes = {}
    for fast in (True, False):
        minigen.manual_seed(1)
        t0 = time.perf_counter()
        codes[fast] = model.generate(n, 7, fast=fast)
        sec = time.perf_counter() - t0
        out["fast" if fast else "naive"] = {"seconds": sec, "samples_per_second": n / sec}
        print(f"{'fast' if fast else 'naive'}: {n} samples in {sec:.1f} s ({n / sec:.0f} samples/s)", flush=True)
    out["identical"] = bool(numpy.array_equal(codes[True], codes[False]))
    out["speedup"] = out["naive"]["seconds"] / out["fast"]["seconds"]
    print(f"identical: {out['identical']}; fast is {out['speedup']:.1f}x naive")
    dest = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                        f"wavenet-generation-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(dest, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
