"""Generation speed with and without the KV cache, minigen beside PyTorch, for one GPT.

The model: the default Shakespeare GPT's sizes (4 layers, d 128, 4 heads, vocabulary 80) with
a context of 16 + 512 positions, random weights (speed does not depend on them). minigen's
weights are copied into the PyTorch twin (``minigen/bench/torch_twins.py``), so both greedy
decodings must produce the same tokens, which is checked. For n = 16 .. 512 new tokens after a
16-token prompt (batch 1, greedy), each library decodes:

* with the cache: each step feeds one token and attends over the cached keys and values;
* without: each step re-reads the whole sequence so far.

PyTorch has no ``generate`` of its own, so its side is the same two loops written with
``torch`` (the twin's ``forward_cached``). Both pinned to one thread; the median of
``--repeats`` runs. Writes a JSON and a chart under ``benchmarks/results/`` and prints the table.

    python benchmarks/generation_speed.py [--repeats 3] [--max-new 512]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigen  # noqa: E402
from minigen.models.gpt import GPT  # noqa: E402

PROMPT = 16


def build(max_new):
    minigen.manual_seed(0)
    return GPT(80, PROMPT + max_new, n_layer=4, n_head=4, n_embd=128).eval()


def torch_copy(model):
    import torch
    from minigen.bench.torch_twins import torch_twin

    net = torch_twin(model.config()).eval()
    sd = {k.replace("attn.c_proj", "attn_proj").replace("attn.c_attn", "c_attn"): torch.from_numpy(v.numpy())
          for k, v in model.state_dict().items()}
    net.load_state_dict(sd)
    return net


def torch_greedy(net, prompt, n, use_cache):
    import torch
    with torch.no_grad():
        seq = torch.tensor(prompt)
        cache = None
        for _ in range(n):
            if use_cache:
                feed = seq if cache is None else seq[:, -1:]
                logits, cache = net.forward_cached(feed, cache)
            else:
                logits = net(seq)
            seq = torch.cat([seq, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return seq.numpy()


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-new", type=int, default=512)
    p.add_argument("--no-torch", action="store_true")
    args = p.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    minigen.set_num_threads(1)
    model = build(args.max_new)
    prompt = numpy.random.default_rng(0).integers(0, 80, (1, PROMPT)).tolist()
    net = None
    if not args.no_torch:
        import torch
        torch.set_num_threads(1)
        net = torch_copy(model)
    ns = [n for n in (16, 32, 64, 128, 256, 512) if n <= args.max_new]
    rows = []
    for n in ns:
        row = {"new_tokens": n}
        outs = {}
        for cache in (True, False):
            key = "cached" if cache else "uncached"
            s, out = timed(lambda: model.generate(prompt, n, do_sample=False, use_cache=cache), args.repeats)
            row[f"minigen_{key}_s"], outs[f"minigen_{key}"] = s, out.numpy()
            if net is not None:
                s, out = timed(lambda: torch_greedy(net, prompt, n, cache), args.repeats)
                row[f"torch_{key}_s"], outs[f"torch_{key}"] = s, out
        first = outs["minigen_cached"]
        row["same_tokens"] = all(numpy.array_equal(first, o) for o in outs.values())
        rows.append(row)
        line = "  ".join(f"{k.replace('_s', '')} {n / v:7.1f} tok/s" for k, v in row.items() if k.endswith("_s"))
        print(f"{n:4d} new tokens: {line}  same tokens: {row['same_tokens']}", flush=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"generation-{stamp}.json")
    with open(path, "w") as f:
        json.dump({"model": model.config(), "prompt": PROMPT, "repeats": args.repeats, "threads": 1,
                   "rows": rows}, f, indent=1)
    _chart(rows, path[:-5] + ".png")
    print(table(rows))
    print(f"wrote {path} and its .png")


def table(rows):
    libs = [l for l in ("minigen", "torch") if f"{l}_cached_s" in rows[0]]
    head = "| new tokens | " + " | ".join(f"{l} cached | {l} uncached | {l} speedup" for l in libs) + " |"
    out = [head, "|---" * (1 + 3 * len(libs)) + "|"]
    for r in rows:
        n = r["new_tokens"]
        cells = []
        for l in libs:
            c, u = r[f"{l}_cached_s"], r[f"{l}_uncached_s"]
            cells += [f"{n / c:.0f} tok/s", f"{n / u:.0f} tok/s", f"{u / c:.1f}x"]
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _chart(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ns = [r["new_tokens"] for r in rows]
    for key, style in (("minigen_cached", "-o"), ("minigen_uncached", "--o"),
                       ("torch_cached", "-s"), ("torch_uncached", "--s")):
        if f"{key}_s" in rows[0]:
            ax.plot(ns, [1000 * r[f"{key}_s"] / r["new_tokens"] for r in rows], style,
                    label=key.replace("_", ", "))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("new tokens (after a 16-token prompt)")
    ax.set_ylabel("ms per generated token")
    ax.set_title("GPT (4 layers, d 128), greedy, batch 1, 1 thread")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
