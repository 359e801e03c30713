"""CLIP on MNIST-5k and procedural captions beside its PyTorch twin (issue #17).

The protocol, the same on both sides:

* Data: MNIST-5k (the package's ``mnist_5k.csv.gz``, pixels / 255), split by
  ``numpy.random.default_rng(0).permutation(5000)``: the first 4,500 train, the last 500 test
  (``gan_protocol.protocol_data``, the split every MNIST-5k protocol here uses: the shipped file
  is sorted by label, so its literal last 500 would all be nines). minigen's own ``'captions'``
  data set (what ``minigen train clip`` uses) is minigen's MNIST split, 4,000 / 1,000.
* Captions: the 8 training templates of ``minigen.data.captions``; at every step each image
  gets a fresh template t ~ U{0..7}, drawn from ``numpy.random.default_rng([seed, 11])`` (the
  same captions on both sides); characters over space, 0-9, a-z, PAD 0.
* Model: image tower conv 3x3 16 - ReLU - pool 2, conv 3x3 32 - ReLU - pool 2, Linear 1568 ->
  128 - ReLU, Linear 128 -> 64; text tower Embedding 38 x 32, GRU 32 -> 128 read after the
  last real character, Linear 128 -> 64; both L2-normalised; s = exp(min(t, log 100)) with t
  learned from log(1/0.07); loss the mean of the two cross-entropies of S = s U V^T.
  PyTorch's default initialisation on both sides, each library drawing its own weights.
* Training: batch 128 from a NumPy permutation per epoch (``default_rng([seed, 7])``), the last
  partial batch dropped (35 steps an epoch), 20 epochs = 700 steps, Adam lr 1e-3, betas (0.9,
  0.999).
* Scores, on the 500 test images after the last step (``minigen.models.clip.zero_shot_figures``,
  the same NumPy lines for both libraries): zero-shot accuracy with the prompts "a handwritten
  {zero..nine}" (the bar: >= 0.96; the issue's PyTorch 0.978 ± 0.005), the mean accuracy of
  each held-out template alone (never seen in training), the ensembles, class-level
  precision@10 both ways.

One thread a run. Run:

    python benchmarks/quality/clip_vs_torch.py              # 3 seeds x 2 libraries
    python benchmarks/quality/clip_vs_torch.py --report     # the table of the saved results
    python benchmarks/quality/clip_vs_torch.py --picture docs/images/clip_similarity.png
                                                            # train minigen seed 0, draw S
    python benchmarks/quality/clip_vs_torch.py --probe runs/clip/last.npz
                                                            # what the text tower reads
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import runner  # noqa: E402
from gan_protocol import protocol_data  # noqa: E402

MODELS = ["clip_mnist"]
EPOCHS, BATCH, LR = 20, 128, 1e-3
BAR = 0.96
ISSUE_TORCH = "0.978 ± 0.005"


def steps_of(seed, n, epochs=EPOCHS, batch=BATCH):
    """The run's (indices, templates): a permutation per epoch, the last partial batch dropped;
    a template per image per step."""
    order = numpy.random.default_rng([seed, 7])
    draw = numpy.random.default_rng([seed, 11])
    for _ in range(epochs):
        perm = order.permutation(n)
        for s in range(0, n - batch + 1, batch):
            yield perm[s:s + batch], draw.integers(0, 8, size=batch)


def train_minigen(seed, steps=None, data=None):
    import minigen
    from minigen.models.clip import build_clip, clip_loss
    xtr, ytr, xte, yte = data or protocol_data()
    minigen.manual_seed(seed)
    m = build_clip()
    opt = minigen.optim.Adam(m.parameters(), lr=LR, betas=(0.9, 0.999))
    X, Y = minigen.from_numpy(xtr), ytr
    ids_table, len_table = m.caption_ids.numpy(), m.caption_lengths.numpy()
    n, t0 = 0, time.perf_counter()
    for idx, t in steps_of(seed, len(xtr)):
        y = Y[idx]
        lengths = len_table[t, y]
        ids = ids_table[t, y][:, :lengths.max()]
        opt.zero_grad()
        loss = clip_loss(m.encode_image(X[minigen.from_numpy(idx)]),
                         m.encode_ids(minigen.from_numpy(ids), minigen.from_numpy(lengths)), m.scale())
        loss.backward()
        opt.step()
        n += 1
        if steps and n >= steps:
            break
    return m, n, time.perf_counter() - t0, loss.item()


def run(model, lib, seed, steps=None):
    from minigen.data.captions import CharTokenizer
    from minigen.models.clip import zero_shot_figures
    xtr, ytr, xte, yte = protocol_data()
    out = {"model": model, "lib": lib, "seed": seed}
    tok = CharTokenizer()
    if lib == "minigen":
        import minigen
        m, n, secs, last = train_minigen(seed, steps, (xtr, ytr, xte, yte))
        m.eval()
        with minigen.no_grad():
            U = m.image_embeddings(minigen.from_numpy(xte)).numpy()
            figs = zero_shot_figures(U, yte, lambda texts: m.encode_text(texts).numpy())
        scale = m.scale().item()
        out["params"] = sum(p.numel() for p in m.parameters())
    else:
        import torch
        from minigen.bench.torch_twins import torch_clip
        from minigen.models.clip import build_clip
        config = build_clip().config()
        torch.manual_seed(seed)
        net = torch_clip(config)
        opt = torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.999))
        ids_table, len_table = (t.numpy() for t in (build_clip().caption_ids, build_clip().caption_lengths))
        X = torch.from_numpy(xtr)
        n, t0 = 0, time.perf_counter()
        for idx, t in steps_of(seed, len(xtr)):
            y = ytr[idx]
            lengths = len_table[t, y]
            ids = ids_table[t, y][:, :lengths.max()]
            opt.zero_grad()
            loss = net.loss(X[torch.from_numpy(idx)], torch.from_numpy(ids), torch.from_numpy(lengths))
            loss.backward()
            opt.step()
            n += 1
            if steps and n >= steps:
                break
        secs, last = time.perf_counter() - t0, loss.item()
        net.eval()

        def encode_texts(texts):
            ids, lengths = tok.batch(texts)
            with torch.no_grad():
                return net.encode_ids(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()
        with torch.no_grad():
            U = net.encode_image(torch.from_numpy(xte)).numpy()
        figs = zero_shot_figures(U, yte, encode_texts)
        scale = net.scale().item()
        out["params"] = sum(p.numel() for p in net.parameters())
    out.update(figs, steps=n, train_seconds=secs, ms_per_step=1000 * secs / n, last_train_loss=last, scale_s=scale)
    return out


def _stat(rows, key, fmt="{:.3f}"):
    v = [r[key] for r in rows]
    if not v:
        return "-"
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{fmt.format(statistics.mean(v))} ± {fmt.format(sd)}"


ROWS = [("zero-shot accuracy, prompts \"a handwritten {zero..nine}\" (bar >= 0.96)", "zero_shot_accuracy"),
        ("held-out templates, each alone (mean of 8)", "heldout_template_accuracy_mean"),
        ("held-out templates, the worst of 8", "heldout_template_accuracy_min"),
        ("training templates, each alone (mean of 8)", "train_template_accuracy_mean"),
        ("ensemble of the 8 training templates", "ensemble_train_templates_accuracy"),
        ("ensemble of the 8 held-out templates", "ensemble_heldout_templates_accuracy"),
        ("class-level precision@10, text -> image", "precision_at_10_text_to_image"),
        ("class-level precision@10, image -> text", "precision_at_10_image_to_text"),
        ("learned scale s at the end", "scale_s"),
        ("last training loss (nats)", "last_train_loss"),
        ("ms per step (1 thread)", "ms_per_step")]


def table(models):
    lines = []
    for m in models:
        a, b = runner.load_results(m, "minigen"), runner.load_results(m, "torch")
        lines += [f"| {m}: 500 test images, 3 seeds a side | minigen | PyTorch 2.13 CPU (this run) |",
                  "|---|---|---|"]
        for label, key in ROWS:
            fmt = "{:.1f}" if key in ("scale_s", "ms_per_step") else "{:.3f}"
            lines.append(f"| {label} | {_stat(a, key, fmt)} | {_stat(b, key, fmt)} |")
        lines.append(f"| seeds | {len(a)} | {len(b)} |")
        lines.append(f"\n(the issue's PyTorch: {ISSUE_TORCH}; bar >= {BAR})")
    return "\n".join(lines)


def describe(r):
    return (f"zero-shot {r['zero_shot_accuracy']:.3f}, held-out templates {r['heldout_template_accuracy_mean']:.3f}, "
            f"p@10 t->i {r['precision_at_10_text_to_image']:.3f}, s {r['scale_s']:.1f}, {r['steps']} steps")


def picture(path, seed=0):
    """Train minigen's CLIP (seed ``seed``) by the protocol and draw its similarity matrix of
    the prompts against 8 test images of each digit."""
    import minigen
    from minigen import plots
    from minigen.models.clip import similarity_matrix
    from minigen.data.captions import caption
    runner.set_threads(1)
    data = protocol_data()
    m, n, secs, _ = train_minigen(seed, data=data)
    m.eval()
    S, imgs = similarity_matrix(m, minigen.from_numpy(data[2]), minigen.from_numpy(data[3]))
    plots.save_clip_similarity(S, imgs, [caption("a handwritten {w}", d) for d in range(10)], path)
    print(f"trained {n} steps in {secs:.0f} s; wrote {path}")


PROBES = [("a handwritten {w}", "the bar's prompt (a training template)"),
          ("a scribbled {w}", "a held-out template"),
          ("not a {w}", "negation: unseen word, opposite meaning"),
          ("definitely not the digit {d}", "negation with the numeral"),
          ("a handwritten {w}{w}", "the digit word twice, no space"),
          ("the number after {w}", "a relation the captions never needed")]


def probe(checkpoint):
    """What the text tower reads, on a trained checkpoint (``minigen train clip``) and its 1,000
    test images: (1) the mean cosine between captions of the same digit and of different digits,
    for the 8 training and the 8 held-out templates; (2) zero-shot accuracy (against the true
    digit) of prompts the captions never contained."""
    import minigen
    from minigen.data import captions as C
    from minigen.models.clip import build_clip, _class_vectors
    from minigen.models.datasets import DATASETS
    from minigen.train import load_checkpoint
    runner.set_threads(1)
    from minigen import io
    meta = io.load_meta(checkpoint)
    m = build_clip(variant=meta.get("variant") or "cnn", **(meta.get("options") or {}))
    load_checkpoint(checkpoint, m)
    m.eval()
    spec = DATASETS["captions"]
    x, y = spec.images("test"), spec.labels("test").numpy()
    with minigen.no_grad():
        U = m.image_embeddings(x).numpy()

        def enc(texts):
            return m.encode_text(texts).numpy()
        print("| templates | cosine, same digit | cosine, different digits |\n|---|---|---|")
        for name, templates in (("8 training", C.TRAIN_TEMPLATES), ("8 held-out", C.HELDOUT_TEMPLATES),
                                ("training vs held-out", None)):
            if templates is None:
                A = enc([C.caption(t, d) for t in C.TRAIN_TEMPLATES for d in range(10)])
                B = enc([C.caption(t, d) for t in C.HELDOUT_TEMPLATES for d in range(10)])
                ya = yb = numpy.tile(numpy.arange(10), 8)
                G = A @ B.T
                same = ya[:, None] == yb[None]
            else:
                A = enc([C.caption(t, d) for t in templates for d in range(10)])
                ya = numpy.tile(numpy.arange(10), len(templates))
                G = A @ A.T
                same = (ya[:, None] == ya[None]) & ~numpy.eye(len(ya), dtype=bool)
            diff = ya[:, None] != ya[None] if templates is not None else ~same
            print(f"| {name} | {G[same].mean():.3f} | {G[diff].mean():.3f} |")
        print("\n| prompt (digit filled in) | what it tests | accuracy, the prompt of d taken to mean d (1,000 test images) |\n|---|---|---|")
        for t, what in PROBES:
            acc = float(((U @ _class_vectors(enc, (t,)).T).argmax(1) == y).mean())
            print(f"| \"{t}\" | {what} | {acc:.3f} |")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--picture":
        picture(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--probe":
        probe(sys.argv[2])
    else:
        runner.main(MODELS, run, table, describe, doc=__doc__)
