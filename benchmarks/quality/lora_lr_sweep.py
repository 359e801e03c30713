"""The fine-tuning learning rates of ``gpt_mechanisms_protocol.py``'s LoRA run, chosen here:
PyTorch twin, seed 0, the learned-position GPT pretrained on the plays for 1,000 steps (the
protocol's first setting; it then moved to 800 steps to fit the CPU budget, and the rates were
not re-swept), 300 steps on the sonnets, AdamW wd 0; the sonnets' validation loss for each
rate. Run:

    python benchmarks/quality/lora_lr_sweep.py      # writes results/gpt_lora_lr_sweep.json
    python benchmarks/quality/lora_lr_sweep.py --lora 1e-2 2e-2 --full 3e-3   # more rates, added
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import runner  # noqa: E402
import gpt_mechanisms_protocol as P  # noqa: E402


PRETRAIN_STEPS = 1000


def main(seed=0, lib_name="torch", grid=(("lora", (1e-3, 2e-3, 5e-3)), ("full", (1e-4, 3e-4, 1e-3)))):
    runner.set_threads(1)
    path = os.path.join(runner.RESULTS, "gpt_lora_lr_sweep.json")
    old = json.load(open(path)) if os.path.exists(path) else {}
    corpus = P.Corpus()
    lib = P.Lib(lib_name, seed)
    t0 = time.perf_counter()
    model, _ = P.pretrained(lib, corpus, seed, P.MODELS["gpt_lora"], PRETRAIN_STEPS, print)
    state = lib.state(model)
    out = {**old, "seed": seed, "lib": lib_name, "pretrain_steps": PRETRAIN_STEPS, "finetune_steps": P.LORA["steps"], "before": lib.evaluate(model, corpus, "sonnets"), "lora": old.get("lora", {}), "full": old.get("full", {})}
    from minigen.bench.torch_twins import torch_add_lora
    for kind, lrs in grid:
        for lr in lrs:
            m = lib.model(corpus.vocab_size, P.MODELS["gpt_lora"])
            lib.load(m, state)
            if kind == "lora":
                lib.m.manual_seed(seed + 1000)
                torch_add_lora(m, r=P.LORA["r"], alpha=P.LORA["alpha"], targets=list(P.LORA["targets"]))
            P.train(lib, m, corpus.batches("sonnets", seed, 22, P.LORA["steps"]), P.LORA["steps"], lr, 0.0)
            out[kind][str(lr)] = lib.evaluate(m, corpus, "sonnets")
            print(kind, lr, out[kind][str(lr)], flush=True)
    out["seconds"] = out.get("seconds", 0.0) + time.perf_counter() - t0
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    import argparse
    a = argparse.ArgumentParser()
    a.add_argument("--lora", nargs="*", type=float)
    a.add_argument("--full", nargs="*", type=float)
    args = a.parse_args()
    if args.lora is None and args.full is None:
        main()
    else:
        main(grid=(("lora", tuple(args.lora or ())), ("full", tuple(args.full or ()))))
