"""The GANs' quality protocol (issue #13), the same on both sides: minigen and its PyTorch twin.

Data: MNIST-5k (``mnist_5k.csv.gz``, the package's copy), split by
``numpy.random.default_rng(0).permutation(5000)``: the first 4,500 train, the last 500 test;
pixels scaled to [-1, 1] and padded with -1 to 32x32 (28x28 for the MLP GAN). Batches of 64
drawn by a NumPy permutation per epoch from the seed (the same batches on both sides), the last
partial batch dropped. Samples: 1,000 from G in eval mode (batch norm's running statistics),
mapped to [0, 1] and cropped back to 28x28 (minigen's ``sample`` does it; the PyTorch side
crops its 32x32 samples in the scoring, ``as_digit_images``), scored by ``minigen.metrics`` against the 500 test
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
stylegan       StyleGAN's generator (z, w 64; mapping 4 layers; channels 64, 32, 16, 16 at 4..32
               px; mixing regularisation 0.5; linear output) against the DCGAN discriminator
               (ndf 32) without batch norm, with a minibatch-deviation map; BCE,
               non-saturating, R1 penalty gamma = 5 on real images; Adam 2e-4 (0.0, 0.99),
               the mapping network at 2e-6 (x 0.01); 2,000 steps: the default recipe
mlp_gan        the exact tutorial MLPs (28x28, flat), BCE, non-saturating; 3,000 steps: the
               collapse, on both sides
mlp_gan_stable the same with the R1 penalty on D, gamma = 10 (the ``stable`` variant)
cyclegan       UCI digits (upsampled to 32x32, 1,500 train) <-> MNIST (the protocol's 4,500,
               padded to 32x32), unpaired, batch 8; translators ngf 8 (one residual block),
               PatchGANs ndf 16; LSGAN + 10 cycle + 5 identity; Adam 2e-4
               (0.5, 0.999); 2,000 steps; score: the share of the 297 UCI test digits that
               minigen's classifier reads as their own label after translation to MNIST
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
sys.path.insert(0, HERE)

import runner  # noqa: E402
from runner import RESULTS  # noqa: E402

MODELS = {
    "dcgan": dict(kind="dcgan", nz=100, ngf=32, ndf=32, steps=2000, lr=2e-4, betas=(0.5, 0.999)),
    "cgan": dict(kind="cgan", nz=100, ngf=32, ndf=32, steps=800, lr=2e-4, betas=(0.5, 0.999)),
    "wgan_gp": dict(kind="wgan_gp", nz=100, ngf=16, ndf=16, steps=1000, lr=1e-4, betas=(0.0, 0.9),
                    n_critic=5, lam=10.0),
    "stylegan": dict(kind="stylegan", nz=64, steps=2000, lr=2e-4, betas=(0.0, 0.99), r1_gamma=5.0),
    "mlp_gan": dict(kind="mlp_gan", nz=100, steps=3000, lr=2e-4, betas=(0.5, 0.999), flat=True),
    "mlp_gan_stable": dict(kind="mlp_gan", nz=100, steps=3000, lr=2e-4, betas=(0.5, 0.999), flat=True,
                           r1_gamma=10.0),
    "cyclegan": dict(kind="cyclegan", ngf=8, ndf=16, steps=2000, lr=2e-4, betas=(0.5, 0.999), batch=8),
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
STABLE = ("dropout", "real_label", "instance_noise", "noise_anneal_steps", "r1_gamma")


def digits_a():
    """CycleGAN's domain A: minigen's UCI digits split, upsampled to 32x32 (as the data set)."""
    from minigen.models.datasets import DATASETS
    spec = DATASETS["digits2mnist"]
    tr = spec._domain("A", "train")
    te = spec._domain("A", "test")
    return tr[0].numpy(), te[0].numpy(), te[1].numpy()


def a_batches(seed, n_a, batch):
    """Domain A's batch k: indices drawn with replacement (the domains are unpaired)."""
    idx = numpy.random.default_rng([seed, 8]).integers(0, n_a, (100000, batch))
    return lambda k: idx[k]


def minigen_run(spec, seed, x, y):
    import minigen
    from minigen import optim
    from minigen.models.cgan import ConditionalGAN
    from minigen.models.cyclegan import CycleGAN
    from minigen.models.dcgan import DCGAN
    from minigen.models.mlp_gan import MLPGAN
    from minigen.models.stylegan import StyleGAN
    from minigen.models.wgan_gp import WGANGP

    minigen.manual_seed(seed)
    k = spec["kind"]
    model = {
        "dcgan": lambda: DCGAN(nz=spec["nz"], ngf=spec["ngf"], ndf=spec["ndf"]),
        "cgan": lambda: ConditionalGAN(nz=spec["nz"], ngf=spec["ngf"], ndf=spec["ndf"], conditioning="concat"),
        "wgan_gp": lambda: WGANGP(nz=spec["nz"], ngf=spec["ngf"], ndf=spec["ndf"], n_critic=spec["n_critic"],
                                  lam=spec["lam"]),
        "stylegan": lambda: StyleGAN(z_dim=spec["nz"], w_dim=spec["nz"], r1_gamma=spec["r1_gamma"], d_batch_norm=False),
        "mlp_gan": lambda: MLPGAN(nz=spec["nz"], **{k: spec[k] for k in STABLE if k in spec}),
        "cyclegan": lambda: CycleGAN(ngf=spec["ngf"], ndf=spec["ndf"]),
    }[k]()
    if k == "cyclegan":
        g = list(model.G.parameters()) + list(model.F.parameters())
        d = list(model.D_A.parameters()) + list(model.D_B.parameters())
    else:
        g, d = model.G.parameters(), model.D.parameters()
    opts = {"G": optim.Adam(g, lr=spec["lr"], betas=spec["betas"]), "D": optim.Adam(d, lr=spec["lr"], betas=spec["betas"])}
    if k == "stylegan":
        # the default recipe's optimizers: the mapping network at lr x 0.01
        from types import SimpleNamespace
        from minigen.models.stylegan import stylegan_optimizers
        opts = stylegan_optimizers(model, SimpleNamespace(lr=spec["lr"], betas=spec["betas"]))
    batch = spec.get("batch", 64)
    get = batches(seed, len(x), batch)
    calls = spec["steps"] * spec.get("n_critic", 1)
    if k == "cyclegan":
        xa, xa_test, ya_test = digits_a()
        get_a = a_batches(seed, len(xa), batch)
        xb = numpy.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    model.train()
    t = time.perf_counter()
    for s in range(calls):
        i = get(s)
        if k == "cyclegan":
            model.train_step((minigen.tensor(xa[get_a(s)]), minigen.tensor(xb[i])), opts)
        else:
            model.train_step((minigen.tensor(x[i]), minigen.tensor(y[i])), opts)
        if (s + 1) % 500 == 0:
            print(f"  {k} minigen seed {seed}: step {s + 1}/{calls}", flush=True)
    seconds = time.perf_counter() - t
    labels = numpy.arange(1000) % 10
    if k == "cyclegan":
        return model.translate(minigen.tensor(xa_test)).numpy(), ya_test, seconds
    samples = model.sample(1000, labels=labels if k == "cgan" else None).numpy()
    return samples, labels, seconds


# ----------------------------------------------------------------------------- torch side
def torch_run(spec, seed, x, y):
    import torch
    import torch.nn.functional as F
    from minigen.bench import torch_twins as T

    torch.manual_seed(seed)
    k = spec["kind"]
    cond = k == "cgan"
    emb_g = emb_d = None
    if k == "stylegan":
        G, D = T.torch_stylegan(z_dim=spec["nz"], w_dim=spec["nz"], d_batch_norm=False)
    elif k == "mlp_gan":
        G, D = T.torch_mlp_gan(spec["nz"], dropout=spec.get("dropout", 0.0))
    elif k == "cyclegan":
        G, Fn, D_A, D_B = T.torch_cyclegan(spec["ngf"], spec["ndf"])
        G_params = list(G.parameters()) + list(Fn.parameters())
        D_params = list(D_A.parameters()) + list(D_B.parameters())
    else:
        G, D = T.torch_dcgan(spec["nz"], spec["ngf"], spec["ndf"], d_batch_norm=k != "wgan_gp",
                             g_in=spec["nz"] + 10 if cond else None, d_in=11 if cond else None)
        if cond:
            emb_g, emb_d = torch.nn.Embedding(10, 10), torch.nn.Embedding(10, 10)
    if k != "cyclegan":
        G_params = list(G.parameters()) + (list(emb_g.parameters()) if cond else [])
        D_params = list(D.parameters()) + (list(emb_d.parameters()) if cond else [])
    optG = torch.optim.Adam(G_params, lr=spec["lr"], betas=spec["betas"])
    if k == "stylegan":
        mapping = list(G.mapping.parameters())
        ids = {id(p) for p in mapping}
        optG = torch.optim.Adam([{"params": [p for p in G_params if id(p) not in ids]},
                                 {"params": mapping, "lr": spec["lr"] * 0.01}], lr=spec["lr"], betas=spec["betas"])
    optD = torch.optim.Adam(D_params, lr=spec["lr"], betas=spec["betas"])

    def gen(z, lab):
        if cond:
            z = torch.cat([z, emb_g(lab)], 1)
        if k in ("stylegan", "mlp_gan"):
            return G(z)
        return G(z.reshape(z.shape[0], -1, 1, 1))

    def disc(img, lab):
        if cond:
            img = torch.cat([img, emb_d(lab)[:, :, None, None].expand(-1, -1, 32, 32)], 1)
        return D(img).reshape(-1)

    def bce(l, t):
        return F.binary_cross_entropy_with_logits(l, torch.full_like(l, t))

    def ls(d, t):
        return ((d - t) ** 2).mean()

    batch = spec.get("batch", 64)
    get = batches(seed, len(x), batch)
    calls = spec["steps"] * spec.get("n_critic", 1)
    if k == "cyclegan":
        xa, xa_test, ya_test = digits_a()
        get_a = a_batches(seed, len(xa), batch)
    t0 = time.perf_counter()
    for s in range(calls):
        i = get(s)
        real = torch.from_numpy(x[i]) * 2 - 1
        real = real.reshape(len(i), -1) if k == "mlp_gan" else F.pad(real, (2, 2, 2, 2), value=-1.0)
        lab = torch.from_numpy(y[i])
        z = torch.randn(len(i), spec.get("nz", 1))
        if k == "cyclegan":
            a = torch.from_numpy(xa[get_a(s)]) * 2 - 1
            b = F.pad(torch.from_numpy(x[i]), (2, 2, 2, 2)) * 2 - 1
            optG.zero_grad()
            fb, fa = G(a), Fn(b)
            adv = ls(D_B(fb), 1.0) + ls(D_A(fa), 1.0)
            cyc = (Fn(fb) - a).abs().mean() + (G(fa) - b).abs().mean()
            idt = (G(b) - b).abs().mean() + (Fn(a) - a).abs().mean()
            (adv + 10.0 * cyc + 5.0 * idt).backward()
            optG.step()
            optD.zero_grad()
            (ls(D_B(b), 1.0) + ls(D_B(fb.detach()), 0.0) + ls(D_A(a), 1.0) + ls(D_A(fa.detach()), 0.0)).backward()
            optD.step()
        elif k == "wgan_gp":
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
            if spec.get("instance_noise"):
                # sigma falls linearly to 0 over noise_anneal_steps; real and fake both noised
                sigma = spec["instance_noise"] * max(0.0, 1.0 - s / spec["noise_anneal_steps"])
                real_in = real + sigma * torch.randn_like(real)
                fake_in = lambda f: f + sigma * torch.randn_like(f)  # noqa: E731
            else:
                real_in, fake_in = real, (lambda f: f)
            loss_D = bce(disc(real_in, lab), spec.get("real_label", 1.0)) + bce(disc(fake_in(fake.detach()), lab), 0.0)
            if spec.get("r1_gamma"):
                # R1: (gamma / 2) E ||grad_x D(x)||^2 on the real images
                xr = real.detach().requires_grad_(True)
                g, = torch.autograd.grad(disc(xr, lab).sum(), xr, create_graph=True)
                loss_D = loss_D + 0.5 * spec["r1_gamma"] * (g * g).flatten(1).sum(dim=1).mean()
            loss_D.backward()
            optD.step()
            optG.zero_grad()
            loss_G = bce(disc(fake_in(fake), lab), 1.0)
            loss_G.backward()
            optG.step()
        if (s + 1) % 500 == 0:
            print(f"  {k} torch seed {seed}: step {s + 1}/{calls}", flush=True)
    seconds = time.perf_counter() - t0
    labels = numpy.arange(1000) % 10
    with torch.no_grad():
        if k == "cyclegan":
            G.eval()
            return ((G(torch.from_numpy(xa_test) * 2 - 1) + 1) / 2).clamp(0, 1).numpy(), ya_test, seconds
        G.eval()
        z = torch.randn(1000, spec["nz"])
        samples = ((gen(z, torch.from_numpy(labels)) + 1) / 2).clamp(0, 1).numpy()
    if k == "mlp_gan":
        samples = samples.reshape(-1, 1, 28, 28)
    return samples, labels, seconds


# ----------------------------------------------------------------------------- one run
def run(model_name, lib, seed, steps=None):
    from minigen.metrics import images as M

    spec = dict(MODELS[model_name])
    if steps is not None:
        spec["steps"] = steps
    x, y, xt, yt = protocol_data()
    samples, labels, seconds = (minigen_run if lib == "minigen" else torch_run)(spec, seed, x, y)
    if spec["kind"] == "cyclegan":
        # translated UCI test digits: how often does the MNIST classifier read their own label?
        _, logits = M.classify(samples)
        agreement = float((logits.argmax(1) == labels).mean())
        import minigen
        return {"model": model_name, "lib": lib, "seed": seed, "protocol": spec, "train_seconds": seconds,
                "ms_per_step": 1000 * seconds / spec["steps"], "agreement": agreement,
                "agreement_by_digit": [float((logits.argmax(1)[labels == d] == d).mean()) for d in range(10)],
                "minigen": minigen.__version__, "date": time.strftime("%Y-%m-%d")}
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


def table(model_names):
    rows = ["| model | minigen FD (digit classifier) | PyTorch FD | minigen / PyTorch | classes >= 5% (minigen / PyTorch) "
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
        # the ratio of the score there is: the Frechet distance, else (CycleGAN) the agreement
        ratio = fd_m[0] / fd_t[0] if fd_m and fd_t else (ag_m[0] / ag_t[0] if ag_m and ag_t else None)
        pr = f"{p[0]:.2f} / {r[0]:.2f}" if p and r else "-"
        rows.append(f"| {m} | {f(fd_m)} | {f(fd_t)} | {'-' if ratio is None else f'{ratio:.2f}'} | "
                    f"{f(cov_m)} / {f(cov_t)} | {pr} | {f(ag_m, 3)} / {f(ag_t, 3)} | {len(got['minigen'])} |")
    return "\n".join(rows)


def main(model_names, argv=None):
    def describe(r):
        fd = r.get("frechet_distance_digit_classifier")
        return (f"FD {fd:.1f}, {r.get('classes_covered')} classes" if fd is not None else "") + \
            (f" agreement {r['agreement']:.3f}" if "agreement" in r else "") + f", {r['ms_per_step']:.1f} ms/step"
    runner.main(model_names, run, table, describe, __doc__, argv)
