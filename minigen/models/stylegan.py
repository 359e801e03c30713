"""StyleGAN's mechanisms at MNIST scale (Karras, Laine & Aila 2019, "A Style-Based Generator
Architecture for Generative Adversarial Networks"; Karras et al. 2020, "Analyzing and Improving
the Image Quality of StyleGAN", StyleGAN2).

A StyleGAN generator does not feed z into its first layer. Its mechanisms, each in this file:

* **Mapping network** f: z -> w, an MLP (here 4 layers) from the noise to an intermediate
  latent w. w need not follow N(0, I), so it can unwarp the factors of variation:
      w = f(z / rms(z))                                   (z normalised first)
* **Learned constant input**: synthesis starts from a learned [C, 4, 4] tensor, the same for
  every image; everything that varies comes in through the styles and the noise.
* **Styles through modulated convolution with demodulation** (StyleGAN2). Each layer l has an
  affine map A_l giving a style s = A_l(w), one scale per input channel, and a convolution W:
      modulate:    W'_{o,i,k} = s_i W_{o,i,k}
      demodulate:  W''_{o,i,k} = W'_{o,i,k} / sqrt(sum_{i,k} W'_{o,i,k}^2 + eps)
  so each output channel has unit expected scale whatever the style. Computed without
  per-sample weights, by the equivalent form y = d_o * conv(s * x, W), with
  d_o = 1 / sqrt(sum_i s_i^2 sum_k W_{o,i,k}^2 + eps).
  (StyleGAN 1 used AdaIN instead: normalise each feature map of x to zero mean and unit
  variance, then scale and shift it by the style. Normalising the *data* that way leaves
  droplet artefacts (the network sneaks signal through a strong local spike that the
  normalisation cannot remove); demodulation normalises the *weights* by the expected
  statistics instead, and the artefacts go away (StyleGAN2, section 2).)
* **Per-pixel noise inputs**: after each convolution, B_l * n with n ~ N(0, 1) one value per
  pixel and B_l a learned scale per channel: the stochastic detail (stroke texture) the
  styles need not encode.
* **Style mixing**: the styles of the coarse layers (4x4, 8x8) from one w and those of the fine
  layers from another; in training, half of the batches mix two w's at a random layer, so
  neighbouring layers' styles stay independent (mixing regularisation).
* **Truncation trick**: w' = w_avg + psi (w - w_avg), with w_avg the running average of w
  over training: psi < 1 trades variety for typical, cleaner digits (psi = 0: the "average"
  digit); ``sample(n, psi=...)``.

The discriminator is the DCGAN's (``dcgan.py``) without batch norm, with a minibatch-deviation
map before its last layer, and the game is ``GAN``'s (non-saturating) plus StyleGAN's R1
penalty on real images (Mescheder et al. 2018):

    L_D = BCE(l(x), 1) + BCE(l(G(z)), 0) + (gamma / 2) E_x ||grad_x l(x)||^2,   gamma = 5

Each training detail below was measured on this data (2,000 steps, seed 0):

* R1, no batch norm in D, Adam betas (0, 0.99) (StyleGAN's): without them (D with batch norm,
  betas (0.5, 0.999), as the DCGAN) G stops using z early in the run and draws one blob for
  every latent (Frechet distance 1,286, 2 digits; PyTorch's twin: 1,288, 2 digits). With
  them: 204, 8 digits. R1 keeps D flat around the real digits, so its gradient points each of
  G's samples towards the data instead of pushing the whole batch to one spot.
* a linear output whose bias starts at -1, the blank canvas (a saturated tanh stopped G's
  gradient and every sample became the same binary blob);
* the mapping network He-initialised and learning 100 times more slowly than the rest of G
  (otherwise w shrinks layer by layer, every style is ~1, demodulation cancels it, and z has
  no effect);
* D sees the batch's spread (the minibatch-deviation map).
"""
from __future__ import annotations

import math
import os

import numpy

import minigen
from minigen import nn
from minigen.nn import functional as F

from .dcgan import DCDiscriminator, check_image_data, dcgan_init
from .gan import GAN, GAN_HOOKS, pictures as gan_pictures
from .registry import Recipe, register

__all__ = ["StyleGAN", "MappingNetwork", "ModulatedConv2d", "build_stylegan"]


class MappingNetwork(nn.Module):
    """w = f(z / rms(z)): ``n_layers`` linear layers with LeakyReLU(0.2)."""

    def __init__(self, z_dim=64, w_dim=64, n_layers=4):
        super().__init__()
        layers = []
        for i in range(n_layers):
            lin = nn.Linear(z_dim if i == 0 else w_dim, w_dim)
            # He initialisation for LeakyReLU(0.2): each layer keeps the scale of its input, so
            # w has the spread of z (with the layers' default init it shrinks 4-fold a layer)
            nn.init.kaiming_normal_(lin.weight, a=0.2, nonlinearity="leaky_relu")
            nn.init.zeros_(lin.bias)
            layers += [lin, nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        # z / rms(z): every z on the sphere of radius sqrt(dim)
        z = z / ((z * z).mean(dim=1, keepdim=True) + 1e-8).sqrt()
        return self.net(z)


class ModulatedConv2d(nn.Module):
    """A convolution whose weights are scaled per sample by a style s = A(w), and (optionally)
    demodulated: y = d * conv(s * x, W), d_o = 1 / sqrt(sum_i s_i^2 sum_k W_oik^2 + eps)."""

    def __init__(self, in_ch, out_ch, kernel, w_dim, demodulate=True):
        super().__init__()
        self.weight = nn.Parameter(minigen.randn(out_ch, in_ch, kernel, kernel) / math.sqrt(in_ch * kernel * kernel))
        # s = A(w): one scale per input channel, 1 + N(0, 1)-sized variation for w of unit scale
        self.affine = nn.Linear(w_dim, in_ch)
        nn.init.normal_(self.affine.weight, 0.0, 1.0 / math.sqrt(w_dim))
        nn.init.ones_(self.affine.bias)
        self.demodulate, self.pad = demodulate, kernel // 2

    def forward(self, x, w):
        s = self.affine(w)                                            # [N, in]
        # modulate: conv(s * x, W) = conv(x, s_i W_oik) for each sample
        y = F.conv2d(x * s.reshape(*s.shape, 1, 1), self.weight, padding=self.pad)
        if self.demodulate:
            # d_o = 1 / sqrt(sum_i s_i^2 sum_k W_oik^2 + eps)
            w2 = (self.weight * self.weight).sum(dim=(2, 3))          # [out, in]
            d = ((s * s) @ w2.t() + 1e-8).rsqrt()                     # [N, out]
            y = y * d.reshape(*d.shape, 1, 1)
        return y


class StyleLayer(nn.Module):
    """Modulated 3x3 conv -> + B * noise -> + bias -> LeakyReLU(0.2)."""

    def __init__(self, in_ch, out_ch, w_dim):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, w_dim)
        # B: the per-channel strength of the per-pixel noise (starts at 0)
        self.noise_strength = nn.Parameter(minigen.zeros(out_ch))
        self.bias = nn.Parameter(minigen.zeros(out_ch))

    def forward(self, x, w, noise=None):
        y = self.conv(x, w)
        n, _, H, W = y.shape
        if noise is None:
            noise = minigen.randn(n, 1, H, W, device=y.device)
        # y + B * noise, noise: one N(0, 1) value per pixel, shared by the channels
        y = y + self.noise_strength.reshape(1, -1, 1, 1) * noise
        return F.leaky_relu(y + self.bias.reshape(1, -1, 1, 1), 0.2)


class StyleGenerator(nn.Module):
    """const [C0, 4, 4] -> layer (4x4) -> up, layer (8x8) -> up, layer (16x16) -> up, layer
    (32x32) -> toRGB (a modulated 1x1 conv without demodulation). 5 styles: one per layer."""

    def __init__(self, z_dim=64, w_dim=64, channels=(64, 32, 16, 16), mapping_layers=4):
        super().__init__()
        self.z_dim, self.w_dim = z_dim, w_dim
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers)
        # the learned constant input
        self.const = nn.Parameter(minigen.randn(1, channels[0], 4, 4))
        ins = (channels[0],) + tuple(channels[:-1])
        self.layers = nn.ModuleList(StyleLayer(i, o, w_dim) for i, o in zip(ins, channels))
        self.to_rgb = ModulatedConv2d(channels[-1], 1, 1, w_dim, demodulate=False)
        # the output's bias, starting at -1, the blank canvas: a digit is mostly background,
        # and a linear output at 0 would take G hundreds of steps to darken
        self.rgb_bias = nn.Parameter(minigen.full((1,), -1.0))
        self.n_styles = len(self.layers) + 1

    def synthesis(self, ws, noise=None):
        """Images from per-layer latents ``ws`` [N, n_styles, w_dim] (and optional fixed noise
        maps, one per layer)."""
        n = ws.shape[0]
        x = self.const.expand(n, *self.const.shape[1:])
        for l, layer in enumerate(self.layers):
            if l > 0:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = layer(x, ws[:, l], None if noise is None else noise[l])
        return self.to_rgb(x, ws[:, -1]) + self.rgb_bias.reshape(1, 1, 1, 1)

    def forward(self, z):
        w = self.mapping(z)
        return self.synthesis(w.unsqueeze(1).expand(w.shape[0], self.n_styles, self.w_dim))


class StyleGAN(GAN):
    """StyleGAN's generator against the DCGAN discriminator, in ``GAN``'s game.

    Args:
        z_dim, w_dim, channels, mapping_layers: sizes.
        mixing_prob: the share of training batches that mix two latents (mixing regularisation).
        w_avg_decay: the running average of w for the truncation trick.
    """

    def __init__(self, z_dim=64, w_dim=64, channels=(64, 32, 16, 16), mapping_layers=4, ndf=32,
                 mixing_prob=0.5, w_avg_decay=0.995, r1_gamma=5.0, d_batch_norm=False, mapping_lr=0.01,
                 minibatch_std=True, data_shape=(1, 28, 28)):
        G = StyleGenerator(z_dim, w_dim, tuple(channels), mapping_layers)
        D = DCDiscriminator(ndf, batch_norm=d_batch_norm, minibatch_std=minibatch_std)
        super().__init__(G, dcgan_init(D), z_dim, (1, 32, 32), data_shape, r1_gamma=r1_gamma)
        self.minibatch_std = minibatch_std
        self.d_batch_norm, self.mapping_lr = d_batch_norm, mapping_lr
        self.w_dim, self.channels, self.mapping_layers, self.ndf = w_dim, tuple(channels), mapping_layers, ndf
        self.mixing_prob, self.w_avg_decay = mixing_prob, w_avg_decay
        self.register_buffer("w_avg", minigen.zeros(w_dim))
        self.truncation_psi = 1.0

    def config(self):
        return {"class": "StyleGAN", "z_dim": self.nz, "w_dim": self.w_dim, "channels": list(self.channels),
                "mapping_layers": self.mapping_layers, "ndf": self.ndf, "mixing_prob": self.mixing_prob,
                "r1_gamma": self.r1_gamma, "d_batch_norm": self.d_batch_norm, "mapping_lr": self.mapping_lr,
                "minibatch_std": self.minibatch_std,
                "data_shape": list(self.data_shape)}

    def styles(self, z, z2=None, crossover=None, psi=1.0):
        """Per-layer latents [N, n_styles, w_dim]: w = f(z) everywhere, or f(z) before layer
        ``crossover`` and f(z2) from it on (style mixing); truncated towards w_avg by ``psi``."""
        G = self.G
        w = G.mapping(z)
        ws = w.unsqueeze(1).expand(w.shape[0], G.n_styles, self.w_dim)
        if z2 is not None:
            w2 = G.mapping(z2).unsqueeze(1).expand(w.shape[0], G.n_styles, self.w_dim)
            layer = minigen.arange(G.n_styles, device=w.device).reshape(1, G.n_styles, 1)
            ws = minigen.where(layer < crossover, ws, w2)
        if psi != 1.0:
            # w' = w_avg + psi (w - w_avg)
            ws = self.w_avg + psi * (ws - self.w_avg)
        return ws

    def generate(self, z, labels=None):
        G = self.G
        if self.training:
            w = G.mapping(z)
            # w_avg <- beta w_avg + (1 - beta) mean(w)   (for the truncation trick)
            self.w_avg.array = (self.w_avg_decay * self.w_avg + (1 - self.w_avg_decay) * w.detach().mean(dim=0)).array
            ws = w.unsqueeze(1).expand(w.shape[0], G.n_styles, self.w_dim)
            if float(minigen.rand(1).item()) < self.mixing_prob:
                # mixing regularisation: layers from a random crossover on take a second latent
                crossover = int(minigen.randint(1, G.n_styles, (1,)).item())
                ws = self.styles(z, minigen.randn(*z.shape, device=z.device), crossover)
            return G.synthesis(ws)
        return G.synthesis(self.styles(z, psi=self.truncation_psi))

    @minigen.no_grad()
    def sample(self, n, labels=None, z=None, psi=1.0):
        """``n`` images in [0, 1]; ``psi`` in [0, 1] is the truncation (1: none)."""
        if not 0.0 <= psi <= 1.0:
            raise ValueError(f"StyleGAN.sample: the truncation psi must lie in [0, 1], got {psi}")
        self.truncation_psi = psi
        try:
            return super().sample(n, labels=labels, z=z)
        finally:
            self.truncation_psi = 1.0

    @minigen.no_grad()
    def mix(self, z_coarse, z_fine, crossover=2, noise=None):
        """Images with the styles of layers < ``crossover`` from ``z_coarse`` and the rest from
        ``z_fine`` (in eval mode)."""
        was = self.training
        self.eval()
        try:
            return self.to_images(self.G.synthesis(self.styles(z_coarse, z_fine, crossover), noise))
        finally:
            self.train(was)


def stylegan_optimizers(model, recipe):
    """Adam for G and D; the mapping network learns 100 times more slowly than the rest of G
    (StyleGAN's learning-rate multiplier 0.01: a fast mapping collapses every z onto a few w)."""
    from minigen import optim
    mapping = list(model.G.mapping.parameters())
    ids = {id(p) for p in mapping}
    rest = [p for p in model.G.parameters() if id(p) not in ids]
    betas = tuple(recipe.betas)
    return {"G": optim.Adam([{"params": rest}, {"params": mapping, "lr": recipe.lr * model.mapping_lr}],
                            lr=recipe.lr, betas=betas),
            "D": optim.Adam(model.D.parameters(), lr=recipe.lr, betas=betas)}


# ----------------------------------------------------------------------------- pictures
def stylegan_pictures(model, run_dir, data):
    """The GAN pictures, plus the mechanisms: a style-mixing grid, a truncation sweep and the
    effect of the noise inputs."""
    from minigen import plots

    paths = gan_pictures(model, run_dir, data)
    rng = numpy.random.default_rng(7)
    z = lambda n: model.noise(n, rng)  # noqa: E731
    # style mixing: row i takes its coarse styles (4x4, 8x8) from A_i, column j its fine ones from B_j
    za, zb = z(6), z(6)
    grid = [model.mix(za[i:i + 1].expand(6, model.nz), zb, crossover=2) for i in range(6)]
    paths.append(plots.save_image_grid(minigen.cat(grid), os.path.join(run_dir, "style_mixing.png"), nrow=6,
                                       title="rows: coarse styles (4-8 px) of A; columns: fine styles of B"))
    # truncation: psi = 0 ... 1 (columns) for 8 latents (rows)
    zs = z(8)
    psis = [0.0, 0.25, 0.5, 0.75, 1.0]
    cells = [model.sample(1, z=zs[i:i + 1], psi=p) for i in range(8) for p in psis]
    paths.append(plots.save_image_grid(minigen.cat(cells), os.path.join(run_dir, "truncation.png"), nrow=len(psis),
                                       title="truncation psi = 0, 0.25, 0.5, 0.75, 1 (columns)"))
    # noise: one latent, 8 draws of the per-pixel noise
    one = zs[:1].expand(8, model.nz)
    paths.append(plots.save_image_grid(model.sample(8, z=one), os.path.join(run_dir, "noise.png"), nrow=8,
                                       title="the same w, eight draws of the noise inputs"))
    return paths


def build_stylegan(data="mnist", variant="default", **options):
    spec = check_image_data("stylegan", data)
    return StyleGAN(data_shape=spec.shape, **options)


register("stylegan", build_stylegan, Recipe(
    data="mnist", steps=2000, batch_size=64, lr=2e-4, betas=(0.0, 0.99),
    data_options={"drop_last": True},
    quick=dict(steps=6, model_options=dict(z_dim=8, w_dim=8, channels=(8, 8, 4, 4), mapping_layers=2, ndf=4)),
    description="StyleGAN's mechanisms: mapping network, modulated convolution, noise, mixing, truncation",
    **dict(GAN_HOOKS, pictures=stylegan_pictures, optimizer=stylegan_optimizers)))
