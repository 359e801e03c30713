"""Int8 weights for a trained GPT: minigen's per-channel absmax against PyTorch's dynamic int8.

    python benchmarks/quality/int8_vs_torch.py              # 3 seeds (about 5 CPU-minutes each)
    python benchmarks/quality/int8_vs_torch.py --report     # the table of the saved results
    python benchmarks/quality/int8_vs_torch.py --report --chart docs/images/int8_gpt.png
    python benchmarks/quality/int8_vs_torch.py --steps 20   # a smoke test, saves nothing

For each seed, one GPT is trained in minigen and its weights are then quantised both ways:

1. Train. The ``gpt`` protocol of ``lm_protocol.py`` (Shakespeare, 4 layers, d 128, 4 heads,
   block 64, GPT-2 init, AdamW 1e-3 (0.9, 0.99), weight decay 0.01, batch 32, the protocol's
   batches for the seed), but ``STEPS`` = 1,500 steps instead of 2,500: a cheaper recipe,
   so that three seeds fit in ~15 CPU-minutes. Validation: the protocol's 1,600 windows of 64
   characters (102,400 targets), mean cross-entropy in nats per character.
2. minigen: ``quantize_int8(model)`` (``minigen/nn/quantize.py``: per-output-channel absmax,
   int8 weights, float activations) on every Linear layer (17: 4 per block and the head); the
   validation loss; both state dicts through ``minigen.save`` (file sizes), and the int8 file
   loaded back into a freshly quantised GPT, whose loss must be the same.
3. PyTorch: the same float32 weights loaded into the PyTorch twin (``torch_twin``), its loss
   (a check: it must equal minigen's to ~1e-5), then
   ``torch.ao.quantization.quantize_dynamic(twin, {nn.Linear: per_channel_dynamic_qconfig},
   dtype=torch.qint8)`` on the same 17 layers. PyTorch's dynamic int8 also quantises each
   layer's *input* to 8 bits at run time (per tensor, to multiply in integers), so its loss
   holds the activations' rounding as well; the row "PyTorch int8 weights only" puts its
   dequantised int8 weights back into the float twin, which isolates the weight scheme.
   Its per-channel scales are max|W_o.| / 127.5 over the codes -128..127 (minigen: / 127 over
   -127..127); the JSON records how many integer codes differ between the two.

Results: ``benchmarks/quality/results/gpt_int8-seedS.json``; the bar: int8 validation loss
within 2% of float32.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import runner  # noqa: E402
from lm_protocol import MODELS, ShakespeareTask, minigen_model  # noqa: E402
from runner import RESULTS  # noqa: E402

STEPS = 1500
NAME = "gpt_int8"


def _path(seed):
    return os.path.join(RESULTS, f"{NAME}-seed{seed}.json")


def train(task, seed, steps):
    """The gpt protocol's model and training for ``steps`` steps (minigen)."""
    import minigen
    from minigen import optim
    from minigen.nn import functional as F

    spec = dict(MODELS["gpt"])
    V = task.vocab_size
    batch = task.batches(seed, steps)
    minigen.manual_seed(seed)
    model = minigen_model(spec, V)
    opt = optim.AdamW(model.parameters(), lr=spec["lr"], betas=(0.9, 0.99), weight_decay=0.01)
    model.train()
    running, t0 = 0.0, time.process_time()
    for s in range(steps):
        x, y = batch(s)
        opt.zero_grad()
        logits = model(minigen.tensor(x))[0]
        loss = F.cross_entropy(logits.reshape(-1, V), minigen.tensor(y).reshape(-1))
        loss.backward()
        opt.step()
        running += loss.item()
        if (s + 1) % 500 == 0:
            print(f"  seed {seed}: step {s + 1} train loss {running / 500:.4f}", flush=True)
            running = 0.0
    model.eval()
    return model, time.process_time() - t0


def val_loss_minigen(model, task):
    import minigen
    from minigen.nn import functional as F
    V, total, count = task.vocab_size, 0.0, 0
    with minigen.no_grad():
        for x, y in task.test_batches():
            logits = model(minigen.tensor(x))[0]
            total += float(F.cross_entropy(logits.reshape(-1, V), minigen.tensor(y).reshape(-1),
                                           reduction="sum").item())
            count += y.size
    return total / count


def val_loss_torch(model, task):
    import torch
    V, total, count = task.vocab_size, 0.0, 0
    with torch.no_grad():
        for x, y in task.test_batches():
            logits = model(torch.tensor(x))
            total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.tensor(y).reshape(-1),
                                                             reduction="sum"))
            count += y.size
    return total / count


def torch_twin_with(model):
    """The PyTorch twin of a minigen GPT holding the same float32 weights."""
    import torch
    from minigen.bench.torch_twins import torch_twin
    twin = torch_twin(model.config())
    sd = {k.replace("attn.c_attn", "c_attn").replace("attn.c_proj", "attn_proj"): torch.from_numpy(v.numpy().copy())
          for k, v in model.state_dict().items()}
    twin.load_state_dict(sd, strict=True)
    return twin.eval()


def file_bytes(save, obj):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "ckpt")
        save(obj, p)
        return os.path.getsize(p)


def run(seed, steps):
    import minigen
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    from minigen.nn.quantize import Int8Linear, int8_linear_names, quantize_int8

    task = ShakespeareTask(64)
    model, train_cpu = train(task, seed, steps)
    r = {"model": NAME, "seed": seed, "steps": steps, "train_cpu_seconds": train_cpu,
         "protocol": dict(MODELS["gpt"], steps=steps)}
    t0 = time.process_time()
    # -- minigen: float32 and int8 (per-output-channel absmax), and the files
    r["minigen_f32_val"] = val_loss_minigen(model, task)
    qmodel = quantize_int8(model)
    r["int8_layers"] = int8_linear_names(qmodel)
    r["minigen_int8_val"] = val_loss_minigen(qmodel, task)
    with tempfile.TemporaryDirectory() as d:
        f32, i8 = os.path.join(d, "f32.ckpt"), os.path.join(d, "int8.ckpt")
        minigen.save(model.state_dict(), f32)
        minigen.save(qmodel.state_dict(), i8)
        r["minigen_f32_file_bytes"], r["minigen_int8_file_bytes"] = os.path.getsize(f32), os.path.getsize(i8)
        # load back: a freshly built GPT, quantised (its weights are overwritten), load_state_dict
        fresh = quantize_int8(minigen_model(dict(MODELS["gpt"]), task.vocab_size))
        fresh.load_state_dict(minigen.load(i8))
        fresh.eval()
        r["minigen_int8_reloaded_val"] = val_loss_minigen(fresh, task)
    lin = [m for m in model.modules() if type(m).__name__ == "Linear"]
    r["linear_weight_params"] = sum(m.weight.numel() for m in lin)
    r["all_params"] = sum(p.numel() for p in model.parameters())
    # -- PyTorch: the same float weights, then quantize_dynamic per channel
    torch.manual_seed(seed)
    twin = torch_twin_with(model)
    r["torch_f32_val"] = val_loss_torch(twin, task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (torch.ao.quantization's deprecation notices)
        qtwin = quantize_dynamic(twin, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    r["torch_int8_val"] = val_loss_torch(qtwin, task)
    r["torch_f32_file_bytes"] = file_bytes(torch.save, twin.state_dict())
    r["torch_int8_file_bytes"] = file_bytes(torch.save, qtwin.state_dict())
    # PyTorch's int8 weights dequantised into the float twin (its weight scheme alone), and
    # the two schemes' integer codes side by side
    wonly = torch_twin_with(model)
    qmods = dict(qtwin.named_modules())
    diff_codes, n_codes, rel = 0, 0, []
    with torch.no_grad():
        for name, m in wonly.named_modules():
            if isinstance(m, torch.nn.Linear):
                w = qmods[name].weight()
                m.weight.copy_(w.dequantize())
                mg_name = name.replace("c_attn", "attn.c_attn").replace("attn_proj", "attn.c_proj")
                mq = dict(qmodel.named_modules())[mg_name]
                assert isinstance(mq, Int8Linear)
                codes_t = w.int_repr().numpy().astype(int)
                codes_m = mq.weight_q.numpy().astype(int)
                diff_codes += int((codes_t != codes_m).sum())
                n_codes += codes_m.size
                rel.append(float(numpy.median(w.q_per_channel_scales().numpy() / mq.weight_scale.numpy())))
    r["torch_int8_weights_only_val"] = val_loss_torch(wonly, task)
    r["codes_differing_fraction"] = diff_codes / n_codes
    r["torch_scale_over_minigen_scale_median"] = statistics.median(rel)
    for k in ("minigen", "torch"):
        r[f"{k}_int8_rel_diff"] = (r[f"{k}_int8_val"] - r[f"{k}_f32_val"]) / r[f"{k}_f32_val"]
    r["torch_int8_weights_only_rel_diff"] = (r["torch_int8_weights_only_val"] - r["torch_f32_val"]) / r["torch_f32_val"]
    r["minigen_file_ratio"] = r["minigen_f32_file_bytes"] / r["minigen_int8_file_bytes"]
    r["torch_file_ratio"] = r["torch_f32_file_bytes"] / r["torch_int8_file_bytes"]
    r["eval_cpu_seconds"] = time.process_time() - t0
    r.update({"minigen": minigen.__version__, "torch": torch.__version__,
              "machine": f"{platform.machine()} {os.cpu_count()} CPUs, 1 thread", "date": time.strftime("%Y-%m-%d"),
              "command": "python benchmarks/quality/int8_vs_torch.py"})
    return r


def describe(r):
    return (f"f32 {r['minigen_f32_val']:.4f}  int8 {r['minigen_int8_val']:.4f} "
            f"({100 * r['minigen_int8_rel_diff']:+.3f}%)  torch f32 {r['torch_f32_val']:.4f} int8 "
            f"{r['torch_int8_val']:.4f} ({100 * r['torch_int8_rel_diff']:+.3f}%)  file "
            f"{r['minigen_f32_file_bytes']} -> {r['minigen_int8_file_bytes']} B ({r['minigen_file_ratio']:.2f}x)")


def table(seeds):
    rows = [json.load(open(_path(s))) for s in seeds if os.path.exists(_path(s))]
    if not rows:
        return "(no results yet)"

    def ms(key, fmt="{:.4f}", scale=1.0):
        v = [scale * r[key] for r in rows]
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        return (fmt + " ± " + fmt.replace("+", "")).format(statistics.mean(v), sd)

    out = [f"GPT on Shakespeare, {rows[0]['steps']} steps, {len(rows)} seed(s) {[r['seed'] for r in rows]}; "
           "validation nats/char (102,400 targets), mean ± std over seeds",
           "", "| | float32 | int8 | int8 vs float32 | checkpoint bytes float32 -> int8 |",
           "|---|---|---|---|---|",
           f"| minigen (`quantize_int8`, weights only) | {ms('minigen_f32_val')} | {ms('minigen_int8_val')} | "
           f"{ms('minigen_int8_rel_diff', '{:+.3f}', 100)} % | {ms('minigen_f32_file_bytes', '{:.0f}')} -> "
           f"{ms('minigen_int8_file_bytes', '{:.0f}')} ({ms('minigen_file_ratio', '{:.2f}')}x) |",
           f"| PyTorch `quantize_dynamic` per channel | {ms('torch_f32_val')} | {ms('torch_int8_val')} | "
           f"{ms('torch_int8_rel_diff', '{:+.3f}', 100)} % | {ms('torch_f32_file_bytes', '{:.0f}')} -> "
           f"{ms('torch_int8_file_bytes', '{:.0f}')} ({ms('torch_file_ratio', '{:.2f}')}x) |",
           f"| PyTorch int8 weights only (dequantised) | | {ms('torch_int8_weights_only_val')} | "
           f"{ms('torch_int8_weights_only_rel_diff', '{:+.3f}', 100)} % | |",
           "",
           f"int8 file reloaded into a fresh quantised GPT: "
           f"{ms('minigen_int8_reloaded_val')} (the same as before saving: "
           f"{all(r['minigen_int8_reloaded_val'] == r['minigen_int8_val'] for r in rows)}); "
           f"|minigen f32 - PyTorch twin f32| max {max(abs(r['minigen_f32_val'] - r['torch_f32_val']) for r in rows):.1e}; "
           f"integer codes differing from PyTorch's {ms('codes_differing_fraction', '{:.3f}', 100)} %; "
           f"PyTorch scale / minigen scale {ms('torch_scale_over_minigen_scale_median', '{:.4f}')}; "
           f"training {ms('train_cpu_seconds', '{:.0f}')} CPU-s per seed; bar: int8 within 2% of float32: "
           f"{'met' if all(abs(r['minigen_int8_rel_diff']) < 0.02 for r in rows) else 'NOT met'}"]
    return "\n".join(out)


def chart(seeds, path):
    """The loss change of each int8 scheme (per seed and mean) and the checkpoint sizes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.load(open(_path(s))) for s in seeds if os.path.exists(_path(s))]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.4, 1]})
    keys = [("minigen_int8_rel_diff", "minigen int8\n(weights only)", "tab:blue"),
            ("torch_int8_weights_only_rel_diff", "PyTorch int8 weights,\nfloat activations", "tab:gray"),
            ("torch_int8_rel_diff", "PyTorch quantize_dynamic\n(int8 weights + inputs)", "tab:orange")]
    for i, (k, label, color) in enumerate(keys):
        v = [100 * r[k] for r in rows]
        ax.bar(i, statistics.mean(v), 0.6, color=color, alpha=0.6,
               yerr=statistics.stdev(v) if len(v) > 1 else 0, capsize=4)
        ax.plot([i] * len(v), v, "k.", ms=6)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([k[1] for k in keys], fontsize=8)
    ax.set_ylabel("validation loss change vs float32, %")
    ax.set_title(f"trained GPT, {len(rows)} seeds (dots); the bar allows 2%", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    names = ["minigen", "PyTorch"]
    f32 = [statistics.mean(r[f"{k}_f32_file_bytes"] for r in rows) / 1e6 for k in ("minigen", "torch")]
    i8 = [statistics.mean(r[f"{k}_int8_file_bytes"] for r in rows) / 1e6 for k in ("minigen", "torch")]
    x = numpy.arange(2)
    bx.bar(x - 0.2, f32, 0.38, color="tab:red", alpha=0.7, label="float32")
    bx.bar(x + 0.2, i8, 0.38, color="tab:green", alpha=0.7, label="int8")
    for xi, a, b in zip(x, f32, i8):
        bx.text(xi + 0.2, b + 0.05, f"{a / b:.2f}x smaller", ha="center", fontsize=8)
    bx.set_xticks(x)
    bx.set_xticklabels(names)
    bx.set_ylabel("checkpoint file, MB")
    bx.set_title("model file (state dict)", fontsize=10)
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--steps", type=int, help="a smoke test: this many steps, results not saved")
    p.add_argument("--force", action="store_true", help="re-run results that exist")
    p.add_argument("--report", action="store_true", help="only print the table of the saved results")
    p.add_argument("--chart", help="also draw the saved results as a chart (PNG) here")
    args = p.parse_args(argv)
    os.makedirs(RESULTS, exist_ok=True)
    if args.steps is not None:
        runner.set_threads(1)
        print(describe(run(args.seeds[0], args.steps)))
        return
    if not args.report:
        runner.set_threads(1)
        for seed in args.seeds:
            if os.path.exists(_path(seed)) and not args.force:
                continue
            r = run(seed, STEPS)
            with open(_path(seed), "w") as f:
                json.dump(r, f, indent=1)
            print(f"seed {seed}: {describe(r)} ({r['train_cpu_seconds']:.0f} CPU-s)", flush=True)
    print(table(args.seeds))
    if args.chart:
        chart(args.seeds, args.chart)


if __name__ == "__main__":
    main()
