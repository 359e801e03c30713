"""RoPE, LoRA and a mixture of experts measured on a small GPT (issue #14), minigen beside its
PyTorch twin, 3 seeds a side.

Data (``minigen.data.load_shakespeare``; one 80-character vocabulary, that of all ten works):

* plays: the nine plays (every work but the sonnets, in ``WORKS`` order) joined with no
  separator, 1,156,912 characters; train = the first 90%, validation = the last 10%.
* sonnets: 95,728 characters; train = the first 90% (86,155), validation = the last 10%.

Validation: consecutive non-overlapping windows of 64 characters from the validation text's
start (x = 64 characters, y = x shifted by one), the mean cross-entropy over all their
targets, in nats per character (and bits: / ln 2).

The model (both libraries, both sides of every comparison): 4 layers, d 64, 4 heads (d_h 16),
block 64, pre-LN, tanh GELU, GPT-2 init, no dropout, head without bias; batches of 32
windows of 64 at uniform random offsets (drawn with NumPy from the seed, before training, so
both libraries see the same batches). Runs, each pinned to one thread:

=========  ====================================================================================
name       what is trained and measured
=========  ====================================================================================
gpt_learned plays, learned positions W_p; AdamW 1e-3 (0.9, 0.99), wd 0.01, 800 steps;
           plays validation loss (the dense baseline of both comparisons)
gpt_rope   the same with RoPE (no W_p; queries and keys rotated, base 10000)
gpt_moe    the same as gpt_learned with each MLP a top-2 mixture of 4 experts of width 128 (the
           dense MLP is 256 wide: the same active MLP weights per token), loss + 0.01 aux;
           expert utilisation recorded every step
gpt_moe_noaux  gpt_moe without the load-balancing loss (aux_coef 0): the ablation (seed 0)
gpt_lora   the gpt_learned model of the same seed (trained here, or read from the cache), then on
           the sonnets: validation loss before; after LoRA (r 4, alpha 4, on every block's
           attn.c_attn, the q/k/v projection; all else frozen; AdamW 5e-3, wd 0, 300 steps);
           after full fine-tuning from the same pretrained weights (AdamW 1e-3, wd 0, 300
           steps, the same batches); and after merging the adapters into W
=========  ====================================================================================

The fine-tuning learning rates were chosen from {1e-3, 2e-3, 5e-3, 1e-2, 2e-2} (LoRA) and
{1e-4, 3e-4, 1e-3, 3e-3} (full) by ``lora_lr_sweep.py``: PyTorch, seed 0, a model pretrained
for 1,000 steps (an earlier setting of this protocol), 300 steps on the sonnets, scored on the
sonnets' validation text. The validation text chose them, so the after-fine-tuning figures are
slightly optimistic, for both methods alike.
"""
from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import runner  # noqa: E402
from runner import RESULTS  # noqa: E402

SIZE = dict(n_layer=4, n_head=4, n_embd=64, block_size=64)
T, BATCH = 64, 32
PRETRAIN = dict(steps=800, lr=1e-3, weight_decay=0.01)
LORA = dict(r=4, alpha=4, targets=("attn.c_attn",), steps=300, lr=0.005, eval_every=100)
FULL = dict(steps=300, lr=0.001)
MOE = dict(n_experts=4, top_k=2, d_hidden=128, aux_coef=0.01)
MODELS = {
    "gpt_learned": dict(pos="learned"),
    "gpt_rope": dict(pos="rope"),
    "gpt_moe": dict(pos="learned", moe=MOE),
    "gpt_lora": dict(pos="learned"),
    "gpt_moe_noaux": dict(pos="learned", moe=dict(MOE, aux_coef=0.0)),
}
CACHE = os.environ.get("MINIGEN_MECH_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "minigen", "gpt_mechanisms"))


# ----------------------------------------------------------------------------- data
class Corpus:
    """The plays and the sonnets as id arrays, with their train/validation cuts."""

    def __init__(self):
        from minigen.data.text import WORKS, load_shakespeare
        everything = load_shakespeare(separator="")
        self.itos = sorted(set(everything))
        assert len(self.itos) == 80
        stoi = {ch: i for i, ch in enumerate(self.itos)}
        self.vocab_size = len(self.itos)

        def ids(text):
            return numpy.array([stoi[ch] for ch in text], dtype=numpy.int64)

        plays = ids(load_shakespeare([w for w in WORKS if w != "sonnets"], separator=""))
        sonnets = ids(load_shakespeare("sonnets"))
        self.split = {}
        for name, a in (("plays", plays), ("sonnets", sonnets)):
            cut = len(a) * 9 // 10
            self.split[name] = (a[:cut], a[cut:])

    def batches(self, name, seed, stream, steps):
        train = self.split[name][0]
        offsets = numpy.random.default_rng([seed, stream]).integers(0, len(train) - T, size=(steps, BATCH))
        ar = numpy.arange(T)

        def batch(s):
            pos = offsets[s][:, None] + ar
            return train[pos], train[pos + 1]
        return batch

    def val_batches(self, name, size=256):
        val = self.split[name][1]
        n = (len(val) - 1) // T
        pos = numpy.arange(n)[:, None] * T + numpy.arange(T)
        for s in range(0, n, size):
            yield val[pos[s:s + size]], val[pos[s:s + size] + 1]


# ----------------------------------------------------------------------------- the two libraries
class Lib:
    """What a run needs from minigen or PyTorch, under one set of names."""

    def __init__(self, lib, seed):
        self.name = lib
        if lib == "minigen":
            import minigen
            from minigen import optim
            from minigen.nn import functional as F
            minigen.manual_seed(seed)
            self.m, self.optim, self.F = minigen, optim, F
        else:
            import torch
            import torch.nn.functional as F
            torch.manual_seed(seed)
            self.m, self.optim, self.F = torch, torch.optim, F

    def model(self, V, spec):
        from minigen.models.gpt import GPT
        mg = GPT(V, **SIZE, pos=spec["pos"], moe=spec.get("moe"))
        if self.name == "minigen":
            return mg
        from minigen.bench.torch_twins import torch_gpt_mechanisms
        return torch_gpt_mechanisms(mg.config())

    def logits(self, model, x):
        out = model(self.m.tensor(x))
        return out[0] if isinstance(out, tuple) else out

    def ce(self, model, x, y, reduction="mean"):
        logits = self.logits(model, x)
        return self.F.cross_entropy(logits.reshape(-1, logits.shape[-1]), self.m.tensor(y).reshape(-1),
                                    reduction=reduction)

    def evaluate(self, model, corpus, name):
        model.eval()
        total, count = 0.0, 0
        with self.m.no_grad():
            for x, y in corpus.val_batches(name):
                total += float(self.ce(model, x, y, reduction="sum").item())
                count += y.size
        model.train()
        return total / count

    def adamw(self, model, lr, weight_decay):
        params = [p for p in model.parameters() if p.requires_grad]
        return self.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=weight_decay)

    def state(self, model):
        return {k: v.detach().cpu().numpy().copy() if self.name == "torch" else v.numpy().copy()
                for k, v in model.state_dict().items()}

    def load(self, model, state):
        model.load_state_dict({k: self.m.tensor(v) for k, v in state.items()})


def train(lib, model, batch, steps, lr, weight_decay, aux_coef=None, on_step=None, log=None):
    """``steps`` AdamW steps on ``batch(s)``; returns the running-mean curve [(step, loss)]."""
    opt = lib.adamw(model, lr, weight_decay)
    curve, running, every = [], 0.0, max(1, steps // 5)
    for s in range(steps):
        x, y = batch(s)
        opt.zero_grad()
        loss = lib.ce(model, x, y)
        if aux_coef is not None:
            # L = CE + aux_coef * sum_l aux_l   (the CE alone is logged)
            (loss + aux_coef * model.aux_loss()).backward()
        else:
            loss.backward()
        opt.step()
        running += loss.item()
        if on_step is not None:
            on_step(s)
        if (s + 1) % every == 0:
            curve.append((s + 1, running / every))
            if log:
                log(f"step {s + 1} train CE {running / every:.4f}")
            running = 0.0
    return curve


def pretrained(lib, corpus, seed, spec, steps, log):
    """The learned-position model of ``seed`` trained on the plays (read from the cache when a
    full-length run of the same library and seed saved it)."""
    model = lib.model(corpus.vocab_size, spec)
    path = os.path.join(CACHE, f"learned-{lib.name}-seed{seed}-{steps}.npz")
    if os.path.exists(path):
        with numpy.load(path) as z:
            lib.load(model, {k: z[k] for k in z.files})
        return model, None
    curve = train(lib, model, corpus.batches("plays", seed, 21, steps), steps, PRETRAIN["lr"],
                  PRETRAIN["weight_decay"], log=log)
    os.makedirs(CACHE, exist_ok=True)
    numpy.savez(path, **lib.state(model))
    return model, curve


def n_params(model, trainable=False):
    seen, n = set(), 0
    for p in model.parameters():
        if id(p) not in seen and (p.requires_grad or not trainable):
            seen.add(id(p))
            n += int(numpy.prod(p.shape))
    return n


# ----------------------------------------------------------------------------- one run
def run(name, lib_name, seed, steps=None):
    spec = MODELS[name]
    pre_steps = steps or PRETRAIN["steps"]
    corpus = Corpus()
    lib = Lib(lib_name, seed)

    def log(msg):
        print(f"  {name} {lib_name} seed {seed}: {msg}", flush=True)

    out = {"model": name, "lib": lib_name, "seed": seed}
    t0 = time.perf_counter()
    if name != "gpt_lora":
        model = lib.model(corpus.vocab_size, spec)
        util = []
        on_step = None
        if "moe" in spec:
            def on_step(s):
                util.append(model.expert_counts().tolist())
        curve = train(lib, model, corpus.batches("plays", seed, 21, pre_steps), pre_steps, PRETRAIN["lr"],
                      PRETRAIN["weight_decay"], aux_coef=spec["moe"]["aux_coef"] if "moe" in spec else None,
                      on_step=on_step, log=log)
        train_s = time.perf_counter() - t0
        val = lib.evaluate(model, corpus, "plays")
        out.update(val_nats_per_char=val, curve=curve, parameters=n_params(model))
        if "moe" in spec:
            m = spec["moe"]
            expert = n_params(model.blocks[0].moe.experts[0])
            out["active_parameters"] = out["parameters"] - SIZE["n_layer"] * (m["n_experts"] - m["top_k"]) * expert
            # utilisation: the fraction of assignments per (layer, expert), summed over 10 steps
            u = numpy.array(util, dtype=numpy.float64)
            u = u[: len(u) // 10 * 10].reshape(-1, 10, *u.shape[1:]).sum(1)
            out["utilisation_every_10_steps"] = (u / u.sum(-1, keepdims=True)).round(4).tolist()
            out["final_aux"] = float(model.aux_loss().item())
        elif name == "gpt_learned" and steps is None:
            os.makedirs(CACHE, exist_ok=True)
            numpy.savez(os.path.join(CACHE, f"learned-{lib_name}-seed{seed}-{pre_steps}.npz"), **lib.state(model))
    else:
        lora_steps = min(LORA["steps"], steps) if steps else LORA["steps"]
        full_steps = min(FULL["steps"], steps) if steps else FULL["steps"]
        model, _ = pretrained(lib, corpus, seed, spec, pre_steps, log)
        state = lib.state(model)
        out["plays_val_nats_per_char"] = lib.evaluate(model, corpus, "plays")
        out["before_nats_per_char"] = lib.evaluate(model, corpus, "sonnets")
        # LoRA: A, B on every block's q/k/v projection, all else frozen
        t1 = time.perf_counter()
        lib.m.manual_seed(seed + 1000)
        if lib_name == "minigen":
            from minigen.nn.lora import add_lora, merge_lora, trainable_parameters
            add_lora(model, r=LORA["r"], alpha=LORA["alpha"], targets=list(LORA["targets"]))
            trainable, total = trainable_parameters(model)
        else:
            from minigen.bench.torch_twins import torch_add_lora
            torch_add_lora(model, r=LORA["r"], alpha=LORA["alpha"], targets=list(LORA["targets"]))
            trainable, total = n_params(model, trainable=True), n_params(model)
        lora_curve = []

        def lora_eval(s):
            if (s + 1) % LORA["eval_every"] == 0:
                lora_curve.append((s + 1, lib.evaluate(model, corpus, "sonnets")))
        train(lib, model, corpus.batches("sonnets", seed, 22, lora_steps), lora_steps, LORA["lr"], 0.0,
              on_step=lora_eval, log=log)
        out["lora_seconds"] = time.perf_counter() - t1
        out["after_lora_nats_per_char"] = lib.evaluate(model, corpus, "sonnets")
        out["lora_plays_val_nats_per_char"] = lib.evaluate(model, corpus, "plays")
        out.update(lora_trainable=trainable, lora_total=total,
                   lora_val_curve=lora_curve)
        if lib_name == "minigen":
            # merging: W <- W + (alpha/r) B A gives the same outputs
            x = next(corpus.val_batches("sonnets"))[0][:8]
            before_merge = lib.logits(model, x).numpy()
            merge_lora(model)
            out["merge_max_abs_diff"] = float(numpy.abs(lib.logits(model, x).numpy() - before_merge).max())
            out["after_merge_nats_per_char"] = lib.evaluate(model, corpus, "sonnets")
        # full fine-tuning from the same pretrained weights, the same batches
        full = lib.model(corpus.vocab_size, spec)
        lib.load(full, state)
        full_curve = []

        def full_eval(s):
            if (s + 1) % LORA["eval_every"] == 0:
                full_curve.append((s + 1, lib.evaluate(full, corpus, "sonnets")))
        t2 = time.perf_counter()
        train(lib, full, corpus.batches("sonnets", seed, 22, full_steps), full_steps, FULL["lr"], 0.0,
              on_step=full_eval, log=log)
        out["full_seconds"] = time.perf_counter() - t2
        out["after_full_nats_per_char"] = lib.evaluate(full, corpus, "sonnets")
        out["full_plays_val_nats_per_char"] = lib.evaluate(full, corpus, "plays")
        out["full_val_curve"] = full_curve
        out["full_trainable"] = n_params(full, trainable=True)
        train_s = time.perf_counter() - t0
        val = out["after_lora_nats_per_char"]
        out["val_nats_per_char"] = val
    import minigen
    try:
        import torch
        tv = torch.__version__
    except ImportError:
        tv = None
    out.update(val_bits_per_char=out["val_nats_per_char"] / math.log(2), train_seconds=train_s,
               steps=pre_steps, protocol={"size": SIZE, "batch": BATCH, "pretrain": PRETRAIN, "spec": spec,
                                          "lora": LORA, "full": FULL},
               minigen=minigen.__version__, torch=tv,
               machine=f"{platform.machine()} {os.cpu_count()} CPUs, 1 thread", date=time.strftime("%Y-%m-%d"))
    return out


# ----------------------------------------------------------------------------- tables
def rows(name, lib):
    return runner.load_results(name, lib)


def ms(vals, f=4):
    if not vals:
        return "-"
    if len(vals) == 1:
        return f"{vals[0]:.{f}f}"
    return f"{statistics.mean(vals):.{f}f} ± {statistics.stdev(vals):.{f}f}"


def table(model_names):
    out = []
    plain = [m for m in model_names if m != "gpt_lora"]
    if plain:
        out += ["| model (plays) | minigen val nats/char | PyTorch 2.13 CPU | minigen bits/char | parameters | seeds |",
                "|---|---|---|---|---|---|"]
        for m in plain:
            mg, th = rows(m, "minigen"), rows(m, "torch")
            if not mg and not th:
                continue
            par = (mg or th)[0]
            p = f"{par['parameters']:,}" + (f" ({par['active_parameters']:,} active)" if "active_parameters" in par else "")
            out.append(f"| {m} | {ms([r['val_nats_per_char'] for r in mg])} | {ms([r['val_nats_per_char'] for r in th])} | "
                       f"{ms([r['val_bits_per_char'] for r in mg])} | {p} | {len(mg)} + {len(th)} |")
    if "gpt_lora" in model_names:
        out += ["", "| sonnets val nats/char | minigen | PyTorch 2.13 CPU |", "|---|---|---|"]
        mg, th = rows("gpt_lora", "minigen"), rows("gpt_lora", "torch")
        for key, label in (("before_nats_per_char", "before (pretrained on the plays)"),
                           ("after_lora_nats_per_char", f"after LoRA (r {LORA['r']}, {LORA['steps']} steps)"),
                           ("after_merge_nats_per_char", "after LoRA, merged into W"),
                           ("after_full_nats_per_char", f"after full fine-tuning ({FULL['steps']} steps)"),
                           ("lora_plays_val_nats_per_char", "plays val after LoRA"),
                           ("full_plays_val_nats_per_char", "plays val after full fine-tuning")):
            out.append(f"| {label} | {ms([r[key] for r in mg if key in r])} | {ms([r[key] for r in th if key in r])} |")
        if mg:
            r = mg[0]
            out.append(f"\nLoRA trains {r['lora_trainable']:,} of {r['lora_total']:,} parameters "
                       f"({100 * r['lora_trainable'] / r['lora_total']:.2f}%); full fine-tuning {r['full_trainable']:,}. "
                       f"Merge max |logit difference| {max(x['merge_max_abs_diff'] for x in mg):.2e}; "
                       f"seeds {len(mg)} + {len(th)}.")
    return "\n".join(out)


def describe(r):
    if r["model"] == "gpt_lora":
        return (f"sonnets val before {r['before_nats_per_char']:.4f}, LoRA {r['after_lora_nats_per_char']:.4f}, "
                f"full {r['after_full_nats_per_char']:.4f} nats/char")
    return f"plays val {r['val_nats_per_char']:.4f} nats/char"


def moe_chart(model_names, path):
    """Expert utilisation over training, minigen seed 0 (and PyTorch seed 0): one panel per
    layer, the fraction of assignments per expert every 10 steps."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "gpt_moe" if "gpt_moe" in model_names else "gpt_moe_noaux"
    runs = [(lib, r) for lib in ("minigen", "torch") for r in rows(name, lib)[:1]]
    if not runs:
        raise SystemExit("moe_chart: no saved moe results")
    L = len(runs[0][1]["utilisation_every_10_steps"][0])
    fig, axes = plt.subplots(len(runs), L, figsize=(3.0 * L, 2.4 * len(runs)), sharey=True, squeeze=False)
    for row, (lib, r) in enumerate(runs):
        u = numpy.array(r["utilisation_every_10_steps"])          # [steps/10, L, E]
        steps = 10 * (numpy.arange(len(u)) + 1)
        for layer in range(L):
            ax = axes[row][layer]
            ax.stackplot(steps, u[:, layer, :].T, labels=[f"expert {e}" for e in range(u.shape[2])], alpha=0.85)
            ax.axhline(0.5, color="k", lw=0.5, ls=":")
            ax.set_title(f"{'minigen' if lib == 'minigen' else 'PyTorch'} seed {r['seed']}, layer {layer}"
                         + (", no aux loss" if name == "gpt_moe_noaux" else ""), fontsize=8)
            ax.set_ylim(0, 1)
            ax.tick_params(labelsize=7)
            if row == len(runs) - 1:
                ax.set_xlabel("training step", fontsize=8)
        axes[row][0].set_ylabel("share of assignments", fontsize=8)
    axes[0][-1].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def lora_chart(model_names, path):
    """The sonnets' validation loss during fine-tuning: LoRA and full, minigen and PyTorch,
    mean over the seeds (step 0: the pretrained model)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for lib, ls in (("minigen", "-"), ("torch", "--")):
        rs = rows("gpt_lora", lib)
        if not rs:
            continue
        before = statistics.mean(r["before_nats_per_char"] for r in rs)
        for key, color, label in (("lora_val_curve", "tab:blue", "LoRA (r 4, q/k/v)"),
                                  ("full_val_curve", "tab:red", "full fine-tuning")):
            steps = [0] + [s for s, _ in rs[0][key]]
            vals = [before] + [statistics.mean(r[key][i][1] for r in rs) for i in range(len(rs[0][key]))]
            ax.plot(steps, vals, ls, color=color, marker="o", ms=3,
                    label=f"{label}, {'minigen' if lib == 'minigen' else 'PyTorch'}")
    ax.set_xlabel("fine-tuning step on the sonnets")
    ax.set_ylabel("sonnets validation, nats/char")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def rope_chart(model_names, path):
    """Training loss (running mean) of learned positions and RoPE, mean over the seeds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for m, color in (("gpt_learned", "tab:blue"), ("gpt_rope", "tab:green"), ("gpt_moe", "tab:purple")):
        if m not in model_names:
            continue
        for lib, ls in (("minigen", "-"), ("torch", "--")):
            rs = rows(m, lib)
            if not rs:
                continue
            steps = [s for s, _ in rs[0]["curve"]]
            vals = [statistics.mean(r["curve"][i][1] for r in rs) for i in range(len(steps))]
            ax.plot(steps, vals, ls, color=color, marker="o", ms=3,
                    label=f"{m[4:]}, {'minigen' if lib == 'minigen' else 'PyTorch'}")
    ax.set_xlabel("step")
    ax.set_ylabel("training CE (running mean), nats/char")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def chart(model_names, path):
    """moe_utilisation (gpt_moe among the models), lora curves (gpt_lora), else training curves."""
    if "gpt_moe" in model_names or "gpt_moe_noaux" in model_names:
        return moe_chart(model_names, path)
    if "gpt_lora" in model_names:
        return lora_chart(model_names, path)
    return rope_chart(model_names, path)


def main(model_names, argv=None):
    runner.main(model_names, run, table, describe, __doc__, argv, chart=chart)


if __name__ == "__main__":
    main(list(MODELS))
