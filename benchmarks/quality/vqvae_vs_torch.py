"""VQ-VAE on MNIST-5k beside its PyTorch twin (issue #17).

The protocol, the same on both sides:

* Data: MNIST-5k, pixels / 255, split by ``numpy.random.default_rng(0).permutation(5000)``: the
  first 4,500 train, the last 500 test (``gan_protocol.protocol_data``; minigen's own
  ``'mnist'``, which ``minigen train vqvae`` uses, is 4,000 / 1,000).
* Model (``minigen.models.vqvae``): encoder conv 4x4/2 32 - ReLU - conv 4x4/2 64 - ReLU - conv
  1x1 16 (a 7 x 7 grid of 16-vectors); a codebook of K = 64 codes, U(-1/64, 1/64); decoder conv
  3x3 64 - ReLU - transposed conv 4x4/2 32 - ReLU - transposed conv 4x4/2 1 (logits; x_hat = sigmoid);
  nearest-code lookup with the straight-through gradient; loss = BCE per pixel (Bernoulli decoder on the logits) + codebook loss +
  0.25 x commitment loss; after each training forward, the codes no position of the batch chose
  move onto random encodings of the batch (each library drawing from its own generator).
  PyTorch's default initialisation on both sides, each library drawing its own weights.
* Training: batch 128 from a NumPy permutation per epoch (``default_rng([seed, 7])``), the last
  partial batch dropped (35 steps an epoch), 15 epochs = 525 steps, Adam lr 1e-3.
* Scores on the 500 test images after the last step (the same NumPy lines for both): MSE per
  pixel and BCE in nats per image of x against x_hat, the perplexity of the codes chosen at the
  500 x 49 test positions (of 64) and the dead codes (never chosen there).

One thread a run. Run:

    python benchmarks/quality/vqvae_vs_torch.py              # 3 seeds x 2 libraries (+ no restarts)
    python benchmarks/quality/vqvae_vs_torch.py --report     # the table of the saved results
    python benchmarks/quality/vqvae_vs_torch.py --pictures docs/images   # minigen seed 0's pictures
    python benchmarks/quality/vqvae_vs_torch.py --code-stats runs/vqvae/last.npz   # background codes
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

MODELS = ["vqvae_mnist", "vqvae_norestart_mnist"]
EPOCHS, BATCH, LR = 15, 128, 1e-3


def batch_order(seed, n, epochs=EPOCHS, batch=BATCH):
    rng = numpy.random.default_rng([seed, 7])
    for _ in range(epochs):
        perm = rng.permutation(n)
        for s in range(0, n - batch + 1, batch):
            yield perm[s:s + batch]


def figures(x, x_hat, codes, K=64):
    """MSE per pixel, BCE nats per image, perplexity and dead codes (NumPy, float64)."""
    from minigen.models.vqvae import code_usage
    a = x.astype(numpy.float64)
    b = numpy.clip(x_hat.astype(numpy.float64), 1e-6, 1 - 1e-6)
    perplexity, dead, _ = code_usage(codes, K)
    return {"mse_per_pixel": float(((a - b) ** 2).mean()),
            "bce_nats_per_image": float(-(a * numpy.log(b) + (1 - a) * numpy.log(1 - b)).sum() / len(a)),
            "code_perplexity": perplexity, "dead_codes": dead}


def train_minigen(model, seed, steps=None, data=None):
    import minigen
    from minigen.models.vqvae import VQVAE
    xtr = (data or protocol_data())[0]
    minigen.manual_seed(seed)
    m = VQVAE(restarts=model == "vqvae_mnist")
    opt = minigen.optim.Adam(m.parameters(), lr=LR)
    X = minigen.from_numpy(xtr)
    n, t0 = 0, time.perf_counter()
    for idx in batch_order(seed, len(xtr)):
        opt.zero_grad()
        loss = m.loss(X[minigen.from_numpy(idx)])
        loss.backward()
        opt.step()
        n += 1
        if steps and n >= steps:
            break
    return m, n, time.perf_counter() - t0


def run(model, lib, seed, steps=None):
    data = protocol_data()
    xtr, xte = data[0], data[2]
    out = {"model": model, "lib": lib, "seed": seed}
    if lib == "minigen":
        import minigen
        m, n, secs = train_minigen(model, seed, steps, data)
        m.eval()
        with minigen.no_grad():
            x_hat, _, _, codes = m(minigen.from_numpy(xte))
        x_hat, codes = x_hat.numpy(), codes.numpy()
        out["params"] = sum(p.numel() for p in m.parameters())
    else:
        import torch
        from minigen.bench.torch_twins import torch_vqvae
        from minigen.models.vqvae import VQVAE
        torch.manual_seed(seed)
        net = torch_vqvae(VQVAE(restarts=model == "vqvae_mnist").config())
        opt = torch.optim.Adam(net.parameters(), lr=LR)
        X = torch.from_numpy(xtr)
        n, t0 = 0, time.perf_counter()
        for idx in batch_order(seed, len(xtr)):
            opt.zero_grad()
            loss = net.loss(X[torch.from_numpy(idx)])
            loss.backward()
            opt.step()
            n += 1
            if steps and n >= steps:
                break
        secs = time.perf_counter() - t0
        net.eval()
        with torch.no_grad():
            x_hat, _, _, codes = net(torch.from_numpy(xte))
        x_hat, codes = x_hat.numpy(), codes.numpy()
        out["params"] = sum(p.numel() for p in net.parameters())
    out.update(figures(xte, x_hat, codes), steps=n, train_seconds=secs, ms_per_step=1000 * secs / n)
    return out


def _stat(rows, key, fmt="{:.4f}"):
    v = [r[key] for r in rows]
    if not v:
        return "-"
    if len(v) == 1:
        return fmt.format(v[0])
    return f"{fmt.format(statistics.mean(v))} ± {fmt.format(statistics.stdev(v))}"


def table(models):
    lines = ["| model | library | MSE per pixel | BCE nats per image | code perplexity (of 64) | dead codes | "
             "ms per step | seeds |", "|---|---|---|---|---|---|---|---|"]
    for m in models:
        for lib, name in (("minigen", "minigen"), ("torch", "PyTorch 2.13 CPU")):
            rows = runner.load_results(m, lib)
            if not rows:
                continue
            lines.append(f"| {m} | {name} | {_stat(rows, 'mse_per_pixel')} | {_stat(rows, 'bce_nats_per_image', '{:.1f}')} | "
                         f"{_stat(rows, 'code_perplexity', '{:.1f}')} | {_stat(rows, 'dead_codes', '{:.1f}')} | "
                         f"{_stat(rows, 'ms_per_step', '{:.0f}')} | {len(rows)} |")
    return "\n".join(lines)


def describe(r):
    return (f"MSE {r['mse_per_pixel']:.4f}, BCE {r['bce_nats_per_image']:.1f} nats, perplexity "
            f"{r['code_perplexity']:.1f}, {r['dead_codes']} dead, {r['steps']} steps")


def pictures(folder, seed=0):
    """Train minigen's VQ-VAE (seed ``seed``) by the protocol and draw its reconstructions of 16
    test images and its code use over the 500 test images."""
    import minigen
    from minigen import plots
    from minigen.models.vqvae import code_usage
    runner.set_threads(1)
    data = protocol_data()
    m, n, secs = train_minigen("vqvae_mnist", seed, data=data)
    m.eval()
    xte = minigen.from_numpy(data[2])
    codes = m.encode_codes(xte)
    p1 = plots.save_reconstructions(xte[:16], m.decode_codes(codes[:16]), os.path.join(folder, "vqvae_reconstructions.png"),
                                    title="top: test images; bottom: decoded from their 7 x 7 codes")
    p2 = plots.save_code_usage(code_usage(codes.numpy(), m.num_codes)[2], os.path.join(folder, "vqvae_codebook_usage.png"))
    print(f"trained {n} steps in {secs:.0f} s; wrote {p1} and {p2}")


def code_stats(checkpoint):
    """Which codes draw the background: over minigen's 1,000 ``'mnist'`` test images, the share
    of latent positions whose 4 x 4 pixel block is blank (every pixel < 0.05), the 5 most used
    codes with the share of their positions that are blank, and how many codes blank positions use."""
    from minigen import io
    from minigen.models.vqvae import build_vqvae
    from minigen.train import load_checkpoint
    from minigen.data import load_mnist
    meta = io.load_meta(checkpoint)
    m = build_vqvae(meta.get("data") or "mnist", **(meta.get("options") or {}))
    load_checkpoint(checkpoint, m)
    m.eval()
    x, _ = load_mnist("test")
    c = m.encode_codes(x).numpy()
    h, w = m.grid
    H, W = m.image_shape[1:]
    blank = x.numpy()[:, 0].reshape(-1, h, H // h, w, W // w).max(axis=(2, 4)) < 0.05
    counts = numpy.bincount(c.reshape(-1), minlength=m.num_codes)
    print(f"blank positions: {blank.mean():.3f} of {c.size}; codes used at blank positions: "
          f"{len(numpy.unique(c[blank]))} of {m.num_codes}")
    print("| code | share of all positions | share of its positions that are blank |\n|---|---|---|")
    for k in numpy.argsort(-counts, kind="stable")[:5]:
        print(f"| {k} | {counts[k] / c.size:.3f} | {blank[c == k].mean():.3f} |")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--pictures":
        pictures(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "--code-stats":
        code_stats(sys.argv[2])
    else:
        runner.main(MODELS, run, table, describe, doc=__doc__)
