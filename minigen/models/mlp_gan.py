"""The classic MLP GAN (Goodfellow et al. 2014), with the networks of the PyTorch tutorials,
its failure (mode collapse) and a stabilised recipe.

    G: z [100] -> 256 -> 512 -> 1024 -> x [784]     ReLU between, tanh at the end
    D: x [784] -> 1024 -> 512 -> 256 -> l(x) [1]     LeakyReLU(0.2) between; D(x) = sigmoid(l)

The game and its two G losses (minimax, non-saturating) are ``gan.py``'s. What this file adds
is the lesson. With exactly these networks, Adam 2e-4 (0.5, 0.999) and batch 64 on 4,000
MNIST digits, the game collapses: G finds a few digits that fool D and draws only those
(1-3 classes; PyTorch does the same on this data). A collapsed G is a stable point of the
alternating updates: D learns to reject those few digits, G hops to another few, and nothing
rewards G for covering every digit at once. ``coverage.png`` (the predicted class of fixed-
noise samples, epoch by epoch) shows it happening, and ``game.png`` shows D(x) near 1 and
D(G(z)) near 0 for long stretches: D wins.

The stabilised recipe (``--variant stable``) changes D's loss, not the networks: the R1
penalty (Mescheder, Geiger & Nowozin 2018; ``GAN.r1_penalty``),

    L_D = BCE(l(x), 1) + BCE(l(G(z)), 0) + (gamma / 2) E_x ||grad_x l(x)||^2,   gamma = 10,

which keeps D flat around the real digits. It is noise in D in closed form: Roth et al. (2017)
show that Gaussian noise on D's inputs amounts, to second order, to a penalty on
||grad_x l(x)||^2; R1 applies it on the real images without drawing any noise. With it the
exact networks cover 9 digits (Frechet distance 132 against the collapse's 993).

``--variant noisy`` is the recipe of the usual tricks, each a change to D:

* dropout (p = 0.3) after each of D's hidden layers: D cannot memorise the exact pixels of the
  real digits, so its verdicts are smoother and keep giving G a useful gradient;
* one-sided label smoothing (Salimans et al. 2016): D's target for real images is 0.9, not 1,
  so D is never rewarded for infinite confidence on them (the fake target stays 0, so G is
  not rewarded for landing where there is no data);
* instance noise (Sonderby et al. 2017): Gaussian noise added to both real and fake images
  before D, which makes the two distributions overlap so D cannot separate them perfectly;
  its sigma falls linearly from 0.5 to 0 over the run, so that the end of training sees the
  data as it is.

Together they keep more digits in play than the exact networks do (5-6), but on 4,000 digits
they do not make the game stable (docs/models/mlp_gan.md has the measured runs of twelve
recipes; spectral normalisation, two learning rates and a minibatch-deviation feature are here
to try as well).
"""
from __future__ import annotations

import minigen
from minigen import nn

from .dcgan import check_image_data
from .gan import GAN, GAN_HOOKS, bce
from .registry import Recipe, register

__all__ = ["MLPGAN", "build_mlp_gan"]


class MLPGenerator(nn.Module):
    def __init__(self, nz=100, out=784):
        super().__init__()
        # x = tanh(W_4 relu(W_3 relu(W_2 relu(W_1 z))))   (biases omitted)
        self.net = nn.Sequential(nn.Linear(nz, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
                                 nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, out), nn.Tanh())

    def forward(self, z):
        return self.net(z)


class SNLinear(nn.Linear):
    """A linear layer with spectral normalisation (Miyato et al. 2018): y = (W / sigma(W)) x + b,
    sigma(W) the largest singular value, estimated by one step of power iteration per call:

        v <- W^T u / ||W^T u||,   u <- W v / ||W v||,   sigma = u^T W v

    (u is a buffer carried from call to call; the gradient flows through sigma = u^T W v with
    u and v held fixed). Every layer is then 1-Lipschitz, so D cannot change faster than its
    input does: its verdicts stay smooth and its gradient to G stays informative."""

    def __init__(self, in_features, out_features):
        super().__init__(in_features, out_features)
        u = minigen.randn(out_features)
        self.register_buffer("u", u / (u * u).sum().sqrt())

    def forward(self, x):
        W = self.weight
        if self.training:
            with minigen.no_grad():
                v = W.t() @ self.u
                v = v / ((v * v).sum().sqrt() + 1e-12)
                u = W @ v
                self.u.array = (u / ((u * u).sum().sqrt() + 1e-12)).array
        else:
            with minigen.no_grad():
                v = W.t() @ self.u
                v = v / ((v * v).sum().sqrt() + 1e-12)
        # sigma = u^T W v
        sigma = (self.u * (W @ v)).sum()
        return nn.functional.linear(x, W / sigma, self.bias)


class MLPDiscriminator(nn.Module):
    def __init__(self, inp=784, dropout=0.0, spectral_norm=False, minibatch_std=False):
        super().__init__()
        drop = (lambda: nn.Dropout(dropout)) if dropout else (lambda: nn.Identity())
        lin = SNLinear if spectral_norm else nn.Linear
        # l(x) = W_4 lrelu(W_3 lrelu(W_2 lrelu(W_1 x)))   (dropout after each hidden layer if any)
        self.body = nn.Sequential(lin(inp, 1024), nn.LeakyReLU(0.2), drop(),
                                  lin(1024, 512), nn.LeakyReLU(0.2), drop(),
                                  lin(512, 256), nn.LeakyReLU(0.2), drop())
        self.minibatch_std = minibatch_std
        self.out = lin(256 + int(minibatch_std), 1)

    def forward(self, x):
        h = self.body(x)
        if self.minibatch_std:
            # sigma_B = mean_j std_b(h_bj): how varied the batch is, one more input of the last layer
            sigma = (((h - h.mean(dim=0, keepdim=True)) ** 2).mean(dim=0) + 1e-8).sqrt().mean()
            h = minigen.cat([h, sigma.expand(h.shape[0], 1)], dim=1)
        return self.out(h).reshape(-1)


class MLPGAN(GAN):
    """The tutorial's MLP players in ``GAN``'s game.

    Args:
        g_loss: ``'non-saturating'`` or ``'minimax'``.
        dropout: in D after each hidden layer (0: the exact tutorial D).
        real_label: D's target for real images (1.0; 0.9 is one-sided label smoothing).
        instance_noise: sigma of the Gaussian noise added to D's inputs (0: none).
    """

    def __init__(self, nz=100, g_loss="non-saturating", dropout=0.0, real_label=1.0, instance_noise=0.0,
                 noise_anneal_steps=0, spectral_norm=False, d_lr_scale=1.0, minibatch_std=False,
                 r1_gamma=0.0, data_shape=(1, 28, 28)):
        n_pix = data_shape[0] * data_shape[1] * data_shape[2]
        super().__init__(MLPGenerator(nz, n_pix), MLPDiscriminator(n_pix, dropout, spectral_norm, minibatch_std),
                         nz, (n_pix,), data_shape, g_loss, r1_gamma=r1_gamma)
        self.minibatch_std = minibatch_std
        self.dropout, self.real_label, self.instance_noise = dropout, real_label, instance_noise
        self.spectral_norm, self.d_lr_scale = spectral_norm, d_lr_scale
        self.noise_anneal_steps = noise_anneal_steps
        # steps taken (a buffer: a resumed run anneals the noise from where it stopped)
        self.register_buffer("steps_done", minigen.zeros(1, dtype=minigen.int64))

    def config(self):
        return {"class": "MLPGAN", "nz": self.nz, "g_loss": self.g_loss, "dropout": self.dropout,
                "real_label": self.real_label, "instance_noise": self.instance_noise,
                "noise_anneal_steps": self.noise_anneal_steps,
                "spectral_norm": self.spectral_norm, "d_lr_scale": self.d_lr_scale,
                "minibatch_std": self.minibatch_std, "r1_gamma": self.r1_gamma,
                "data_shape": list(self.data_shape)}

    def noise_sigma(self):
        """sigma of the instance noise now: ``instance_noise``, annealed linearly to 0 over
        ``noise_anneal_steps`` steps when that is set."""
        if not self.noise_anneal_steps:
            return self.instance_noise
        t = int(self.steps_done.item())
        return self.instance_noise * max(0.0, 1.0 - t / self.noise_anneal_steps)

    def discriminate(self, x, labels=None):
        sigma = self.noise_sigma()
        if sigma and self.training:
            # x <- x + sigma n, n ~ N(0, I): real and fake overlap, D cannot separate them perfectly
            x = x + sigma * minigen.randn_like(x)
        return self.D(x)

    def train_step(self, batch, optimizers):
        stats = super().train_step(batch, optimizers)
        self.steps_done.array = self.steps_done.array + 1
        return dict(stats, noise_sigma=self.noise_sigma())

    def d_loss(self, d_real, d_fake, x_real, x_fake, labels):
        # L_D = BCE(l(x), t_real) + BCE(l(G(z)), 0),  t_real = 1 (or 0.9: one-sided smoothing)
        return bce(d_real, self.real_label) + bce(d_fake, 0.0)


VARIANTS = {
    "exact": dict(),
    "minimax": dict(g_loss="minimax"),
    "stable": dict(r1_gamma=10.0),
    "noisy": dict(dropout=0.3, real_label=0.9, instance_noise=0.5, noise_anneal_steps=3000),
}


def optimizers(model, recipe):
    """Adam for each player; D's learning rate is ``lr * d_lr_scale`` (two time scales)."""
    from minigen import optim
    return {"G": optim.Adam(model.G.parameters(), lr=recipe.lr, betas=tuple(recipe.betas)),
            "D": optim.Adam(model.D.parameters(), lr=recipe.lr * model.d_lr_scale, betas=tuple(recipe.betas))}


def build_mlp_gan(data="mnist", variant="exact", **options):
    spec = check_image_data("mlp_gan", data)
    return MLPGAN(data_shape=spec.shape, **dict(VARIANTS[variant], **options))


register("mlp_gan", build_mlp_gan, Recipe(
    data="mnist", steps=3000, batch_size=64, lr=2e-4, betas=(0.5, 0.999), variants=tuple(VARIANTS),
    data_options={"drop_last": True},
    quick=dict(steps=6, model_options=dict(nz=8)),
    description="the MLP GAN of the PyTorch tutorials: its collapse, and a stabilised D",
    **dict(GAN_HOOKS, optimizer=optimizers)))
