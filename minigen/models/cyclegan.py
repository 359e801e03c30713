"""CycleGAN: unpaired image-to-image translation (Zhu, Park, Isola & Efros 2017, "Unpaired
Image-to-Image Translation using Cycle-Consistent Adversarial Networks").

Two domains with no pairs between them: A, the 8x8 UCI digits (upsampled to 32x32: blocky,
thick, centred) and B, MNIST (28x28 padded to 32x32: thin pen strokes). Two generators
translate, G: A -> B and F: B -> A; two discriminators judge, D_B on B's images, D_A on A's.

* Adversarial, in the least-squares form (LSGAN, Mao et al. 2017), which gives smoother
  gradients than BCE: D pushes real patches to 1 and fakes to 0, the generator pushes its
  fakes to 1:
      L_D_B = E[(D_B(b) - 1)^2] + E[D_B(G(a))^2],      L_adv(G) = E[(D_B(G(a)) - 1)^2]
  (and the same for F and D_A). The discriminators are PatchGANs: each output judges one
  patch of the image (here an 8x8 grid of overlapping patches), not the image as a whole.
* Cycle consistency: the adversarial loss alone lets G map every A to *some* good-looking B,
  unrelated to its input. Translating there and back must return the input:
      L_cyc = E ||F(G(a)) - a||_1 + E ||G(F(b)) - b||_1            (weight lambda_cyc = 10)
* Identity: an image already in the target domain should pass unchanged, which keeps the
  stroke intensity and the digit's place:
      L_id = E ||G(b) - b||_1 + E ||F(a) - a||_1                   (weight lambda_id = 5)

The generators' total: L_adv(G) + L_adv(F) + lambda_cyc L_cyc + lambda_id L_id. A step is one
update of both generators (one optimizer over G and F) and then one of both discriminators
on the fakes just made (detached). Instance normalisation (``nn.GroupNorm`` with one group
per channel) in the generators, as in the paper. Nothing tells G which digit an image shows;
``evaluate`` measures how often the translated A digits are still read, by minigen's MNIST
classifier, as the digit they were.
"""
from __future__ import annotations

import os

import minigen
from minigen import nn
from minigen.nn import functional as F
from minigen.train import read_figures

from .datasets import DATASETS
from .gan import grad_norm
from .registry import Recipe, register

__all__ = ["CycleGAN", "build_cyclegan"]


def _instance_norm(c):
    # instance norm = group norm with one group per channel (mean and variance per image and channel)
    return nn.GroupNorm(c, c)


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), _instance_norm(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1), _instance_norm(c))

    def forward(self, x):
        # x + F(x)
        return x + self.body(x)


class Translator(nn.Module):
    """32x32 -> 32x32: conv, one stride-2 conv down, residual blocks, a transposed conv up, conv, tanh."""

    def __init__(self, ngf=8, n_res=1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, ngf, 5, padding=2), _instance_norm(ngf), nn.ReLU(),
            nn.Conv2d(ngf, 2 * ngf, 4, 2, 1), _instance_norm(2 * ngf), nn.ReLU(),           # 16x16
            *[ResBlock(2 * ngf) for _ in range(n_res)],
            nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1), _instance_norm(ngf), nn.ReLU(),      # 32x32
            nn.Conv2d(ngf, 1, 5, padding=2), nn.Tanh())

    def forward(self, x):
        return self.net(x)


class PatchD(nn.Module):
    """32x32 -> an 8x8 grid of patch scores (each sees a 10x10 patch of the input)."""

    def __init__(self, ndf=16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1), nn.LeakyReLU(0.2),                                   # 16x16
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1), _instance_norm(2 * ndf), nn.LeakyReLU(0.2),    # 8x8
            nn.Conv2d(2 * ndf, 1, 3, 1, 1))

    def forward(self, x):
        return self.net(x)


def _ls(d, target):
    # E[(D - t)^2]
    return ((d - target) ** 2).mean()


class CycleGAN(nn.Module):
    """G: A -> B and F: B -> A with discriminators D_B and D_A (see the module docstring)."""

    def __init__(self, ngf=8, ndf=16, n_res=1, lambda_cyc=10.0, lambda_id=5.0):
        super().__init__()
        self.G, self.F = Translator(ngf, n_res), Translator(ngf, n_res)
        self.D_A, self.D_B = PatchD(ndf), PatchD(ndf)
        self.ngf, self.ndf, self.n_res = ngf, ndf, n_res
        self.lambda_cyc, self.lambda_id = lambda_cyc, lambda_id

    def config(self):
        return {"class": "CycleGAN", "ngf": self.ngf, "ndf": self.ndf, "n_res": self.n_res,
                "lambda_cyc": self.lambda_cyc, "lambda_id": self.lambda_id}

    def train_step(self, batch, optimizers):
        a, b = batch[0] * 2.0 - 1.0, batch[1] * 2.0 - 1.0          # both domains in [-1, 1]
        # the generators' turn
        optimizers["G"].zero_grad()
        fake_b, fake_a = self.G(a), self.F(b)
        # L_adv = E(D_B(G(a)) - 1)^2 + E(D_A(F(b)) - 1)^2
        adv = _ls(self.D_B(fake_b), 1.0) + _ls(self.D_A(fake_a), 1.0)
        # L_cyc = E|F(G(a)) - a| + E|G(F(b)) - b|
        cyc = (self.F(fake_b) - a).abs().mean() + (self.G(fake_a) - b).abs().mean()
        # L_id = E|G(b) - b| + E|F(a) - a|
        idt = (self.G(b) - b).abs().mean() + (self.F(a) - a).abs().mean()
        loss_G = adv + self.lambda_cyc * cyc + self.lambda_id * idt
        loss_G.backward()
        grad_G = grad_norm(self.G) + grad_norm(self.F)
        optimizers["G"].step()
        # the discriminators' turn, on the fakes just made
        optimizers["D"].zero_grad()
        # L_D = E(D(real) - 1)^2 + E D(fake)^2, for D_B and D_A
        loss_D = (_ls(self.D_B(b), 1.0) + _ls(self.D_B(fake_b.detach()), 0.0)
                  + _ls(self.D_A(a), 1.0) + _ls(self.D_A(fake_a.detach()), 0.0))
        loss_D.backward()
        grad_D = grad_norm(self.D_A) + grad_norm(self.D_B)
        optimizers["D"].step()
        f = read_figures(loss=loss_G, loss_G=adv, loss_cycle=cyc, loss_identity=idt, loss_D=loss_D,
                         grad_G=grad_G, grad_D=grad_D)
        return f

    @minigen.no_grad()
    def translate(self, x, direction="A2B"):
        """Images [N, 1, 32, 32] in [0, 1] from domain A to B (``'A2B'``) or back (``'B2A'``)."""
        was = self.training
        self.eval()
        try:
            net = self.G if direction == "A2B" else self.F
            return ((net(x * 2.0 - 1.0) + 1.0) * 0.5).clamp(0.0, 1.0)
        finally:
            self.train(was)

    @minigen.no_grad()
    def sample(self, n, labels=None):
        """The first ``n`` test digits of domain A translated to MNIST's style (B)."""
        if labels is not None:
            raise ValueError("CycleGAN translates images; it takes no labels")
        a = DATASETS["digits2mnist"].test_images("A")[:n].to(next(iter(self.parameters())).device)
        return self.translate(a)


# ----------------------------------------------------------------------------- recipe hooks
def optimizers(model, recipe):
    from minigen import optim
    g = list(model.G.parameters()) + list(model.F.parameters())
    d = list(model.D_A.parameters()) + list(model.D_B.parameters())
    return {"G": optim.Adam(g, lr=recipe.lr, betas=tuple(recipe.betas)),
            "D": optim.Adam(d, lr=recipe.lr, betas=tuple(recipe.betas))}


def evaluate(model, data, **unused):
    """How often minigen's MNIST classifier reads a translated A test digit as its own label
    (and, for scale, the same for the untranslated upsampled digits and for B -> A -> B)."""
    from minigen.metrics import classify

    spec = DATASETS["digits2mnist"]
    a, ya = spec.test_images("A"), spec.test_labels("A").cpu().numpy()
    b, yb = spec.test_images("B"), spec.test_labels("B").cpu().numpy()
    dev = next(iter(model.parameters())).device
    agree = lambda x, y: float((classify(x.cpu().numpy())[1].argmax(1) == y).mean())  # noqa: E731
    fake_b = model.translate(a.to(dev))
    return {"agreement_A2B": agree(fake_b, ya),
            "agreement_A_untranslated": agree(a, ya),
            "agreement_B2A2B": agree(model.translate(model.translate(b.to(dev), "B2A"), "A2B"), yb),
            "cycle_l1_A": float((model.translate(fake_b, "B2A") - a.to(dev)).abs().mean().item())}


def pictures(model, run_dir, data):
    """Round trips: A digits, G(A) in MNIST's style, F(G(A)) back; and B, F(B), G(F(B))."""
    from minigen import plots

    spec = DATASETS["digits2mnist"]
    dev = next(iter(model.parameters())).device
    a, b = spec.test_images("A")[:10].to(dev), spec.test_images("B")[:10].to(dev)
    ga = model.translate(a)
    fb = model.translate(b, "B2A")
    rows = minigen.cat([a, ga, model.translate(ga, "B2A"), b, fb, model.translate(fb)])
    paths = [plots.save_image_grid(rows, os.path.join(run_dir, "round_trips.png"), nrow=10,
                                   title="rows: digits, -> MNIST, -> back;  MNIST, -> digits, -> back")]
    stats = os.path.join(run_dir, "stats.csv")
    if os.path.exists(stats):
        paths.append(plots.save_game_curves(stats, os.path.join(run_dir, "game.png"), title="CycleGAN"))
    return paths


def build_cyclegan(data="digits2mnist", variant="default", **options):
    if DATASETS[data].kind != "unpaired":
        raise ValueError(f"cyclegan: translates between two unpaired domains; use --data digits2mnist, not {data!r}")
    return CycleGAN(**options)


register("cyclegan", build_cyclegan, Recipe(
    data="digits2mnist", steps=2500, batch_size=8, lr=2e-4, betas=(0.5, 0.999),
    optimizer=optimizers, pictures=pictures, evaluate=evaluate,
    quick=dict(steps=4, model_options=dict(ngf=4, ndf=4)),
    description="CycleGAN: UCI 8x8 digits <-> MNIST, unpaired, LSGAN + cycle + identity losses"))
