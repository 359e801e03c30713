"""``minigen bench``: how much a GPU buys for a model, and where the time goes.

The harness lives inside the installed package (so ``minigen bench`` works from a pip
install); the repository's ``benchmarks/`` folder holds the standalone scripts, the results and
their README. Modules:

* ``harness``          libraries on devices (``Lib``), workloads, timing in turns, peak memory
* ``machine``          machine description, thread pinning, the device's measured GEMM peak
* ``workloads_ops``    op-level workloads (GEMM, tiny-op chain, elementwise, softmax, conv, ...)
* ``workloads_models`` GPT-style and DCGAN training steps, and the model-registry hook
* ``scaling``          time and memory against batch, width and sequence length; exponents; PNGs
* ``profile``          per-op profile of one step: GEMM, other kernels, engine, outside ops
* ``report``           the JSON schema, the markdown table, console lines
* ``cli``              ``main(argv)``, the ``minigen bench`` command

``from minigen.bench import main; main(["--quick"])`` is the command line's entry.
"""
from .cli import main, run, parse_args

__all__ = ["main", "run", "parse_args"]
