"""The fine-tuning learning rates of ``gpt_mechanisms_protocol.py``'s LoRA run, chosen here:
PyTorch twin, seed 0, the plays-pretrained learned-position GPT (cached by the protocol), 300
steps on the sonnets, AdamW wd 0; the sonnets' validation loss for each rate. Run:

    python benchmarks/quality/lora_lr_sweep.py      # writes results/gpt_lora_lr_sweep.json
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import runner  # noqa: E402
import gpt_mechanisms_protocol as P  # noqa: E402


def main(seed=0, lib_name="torch"):
    runner.set_threads(1)
    corpus = P.Corpus()
    lib = P.Lib(lib_name, seed)
    t0 = time.perf_counter()
    model, _ = P.pretrained(lib, corpus, seed, P.MODELS["gpt_lora"], P.PRETRAIN["steps"], print)
    state = lib.state(model)
    out = {"seed": seed, "lib": lib_name, "before": lib.evaluate(model, corpus, "sonnets"), "lora": {}, "full": {}}
    from minigen.bench.torch_twins import torch_add_lora
    for kind, lrs in (("lora", (1e-3, 2e-3, 5e-3)), ("full", (1e-4, 3e-4, 1e-3))):
        for lr in lrs:
            m = lib.model(corpus.vocab_size, P.MODELS["gpt_lora"])
            lib.load(m, state)
            if kind == "lora":
                lib.m.manual_seed(seed + 1000)
                torch_add_lora(m, r=P.LORA["r"], alpha=P.LORA["alpha"], targets=list(P.LORA["targets"]))
            P.train(lib, m, corpus.batches("sonnets", seed, 22, P.LORA["steps"]), P.LORA["steps"], lr, 0.0)
            out[kind][str(lr)] = lib.evaluate(m, corpus, "sonnets")
            print(kind, lr, out[kind][str(lr)], flush=True)
    out["seconds"] = time.perf_counter() - t0
    with open(os.path.join(runner.RESULTS, "gpt_lora_lr_sweep.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
