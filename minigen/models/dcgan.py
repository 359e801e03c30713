"""DCGAN (Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks").

The GAN game of ``gan.py`` with convolutional players, built by the paper's rules: no pooling
(strided convolutions down, transposed convolutions up), batch norm in both players (but not
on G's output or D's input), ReLU in G with tanh at the end, LeakyReLU(0.2) in D, weights
N(0, 0.02). At 32x32 with one channel (MNIST padded from 28x28):

    G: z [nz, 1, 1] -convT 4/1/0-> [4 ngf, 4, 4] -convT 4/2/1-> [2 ngf, 8, 8]
                    -convT 4/2/1-> [ngf, 16, 16] -convT 4/2/1-> x [1, 32, 32],  tanh
       (each hidden convT followed by BN and ReLU)
    D: x [1, 32, 32] -conv 4/2/1-> [ndf, 16, 16] -conv 4/2/1-> [2 ndf, 8, 8]
                     -conv 4/2/1-> [4 ndf, 4, 4] -conv 4/1/0-> l(x) [1, 1, 1]
       (LeakyReLU(0.2) after each hidden conv, BN on the second and third)

A transposed convolution with stride 2 is the adjoint of a stride-2 convolution: where the
convolution sums a 4x4 window of the input into one output pixel, the transposed one spreads
one input pixel over a 4x4 window of the output, doubling the size (``minigen/ops/conv.py``).
Batch norm normalises each channel over the batch, h <- gamma (h - mu_B) / sigma_B + beta;
in G it keeps the signal's scale steady through the upsampling stack, and at sampling time
(eval mode) it uses the running averages of mu_B and sigma_B.

The players and their initialisation live here; the losses, the turns and the figures that
watch the game are ``GAN``'s. ``WGAN-GP`` and the conditional GAN reuse these networks.
"""
from __future__ import annotations

import minigen
from minigen import nn
from minigen.nn import functional as F

from .datasets import DATASETS
from .gan import GAN, GAN_HOOKS
from .registry import Recipe, register

__all__ = ["DCGenerator", "DCDiscriminator", "dcgan_init", "DCGAN", "build_dcgan"]


class DCGenerator(nn.Module):
    """z [N, nz] -> images [N, channels, 32, 32] in [-1, 1] (four transposed convolutions)."""

    def __init__(self, nz=100, ngf=32, channels=1):
        super().__init__()
        self.nz = nz
        # [nz, 1, 1] -> [4 ngf, 4, 4] -> [2 ngf, 8, 8] -> [ngf, 16, 16] -> [C, 32, 32]
        self.net = nn.Sequential(
            nn.ConvTranspose2d(nz, 4 * ngf, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * ngf), nn.ReLU(),
            nn.ConvTranspose2d(4 * ngf, 2 * ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ngf), nn.ReLU(),
            nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
            nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        # x = G(z) = tanh(convT_4(... relu(BN(convT_1(z)))))
        return self.net(z.reshape(z.shape[0], self.nz, 1, 1))


class DCDiscriminator(nn.Module):
    """Images [N, channels, 32, 32] -> one logit l(x) per image, ``[N]``.

    ``batch_norm=False`` drops the two BN layers (a WGAN-GP critic); ``features(x)`` is the
    [4 ndf, 4, 4] map before the last convolution (for an auxiliary classifier head).
    ``minibatch_std=True`` appends one more map to it, the batch's mean standard deviation
    (ProGAN's minibatch-deviation layer, Karras et al. 2018): D can then see how varied a batch
    is, and a G that draws every sample alike is caught.
    """

    def __init__(self, ndf=32, channels=1, batch_norm=True, minibatch_std=False):
        super().__init__()
        norm = (lambda c: nn.BatchNorm2d(c)) if batch_norm else (lambda c: nn.Identity())
        # [C, 32, 32] -> [ndf, 16, 16] -> [2 ndf, 8, 8] -> [4 ndf, 4, 4]
        self.body = nn.Sequential(
            nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), norm(2 * ndf), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1, bias=False), norm(4 * ndf), nn.LeakyReLU(0.2))
        # [4 ndf, 4, 4] -> [1, 1, 1]: the logit l(x); D(x) = sigmoid(l(x))
        self.minibatch_std = minibatch_std
        self.out = nn.Conv2d(4 * ndf + int(minibatch_std), 1, 4, 1, 0, bias=False)

    def features(self, x):
        h = self.body(x)
        if self.minibatch_std:
            # sigma_B = the mean over features of each feature's standard deviation over the batch
            sigma = (((h - h.mean(dim=0, keepdim=True)) ** 2).mean(dim=0) + 1e-8).sqrt().mean()
            h = minigen.cat([h, sigma.expand(h.shape[0], 1, h.shape[2], h.shape[3])], dim=1)
        return h

    def forward(self, x):
        return self.out(self.features(x)).reshape(-1)


def dcgan_init(module):
    """The paper's initialisation: conv weights N(0, 0.02), BN weights N(1, 0.02), BN biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


class DCGAN(GAN):
    """The DCGAN: ``DCGenerator`` and ``DCDiscriminator`` in ``GAN``'s game (BCE, non-saturating
    G loss by default), initialised by ``dcgan_init``."""

    def __init__(self, nz=100, ngf=32, ndf=32, channels=1, data_shape=(1, 28, 28), g_loss="non-saturating"):
        super().__init__(dcgan_init(DCGenerator(nz, ngf, channels)), dcgan_init(DCDiscriminator(ndf, channels)),
                         nz, (channels, 32, 32), data_shape, g_loss)
        self.ngf, self.ndf, self.channels = ngf, ndf, channels

    def config(self):
        return {"class": "DCGAN", "nz": self.nz, "ngf": self.ngf, "ndf": self.ndf,
                "channels": self.channels, "data_shape": list(self.data_shape), "g_loss": self.g_loss}


# ----------------------------------------------------------------------------- registry
def check_image_data(name, data):
    spec = DATASETS[data]
    if spec.kind != "images":
        raise ValueError(f"{name}: a GAN draws images; {data!r} is a {spec.kind} data set")
    if spec.shape[1] > 32 or spec.shape[2] > 32:
        raise ValueError(f"{name}: images up to 32x32, got {spec.shape}")
    return spec


def build_dcgan(data="mnist", variant="default", **options):
    spec = check_image_data("dcgan", data)
    return DCGAN(data_shape=spec.shape, **dict(dict(nz=100, ngf=32, ndf=32), **options))


register("dcgan", build_dcgan, Recipe(
    data="mnist", steps=2000, batch_size=64, lr=2e-4, betas=(0.5, 0.999),
    data_options={"drop_last": True},
    quick=dict(steps=6, model_options=dict(nz=8, ngf=4, ndf=4)),
    description="DCGAN (Radford et al. 2016) on MNIST padded to 32x32", **GAN_HOOKS))
