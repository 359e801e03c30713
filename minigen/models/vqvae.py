"""VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017, "Neural Discrete Representation Learning"):
an autoencoder whose latents are words from a learned codebook.

The model. An encoder maps an image to a grid of vectors, each vector is replaced by its
nearest entry of a codebook of K vectors, and a decoder draws the image from the grid:

    z_e = E(x)                          [B, D, 7, 7]: conv 4x4/2 32, conv 4x4/2 64, conv 1x1 D
    k_ij = argmin_k ||z_e,ij - e_k||^2  the nearest code at each of the 49 positions
    z_q,ij = e_{k_ij}                   codebook e [K, D], K = 64 codes of D = 16 numbers
    x_hat = sigmoid(G(z_q))             conv 3x3 64, transposed conv 4x4/2 32, 4x4/2 1 (logits)

So an image becomes 49 integers in 0..K-1 (``encode_codes``), and any grid of integers becomes an
image (``decode_codes``): a discrete language of pictures that a later prior (a Transformer
over the 49 tokens, DALL-E's way) can model like text.

The straight-through gradient. argmin has no gradient, so the encoder would learn nothing from
the reconstruction. The trick copies the decoder's gradient with respect to z_q straight onto
z_e, as if the lookup were the identity:

    z_st = z_e + sg(z_q - z_e)          forward: = z_q;  backward: dL/dz_e = dL/dz_q

(sg is stop-gradient, ``detach``). This works because z_q and z_e are close (the losses below
keep them close), so the decoder's gradient at z_q points the right way for z_e too.

The losses. The reconstruction gradient then reaches the encoder and decoder but never the
codebook, so two more terms train it, each with a stop-gradient that says who moves:

    L = BCE(l, x) / (HW)                          reconstruction: -log p(x | z_q) per pixel
      + ||sg(z_e) - z_q||^2 / (49 D)              codebook loss: the codes move to the encodings
      + beta ||z_e - sg(z_q)||^2 / (49 D)         commitment loss: the encoder commits to its codes

with beta = 0.25 (the paper's), each term averaged over the batch. (This is the paper's
gradient-trained codebook, not the EMA update of its appendix.) The decoder is Bernoulli, as
minigen's VAE: l = G(z_st) are logits, x_hat = sigmoid(l), and the reconstruction term is the
binary cross-entropy sum_i [max(l_i, 0) - l_i x_i + log(1 + exp(-|l_i|))] over the HW pixels,
divided by HW (so the three terms have the same per-element scale). A squared error on
sigmoid(l) was tried first and failed: the decoder turned every pixel black within 20 steps,
where the sigmoid is flat, and its gradient never brought it back (MSE stuck at 0.114, the
squared error of a black image; measured on 16 training images).

Codebook use. Over a set of images, p_k is the share of latent positions that chose code k;
the perplexity exp(-sum_k p_k log p_k) is K when all codes are used equally and 1 when one
code does everything; a dead code is one that no position chose.

Dead codes and restarts. The codebook starts as U(-1/K, 1/K), the common choice, and left at
that it collapses here: every encoding is far from every tiny code, the nearest code is simply
the one most aligned with it, two or three codes win everything, and the codebook loss only
ever moves the winners (measured with the first, squared-error decoder: perplexity 1.7 of 64
codes, 62 dead, after 60 steps; a start from the first batch's encodings only delayed it:
perplexity 2.6, 57 dead after 40; with this file's loss and no restarts, 525 steps of the
quality protocol end with 55 of 64 codes dead).
So, as Jukebox did (Dhariwal et al. 2020, "random restarts"), after every training forward each
code that no latent position of the batch chose is moved onto the encoding of a position of
the batch drawn at random (from minigen's generator, so runs resume exactly). At the first step
that puts the unused codes on real encodings (a data-dependent start, as k-means'); later it
revives the codes the encoder has drifted away from. ``restarts=False`` is the plain model.
"""
from __future__ import annotations

import numpy

import minigen
from minigen import nn
from minigen.nn import functional as F

from .registry import Recipe, register

__all__ = ["VQVAE", "quantize", "build_vqvae", "evaluate", "code_usage"]


def nearest_codes(z, codebook):
    """k_n = argmin_k ||z_n - e_k||^2 for rows ``z`` [N, D] and ``codebook`` [K, D]: int64 [N]."""
    # ||z - e_k||^2 = ||z||^2 - 2 z . e_k + ||e_k||^2  (||z||^2 is the same for every k)
    d = (codebook * codebook).sum(dim=1) - 2.0 * (z @ codebook.transpose(0, 1))
    return d.argmin(dim=1)


def quantize(z_e, codebook):
    """The lookup with the straight-through gradient, for ``z_e`` [B, D, h, w].

    Returns ``(z_st, z_q, codes)``: z_st = z_e + sg(z_q - z_e) (equal to z_q, with the gradient
    going to z_e), z_q [B, D, h, w] the chosen codes (its gradient goes to the codebook), and
    ``codes`` int64 [B, h, w]."""
    B, D, h, w = z_e.shape
    # [B, D, h, w] -> [B h w, D]: one row per latent position
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, D)
    # k_ij = argmin_k ||z_e,ij - e_k||^2
    codes = nearest_codes(flat.detach(), codebook.detach())
    # z_q,ij = e_{k_ij}
    z_q = codebook[codes].reshape(B, h, w, D).permute(0, 3, 1, 2)
    # z_st = z_e + sg(z_q - z_e)
    z_st = z_e + (z_q - z_e).detach()
    return z_st, z_q, codes.reshape(B, h, w)


def code_usage(codes, num_codes):
    """(perplexity, dead codes, counts [K]) of the integer ``codes`` (any shape)."""
    counts = numpy.bincount(numpy.asarray(codes).reshape(-1), minlength=num_codes)
    p = counts / max(counts.sum(), 1)
    nz = p[p > 0]
    # perplexity = exp(-sum_k p_k log p_k)
    return float(numpy.exp(-(nz * numpy.log(nz)).sum())), int((counts == 0).sum()), counts


class VQVAE(nn.Module):
    """Encoder to a (H/4) x (W/4) grid of ``code_dim``-vectors, a codebook of ``num_codes``,
    a decoder; ``loss(x)`` = reconstruction + codebook + beta x commitment."""

    def __init__(self, image_shape=(1, 28, 28), hidden=(32, 64), num_codes=64, code_dim=16, beta=0.25,
                 restarts=True):
        super().__init__()
        image_shape = tuple(image_shape)
        C, H, W = image_shape
        if H % 4 or W % 4:
            raise ValueError(f"VQVAE: the encoder halves the image twice, so height and width must be "
                             f"multiples of 4, got {H}x{W}")
        for name, v in (("num_codes", num_codes), ("code_dim", code_dim)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"VQVAE: {name} must be a positive integer, got {v!r}")
        self.image_shape, self.hidden, self.num_codes, self.code_dim = image_shape, tuple(hidden), num_codes, code_dim
        self.beta = float(beta)
        self.restarts = bool(restarts)
        self.grid = (H // 4, W // 4)
        h1, h2 = self.hidden
        # E: two stride-2 convolutions (H -> H/2 -> H/4), a 1x1 to D channels
        self.encoder = nn.Sequential(
            nn.Conv2d(C, h1, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(h1, h2, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(h2, code_dim, 1))
        # e [K, D]
        self.codebook = nn.Embedding(num_codes, code_dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / num_codes, 1.0 / num_codes)
        # G: a 3x3 convolution, two stride-2 transposed convolutions back to H x W; logits
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim, h2, 3, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(h2, h1, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(h1, C, 4, stride=2, padding=1))

    def config(self):
        return {"class": "VQVAE", "image_shape": list(self.image_shape), "hidden": list(self.hidden),
                "num_codes": self.num_codes, "code_dim": self.code_dim, "beta": self.beta, "restarts": self.restarts}

    @minigen.no_grad()
    def restart_dead_codes(self, z_e, codes):
        """Move every code that no position of ``codes`` chose onto the encoding of a random
        position of ``z_e`` [B, D, h, w] (uniform, with replacement). Returns how many moved."""
        used = minigen.zeros(self.num_codes, device=codes.device)
        used[codes.reshape(-1)] = 1.0
        dead = (used == 0).nonzero().reshape(-1)
        n = int(dead.shape[0])
        if n:
            flat = z_e.permute(0, 2, 3, 1).reshape(-1, self.code_dim)
            pick = minigen.randint(0, flat.shape[0], (n,), device=flat.device)
            w = self.codebook.weight.array.copy()
            w[dead.array] = flat[pick].array
            self.codebook.weight.array = w
        return n

    def _check(self, x, name="images"):
        shape = tuple(getattr(x, "shape", ()))
        if not isinstance(x, minigen.Tensor) or len(shape) != 4 or shape[1:] != self.image_shape:
            got = list(shape) if isinstance(x, minigen.Tensor) else type(x).__name__
            raise ValueError(f"VQVAE: expected {name} [B, {', '.join(map(str, self.image_shape))}] in [0, 1], "
                             f"got {got}")
        if not x.is_floating_point():
            raise TypeError(f"VQVAE: expected float {name} in [0, 1], got dtype {x.dtype}")

    def forward(self, x):
        """``(x_hat, z_e, z_q, codes)``: the reconstruction in [0, 1], the encodings, the chosen
        codes' vectors and their indices."""
        logits, z_e, z_q, codes = self.run(x)
        return logits.sigmoid(), z_e, z_q, codes

    def run(self, x):
        """``(logits, z_e, z_q, codes)``: as ``forward``, with the decoder's logits l."""
        self._check(x)
        # z_e = E(x)
        z_e = self.encoder(x)
        z_st, z_q, codes = quantize(z_e, self.codebook.weight)
        if self.training and self.restarts:
            # after this step's lookup: the codes nobody chose jump onto this batch's encodings
            self.restart_dead_codes(z_e, codes)
        # l = G(z_st), which is G(z_q) in the forward pass
        return self.decoder(z_st), z_e, z_q, codes

    def losses(self, x):
        """The three terms: ``{'recon', 'codebook', 'commitment'}`` (tensors)."""
        logits, z_e, z_q, _ = self.run(x)
        # BCE(l, x) / (HW), the mean over the batch
        recon = F.binary_cross_entropy_with_logits(logits, x)
        # ||sg(z_e) - z_q||^2 / (49 D): only the codebook moves
        codebook = ((z_e.detach() - z_q) ** 2).mean()
        # ||z_e - sg(z_q)||^2 / (49 D): only the encoder moves
        commitment = ((z_e - z_q.detach()) ** 2).mean()
        return {"recon": recon, "codebook": codebook, "commitment": commitment}

    def loss(self, x):
        """L = recon + codebook + beta commitment."""
        t = self.losses(x)
        # L = recon + codebook + beta commitment
        return t["recon"] + t["codebook"] + self.beta * t["commitment"]

    @minigen.no_grad()
    def encode_codes(self, images):
        """The code indices of ``images``: int64 [N, H/4, W/4]."""
        self._check(images)
        z_e = self.encoder(images)
        return quantize(z_e, self.codebook.weight)[2]

    @minigen.no_grad()
    def decode_codes(self, codes):
        """Images [N, C, H, W] in [0, 1] from a grid of code indices int64 [N, H/4, W/4]."""
        shape = tuple(getattr(codes, "shape", ()))
        if not isinstance(codes, minigen.Tensor) or len(shape) != 3 or shape[1:] != self.grid:
            got = list(shape) if isinstance(codes, minigen.Tensor) else type(codes).__name__
            raise ValueError(f"VQVAE.decode_codes: expected codes [N, {self.grid[0]}, {self.grid[1]}], got {got}")
        if codes.is_floating_point():
            raise TypeError(f"VQVAE.decode_codes: expected integer codes, got dtype {codes.dtype}")
        lo, hi = int(codes.min().item()), int(codes.max().item())
        if lo < 0 or hi >= self.num_codes:
            raise ValueError(f"VQVAE.decode_codes: codes must lie in 0..{self.num_codes - 1}, got {lo}..{hi}")
        z_q = self.codebook.weight[codes.reshape(-1)].reshape(shape[0], *self.grid, self.code_dim)
        return self.decoder(z_q.permute(0, 3, 1, 2)).sigmoid()

    @minigen.no_grad()
    def reconstruct(self, images):
        return self.decode_codes(self.encode_codes(images))


# ----------------------------------------------------------------------------- evaluation
@minigen.no_grad()
def reconstruction_figures(model, x, batch_size=500):
    """Over images ``x``: MSE per pixel, BCE nats per image (of x against x_hat, clipped to
    [1e-6, 1 - 1e-6]), the codebook's perplexity and dead codes, and the code counts."""
    se, bce, codes = 0.0, 0.0, []
    for s in range(0, len(x), batch_size):
        xb = x[s:s + batch_size]
        x_hat, _, _, c = model(xb)
        a, b = xb.cpu().numpy().astype(numpy.float64), numpy.clip(x_hat.cpu().numpy().astype(numpy.float64), 1e-6, 1 - 1e-6)
        se += ((a - b) ** 2).sum()
        bce += -(a * numpy.log(b) + (1 - a) * numpy.log(1 - b)).sum()
        codes.append(c.cpu().numpy())
    n = len(x)
    perplexity, dead, counts = code_usage(numpy.concatenate(codes), model.num_codes)
    return {"mse_per_pixel": float(se / (n * numpy.prod(model.image_shape))), "bce_nats_per_image": float(bce / n),
            "code_perplexity": perplexity, "dead_codes": dead}, counts


def evaluate(model, data, k=None):
    """Reconstruction error and codebook use on the run's test images."""
    model.eval()
    return reconstruction_figures(model, data.test_images())[0]


def pictures(model, run_dir, data):
    import os
    from minigen import plots
    x = data.test_images(16)
    model.eval()
    paths = [plots.save_reconstructions(x, model.reconstruct(x), os.path.join(run_dir, "vqvae_reconstructions.png"))]
    _, counts = reconstruction_figures(model, data.test_images())
    paths.append(plots.save_code_usage(counts, os.path.join(run_dir, "vqvae_codebook_usage.png")))
    return paths


def sample_reconstructions(model, spec, args):
    """``minigen sample vqvae --checkpoint ... [--n 16] [--out r.png]``: a VQ-VAE has no prior
    to sample from (a later model learns one), so it writes ``--n`` test images above their
    reconstructions through the codebook (``.png``), or the reconstructions (``.npy``)."""
    import os
    from minigen import plots
    from minigen.io import atomic_write
    for flag in ("prompt", "max_new_tokens", "top_k", "top_p", "labels", "digit", "seconds", "psi"):
        if getattr(args, flag, None) is not None:
            raise ValueError(f"--{flag.replace('_', '-')}: not used by the VQ-VAE (it reconstructs test "
                             "images; give --n and --out)")
    n = args.n or 16
    x = spec.images("test")
    if n > len(x):
        raise ValueError(f"--n: at most {len(x)} test images, got {n}")
    x = x[:n].to(args.device)
    r = model.reconstruct(x)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "reconstructions.png")
    ext = os.path.splitext(out)[1].lower()
    if ext == ".npy":
        arr = r.cpu().numpy().astype(numpy.float32)
        atomic_write(out, lambda f: numpy.save(f, arr))
    elif ext == ".png":
        plots.save_reconstructions(x, r, out)
    else:
        raise ValueError(f"--out: reconstructions are written as .png or .npy, got {out!r}")
    print(f"wrote {n} test images and their reconstructions through the codebook to {out}")
    return 0


# ----------------------------------------------------------------------------- registry
QUICK = dict(hidden=(8, 8), num_codes=16, code_dim=4)


def build_vqvae(data="mnist", variant="default", **options):
    """A VQ-VAE for the images of ``data`` (``'mnist'``: a 7 x 7 grid of codes)."""
    from .datasets import DATASETS
    spec = DATASETS[data]
    if spec.kind != "images" or spec.shape[1] % 4 or spec.shape[2] % 4:
        raise ValueError(f"vqvae: needs an image data set whose height and width are multiples of 4 "
                         f"(such as 'mnist'), got {data!r}")
    return VQVAE(spec.shape, **options)


register("vqvae", build_vqvae, Recipe(
    data="mnist", epochs=15, batch_size=128, lr=1e-3, optimizer="adam",
    quick=dict(epochs=1, steps=6, batch_size=32, model_options=QUICK),
    evaluate=evaluate, pictures=pictures, sample=sample_reconstructions,
    description="VQ-VAE: a codebook of 64 codes, nearest-neighbour lookup, the straight-through "
                "gradient, codebook and commitment losses"))
