"""WaveNet on the spoken digits beside a PyTorch twin (issue #15), and the baselines.

Protocol: the speaker split (36 train / 4 test voices); mu-law codes (mu = 255, q = floor((f + 1)
/ 2 x 255 + 0.5)); 2 stacks of dilations 1 .. 128 after a causal kernel-2 input conv (receptive
field 512), residual 32 / dilation 32 / skip 64, gated units, the one-hot digit through a
per-layer Linear(10 -> 64, no bias); each step 4 windows of 1,512 codes drawn uniformly over
the training clips' valid positions (``default_rng([seed, 7])``, the same on both sides; 1,000
targets each), mean cross-entropy; Adam 3e-3, cosine decay to 0 over 1,500 steps. Test NLL over
every test sample at position >= 512 of its clip (222,278 targets), in bits per sample.
Bar: <= 5.25 (PyTorch 5.147 ± 0.010).

Baselines on the same targets (``--baselines``): uniform 8 bits; the marginal code histogram of
the training clips (+1 smoothing); AR(16) by least squares on the decoded values with a
histogram of code residuals (``minigen/models/ar.py``).

    python benchmarks/quality/wavenet_vs_torch.py            # 3 seeds x 2 libraries
    python benchmarks/quality/wavenet_vs_torch.py --report
"""
from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import runner  # noqa: E402

STEPS, WINDOW, BATCH, R = 1500, 1512, 4, 512


def _data():
    from minigen.models.registry import DATASETS
    spec = DATASETS["spoken"]
    return spec.clips("train"), spec.clips("test")


def baselines():
    from minigen.models.ar import fit_ar
    from minigen.models.wavenet import mu_law_decode, mu_law_encode
    train, test = _data()
    targets = numpy.concatenate([c[R:] for c, _ in test])
    hist = numpy.bincount(numpy.concatenate([c for c, _ in train]), minlength=256) + 1.0
    marginal = float(-numpy.log2(hist[targets] / hist.sum()).mean())
    ar = fit_ar([mu_law_decode(c) for c, _ in train], 16)
    resid_train = []
    for c, _ in train:
        pred = numpy.clip(ar.predict(mu_law_decode(c)), -1, 1)
        resid_train.append(c[16:] - mu_law_encode(pred))
    rh = numpy.bincount(numpy.concatenate(resid_train) + 255, minlength=511) + 1.0
    bits = []
    for c, _ in test:
        pred = numpy.clip(ar.predict(mu_law_decode(c)), -1, 1)
        r = (c[16:] - mu_law_encode(pred))[R - 16:]
        bits.append(-numpy.log2(rh[r + 255] / rh.sum()))
    return {"uniform": 8.0, "marginal_histogram": marginal, "ar16_residual_histogram": float(numpy.concatenate(bits).mean()),
            "targets": int(len(targets))}


def run(model, lib, seed, steps=None):
    train, test = _data()
    rng = numpy.random.default_rng([seed, 7])
    counts = numpy.array([len(c) - WINDOW + 1 for c, _ in train])
    offsets = numpy.concatenate([[0], numpy.cumsum(counts)])
    n_steps = steps or STEPS

    def batch():
        idx = rng.integers(0, offsets[-1], BATCH)
        k = numpy.searchsorted(offsets, idx, side="right") - 1
        codes = numpy.stack([train[c][0][i - offsets[c]:i - offsets[c] + WINDOW] for c, i in zip(k, idx)])
        return codes.astype(numpy.int64), numpy.array([train[c][1] for c in k], dtype=numpy.int64)

    out = {"model": model, "lib": lib, "seed": seed}
    t0 = time.perf_counter()
    bits = 0.0
    n = 0
    if lib == "minigen":
        import minigen
        from minigen.models.wavenet import WaveNet
        from minigen.optim import lr_scheduler
        from minigen.train import training_step
        minigen.manual_seed(seed)
        m = WaveNet()
        opt = minigen.optim.Adam(m.parameters(), lr=3e-3)
        sched = lr_scheduler.CosineAnnealingLR(opt, T_max=n_steps)
        for _ in range(n_steps):
            c, d = batch()
            training_step(m, opt, (minigen.from_numpy(c), minigen.from_numpy(d)))
            sched.step()
        out["train_seconds"] = time.perf_counter() - t0
        for c, d in test:
            b, k = m.nll_bits(c, d)
            bits, n = bits + b, n + k
    else:
        import torch
        import torch.nn.functional as F
        from minigen.bench.torch_twins import torch_wavenet
        torch.manual_seed(seed)
        net = torch_wavenet()
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=n_steps)
        for _ in range(n_steps):
            c, d = (torch.from_numpy(a) for a in batch())
            opt.zero_grad()
            loss = F.cross_entropy(net(c[:, :-1], d), c[:, R:])
            loss.backward()
            opt.step()
            sched.step()
        out["train_seconds"] = time.perf_counter() - t0
        with torch.no_grad():
            for c, d in test:
                ct = torch.from_numpy(c.astype(numpy.int64))[None]
                nats = F.cross_entropy(net(ct[:, :-1], torch.tensor([d])), ct[:, R:], reduction="sum").item()
                bits, n = bits + nats / math.log(2), n + ct.shape[1] - R
    out["test_bits_per_sample"] = bits / n
    out["test_targets"] = n
    return out


def _load(lib):
    return runner.load_results("wavenet", lib)


def table(models):
    a = [r["test_bits_per_sample"] for r in _load("minigen")]
    b = [r["test_bits_per_sample"] for r in _load("torch")]

    def f(v):
        return f"{numpy.mean(v):.3f} ± {numpy.std(v, ddof=1) if len(v) > 1 else 0:.3f}" if v else "-"
    lines = ["| model | minigen (bits/sample) | PyTorch 2.13 CPU | ratio | issue's PyTorch | bar | seeds |",
             "|---|---|---|---|---|---|---|",
             f"| WaveNet, 1,500 steps | {f(a)} | {f(b)} | "
             f"{numpy.mean(a) / numpy.mean(b):.3f} | 5.147 ± 0.010 | ≤ 5.25 | {len(a)} / {len(b)} |" if a and b else
             f"| WaveNet | {f(a)} | {f(b)} | - | 5.147 ± 0.010 | ≤ 5.25 | {len(a)} / {len(b)} |"]
    p = os.path.join(runner.RESULTS, "wavenet-baselines.json")
    if os.path.exists(p):
        with open(p) as fh:
            bl = json.load(fh)
        lines.append(f"\nBaselines on the same {bl['targets']:,} targets: uniform {bl['uniform']:.2f}, marginal "
                     f"histogram {bl['marginal_histogram']:.3f}, AR(16) + residual histogram "
                     f"{bl['ar16_residual_histogram']:.3f} bits per sample.")
    return "\n".join(lines)


def describe(r):
    return f"test {r['test_bits_per_sample']:.4f} bits per sample over {r['test_targets']} targets"


if __name__ == "__main__":
    if "--baselines" in sys.argv:
        bl = baselines()
        os.makedirs(runner.RESULTS, exist_ok=True)
        with open(os.path.join(runner.RESULTS, "wavenet-baselines.json"), "w") as fh:
            json.dump(bl, fh, indent=1)
        print(bl)
    else:
        runner.main(["wavenet"], run, table, describe, doc=__doc__)
