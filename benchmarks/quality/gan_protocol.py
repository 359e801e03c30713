"""The GANs' quality protocol (issue #13), the same on both sides: minigen and its PyTorch twin.

Data: MNIST-5k (``mnist_5k.csv.gz``, the package's copy), split by
``numpy.random.default_rng(0).permutation(5000)``: the first 4,500 train, the last 500 test;
pixels scaled to [-1, 1] and padded with -1 to 32x32 (28x28 for the MLP GAN). Batches of 64
drawn by a NumPy permutation per epoch from the seed (the same batches on both sides), the last
partial batch dropped. Samples: 1,000 from G in eval mode (batch norm's running statistics),
mapped to [0, 1] and cropped back to 28x28, scored by ``minigen.metrics`` against the 500 test
images (Frechet distance on minigen's digit classifier, class coverage, precision/recall).

Each library draws its own initial weights and noise (so one seed gives different runs on the
two sides); the comparison is over 3 seeds. Runs are pinned to one thread.

=============  =============================================================================
name           protocol
=============  =============================================================================
dcgan          ngf = ndf = 32, no biases, conv N(0, 0.02), BN N(1, 0.02) / 0; BCE, non-saturating
               G; Adam 2e-4 (0.5, 0.999) both; one D step (real batch, detached fake batch)
               then one G step on the same fake batch; 2,000 steps
cgan           the same nets, a 10-d label embedding concatenated to z and fed to D as 10
               constant channels; 800 steps; also: the share of samples whose digit the
               classifier reads as the one asked for (agreement)
wgan_gp        the DCGAN nets at ngf = ndf = 16, critic without BN, linear output; lambda 10,
               n_critic 5, Adam 1e-4 (0.0, 0.9); 1,000 generator steps (5,000 critic steps)
=============  =============================================================================
"""
from __future__ import annotations

import glob
import json
import os
import platform
import statistics
import sys
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
RESULTS = os.path.join(HERE, "results")

MODELS = {
    "dcgan": dict(kind="dcgan", nz=100, ngf=32, ndf=32, steps=2000, lr=2e-4, betas=(0.5, 0.999)),
    "cgan": dict(kind="cgan", nz=100, ngf=32, ndf=32, steps=800, lr=2e-4, betas=(0.5, 0.999)),
    "wgan_gp": dict(kind="wgan_gp", nz=100, ngf=16, ndf=16, steps=1000, lr=1e-4, betas=(0.0, 0.9),
                    n_critic=5, lam=10.0),
}


def protocol_data():
    """(train images, train labels, test images, test labels): [N, 1, 28, 28] in [0, 1]."""
    from minigen.data._files import read_csv_uint8
    rows = read_csv_uint8("mnist_5k.csv.gz")
    perm = numpy.random.default_rng(0).permutation(5000)
    x = rows[:, :784].reshape(-1, 1, 28, 28).astype(numpy.float32) / 255.0
    y = rows[:, 784].astype(numpy.int64)
    tr, te = perm[:4500], perm[4500:]
    return x[tr], y[tr], x[te], y[te]


def batches(seed, n, batch=64):
    """Batch k of the run: indices from a NumPy permutation per epoch, last partial dropped."""
    rng = numpy.random.default_rng([seed, 7])
    per_epoch = n // batch
    epoch_orders = {}

    def get(k):
        e = k // per_epoch
        if e not in epoch_orders:
            while len(epoch_orders) <= e:
                epoch_orders[len(epoch_orders)] = rng.permutation(n)
        i = k % per_epoch
        return epoch_orders[e][i * batch:(i + 1) * batch]
    return get


# ----------------------------------------------------------------------------- minigen side
def minigen_run(spec, seed, x, y):
    import minigen
    from minigen import optim
    from minigen.models.cgan import ConditionalGAN
    from minigen.models.dcgan import DCGAN
    from minigen.models.wgan_gp import WGANGP

    minigen.manual_seed(seed)
    k = spec["kind"]
    if k == "dcgan":
        model = DCGAN(nz=spec["nz"], ngf=spec["ngf"], ndf=spec["ndf"])
    elif k == "cgan":
        model = ConditionalGAN(nz=spec["nz"], ngf=spec["ngf"], ndf=spec["ndf"], conditioning="concat")
    else:
        model = WGANGP(nz=spec["nz"], ngf=spec["ngf"], ndf=spec["ndf"], n_critic=spec["n_critic"],
                       lam=spec["lam"])
    opts = {"G": optim.Adam(model.G.parameters(), lr=spec["lr"], betas=spec["betas"]),
            "D": optim.Adam(model.D.parameters(), lr=spec["lr"], betas=spec["betas"])}
    get = batches(seed, len(x))
    calls = spec["steps"] * spec.get("n_critic", 1)
    model.train()
    t = time.perf_counter()
    for s in range(calls):
        i = get(s)
        model.train_step((minigen.tensor(x[i]), minigen.tensor(y[i])), opts)
        if (s + 1) % 500 == 0:
            print(f"  {k} minigen seed {seed}: step {s + 1}/{calls}", flush=True)
    seconds = time.perf_counter() - t
    labels = numpy.arange(1000) % 10
    samples = model.sample(1000, labels=labels if k == "cgan" else None).numpy()
    return samples, labels, seconds


# ----------------------------------------------------------------------------- torch side
def torch_run(spec, seed, x, y):
    import torch
    import torch.nn.functional as F
    from minigen.bench.torch_twins import torch_dcgan

    torch.manual_seed(seed)
    k = spec["kind"]
    cond = k == "cgan"
    G, D = torch_dcgan(spec["nz"], spec["ngf"], spec["ndf"], d_batch_norm=k != "wgan_gp",
                       g_in=spec["nz"] + 10 if cond else None, d_in=11 if cond else None)
    emb_g = torch.nn.Embedding(10, 10) if cond else None
    emb_d = torch.nn.Embedding(10, 10) if cond else None
    g_params = list(G.parameters()) + (list(emb_g.parameters()) if cond else [])
    d_params = list(D.parameters()) + (list(emb_d.parameters()) if cond else [])
    optG = torch.optim.Adam(g_params, lr=spec["lr"], betas=spec["betas"])
    optD = torch.optim.Adam(d_params, lr=spec["lr"], betas=spec["betas"])

    def gen(z, lab):
        if cond:
            z = torch.cat([z, emb_g(lab)], 1)
        return G(z.reshape(z.shape[0], -1, 1, 1))

    def disc(img, lab):
        if cond:
            img = torch.cat([img, emb_d(lab)[:, :, None, None].expand(-1, -1, 32, 32)], 1)
        return D(img).reshape(-1)

    def bce(l, t):
        return F.binary_cross_entropy_with_logits(l, torch.full_like(l, t))

    get = batches(seed, len(x))
    calls = spec["steps"] * spec.get("n_critic", 1)
    t0 = time.perf_counter()
    for s in range(calls):
        i = get(s)
        real = F.pad(torch.from_numpy(x[i]) * 2 - 1, (2, 2, 2, 2), value=-1.0)
        lab = torch.from_numpy(y[i])
        z = torch.randn(len(i), spec["nz"])
        if k == "wgan_gp":
            fake = gen(z, lab).detach()
            optD.zero_grad()
            eps = torch.rand(len(i), 1, 1, 1)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            g, = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
            gp = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
            loss_D = D(fake).mean() - D(real).mean() + spec["lam"] * gp
            loss_D.backward()
            optD.step()
            if (s + 1) % spec["n_critic"] == 0:
                optG.zero_grad()
                loss_G = -D(gen(torch.randn(len(i), spec["nz"]), lab)).mean()
                loss_G.backward()
                optG.step()
        else:
            fake = gen(z, lab)
            optD.zero_grad()
            loss_D = bce(disc(real, lab), 1.0) + bce(disc(fake.detach(), lab), 0.0)
            loss_D.backward()
            optD.step()
            optG.zero_grad()
            loss_G = bce(disc(fake, lab), 1.0)
            loss_G.backward()
            optG.step()
        if (s + 1) % 500 == 0:
            print(f"  {k} torch seed {seed}: step {s + 1}/{calls}", flush=True)
    seconds = time.perf_counter() - t0
    G.eval()
    labels = numpy.arange(1000) % 10
    with torch.no_grad():
        z = torch.randn(1000, spec["nz"])
        samples = ((gen(z, torch.from_numpy(labels)) + 1) / 2).clamp(0, 1).numpy()
    return samples, labels, seconds


# ----------------------------------------------------------------------------- one run
def run(model_name, lib, seed, steps=None):
    from minigen.metrics import images as M

    spec = dict(MODELS[model_name])
    if steps is not None:
        spec["steps"] = steps
    x, y, xt, yt = protocol_data()
    samples, labels, seconds = (minigen_run if lib == "minigen" else torch_run)(spec, seed, x, y)
    scores = M.score_images(samples, real=xt, train=x)
    out = {"model": model_name, "lib": lib, "seed": seed, "protocol": spec,
           "train_seconds": seconds, "ms_per_step": 1000 * seconds / spec["steps"],
           **{k: v for k, v in scores.items()}}
    if spec["kind"] == "cgan":
        _, logits = M.classify(samples)
        out["agreement"] = float((logits.argmax(1) == labels).mean())
        out["agreement_by_digit"] = [float((logits.argmax(1)[labels == d] == d).mean()) for d in range(10)]
    import minigen
    out.update(minigen=minigen.__version__, machine=f"{platform.machine()} {os.cpu_count()} CPUs, 1 thread",
               date=time.strftime("%Y-%m-%d"))
    return out


def result_path(m, lib, seed):
    return os.path.join(RESULTS, f"{m}-{lib}-seed{seed}.json")


def table(model_names):
    rows = ["| model | minigen FD (digit classifier) | PyTorch FD | ratio | classes >= 5% (minigen / PyTorch) "
            "| precision / recall (minigen) | agreement (minigen / PyTorch) | seeds |",
            "|---|---|---|---|---|---|---|---|"]
    for m in model_names:
        got = {}
        for lib in ("minigen", "torch"):
            rs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(RESULTS, f"{m}-{lib}-seed*.json")))]
            if rs:
                got[lib] = rs
        if "minigen" not in got:
            continue

        def ms(lib, key):
            vals = [r[key] for r in got.get(lib, []) if key in r]
            if not vals:
                return None
            return statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)
        fd_m, fd_t = ms("minigen", "frechet_distance_digit_classifier"), ms("torch", "frechet_distance_digit_classifier")
        cov_m, cov_t = ms("minigen", "classes_covered"), ms("torch", "classes_covered")
        p, r = ms("minigen", "precision"), ms("minigen", "recall")
        ag_m, ag_t = ms("minigen", "agreement"), ms("torch", "agreement")
        f = lambda v, d=1: "-" if v is None else f"{v[0]:.{d}f} ± {v[1]:.{d}f}"  # noqa: E731
        rows.append(f"| {m} | {f(fd_m)} | {f(fd_t)} | {fd_m[0] / fd_t[0]:.2f} | " if fd_t else f"| {m} | {f(fd_m)} | - | - | ")
        rows[-1] += (f"{f(cov_m)} / {f(cov_t)} | {p[0]:.2f} / {r[0]:.2f} | {f(ag_m, 2)} / {f(ag_t, 2)} | "
                     f"{len(got['minigen'])} |")
    return "\n".join(rows)


def main(model_names, argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=model_names, choices=model_names)
    p.add_argument("--libs", nargs="+", default=["minigen", "torch"], choices=["minigen", "torch"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--force", action="store_true")
    p.add_argument("--report", action="store_true")
    p.add_argument("--steps", type=int, help="a smoke test: this many steps, nothing saved")
    args = p.parse_args(argv)
    sys.path.insert(0, HERE)
    from lm_protocol import set_threads
    os.makedirs(RESULTS, exist_ok=True)
    if args.steps is not None:
        set_threads(1)
        for m in args.models:
            for lib in args.libs:
                r = run(m, lib, args.seeds[0], steps=args.steps)
                print(f"{m} {lib}: FD {r['frechet_distance_digit_classifier']:.1f}, {r['ms_per_step']:.1f} ms/step")
        return
    if not args.report:
        set_threads(1)
        for m in args.models:
            for seed in args.seeds:
                for lib in args.libs:
                    path = result_path(m, lib, seed)
                    if os.path.exists(path) and not args.force:
                        continue
                    r = run(m, lib, seed)
                    with open(path, "w") as f:
                        json.dump(r, f, indent=1)
                    print(f"{m} {lib} seed {seed}: FD {r['frechet_distance_digit_classifier']:.1f}, "
                          f"{r['classes_covered']} classes ({r['train_seconds']:.0f} s)", flush=True)
    print(table(args.models))
