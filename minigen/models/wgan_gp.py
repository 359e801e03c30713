"""WGAN-GP: the Wasserstein GAN with a gradient penalty (Arjovsky, Chintala & Bottou 2017,
"Wasserstein GAN"; Gulrajani et al. 2017, "Improved Training of Wasserstein GANs").

The original GAN's D saturates when the real and generated distributions barely overlap, and
then G's gradient carries little. The Wasserstein-1 distance between them does not saturate:
by Kantorovich-Rubinstein duality,

    W(p_data, p_G) = max_{||D||_L <= 1}  E_x[D(x)] - E_z[D(G(z))],

a maximum over 1-Lipschitz functions D, the *critic* (no sigmoid: its output is a score, not a
probability). The critic estimates W; G minimises the estimate. Gulrajani et al. keep the
critic near 1-Lipschitz with a penalty on its gradient norm at random points between real and
generated images (where the optimal critic has gradient norm 1):

    x_hat = eps x + (1 - eps) G(z),   eps ~ U[0, 1]                  one per example
    L_D = E[D(G(z))] - E[D(x)] + lambda E[(||grad_{x_hat} D(x_hat)||_2 - 1)^2]
    L_G = -E[D(G(z))]

The penalty contains a gradient, so the critic's update differentiates through the critic's
own backward pass: ``minigen.grad(..., create_graph=True)`` records the backward of every
convolution as a graph of minigen ops, and ``L_D.backward()`` then differentiates it again.
This is why every backward in ``minigen/ops`` is written in minigen ops.

Two rules of the paper: the critic is trained n_critic = 5 times per generator step, with
Adam(1e-4, betas (0.0, 0.9)); and the critic has no batch norm, since batch norm makes each
output depend on the whole batch and the penalty is per example (a critic with batch norm
draws a warning). ``train_step`` is one critic step; every n_critic-th one also steps G.
The default run keeps the paper's betas and n_critic but uses lr 3e-4 for 6,000 critic steps:
the paper's 1e-4 is meant for 200,000 steps, and after the 1,000 generator steps a
10-minute run allows, it leaves blurred strokes (measured: Frechet distance 791, 7 digits,
against 54 and 9 digits at 3e-4). ``--lr 1e-4`` is the paper's (and the quality protocol's) rate.
The figures: the Wasserstein estimate E D(x) - E D(G(z)), which falls as G improves (unlike
a GAN's losses it tracks sample quality), the penalty, the losses and gradient norms.
"""
from __future__ import annotations

import minigen
from minigen.train import read_figures

from .dcgan import DCDiscriminator, DCGenerator, check_image_data, dcgan_init
from .gan import GAN, GAN_HOOKS, grad_norm, warn_batch_norm_under_penalty
from .registry import Recipe, register

__all__ = ["WGANGP", "gradient_penalty", "build_wgan_gp"]


def gradient_penalty(D, x_real, x_fake):
    """E[(||grad_{x_hat} D(x_hat)||_2 - 1)^2] at x_hat = eps x_real + (1 - eps) x_fake."""
    n = x_real.shape[0]
    # eps ~ U[0, 1], one per example
    eps = minigen.rand(n, *([1] * (x_real.ndim - 1)), device=x_real.device)
    # x_hat = eps x + (1 - eps) G(z)
    x_hat = (eps * x_real + (1.0 - eps) * x_fake).detach().requires_grad_(True)
    # grad_{x_hat} D(x_hat), itself differentiable (create_graph): L_D's backward goes through it
    (g,) = minigen.grad(D(x_hat).sum(), x_hat, create_graph=True)
    # (||g||_2 - 1)^2, averaged over the batch
    norm = (g.reshape(n, -1) ** 2).sum(dim=1).sqrt()
    return ((norm - 1.0) ** 2).mean()


class WGANGP(GAN):
    """The DCGAN's networks as generator and critic (no batch norm, a linear output) in the
    Wasserstein game with a gradient penalty ``lam``; ``n_critic`` critic steps per G step.
    ``critic_batch_norm=True`` puts batch norm back in the critic (with a warning why not)."""

    def __init__(self, nz=100, ngf=16, ndf=16, n_critic=5, lam=10.0, data_shape=(1, 28, 28),
                 critic_batch_norm=False):
        critic = DCDiscriminator(ndf, batch_norm=critic_batch_norm)
        if critic_batch_norm:
            warn_batch_norm_under_penalty(critic)
        super().__init__(dcgan_init(DCGenerator(nz, ngf)), dcgan_init(critic), nz, (1, 32, 32), data_shape)
        self.ngf, self.ndf, self.n_critic, self.lam = ngf, ndf, n_critic, lam
        self.critic_batch_norm = critic_batch_norm
        # critic steps taken so far (a buffer, so a resumed run keeps the rhythm of G steps)
        self.register_buffer("critic_steps", minigen.zeros(1, dtype=minigen.int64))
        self._last_G = {"loss_G": 0.0, "grad_G": 0.0}     # G's figures, from its last step

    def config(self):
        return {"class": "WGANGP", "nz": self.nz, "ngf": self.ngf, "ndf": self.ndf, "n_critic": self.n_critic,
                "lam": self.lam, "data_shape": list(self.data_shape), "critic_batch_norm": self.critic_batch_norm}

    def train_step(self, batch, optimizers):
        """One critic step; every ``n_critic``-th call also one G step."""
        x = self.to_model(batch[0])
        n = x.shape[0]
        fake = self.G(self.noise(n)).detach()
        optimizers["D"].zero_grad()
        d_real, d_fake = self.D(x), self.D(fake)
        gp = gradient_penalty(self.D, x, fake)
        # L_D = E D(G(z)) - E D(x) + lambda E (||grad D(x_hat)|| - 1)^2
        loss_D = d_fake.mean() - d_real.mean() + self.lam * gp
        loss_D.backward()
        grad_D = grad_norm(self.D)
        optimizers["D"].step()
        self.critic_steps.array = self.critic_steps.array + 1
        if int(self.critic_steps.item()) % self.n_critic == 0:
            optimizers["G"].zero_grad()
            # L_G = -E D(G(z))
            loss_G = -self.D(self.G(self.noise(n))).mean()
            loss_G.backward()
            self._last_G = read_figures(loss_G=loss_G, grad_G=grad_norm(self.G))
            optimizers["G"].step()
        f = read_figures(loss_D=loss_D, wasserstein=d_real.mean() - d_fake.mean(),
                         gradient_penalty=gp, grad_D=grad_D)
        return {"loss": f["loss_D"], **f, **self._last_G}


def build_wgan_gp(data="mnist", variant="default", **options):
    spec = check_image_data("wgan_gp", data)
    return WGANGP(data_shape=spec.shape, **dict(dict(nz=100, ngf=16, ndf=16), **options))


register("wgan_gp", build_wgan_gp, Recipe(
    data="mnist", steps=6000, batch_size=64, lr=3e-4, betas=(0.0, 0.9),
    data_options={"drop_last": True},
    quick=dict(steps=10, model_options=dict(nz=8, ngf=4, ndf=4)),
    description="WGAN-GP (Gulrajani et al. 2017): critic, gradient penalty, n_critic = 5",
    **GAN_HOOKS))
