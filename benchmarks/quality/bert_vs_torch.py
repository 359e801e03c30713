"""BERT on Shakespeare: masked-token accuracy of minigen's BERT and its PyTorch twin (issue #14's
bar: within 2% of PyTorch, 3 seeds a side).

The protocol, the same on both sides:

* data: Shakespeare as ``lm_protocol.ShakespeareTask`` builds it from the raw files (checked
  against minigen's data set): train = the first 90% of the characters. Training batches: 32
  windows of 32 characters at uniform random offsets in train, drawn with NumPy from the seed
  before training (the same windows for both libraries).
* masking in training: 15% of positions chosen, of those 80% [MASK], 10% a random character,
  10% unchanged, drawn afresh each step from each library's own generator (minigen:
  ``bert.mask_tokens``; PyTorch: ``torch_twins.torch_mask_tokens``, the same rule).
* validation: the first 102,400 characters of the last 10% (the text of the language models'
  test windows) as 3,200 windows of 32, masked ONCE (``bert.fixed_masking``: NumPy
  ``default_rng(1234)``): the same questions for every run of both libraries. Figures: masked-token accuracy (argmax = the original character),
  the cross-entropy in nats and bits per masked character; also the accuracy by the kind of
  corruption ([MASK] / random / unchanged) and by the class of the hidden character.
* model: context 32, d 128, 4 pre-LN encoder layers (``minigen.nn.TransformerEncoderLayer`` /
  ``torch.nn.TransformerEncoderLayer``), 4 heads, FFN 512, exact GELU, no dropout, learned
  positions, a final LayerNorm, an untied output layer to the 80 characters; each library's
  default initialisation of its layers (Embedding N(0, 1), Linear U(+-1/sqrt(fan_in)),
  attention in-projection Xavier-uniform), its own draws.
* optimisation: AdamW 1e-3, betas (0.9, 0.99), weight decay 0.01 on all parameters, constant
  learning rate, 1,500 steps, the loss on the chosen positions only.

Each run is pinned to one thread. Run:

    python benchmarks/quality/bert_vs_torch.py              # 3 seeds x 2 libraries
    python benchmarks/quality/bert_vs_torch.py --report     # the table of the saved results
    python benchmarks/quality/bert_vs_torch.py --report --chart docs/images/bert_accuracy_by_class.png
    python benchmarks/quality/bert_vs_torch.py --attention docs/images/bert_attention.png

Each run writes ``benchmarks/quality/results/bert-LIB-seedS.json`` (existing ones are kept
unless ``--force``); minigen's trained models are also saved as checkpoints in
``$BERT_CHECKPOINTS`` (default: ``/tmp/minigen-bert``), which ``minigen sample bert
--checkpoint ...`` reads. ``--steps N`` is a smoke test that saves nothing.
"""
from __future__ import annotations

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
from lm_protocol import ShakespeareTask  # noqa: E402

PROTOCOL = dict(n_layer=4, n_head=4, n_embd=128, dim_feedforward=512, block_size=32, batch_size=32,
                steps=1500, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.01)
CHECKPOINTS = os.environ.get("BERT_CHECKPOINTS", "/tmp/minigen-bert")
CLASSES = ("lower-case letter", "upper-case letter", "space", "line break", "punctuation")
KINDS = ("[MASK]", "random", "unchanged")


def char_class(c):
    if c.islower():
        return CLASSES[0]
    if c.isupper():
        return CLASSES[1]
    if c == " ":
        return CLASSES[2]
    if c in "\r\n":
        return CLASSES[3]
    return CLASSES[4]


def score(logits_of, inputs, targets, x, itos, batch=400):
    """Accuracy and loss on the fixed questions (NumPy, float64, the same code for both
    libraries), with the accuracy by kind of corruption and by class of the hidden character."""
    V = len(itos)
    total, right, asked = 0.0, 0, 0
    by_kind = {k: [0, 0] for k in KINDS}
    by_class = {c: [0, 0] for c in CLASSES}
    cls = numpy.array([CLASSES.index(char_class(c)) for c in itos])
    for s in range(0, len(inputs), batch):
        inp, t, xs = inputs[s:s + batch], targets[s:s + batch], x[s:s + batch]
        logits = logits_of(inp).astype(numpy.float64)
        chosen = t != -1
        m = logits.max(-1, keepdims=True)
        lse = (numpy.log(numpy.exp(logits - m).sum(-1, keepdims=True)) + m)[..., 0]
        picked = numpy.take_along_axis(logits, numpy.maximum(t, 0)[..., None], -1)[..., 0]
        total += float((lse - picked)[chosen].sum())
        ok = (logits.argmax(-1) == t) & chosen
        right, asked = right + int(ok.sum()), asked + int(chosen.sum())
        kind = numpy.where(inp == V, 0, numpy.where(inp == xs, 2, 1))
        for k, name in enumerate(KINDS):
            sel = chosen & (kind == k)
            by_kind[name][0] += int(ok[sel].sum())
            by_kind[name][1] += int(sel.sum())
        tc = cls[numpy.maximum(t, 0)]
        for k, name in enumerate(CLASSES):
            sel = chosen & (tc == k)
            by_class[name][0] += int(ok[sel].sum())
            by_class[name][1] += int(sel.sum())
    nats = total / asked
    return {"masked_accuracy": right / asked, "masked_nats_per_char": nats,
            "masked_bits_per_char": nats / math.log(2), "masked_tokens": asked,
            "accuracy_by_kind": {k: r / max(n, 1) for k, (r, n) in by_kind.items()},
            "asked_by_kind": {k: n for k, (_, n) in by_kind.items()},
            "accuracy_by_class": {c: r / max(n, 1) for c, (r, n) in by_class.items()},
            "asked_by_class": {c: n for c, (_, n) in by_class.items()}}


def run(model_name, lib, seed, steps=None, log_every=250):
    """Train and evaluate one (library, seed); returns the result dict."""
    import minigen
    from minigen.models.bert import BERT, fixed_masking, validation_windows

    p = dict(PROTOCOL)
    if steps is not None:
        p["steps"] = steps
    T, V = p["block_size"], 80
    task = ShakespeareTask(T)
    itos = task.itos
    batch = task.batches(seed, p["steps"], p["batch_size"])
    x_val = validation_windows(T)
    assert (x_val == numpy.concatenate([a for a, _ in task.test_batches()])).all()
    inputs, targets = fixed_masking(x_val, V)
    sizes = {k: p[k] for k in ("n_layer", "n_head", "n_embd", "dim_feedforward", "block_size")}
    mg_model = BERT(V, chars="".join(itos), **sizes)      # (its config; minigen's run uses it)
    if lib == "minigen":
        from minigen import optim
        minigen.manual_seed(seed)
        model = BERT(V, chars="".join(itos), **sizes)
        opt = optim.AdamW(model.parameters(), lr=p["lr"], betas=p["betas"], weight_decay=p["weight_decay"])

        def train_step(x):
            opt.zero_grad()
            loss = model.loss(minigen.tensor(x))       # masking drawn from minigen's generator
            loss.backward()
            opt.step()
            return loss.item()

        def logits_of(inp):
            with minigen.no_grad():
                return model(minigen.tensor(inp)).numpy()
    else:
        import torch
        import torch.nn.functional as F

        from minigen.bench.torch_twins import torch_bert, torch_mask_tokens
        torch.manual_seed(seed)
        model = torch_bert(mg_model.config())
        opt = torch.optim.AdamW(model.parameters(), lr=p["lr"], betas=p["betas"], weight_decay=p["weight_decay"])

        def train_step(x):
            opt.zero_grad()
            inp, tgt = torch_mask_tokens(torch.from_numpy(x), V)
            loss = F.cross_entropy(model(inp).reshape(-1, V), tgt.reshape(-1), ignore_index=-1)
            loss.backward()
            opt.step()
            return loss.item()

        def logits_of(inp):
            with torch.no_grad():
                return model(torch.from_numpy(inp)).numpy()
    del mg_model
    model.train()
    curve, running = [], 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for s in range(p["steps"]):
        running += train_step(batch(s)[0])
        if (s + 1) % log_every == 0:
            curve.append((s + 1, running / log_every))
            print(f"  bert {lib} seed {seed}: step {s + 1} train loss {running / log_every:.4f}", flush=True)
            running = 0.0
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    model.eval()
    c1 = time.process_time()
    r = score(logits_of, inputs, targets, x_val, itos)
    eval_cpu = time.process_time() - c1
    if lib == "minigen" and steps is None:
        from minigen.train import save_checkpoint
        os.makedirs(CHECKPOINTS, exist_ok=True)
        save_checkpoint(os.path.join(CHECKPOINTS, f"bert-minigen-seed{seed}.npz"), model, opt,
                        meta={"model": "bert", "data": "shakespeare", "variant": "default",
                              "config": model.config(), "options": {}})
    try:
        import torch
        tv = torch.__version__
    except ImportError:
        tv = None
    r.update({"model": model_name, "lib": lib, "seed": seed, "steps": p["steps"], "train_seconds": train_s,
              "train_cpu_seconds": train_cpu, "eval_cpu_seconds": eval_cpu,
              "cpu_ms_per_step": 1000 * train_cpu / p["steps"], "curve": curve,
              "protocol": {k: (list(v) if isinstance(v, tuple) else v) for k, v in p.items()},
              "fixed_masking_seed": 1234, "minigen": minigen.__version__, "torch": tv,
              "machine": f"{platform.machine()} {os.cpu_count()} CPUs, 1 thread", "date": time.strftime("%Y-%m-%d")})
    return r


# ----------------------------------------------------------------------------- the table
def _stats(rows, key):
    vals = [r[key] for r in rows]
    return statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0), len(vals)


def table(model_names, seeds=(0, 1, 2)):
    """The protocol's table (seeds 0, 1, 2; mean ± sd), each seed's accuracy, and the mean over
    every saved seed when more were run."""
    out = ["| figure (validation, fixed masking) | minigen | PyTorch 2.13 CPU | minigen - PyTorch | seeds |",
           "|---|---|---|---|---|"]
    for m in model_names:
        mg, th = runner.load_results(m, "minigen", seeds), runner.load_results(m, "torch", seeds)
        if not mg:
            continue
        for key, label, scale, unit, nd in (("masked_accuracy", "masked-token accuracy", 100, "%", 2),
                                            ("masked_nats_per_char", "loss, nats per masked char", 1, "", 4),
                                            ("masked_bits_per_char", "loss, bits per masked char", 1, "", 4),
                                            ("cpu_ms_per_step", "CPU ms per training step", 1, "", 1)):
            a = _stats(mg, key)
            b = _stats(th, key) if th else None
            fmt = lambda s: f"{scale * s[0]:.{nd}f}{unit} ± {scale * s[1]:.{nd}f}"  # noqa: E731
            diff = f"{scale * (a[0] - b[0]):+.{nd}f}{unit}" if b else "-"
            out.append(f"| {label} | {fmt(a)} | {fmt(b) if b else '-'} | {diff} | {a[2]} / {b[2] if b else 0} |")
        for kind in KINDS:
            a = statistics.mean(r["accuracy_by_kind"][kind] for r in mg)
            b = statistics.mean(r["accuracy_by_kind"][kind] for r in th) if th else None
            n = mg[0]["asked_by_kind"][kind]
            out.append(f"| accuracy where the input was {kind} ({n} asked) | {100 * a:.2f}% | "
                       f"{'-' if b is None else f'{100 * b:.2f}%'} | "
                       f"{'-' if b is None else f'{100 * (a - b):+.2f}%'} | {len(mg)} / {len(th)} |")
        per = lambda rows: ", ".join(f"{100 * r['masked_accuracy']:.2f}" for r in rows)  # noqa: E731
        out.append(f"\nmasked-token accuracy by seed ({', '.join(str(r['seed']) for r in mg)}): "
                   f"minigen {per(mg)}; PyTorch {per(th)}")
        every = tuple(range(10))
        mg_all, th_all = runner.load_results(m, "minigen", every), runner.load_results(m, "torch", every)
        if len(mg_all) > len(mg) or len(th_all) > len(th):
            a, b = _stats(mg_all, "masked_accuracy"), _stats(th_all, "masked_accuracy")
            out.append(f"every saved seed ({', '.join(str(r['seed']) for r in mg_all)}): minigen "
                       f"{per(mg_all)}; PyTorch {per(th_all)}; means {100 * a[0]:.2f}% ± {100 * a[1]:.2f} "
                       f"and {100 * b[0]:.2f}% ± {100 * b[1]:.2f} ({a[2]} / {b[2]} seeds)")
    return "\n".join(out)


def chart(model_names, path):
    """Masked-token accuracy by the class of the hidden character, minigen beside PyTorch."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = model_names[0]
    rows = {lib: runner.load_results(m, lib) for lib in ("minigen", "torch")}
    asked = rows["minigen"][0]["asked_by_class"]
    x = numpy.arange(len(CLASSES))
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    for off, lib, color, label in ((-0.2, "minigen", "tab:blue", "minigen"), (0.2, "torch", "tab:orange", "PyTorch 2.13")):
        rs = rows[lib]
        if not rs:
            continue
        vals = numpy.array([[r["accuracy_by_class"][c] for c in CLASSES] for r in rs])
        sd = vals.std(0, ddof=1) if len(rs) > 1 else numpy.zeros(len(CLASSES))
        ax.bar(x + off, 100 * vals.mean(0), 0.38, yerr=100 * sd, color=color,
               label=f"{label} ({len(rs)} seeds)", capsize=3)
        for xi, v, e in zip(x + off, vals.mean(0), sd):
            ax.text(xi, 100 * (v + e) + 1, f"{100 * v:.0f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{c}\n({asked[c]} asked)" for c in CLASSES], fontsize=8)
    ax.set_ylabel("masked-token accuracy, %")
    ax.set_ylim(0, 105)
    ax.set_title("BERT on Shakespeare: which hidden characters it gets right", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def attention_chart(path, seed=0, n_windows=400):
    """Where minigen's trained BERT (the seed's checkpoint) looks from a [MASK]: the mean
    attention weight on the key at offset j - t, for queries t that hold [MASK] in the fixed
    validation masking, one row per layer and head."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import minigen
    from minigen.models.bert import build_bert, fixed_masking, validation_windows
    from minigen.train import load_checkpoint

    model = build_bert()
    load_checkpoint(os.path.join(CHECKPOINTS, f"bert-minigen-seed{seed}.npz"), model)
    model.eval()
    T, V = model.block_size, model.vocab_size
    inputs, _ = fixed_masking(validation_windows(T), V)
    inputs = inputs[:n_windows]
    A = model.attention(minigen.tensor(inputs))              # [L, B, H, T, T]
    L, _, H = A.shape[:3]
    offsets = numpy.arange(-(T - 1), T)
    b, t = numpy.nonzero(inputs == V)                          # the [MASK] queries
    Q = A.transpose(1, 3, 0, 2, 4)[b, t]                       # [n, L, H, T]: each query's weights
    grid = numpy.zeros((L * H, len(offsets)))
    for k, o in enumerate(offsets):
        ok = (t + o >= 0) & (t + o < T)                        # the queries that have a key at t + o
        if ok.any():
            grid[:, k] = Q[numpy.nonzero(ok)[0], :, :, t[ok] + o].mean(0).reshape(L * H)
    fig, ax = plt.subplots(figsize=(8.5, 0.32 * L * H + 1.6))
    shown = slice(T - 1 - 12, T + 12)
    im = ax.imshow(grid[:, shown], aspect="auto", cmap="magma", vmin=0)
    ax.set_xticks(range(25))
    ax.set_xticklabels([str(o) for o in offsets[shown]], fontsize=7)
    ax.set_yticks(range(L * H))
    ax.set_yticklabels([f"layer {l + 1} head {h + 1}" for l in range(L) for h in range(H)], fontsize=7)
    ax.set_xlabel("key position j - query position t (the query is a [MASK]; 0: itself)")
    ax.set_title(f"BERT (minigen, seed {seed}): mean attention from a [MASK], {len(b)} queries", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def describe(r):
    return (f"masked accuracy {100 * r['masked_accuracy']:.2f}%, {r['masked_nats_per_char']:.4f} nats/masked char, "
            f"{r['cpu_ms_per_step']:.0f} CPU ms/step")


if __name__ == "__main__":
    if "--attention" in sys.argv:      # the attention picture of minigen's seed-0 model, then stop
        attention_chart(sys.argv[sys.argv.index("--attention") + 1])
        sys.exit(0)
    runner.main(["bert"], lambda m, lib, seed, steps=None: run(m, lib, seed, steps=steps,
                                                                log_every=max(1, steps // 2) if steps else 250),
                table, describe, __doc__, chart=chart)
