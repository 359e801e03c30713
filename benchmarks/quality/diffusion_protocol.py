"""The protocols of issue #16 (diffusion, score models, flows), minigen beside a PyTorch twin.

Every run draws its training batches with ``numpy.random.default_rng([seed, 7])`` (the same
indices on both sides); each library draws its own weights, timesteps and noise with its own
generator seeded by ``seed``. PyTorch's default initialisation on both sides (minigen's
``nn.Linear`` / ``nn.Conv2d`` defaults are PyTorch's).

* ``ddpm_moons``: the two-moons recipe (``minigen.data.moons_split``); epsilon-MLP on
  [x, 32-d sinusoidal embedding of t] -> 3 x 128 ReLU -> 2; T = 100, betas linear 1e-4..0.02;
  batch 256 drawn with replacement; Adam 1e-3; 5,000 steps; ancestral sampling with
  sigma_t^2 = beta_t; 2,000 samples. Bar: NN distance <= 0.018.
* ``score_moons``: 10 geometric levels 1 -> 0.01, the same MLP fed the level index;
  loss 1/2 ||net(x + sigma_i z, i) + z||^2; annealed Langevin with alpha_i = 2e-5 sigma_i^2 /
  sigma_min^2, 100 steps per level, 2,000 chains from N(0, I). Bar: NN <= 0.013, upper share
  in 0.40-0.60.
* ``realnvp_moons``: 8 couplings, MLP 2-128-128-4, tanh scale; batch 256, Adam 1e-3, 5,000
  steps. Test NLL on the 2,000 fresh points. Bar: <= 1.26 nats; NN distance <= 0.011.
* ``realnvp_digits``: the 8x8 digits, split ``default_rng(0).permutation(1797)``, first 1,617
  train, last 180 test; y = (v + u) / 17, logit step with a = 0.05; 8 checkerboard couplings,
  MLP 64-128-128-128-128; batch 64 (a per-epoch permutation, the last partial batch kept),
  Adam 1e-3, 30 epochs. Bounds over 10 draws per test image. Bar: <= 99.3 nats.
* ``ddpm_digits``: this repository's protocol (the issue asks for FD within 15% of the twin):
  minigen's digits split (1,500 / 297), UNet (32, 64) with attention at 4x4, T = 1000 linear,
  classifier-free guidance (p_uncond 0.1), batch 64 with replacement, Adam 1e-3, DIGITS_STEPS
  steps, EMA 0.999 used for sampling; FD_DRAWS draws of 1,000 DDIM-50 samples without labels
  (FD on the 8x8 digit classifier against the 297 test images, classes covered, averaged over
  the draws) and 1,000 with labels i % 10 at guidance w = GUIDANCE (the share classified as the
  requested digit). ``ddpm_digits`` holds the first runs, scored on one draw (before FD_DRAWS
  existed); ``ddpm_digits5`` the same protocol rerun and scored on FD_DRAWS draws.
"""
from __future__ import annotations

import math
import os
import sys
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import runner  # noqa: E402

MODELS = ["ddpm_moons", "score_moons", "realnvp_moons", "realnvp_digits", "ddpm_digits", "ddpm_digits5"]
DIGITS_STEPS = 4000
GUIDANCE = 2.0
FD_DRAWS = 5
N_SAMPLES = 2000


def _moons():
    from minigen.data import moons_split
    return moons_split()


def _digits_protocol():
    from minigen.data import load_digits
    x, y = load_digits("all")
    perm = numpy.random.default_rng(0).permutation(1797)
    x = x.numpy()
    return x[perm[:1617]], x[perm[1617:]]


def _point_scores(samples, d):
    from minigen import metrics
    return {"nn_distance": metrics.nn_distance(samples, d["train"]),
            "upper_share": metrics.mode_share(samples, d["train"], d["train_upper"])}


def _image_scores(draw_uncond, guided, real):
    """The unguided scores averaged over FD_DRAWS draws of 1,000 samples (``draw_uncond()`` makes
    one): one draw's FD moves by about 0.55 from draw to draw of the same model, as much as
    the gap the issue's 15% allows; and the guided agreement of 1,000 samples."""
    from minigen import metrics
    draws = [metrics.score_images(draw_uncond(), real=real) for _ in range(FD_DRAWS)]
    _, logits = metrics.classify(guided)
    agree = float((logits.argmax(1) == numpy.arange(len(guided)) % 10).mean())
    mean = {k: float(numpy.mean([d[key] for d in draws])) for k, key in
            (("fd", "frechet_distance_digit_classifier"), ("classes", "classes_covered"),
             ("precision", "precision"), ("recall", "recall"))}
    return dict(mean, fd_draws=[d["frechet_distance_digit_classifier"] for d in draws], guided_agreement=agree)


# ----------------------------------------------------------------------------- minigen
def _run_minigen(model, seed, steps):
    import minigen
    from minigen.train import training_step
    minigen.manual_seed(seed)
    rng = numpy.random.default_rng([seed, 7])
    out = {}
    if model.endswith("_moons"):
        d = _moons()
        X = minigen.from_numpy(d["train"])
        if model == "ddpm_moons":
            from minigen.models.diffusion import DDPM, PointDenoiser
            m = DDPM(PointDenoiser(2), (2,), T=100, images=False)
        elif model == "score_moons":
            from minigen.models.score import ScoreModel
            m = ScoreModel()
        else:
            from minigen.models.realnvp import RealNVP
            m = RealNVP(dim=2, n_couplings=8, hidden=(128, 128))
        opt = minigen.optim.Adam(m.parameters(), lr=1e-3)
        t0 = time.perf_counter()
        for _ in range(steps or 5000):
            training_step(m, opt, (X[minigen.from_numpy(rng.integers(0, len(X), 256))],))
        out["train_seconds"] = time.perf_counter() - t0
        m.eval()
        s = m.sample(N_SAMPLES).numpy()
        out.update(_point_scores(s, d))
        if model == "realnvp_moons":
            with minigen.no_grad():
                out["test_nll"] = float(-m.log_prob_flow(minigen.from_numpy(d["test"])).mean().item())
        return out
    if model == "realnvp_digits":
        from minigen.models.realnvp import RealNVP
        train, test = _digits_protocol()
        m = RealNVP(dim=64, n_couplings=8, hidden=(128, 128, 128), image_shape=(1, 8, 8))
        opt = minigen.optim.Adam(m.parameters(), lr=1e-3)
        X = minigen.from_numpy(train)
        t0, n_steps = time.perf_counter(), 0
        for epoch in range(30):
            perm = rng.permutation(len(train))
            for s in range(0, len(train), 64):
                training_step(m, opt, (X[minigen.from_numpy(perm[s:s + 64])],))
                n_steps += 1
                if steps and n_steps >= steps:
                    break
            if steps and n_steps >= steps:
                break
        out["train_seconds"] = time.perf_counter() - t0
        plain, iw = m.nll_bound(minigen.from_numpy(test))
        out["test_nll_bound"] = float(plain.mean().item())
        out["test_iw10_bound"] = float(iw.mean().item())
        return out
    # ddpm_digits
    from minigen.data import load_digits
    from minigen.models.diffusion import build_ddpm
    x, y = load_digits("train")
    xt, _ = load_digits("test")
    m = build_ddpm("digits", "guided")
    opt = minigen.optim.Adam(m.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for _ in range(steps or DIGITS_STEPS):
        idx = minigen.from_numpy(rng.integers(0, len(x), 64))
        training_step(m, opt, (x[idx], y[idx]))
    out["train_seconds"] = time.perf_counter() - t0
    m.eval()
    minigen.manual_seed(seed + 100)
    guided = m.sample(1000, labels=minigen.arange(1000) % 10, sampler="ddim", steps=50, guidance=GUIDANCE).numpy()
    out.update(_image_scores(lambda: m.sample(1000, sampler="ddim", steps=50).numpy(), guided, xt.numpy()))
    t1 = time.perf_counter()
    out["test_nll_bound"] = float(m.nll_bound(xt).mean().item())
    out["bound_seconds"] = time.perf_counter() - t1
    return out


# ----------------------------------------------------------------------------- PyTorch
def _run_torch(model, seed, steps):
    import torch
    import torch.nn.functional as F
    from minigen.bench.torch_twins import torch_point_denoiser, torch_realnvp, torch_unet
    torch.manual_seed(seed)
    rng = numpy.random.default_rng([seed, 7])
    out = {}
    if model in ("ddpm_moons", "ddpm_digits", "ddpm_digits5"):
        T = 100 if model == "ddpm_moons" else 1000
        beta = numpy.linspace(1e-4, 0.02, T)
        ab = numpy.cumprod(1 - beta)
        sab = torch.tensor(numpy.sqrt(ab), dtype=torch.float32)
        s1m = torch.tensor(numpy.sqrt(1 - ab), dtype=torch.float32)
    if model.endswith("_moons"):
        d = _moons()
        X = torch.tensor(d["train"])
        if model == "realnvp_moons":
            net = torch_realnvp(2, 8, (128, 128))
        else:
            net = torch_point_denoiser(2)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        sig = numpy.geomspace(1.0, 0.01, 10)
        sig_t = torch.tensor(sig, dtype=torch.float32)
        t0 = time.perf_counter()
        for _ in range(steps or 5000):
            x0 = X[torch.from_numpy(rng.integers(0, len(X), 256))]
            opt.zero_grad()
            if model == "ddpm_moons":
                t = torch.randint(0, T, (256,))
                eps = torch.randn_like(x0)
                loss = F.mse_loss(net(sab[t][:, None] * x0 + s1m[t][:, None] * eps, t), eps)
            elif model == "score_moons":
                i = torch.randint(0, 10, (256,))
                z = torch.randn_like(x0)
                r = net(x0 + sig_t[i][:, None] * z, i) + z
                loss = 0.5 * (r * r).sum(1).mean()
            else:
                loss = -net.log_prob(x0).mean()
            loss.backward()
            opt.step()
        out["train_seconds"] = time.perf_counter() - t0
        with torch.no_grad():
            if model == "ddpm_moons":
                x = torch.randn(N_SAMPLES, 2)
                for t in range(T - 1, -1, -1):
                    e = net(x, torch.full((N_SAMPLES,), t, dtype=torch.long))
                    x0 = (x - math.sqrt(1 - ab[t]) * e) / math.sqrt(ab[t])
                    abp = ab[t - 1] if t > 0 else 1.0
                    x = (math.sqrt(abp) * beta[t] / (1 - ab[t])) * x0 + (math.sqrt(1 - beta[t]) * (1 - abp) / (1 - ab[t])) * x
                    if t > 0:
                        x = x + math.sqrt(beta[t]) * torch.randn_like(x)
            elif model == "score_moons":
                x = torch.randn(N_SAMPLES, 2)
                for i in range(10):
                    a = 2e-5 * sig[i] ** 2 / sig[-1] ** 2
                    idx = torch.full((N_SAMPLES,), i, dtype=torch.long)
                    for _ in range(100):
                        x = x + (a / 2) * net(x, idx) / sig[i] + math.sqrt(a) * torch.randn_like(x)
            else:
                x = net.inverse(torch.randn(N_SAMPLES, 2))
                out["test_nll"] = float(-net.log_prob(torch.tensor(d["test"])).mean())
        out.update(_point_scores(x.numpy(), d))
        return out
    if model == "realnvp_digits":
        train, test = _digits_protocol()
        net = torch_realnvp(64, 8, (128, 128, 128), image_shape=(1, 8, 8))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        a = 0.05

        def log_prob_y(y):
            q = a + (1 - 2 * a) * y
            w = torch.log(q) - torch.log(1 - q)
            return net.log_prob(w) + (math.log(1 - 2 * a) - torch.log(q) - torch.log(1 - q)).sum(1)

        def dequant(xb):
            v = torch.round(xb.reshape(len(xb), -1) * 16)
            return (v + torch.rand_like(v)) / 17

        X = torch.tensor(train)
        t0, n_steps = time.perf_counter(), 0
        for epoch in range(30):
            perm = rng.permutation(len(train))
            for s in range(0, len(train), 64):
                opt.zero_grad()
                loss = -log_prob_y(dequant(X[torch.from_numpy(perm[s:s + 64])])).mean() + 64 * math.log(17)
                loss.backward()
                opt.step()
                n_steps += 1
                if steps and n_steps >= steps:
                    break
            if steps and n_steps >= steps:
                break
        out["train_seconds"] = time.perf_counter() - t0
        with torch.no_grad():
            Xt = torch.tensor(test)
            lp = torch.stack([log_prob_y(dequant(Xt)) for _ in range(10)])
            out["test_nll_bound"] = float((-lp.mean(0)).mean() + 64 * math.log(17))
            out["test_iw10_bound"] = float((-(torch.logsumexp(lp, 0) - math.log(10))).mean() + 64 * math.log(17))
        return out
    # ddpm_digits
    from minigen.data import load_digits
    x, y = (t.numpy() for t in load_digits("train"))
    xt = load_digits("test")[0].numpy()
    X, Y = torch.tensor(x) * 2 - 1, torch.tensor(y)
    net = torch_unet(1, (32, 64), num_classes=10)
    ema = torch_unet(1, (32, 64), num_classes=10)
    ema.load_state_dict(net.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for n in range(steps or DIGITS_STEPS):
        idx = torch.from_numpy(rng.integers(0, len(X), 64))
        x0, yb = X[idx], Y[idx].clone()
        yb[torch.rand(64) < 0.1] = 10
        t = torch.randint(0, T, (64,))
        eps = torch.randn_like(x0)
        xt_ = sab[t][:, None, None, None] * x0 + s1m[t][:, None, None, None] * eps
        opt.zero_grad()
        loss = F.mse_loss(net(xt_, t, yb), eps)
        loss.backward()
        opt.step()
        with torch.no_grad():
            dec = min(0.999, (1 + n) / (10 + n))
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.mul_(dec).add_(p * (1 - dec))
    out["train_seconds"] = time.perf_counter() - t0
    times = [int(v) for v in numpy.unique(numpy.linspace(0, T - 1, 50).round().astype(int))]

    @torch.no_grad()
    def ddim(n, labels, w):
        x = torch.randn(n, 1, 8, 8)
        null = torch.full((n,), 10, dtype=torch.long)
        for i in range(len(times) - 1, -1, -1):
            t, tp = times[i], times[i - 1] if i > 0 else -1
            tt = torch.full((n,), t, dtype=torch.long)
            if labels is None:
                e = ema(x, tt, null)
            else:
                e2 = ema(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, null]))
                e = e2[n:] + w * (e2[:n] - e2[n:])
            x0 = ((x - math.sqrt(1 - ab[t]) * e) / math.sqrt(ab[t])).clamp(-1, 1)
            e = (x - math.sqrt(ab[t]) * x0) / math.sqrt(1 - ab[t])
            abp = ab[tp] if tp >= 0 else 1.0
            x = math.sqrt(abp) * x0 + math.sqrt(1 - abp) * e
        return ((x + 1) / 2).clamp(0, 1).numpy()

    torch.manual_seed(seed + 100)
    guided = ddim(1000, torch.arange(1000) % 10, GUIDANCE)
    out.update(_image_scores(lambda: ddim(1000, None, 1.0), guided, xt))
    return out


def run(model, lib, seed, steps=None):
    out = (_run_minigen if lib == "minigen" else _run_torch)(model, seed, steps)
    return dict(out, model=model, lib=lib, seed=seed)


# ----------------------------------------------------------------------------- the table
FIGURES = {"ddpm_moons": ["nn_distance", "upper_share"], "score_moons": ["nn_distance", "upper_share"],
           "realnvp_moons": ["test_nll", "nn_distance", "upper_share"],
           "realnvp_digits": ["test_nll_bound", "test_iw10_bound"],
           "ddpm_digits": ["fd", "classes", "guided_agreement", "precision", "recall"],
           "ddpm_digits5": ["fd", "classes", "guided_agreement", "precision", "recall"]}


def _load(model, lib):
    return runner.load_results(model, lib)


def table(models):
    lines = ["| model | figure | minigen (mean ± sd) | PyTorch 2.13 CPU | ratio | seeds |",
             "|---|---|---|---|---|---|"]
    for m in models:
        mg, th = _load(m, "minigen"), _load(m, "torch")
        for k in FIGURES[m]:
            a = [r[k] for r in mg if k in r]
            b = [r[k] for r in th if k in r]
            fa = f"{numpy.mean(a):.4g} ± {numpy.std(a, ddof=1) if len(a) > 1 else 0:.2g}" if a else "-"
            fb = f"{numpy.mean(b):.4g} ± {numpy.std(b, ddof=1) if len(b) > 1 else 0:.2g}" if b else "-"
            ratio = f"{numpy.mean(a) / numpy.mean(b):.3f}" if a and b and numpy.mean(b) else "-"
            lines.append(f"| {m} | {k} | {fa} | {fb} | {ratio} | {len(a)} / {len(b)} |")
        if m.startswith("ddpm_digits") and mg and "test_nll_bound" in mg[0]:
            v = [r["test_nll_bound"] for r in mg]
            lines.append(f"| {m} | test_nll_bound (minigen only) | {numpy.mean(v):.4g} ± "
                         f"{numpy.std(v, ddof=1) if len(v) > 1 else 0:.2g} | | | {len(v)} |")
    return "\n".join(lines)


def describe(r):
    return ", ".join(f"{k} {r[k]:.4g}" for k in FIGURES[r["model"]] if k in r)


def main(models=None, argv=None):
    runner.main(models or MODELS, run, table, describe, doc=__doc__, argv=argv)


if __name__ == "__main__":
    main()
