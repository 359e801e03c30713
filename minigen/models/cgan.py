"""Conditional GANs: ask for a digit, get that digit (Mirza & Osindero 2014, "Conditional
Generative Adversarial Nets"; Miyato & Koyama 2018, "cGANs with Projection Discriminator";
Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs").

A conditional GAN models p(x | y): the label y is given to the generator, x = G(z, y), and the
game makes G's images for y look like the real images of y. G always reads [z; E_G[y]] (a
learned 10-d embedding of the digit). Three ways to tell D about y:

* **projection** (Miyato & Koyama, the default): D's last layer is a linear map of its
  features phi(x) (the flattened [4 ndf, 4, 4] map); the projection adds a second linear map
  chosen by the label, an inner product with a learned vector per digit:

      l(x, y) = psi . phi(x) + E_D[y] . phi(x)

  The first term asks "is this a real digit?", the second "is this a y?", both on the same
  features. The losses are the GAN's (BCE, non-saturating G):

      L_D = BCE(l(x, y), 1) + BCE(l(G(z, y), y), 0),     L_G = BCE(l(G(z, y), y), 1)

  Measured (2,000 steps): 97% of samples are the digit asked for, and each digit is drawn in
  many styles (recall 0.72).
* **concat** (Mirza & Osindero): D reads the image with E_D[y] broadcast as 10 constant
  channels, so it judges the pair (x, y), with the same losses. Nothing forces D to use y, and
  early on it mostly judges realism; G's images then follow y only loosely (about two in three
  samples are the digit asked for after 800 steps).
* **acgan** (after Odena et al.): D does not read y; a second head classifies, c(x) = softmax
  over the 10 digits, trained on the real images and their labels, and G is rewarded when its
  image is classified as the digit asked for:

      L_D = BCE(l(x), 1) + BCE(l(G(z, y)), 0) + CE(c(x), y_real)
      L_G = BCE(l(G(z, y)), 1) + CE(c(G(z, y)), y)

  Measured: 96% agreement, but G ignores z: the easiest image for the classifier is one
  prototype per digit, and G draws it every time (recall 0.03). Odena et al. also train the
  classifier on G's images (CE(c(G(z, y)), y) in L_D); measured here, that lets the two players
  agree on a private code (G draws a 0 when asked for a 3, and D learns to call that a 3;
  agreement 57%, with 3, 8 and 9 never right).

All use the DCGAN's networks (``dcgan.py``) and ``GAN``'s game; ``sample(n, labels=...)`` and
``minigen sample cgan --labels 0,1,2`` draw the digits asked for.
"""
from __future__ import annotations

import minigen
from minigen import nn
from minigen.nn import functional as F

from .dcgan import DCDiscriminator, DCGenerator, check_image_data, dcgan_init
from .gan import GAN, GAN_HOOKS, bce
from .registry import Recipe, register

__all__ = ["ConditionalGAN", "build_cgan", "CONDITIONING"]

CONDITIONING = ("projection", "acgan", "concat")
N_CLASSES, EMBED = 10, 10


class _CondG(nn.Module):
    """x = G([z; E_G[y]])."""

    def __init__(self, nz, ngf):
        super().__init__()
        self.embed = nn.Embedding(N_CLASSES, EMBED)
        self.net = DCGenerator(nz + EMBED, ngf)

    def forward(self, z, y):
        # [z; E_G[y]]
        return self.net(minigen.cat([z, self.embed(y)], dim=1))


class _ConcatD(nn.Module):
    """l(x, y) = D([x; E_D[y] as 10 constant channels])."""

    def __init__(self, ndf):
        super().__init__()
        self.embed = nn.Embedding(N_CLASSES, EMBED)
        self.net = DCDiscriminator(ndf, channels=1 + EMBED)

    def forward(self, x, y):
        n, _, H, W = x.shape
        e = self.embed(y).reshape(n, EMBED, 1, 1).expand(n, EMBED, H, W)
        return self.net(minigen.cat([x, e], dim=1))


class _AuxD(nn.Module):
    """(l(x), class logits c(x)): two heads on the DCGAN discriminator's features."""

    def __init__(self, ndf):
        super().__init__()
        self.net = DCDiscriminator(ndf)
        # [4 ndf, 4, 4] -> 10 class logits
        self.classes = nn.Conv2d(4 * ndf, N_CLASSES, 4, 1, 0, bias=False)

    def forward(self, x, y=None):
        h = self.net.features(x)
        return self.net.out(h).reshape(-1), self.classes(h).reshape(x.shape[0], N_CLASSES)


class _ProjectionD(nn.Module):
    """l(x, y) = psi . phi(x) + E_D[y] . phi(x), phi(x) = D's flattened [4 ndf, 4, 4] features."""

    def __init__(self, ndf):
        super().__init__()
        self.net = DCDiscriminator(ndf)
        # E_D[y]: one vector per digit, as long as phi(x); small at the start, like D's weights
        self.embed = nn.Embedding(N_CLASSES, 4 * ndf * 4 * 4)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x, y):
        h = self.net.features(x)
        # psi . phi(x): the DCGAN's last layer, a linear map of the features
        unconditional = self.net.out(h).reshape(-1)
        # E_D[y] . phi(x): how much x looks like a y, on the same features
        projection = (self.embed(y) * h.reshape(x.shape[0], -1)).sum(dim=1)
        return unconditional + projection


class ConditionalGAN(GAN):
    """A conditional DCGAN: ``conditioning='projection'`` (projection discriminator, default),
    ``'acgan'`` (auxiliary classifier) or ``'concat'`` (the label as D's extra channels)."""

    def __init__(self, nz=100, ngf=32, ndf=32, conditioning="projection", data_shape=(1, 28, 28)):
        if conditioning not in CONDITIONING:
            raise ValueError(f"ConditionalGAN: conditioning must be one of {CONDITIONING}, got {conditioning!r}")
        D = {"acgan": _AuxD, "concat": _ConcatD, "projection": _ProjectionD}[conditioning](ndf)
        super().__init__(dcgan_init(_CondG(nz, ngf)), dcgan_init(D), nz, (1, 32, 32), data_shape,
                         conditional=True)
        self.ngf, self.ndf, self.conditioning = ngf, ndf, conditioning

    def config(self):
        return {"class": "ConditionalGAN", "nz": self.nz, "ngf": self.ngf, "ndf": self.ndf,
                "conditioning": self.conditioning, "data_shape": list(self.data_shape)}

    def d_loss(self, d_real, d_fake, x_real, x_fake, labels):
        if self.conditioning != "acgan":
            # L_D = BCE(l(x, y), 1) + BCE(l(G(z, y), y), 0)
            return bce(d_real, 1.0) + bce(d_fake, 0.0)
        (l_real, c_real), (l_fake, _) = d_real, d_fake
        # L_D = BCE(l(x), 1) + BCE(l(G(z, y)), 0) + CE(c(x), y): the classifier learns from real digits
        return bce(l_real, 1.0) + bce(l_fake, 0.0) + F.cross_entropy(c_real, labels)

    def g_loss_of(self, d_fake, labels=None):
        if self.conditioning != "acgan":
            # L_G = BCE(l(G(z, y), y), 1)
            return bce(d_fake, 1.0)
        l_fake, c_fake = d_fake
        # L_G = BCE(l(G(z, y)), 1) + CE(c(G(z, y)), y)
        return bce(l_fake, 1.0) + F.cross_entropy(c_fake, labels)


def build_cgan(data="mnist", variant="projection", **options):
    spec = check_image_data("cgan", data)
    return ConditionalGAN(conditioning=variant, data_shape=spec.shape, **dict(dict(nz=100, ngf=32, ndf=32), **options))


register("cgan", build_cgan, Recipe(
    data="mnist", steps=2000, batch_size=64, lr=2e-4, betas=(0.5, 0.999), variants=CONDITIONING,
    data_options={"drop_last": True, "labels": True},
    per_variant={"concat": dict(steps=800)},
    quick=dict(steps=6, model_options=dict(nz=8, ngf=4, ndf=4)),
    description="conditional DCGAN: projection discriminator (default), auxiliary classifier, or labels as channels",
    **GAN_HOOKS))
