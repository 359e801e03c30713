#!/usr/bin/env python
"""Run the benchmark from a checkout without installing: ``python benchmarks/run.py [ARGS]``.

The same as ``minigen bench [ARGS]`` (the harness is ``minigen/bench/``); see
``benchmarks/README.md``. Results go to ``benchmarks/results/`` unless ``--out`` says otherwise.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from minigen.bench import main  # noqa: E402

if __name__ == "__main__":
    if "--out" not in sys.argv[1:]:
        sys.argv[1:1] = ["--out", os.path.join(ROOT, "benchmarks", "results")]
    sys.exit(main(sys.argv[1:]))
