"""The same VAE trained in minigen and in PyTorch: test -ELBO, IWAE NLL and step time.

Both sides use the same model (784-400-20 MLP, Bernoulli decoder, the loss of
minigen/models/vae.py), the same fixed MNIST-subset split (4,000 train / 1,000 test, shipped
with minigen), the same initialisation scheme (each library's default ``nn.Linear`` init,
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases), the same optimizer (Adam,
lr 1e-3, betas (0.9, 0.999)), batch size and epochs, and the same batch order (drawn with
NumPy from the seed). Initial weights and the noise eps come from each library's own
generator, so one seed gives different runs; the comparison is over several seeds (mean and
spread), not run against run.

Step time: one training step (zero_grad, loss, backward, Adam step) at batch 128, timed in
interleaved rounds (minigen, torch, minigen, ...) so that both see the same machine load; the
median per step is reported with 1 BLAS/intra-op thread (threadpoolctl + torch.set_num_threads)
and with 2.

Run (the reported figures used exactly this):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/vae_vs_torch.py

Options: --epochs N (default: the `minigen train vae` recipe's), --seeds 0 1 2, --threads 1 2,
--skip-train, --skip-timing, --json FILE.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minigen  # noqa: E402
from minigen import optim  # noqa: E402
from minigen.models import get, load_data  # noqa: E402
from minigen.models.vae import VAE  # noqa: E402


# ----------------------------------------------------------------------------- torch twin
def torch_vae_class():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class TorchVAE(nn.Module):
        """minigen.models.vae.VAE, line for line, in PyTorch."""

        def __init__(self, x_dim=784, h_dim=400, z_dim=20):
            super().__init__()
            self.z_dim = z_dim
            self.fc1 = nn.Linear(x_dim, h_dim)
            self.fc_mu = nn.Linear(h_dim, z_dim)
            self.fc_logvar = nn.Linear(h_dim, z_dim)
            self.fc3 = nn.Linear(z_dim, h_dim)
            self.fc4 = nn.Linear(h_dim, x_dim)

        def encode(self, x):
            h = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
            return self.fc_mu(h), self.fc_logvar(h)

        def decode(self, z):
            return self.fc4(F.relu(self.fc3(z)))

        def negative_elbo(self, x):
            n = x.shape[0]
            mu, logvar = self.encode(x)
            eps = torch.randn_like(mu)
            z = mu + (0.5 * logvar).exp() * eps
            x_logits = self.decode(z).reshape(n, -1)
            rec = F.binary_cross_entropy_with_logits(x_logits, x.reshape(n, -1), reduction="none").sum(1)
            kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)
            return rec + kl

        def loss(self, x):
            return self.negative_elbo(x).mean()

        @torch.no_grad()
        def nll(self, x, k=100, max_rows=2000):
            chunk = max(1, max_rows // k)
            out = []
            log2pi = math.log(2 * math.pi)
            for s in range(0, x.shape[0], chunk):
                xs = x[s:s + chunk]
                m = xs.shape[0]
                mu, logvar = self.encode(xs)
                eps = torch.randn(k, m, self.z_dim)
                z = mu + (0.5 * logvar).exp() * eps
                x_logits = self.decode(z.reshape(k * m, self.z_dim)).reshape(k, m, -1)
                target = xs.reshape(1, m, -1).expand(k, m, x_logits.shape[2])
                log_px_z = -F.binary_cross_entropy_with_logits(x_logits, target, reduction="none").sum(2)
                log_pz = -0.5 * (z ** 2 + log2pi).sum(2)
                log_qz = -0.5 * (eps ** 2 + logvar + log2pi).sum(2)
                out.append(-(torch.logsumexp(log_px_z + log_pz - log_qz, 0) - math.log(k)))
            return torch.cat(out)

    return TorchVAE


# ----------------------------------------------------------------------------- the two sides
class MinigenSide:
    name = "minigen"

    def __init__(self, seed, lr):
        minigen.manual_seed(seed)
        self.model = VAE(784, 400, 20)
        self.opt = optim.Adam(self.model.parameters(), lr=lr)

    def tensor(self, a):
        return minigen.tensor(a)

    def step(self, x):
        self.opt.zero_grad()
        loss = self.model.loss(x)
        loss.backward()
        self.opt.step()
        return loss

    def evaluate(self, x, k):
        with minigen.no_grad():
            neg_elbo = sum(self.model.negative_elbo(x[s:s + 500]).sum().item() for s in range(0, x.shape[0], 500))
            nll = self.model.nll(x, k=k).sum().item()
        return neg_elbo / x.shape[0], nll / x.shape[0]

    @staticmethod
    def threads(n):
        pass


class TorchSide:
    name = "torch"

    def __init__(self, seed, lr):
        import torch
        self.torch = torch
        torch.manual_seed(seed)
        self.model = torch_vae_class()()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)

    def tensor(self, a):
        return self.torch.from_numpy(a)

    def step(self, x):
        self.opt.zero_grad()
        loss = self.model.loss(x)
        loss.backward()
        self.opt.step()
        return loss

    def evaluate(self, x, k):
        with self.torch.no_grad():
            neg_elbo = sum(self.model.negative_elbo(x[s:s + 500]).sum().item() for s in range(0, x.shape[0], 500))
            nll = self.model.nll(x, k=k).sum().item()
        return neg_elbo / x.shape[0], nll / x.shape[0]


def _set_threads(n):
    """BLAS, minigen's own threads and torch's, all to n (release() undoes the first two)."""
    from minigen.bench.machine import pin_threads
    try:
        import torch  # noqa: F401
        with_torch = True
    except ImportError:
        with_torch = False
    return pin_threads(n, with_torch=with_torch)


# ----------------------------------------------------------------------------- quality
def train_and_evaluate(side_cls, seed, epochs, batch_size, lr, x_train, x_test, k):
    side = side_cls(seed, lr)
    xt = side.tensor(x_test)
    order_rng = numpy.random.default_rng([seed, 1])
    t0 = time.perf_counter()
    steps = 0
    for _ in range(epochs):
        perm = order_rng.permutation(len(x_train))
        for s in range(0, len(perm), batch_size):
            side.step(side.tensor(x_train[perm[s:s + batch_size]]))
            steps += 1
    train_s = time.perf_counter() - t0
    neg_elbo, nll = side.evaluate(xt, k)
    return {"seed": seed, "test_neg_elbo": neg_elbo, "test_iwae_nll": nll, "train_s": train_s, "steps": steps}


# ----------------------------------------------------------------------------- timing
def time_steps(sides, x, rounds=7, steps=40, warmup=5):
    """Median ms/step of each side, timed in interleaved rounds."""
    for side in sides:
        for _ in range(warmup):
            side.step(x[side.name])
    per = {s.name: [] for s in sides}
    for _ in range(rounds):
        for side in sides:
            xb = x[side.name]
            t = time.perf_counter()
            for _ in range(steps):
                loss = side.step(xb)
            loss.item()
            per[side.name].append(1000 * (time.perf_counter() - t) / steps)
    return {k: statistics.median(v) for k, v in per.items()}, per


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=get("vae").recipe.epochs)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--k", type=int, default=100, help="IWAE samples (default 100)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--train-threads", type=int, default=None,
                   help="BLAS/torch threads while training (default: leave as is)")
    p.add_argument("--skip-train", action="store_true")
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--json", help="write the figures here as JSON")
    args = p.parse_args(argv)

    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch is not installed: only minigen's side runs (pip install minigen[bench]).")
    sides = [MinigenSide] + ([TorchSide] if torch is not None else [])
    x_train = load_data("mnist", "train").numpy().reshape(-1, 784)
    x_test = load_data("mnist", "test").numpy().reshape(-1, 784)
    report = {"command": " ".join(["python"] + sys.argv), "python": platform.python_version(),
              "numpy": numpy.__version__, "torch": torch.__version__ if torch else None,
              "cpus": os.cpu_count(), "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr}
    print(f"VAE 784-400-20, MNIST subset {len(x_train)} train / {len(x_test)} test, Adam lr {args.lr}, "
          f"batch {args.batch_size}, {args.epochs} epochs, seeds {args.seeds}")

    if not args.skip_train:
        limiter = _set_threads(args.train_threads) if args.train_threads else None
        results = {}
        for side in sides:
            runs = []
            for seed in args.seeds:
                r = train_and_evaluate(side, seed, args.epochs, args.batch_size, args.lr, x_train, x_test, args.k)
                runs.append(r)
                print(f"  {side.name:8s} seed {seed}: test -ELBO {r['test_neg_elbo']:.2f}  "
                      f"IWAE NLL (k={args.k}) {r['test_iwae_nll']:.2f}  ({r['steps']} steps, {r['train_s']:.1f} s)",
                      flush=True)
            results[side.name] = runs
        if limiter is not None:
            limiter.release()
        report["quality"] = results
        print("\nquality (mean +- std over seeds, nats per test image):")
        for name, runs in results.items():
            e = [r["test_neg_elbo"] for r in runs]
            n = [r["test_iwae_nll"] for r in runs]
            sd = (lambda v: statistics.stdev(v) if len(v) > 1 else 0.0)
            print(f"  {name:8s} test -ELBO {statistics.mean(e):7.2f} +- {sd(e):.2f}   "
                  f"IWAE NLL {statistics.mean(n):7.2f} +- {sd(n):.2f}")
        if "torch" in results:
            me = statistics.mean(r["test_neg_elbo"] for r in results["minigen"])
            te = statistics.mean(r["test_neg_elbo"] for r in results["torch"])
            mn = statistics.mean(r["test_iwae_nll"] for r in results["minigen"])
            tn = statistics.mean(r["test_iwae_nll"] for r in results["torch"])
            report["ratio_neg_elbo"], report["ratio_nll"] = me / te, mn / tn
            print(f"  minigen / torch: -ELBO {100 * (me / te - 1):+.2f}%   IWAE NLL {100 * (mn / tn - 1):+.2f}%")

    if not args.skip_timing:
        xb = x_train[:args.batch_size]
        report["timing"] = {}
        print(f"\nstep time at batch {args.batch_size} (median of interleaved rounds, ms/step):")
        for n in args.threads:
            limiter = _set_threads(n)
            made = [s(0, args.lr) for s in sides]
            x = {s.name: s.tensor(xb) for s in made}
            med, per = time_steps(made, x)
            limiter.release()
            report["timing"][f"{n}_threads"] = {"median_ms": med, "rounds_ms": per}
            line = "   ".join(f"{k} {v:6.2f}" for k, v in med.items())
            ratio = f"   minigen/torch {med['minigen'] / med['torch']:.2f}x" if "torch" in med else ""
            print(f"  {n} thread{'s' if n > 1 else ' '}: {line}{ratio}", flush=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"\nwrote {args.json}")
    return report


if __name__ == "__main__":
    main()
