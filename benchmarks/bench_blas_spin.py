"""Why minigen sets OPENBLAS_THREAD_TIMEOUT: NumPy work split over two Python threads, right
after a multi-threaded BLAS product, with OpenBLAS's idle workers spinning or asleep.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_blas_spin.py

Each setting runs in a fresh process (OpenBLAS reads the variable once, when NumPy loads it),
without minigen, so that nothing else is set. One timed unit: a (2048 x 512) @ (512 x 512)
float32 product (BLAS on its default thread count), then 10 rounds of square, tanh and add over
a (2048 x 512) array, either on the calling thread or in two halves on two threads. The
product itself is timed too. Medians of ``--repeat`` units, printed per setting.
"""
import argparse
import os
import subprocess
import sys

CHILD = r"""
import sys, time
import numpy as np
from concurrent.futures import ThreadPoolExecutor
repeat = int(sys.argv[1])
rng = np.random.default_rng(0)
A = rng.standard_normal((2048, 512), dtype=np.float32)
W = rng.standard_normal((512, 512), dtype=np.float32)
X = rng.standard_normal((2048, 512), dtype=np.float32)
pool = ThreadPoolExecutor(1)

def passes(x, out):
    for _ in range(10):
        np.multiply(x, x, out=out); np.tanh(out, out=out); np.add(out, x, out=out)

def serial():
    passes(X, np.empty_like(X))

def split():
    out, h = np.empty_like(X), X.shape[0] // 2
    f = pool.submit(passes, X[h:], out[h:])
    passes(X[:h], out[:h])
    f.result()

def median(fn, after_product=True):
    ts = []
    for _ in range(repeat):
        if after_product:
            A @ W
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2] * 1e3

for _ in range(3):
    serial(); split()
print(f"{median(serial):.2f} {median(split):.2f} {median(lambda: A @ W, False):.2f}")
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=25)
    args = ap.parse_args(argv)
    print(f"{'OPENBLAS_THREAD_TIMEOUT':>24}  {'one thread':>10}  {'two threads':>11}  "
          f"{'the product':>11}  (ms, medians)")
    for value in (None, "4"):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
        if value is not None:
            env["OPENBLAS_THREAD_TIMEOUT"] = value
        out = subprocess.run([sys.executable, "-c", CHILD, str(args.repeat)], env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        one, two, product = (float(v) for v in out)
        print(f"{value or 'unset (spin ~0.1 s)':>24}  {one:10.2f}  {two:11.2f}  {product:11.2f}")


if __name__ == "__main__":
    main()
