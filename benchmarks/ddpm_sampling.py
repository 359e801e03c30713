"""DDPM's samplers measured on a trained checkpoint: time of 1,000 ancestral steps against
DDIM with 10, 20, 50 steps (same model, same batch), the sample scores of each, and DDIM
inversion x_0 -> x_T -> x_0 (reconstruction error on test digits).

    minigen train ddpm --data digits --out runs/ddpm-digits
    python benchmarks/ddpm_sampling.py runs/ddpm-digits/last.npz      # one thread

Writes ``benchmarks/results/ddpm-sampling-DATE.json`` and prints a Markdown table.
"""
import json
import os
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "quality"))

import minigen  # noqa: E402
import runner  # noqa: E402  (one thread for minigen, BLAS and torch)
from minigen import io, metrics  # noqa: E402
from minigen.data import load_digits  # noqa: E402
from minigen.models import registry  # noqa: E402
from minigen.train import load_checkpoint  # noqa: E402


def main(path, n=500):
    runner.set_threads(1)
    meta = io.load_meta(path)
    model = registry.get("ddpm").build(meta["data"], meta["variant"], **(meta.get("options") or {}))
    load_checkpoint(path, model)
    model.eval()
    xt = load_digits("test")[0]
    rows = []
    for sampler, steps in (("ddpm", None), ("ddim", 50), ("ddim", 20), ("ddim", 10)):
        minigen.manual_seed(0)
        t0 = time.perf_counter()
        x = model.sample(n, sampler=sampler, steps=steps)
        sec = time.perf_counter() - t0
        s = metrics.score_images(x, real=xt)
        rows.append({"sampler": sampler, "steps": steps or model.T, "seconds": sec,
                     "fd": s["frechet_distance_digit_classifier"], "classes": s["classes_covered"],
                     "precision": s["precision"], "recall": s["recall"]})
        print(rows[-1], flush=True)
    inv = []
    for steps in (10, 50, 200):
        x = xt[:100]
        x_T = model.ddim_invert(x, steps=steps)
        back = model.sample(100, sampler="ddim", steps=steps, x_T=x_T)
        err = (back - x).numpy()
        inv.append({"steps": steps, "rmse": float(numpy.sqrt((err ** 2).mean())),
                    "max_abs": float(numpy.abs(err).max()),
                    "x_T_std": float(x_T.numpy().std())})
        print(inv[-1], flush=True)
    out = {"checkpoint": path, "n": n, "T": model.T, "samplers": rows, "inversion": inv,
           "date": time.strftime("%Y-%m-%d")}
    dest = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                        f"ddpm-sampling-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(dest, "w") as f:
        json.dump(out, f, indent=1)
    print(f"| sampler | steps | {n} samples (s) | FD | digits | precision / recall |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['sampler']} | {r['steps']} | {r['seconds']:.1f} | {r['fd']:.2f} | {r['classes']} | "
              f"{r['precision']:.2f} / {r['recall']:.2f} |")
    print("\n| DDIM steps | inversion RMSE (pixels in [0, 1]) | max abs error | std of x_T |\n|---|---|---|---|")
    for r in inv:
        print(f"| {r['steps']} | {r['rmse']:.4f} | {r['max_abs']:.3f} | {r['x_T_std']:.3f} |")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main(sys.argv[1])
