"""Variational autoencoder (Kingma & Welling, 2014, "Auto-Encoding Variational Bayes").

The model. A latent code z explains an image x:

    prior            p(z) = N(0, I)
    decoder          p_theta(x|z) = prod_i Bernoulli(x_i; sigmoid(x_logits_i)),  x_logits = f_theta(z)
    encoder          q_phi(z|x) = N(mu, diag(exp(logvar))),  (mu, logvar) = g_phi(x)

The objective. log p(x) is intractable, but for any q it is bounded below by the ELBO:

    log p(x) >= E_{q(z|x)}[log p(x|z)] - KL(q(z|x) || p(z)) = ELBO(x)

The reparameterisation trick writes the sample as a differentiable function of the encoder's
outputs and of noise that does not depend on them, so one sample of z gives an unbiased,
low-variance gradient for both theta and phi:

    z = mu + sigma * eps,   sigma = exp(logvar / 2),   eps ~ N(0, I)

Both terms have simple forms. With a Bernoulli decoder the reconstruction term is minus the
binary cross-entropy of the pixels, computed from logits l for stability:

    -log p(x|z) = sum_i BCE(l_i, x_i) = sum_i [ max(l_i, 0) - l_i x_i + log(1 + exp(-|l_i|)) ]

and the KL between two Gaussians is analytic:

    KL(q(z|x) || p(z)) = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))

Convention (the same as PyTorch's VAE example): ``loss(x)`` is the negative ELBO of each
example, BCE summed over its pixels plus its KL, averaged over the batch. Its unit is nats per
example; the figures this file reports (test -ELBO, IWAE NLL) are per-example means in nats.
The pixels are grey levels in [0, 1] used as Bernoulli targets, as in the paper's MNIST runs;
so the "likelihood" is a cross-entropy, comparable with other grey-level MNIST figures but not
with those measured on binarised MNIST.

Evaluation. The importance-weighted bound (Burda, Grosse & Salakhutdinov, 2016, "Importance
Weighted Autoencoders") with K samples z_k ~ q(z|x) is tighter than the ELBO (K = 1) and tends
to log p(x) as K grows:

    log p(x) >= log (1/K) sum_k w_k,   w_k = p(x|z_k) p(z_k) / q(z_k|x)
    NLL(x) ~= -(logsumexp_k log w_k - log K)

with log p(z) = -1/2 sum_j (z_j^2 + log 2 pi) and, since z = mu + sigma * eps,
log q(z|x) = -1/2 sum_j (eps_j^2 + logvar_j + log 2 pi).

What the file shows: ``VAEBase`` holds all of the math above (loss, sampling, reconstruction,
latent interpolation, the IWAE estimate, an anomaly score); ``VAE`` is the paper's MLP
(784-400-20 on MNIST, 64-128-8 on the 8x8 digits) and ``ConvVAE`` a convolutional variant.
"""
from __future__ import annotations

import math

import minigen
from minigen import nn
from minigen.nn import functional as F

from .registry import DATASETS, Recipe, register

__all__ = ["VAEBase", "VAE", "ConvVAE", "build_vae", "evaluate"]

LOG_2PI = math.log(2 * math.pi)


class VAEBase(nn.Module):
    """The VAE's objective and tools, for any encoder/decoder pair.

    Subclasses define ``encode(x) -> (mu, logvar)`` (each ``[N, z_dim]``) and
    ``decode(z) -> x_logits`` (``[N, ...]``, any shape holding ``prod(image_shape)`` values per
    example), and set ``z_dim`` and ``image_shape`` (``(C, H, W)``).
    """

    z_dim: int
    image_shape: tuple

    def encode(self, x):
        raise NotImplementedError

    def decode(self, z):
        raise NotImplementedError

    # -- training ------------------------------------------------------------------------
    def negative_elbo(self, x):
        """-ELBO(x) for each example, ``[N]``, in nats (one sample of z per example)."""
        n = x.shape[0]
        mu, logvar = self.encode(x)
        # z = mu + sigma * eps,   sigma = exp(logvar / 2),   eps ~ N(0, I)
        eps = minigen.randn_like(mu)
        z = mu + (0.5 * logvar).exp() * eps
        x_logits = self.decode(z).reshape(n, -1)
        # -log p(x|z) = sum_i BCE(x_logits_i, x_i)
        rec = F.binary_cross_entropy_with_logits(x_logits, x.reshape(n, -1), reduction="none").sum(dim=1)
        # KL(q(z|x) || p(z)) = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)
        # -ELBO(x) = -log p(x|z) + KL
        return rec + kl

    def loss(self, x):
        """The training objective: the negative ELBO averaged over the batch (nats/example)."""
        # L = (1/B) sum_b -ELBO(x_b)
        return self.negative_elbo(x).mean()

    # -- using the model ----------------------------------------------------------------
    def _device_dtype(self):
        p = next(iter(self.parameters()))
        return p.device, p.dtype

    @minigen.no_grad()
    def sample(self, n):
        """``n`` new images ``[n, C, H, W]``: the decoder's pixel means for z from the prior."""
        device, dtype = self._device_dtype()
        # z ~ p(z) = N(0, I)
        z = minigen.randn(n, self.z_dim, device=device, dtype=dtype)
        # E[x|z] = sigmoid(x_logits): we show the Bernoulli means rather than coin flips
        return self.decode(z).sigmoid().reshape(n, *self.image_shape)

    @minigen.no_grad()
    def reconstruct(self, x):
        """Decode the posterior mean of each image: ``sigmoid(decode(mu(x)))``, shaped like x."""
        mu, _ = self.encode(x)
        return self.decode(mu).sigmoid().reshape(x.shape)

    @minigen.no_grad()
    def interpolate(self, a, b, steps=10):
        """Images along the straight line between the latent means of ``a`` and ``b``.

        ``a`` and ``b`` are single images (``[C, H, W]``) or batches (``[M, C, H, W]``).
        Returns ``[steps, C, H, W]`` for single images, ``[M, steps, C, H, W]`` for batches;
        the first and last columns are the reconstructions of ``a`` and ``b``.
        """
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(f"interpolate: a{list(a.shape)} and b{list(b.shape)} must have the same shape")
        single = a.ndim == len(self.image_shape)
        if single:
            a, b = a.unsqueeze(0), b.unsqueeze(0)
        m = a.shape[0]
        mu_a, _ = self.encode(a)
        mu_b, _ = self.encode(b)
        t = minigen.linspace(0, 1, steps, device=mu_a.device, dtype=mu_a.dtype).reshape(steps, 1, 1)
        # z_t = (1 - t) mu_a + t mu_b,   t in [0, 1]
        z = (1 - t) * mu_a + t * mu_b
        x = self.decode(z.reshape(steps * m, self.z_dim)).sigmoid()
        x = x.reshape(steps, m, *self.image_shape).transpose(0, 1)
        return x[0] if single else x

    @minigen.no_grad()
    def nll(self, x, k=100, max_rows=2000):
        """The importance-weighted (IWAE) estimate of -log p(x), per example ``[N]``, in nats.

        ``k`` samples of z per example; the examples are processed in chunks of
        ``max_rows // k`` so that at most ``max_rows`` decoder rows are alive at once.
        """
        chunk = max(1, max_rows // k)
        out = []
        for s in range(0, x.shape[0], chunk):
            xs = x[s:s + chunk]
            m = xs.shape[0]
            mu, logvar = self.encode(xs)
            # z_k = mu + sigma * eps_k,   eps_k ~ N(0, I),   k = 1..K        ([K, m, z_dim])
            eps = minigen.randn(k, m, self.z_dim, device=mu.device, dtype=mu.dtype)
            z = mu + (0.5 * logvar).exp() * eps
            x_logits = self.decode(z.reshape(k * m, self.z_dim)).reshape(k, m, -1)
            target = xs.reshape(1, m, -1).expand(k, m, x_logits.shape[2])
            # log p(x|z_k) = -sum_i BCE(x_logits_i, x_i)
            log_px_z = -F.binary_cross_entropy_with_logits(x_logits, target, reduction="none").sum(dim=2)
            # log p(z_k) = -1/2 sum_j (z_j^2 + log 2 pi)
            log_pz = -0.5 * (z ** 2 + LOG_2PI).sum(dim=2)
            # log q(z_k|x) = -1/2 sum_j (eps_j^2 + logvar_j + log 2 pi)
            log_qz = -0.5 * (eps ** 2 + logvar + LOG_2PI).sum(dim=2)
            # log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x)
            log_w = log_px_z + log_pz - log_qz
            # -log p(x) ~= -(logsumexp_k log w_k - log K)
            out.append(-(log_w.logsumexp(dim=0) - math.log(k)))
        return minigen.cat(out)

    @minigen.no_grad()
    def anomaly_score(self, x):
        """Reconstruction error -log p(x | z = mu(x)) per example ``[N]``, in nats.

        Images unlike the training data reconstruct badly, so a high score flags an anomaly.
        (It uses the posterior mean, so it is deterministic; ``nll`` is the likelihood proper.)
        """
        n = x.shape[0]
        mu, _ = self.encode(x)
        x_logits = self.decode(mu).reshape(n, -1)
        # score(x) = sum_i BCE(x_logits_i, x_i) at z = mu
        return F.binary_cross_entropy_with_logits(x_logits, x.reshape(n, -1), reduction="none").sum(dim=1)


class VAE(VAEBase):
    """The paper's VAE: one hidden ReLU layer in the encoder and in the decoder.

    ``VAE(784, 400, 20)`` on MNIST; ``VAE(64, 128, 8, image_shape=(1, 8, 8))`` on the digits.
    Images ``[N, C, H, W]`` are flattened to ``[N, x_dim]`` on the way in.
    """

    def __init__(self, x_dim=784, h_dim=400, z_dim=20, image_shape=(1, 28, 28)):
        super().__init__()
        if math.prod(image_shape) != x_dim:
            raise ValueError(f"VAE: image_shape {tuple(image_shape)} holds {math.prod(image_shape)} "
                             f"pixels, but x_dim is {x_dim}")
        self.x_dim, self.h_dim, self.z_dim = x_dim, h_dim, z_dim
        self.image_shape = tuple(image_shape)
        # encoder g_phi
        self.fc1 = nn.Linear(x_dim, h_dim)
        self.fc_mu = nn.Linear(h_dim, z_dim)
        self.fc_logvar = nn.Linear(h_dim, z_dim)
        # decoder f_theta
        self.fc3 = nn.Linear(z_dim, h_dim)
        self.fc4 = nn.Linear(h_dim, x_dim)

    def config(self):
        return {"class": "VAE", "x_dim": self.x_dim, "h_dim": self.h_dim, "z_dim": self.z_dim,
                "image_shape": list(self.image_shape)}

    def encode(self, x):
        # h = relu(W_1 x + b_1)
        h = F.relu(self.fc1(x.reshape(x.shape[0], self.x_dim)))
        # mu = W_mu h + b_mu,   logvar = W_logvar h + b_logvar
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        # x_logits = W_4 relu(W_3 z + b_3) + b_4                             ([N, x_dim])
        return self.fc4(F.relu(self.fc3(z)))


class ConvVAE(VAEBase):
    """A convolutional VAE: two stride-2 convolutions down, two transposed convolutions up.

    Encoder: [C, H, W] -conv 4x4/2-> [c1, H/2, W/2] -conv 4x4/2-> [c2, H/4, W/4] -linear-> mu, logvar.
    Decoder: z -linear-> [c2, H/4, W/4] -convT 4x4/2-> [c1, H/2, W/2] -convT 4x4/2-> logits [C, H, W].
    H and W must be divisible by 4 (28x28 MNIST, 8x8 digits).
    """

    def __init__(self, image_shape=(1, 28, 28), z_dim=20, channels=(32, 64)):
        super().__init__()
        C, H, W = image_shape
        if H % 4 or W % 4:
            raise ValueError(f"ConvVAE: image height and width must be divisible by 4, got {H}x{W}")
        c1, c2 = channels
        self.image_shape, self.z_dim, self.channels = tuple(image_shape), z_dim, (c1, c2)
        self.h_shape = (c2, H // 4, W // 4)
        h_dim = math.prod(self.h_shape)
        # encoder g_phi
        self.conv1 = nn.Conv2d(C, c1, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 4, stride=2, padding=1)
        self.fc_mu = nn.Linear(h_dim, z_dim)
        self.fc_logvar = nn.Linear(h_dim, z_dim)
        # decoder f_theta
        self.fc_dec = nn.Linear(z_dim, h_dim)
        self.deconv1 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)
        self.deconv2 = nn.ConvTranspose2d(c1, C, 4, stride=2, padding=1)

    def config(self):
        return {"class": "ConvVAE", "z_dim": self.z_dim, "channels": list(self.channels),
                "image_shape": list(self.image_shape)}

    def encode(self, x):
        x = x.reshape(x.shape[0], *self.image_shape)
        # h = relu(conv_2(relu(conv_1(x))))
        h = F.relu(self.conv2(F.relu(self.conv1(x)))).flatten(1)
        # mu = W_mu h + b_mu,   logvar = W_logvar h + b_logvar
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        h = F.relu(self.fc_dec(z)).reshape(z.shape[0], *self.h_shape)
        # x_logits = convT_2(relu(convT_1(h)))                                ([N, C, H, W])
        return self.deconv2(F.relu(self.deconv1(h)))


# ----------------------------------------------------------------------------- registry
# sizes by data set: (h_dim, z_dim) of the MLP, (c1, c2) of the conv variant
SIZES = {"mnist": {"mlp": (400, 20), "conv": (32, 64), "z_conv": 20},
         "digits": {"mlp": (128, 8), "conv": (16, 32), "z_conv": 8}}


def build_vae(data="mnist", variant="mlp"):
    """A fresh VAE sized for ``data`` (``'mnist'``: 784-400-20; ``'digits'``: 64-128-8)."""
    if DATASETS[data].kind != "images":
        raise ValueError(f"vae: the VAE models images; {data!r} is a {DATASETS[data].kind} data set")
    image_shape = DATASETS[data].shape
    size = SIZES[data]
    if variant == "conv":
        return ConvVAE(image_shape, z_dim=size["z_conv"], channels=size["conv"])
    h_dim, z_dim = size["mlp"]
    return VAE(math.prod(image_shape), h_dim, z_dim, image_shape)


def evaluate(model, x, k=100, batch_size=500):
    """The final figures on images ``x``: mean -ELBO and mean IWAE NLL (``k`` samples), nats."""
    neg_elbo, nll = 0.0, 0.0
    with minigen.no_grad():
        for s in range(0, x.shape[0], batch_size):
            xs = x[s:s + batch_size]
            neg_elbo += model.negative_elbo(xs).sum().item()
            nll += model.nll(xs, k=k).sum().item()
    n = x.shape[0]
    return {"test_neg_elbo": neg_elbo / n, f"test_iwae_nll_k{k}": nll / n}


def _pictures(model, run_dir, data):
    from minigen import plots
    return plots.autoencoder_pictures(model, run_dir, data.test_images(16))


def _evaluate(model, data, k=100):
    return evaluate(model, data.test_images(), k=k)


register("vae", build_vae, Recipe(
    data="mnist", epochs=100, batch_size=128, lr=1e-3, variants=("mlp", "conv"),
    per_data={"digits": {"epochs": 60, "batch_size": 64}},
    per_variant={"conv": {"epochs": 20}},
    quick=dict(epochs=1), pictures=_pictures, evaluate=_evaluate,
    description="Kingma-Welling VAE, Bernoulli decoder (784-400-20 MLP on MNIST)"))
