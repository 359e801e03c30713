"""RealNVP: a normalising flow of affine coupling layers (Dinh, Sohl-Dickstein & Bengio 2017,
"Density estimation using Real NVP").

The change of variables. An invertible map f from data x to a latent z with a simple density
p_Z (here N(0, I)) gives x an exact density:

    log p_X(x) = log p_Z(f(x)) + log |det df/dx|

A flow is a composition f = f_K o ... o f_1, and the log-determinants add up.

The affine coupling layer. A binary mask b keeps half of the coordinates fixed and moves the
others by a scale and shift computed from the fixed half only:

    out = MLP(b * x);   s = (1 - b) * scale * tanh(out_s);   t = (1 - b) * out_t
    y = b * x + (1 - b) * (x * exp(s) + t)

Its Jacobian is triangular (y's moving half depends on x's moving half only through the
elementwise exp(s)), so

    log |det dy/dx| = sum_j s_j

and it inverts in closed form, since b * y = b * x gives back the same s and t:

    x = b * y + (1 - b) * (y - t) * exp(-s)

tanh bounds each log-scale to (-scale, scale) (a learnable per-layer ``scale``, initially 1),
which keeps early training from blowing up. Alternating masks let every coordinate move:
[1, 0] / [0, 1] for 2-D points, checkerboards ((r + c) % 2 and its complement) for images.

Discrete data. Pixels v in {0, ..., 16} (the 8x8 digits) have probabilities, not densities.
Uniform dequantisation (Theis et al. 2016) trains the flow on y = (v + u) / 17, u ~ U[0, 1)^D,
and for any density p_Y on [0, 1)^D

    -log P(v) <= E_u[-log p_Y((v + u) / 17)] + D log 17

(the +D log 17 is the Jacobian of dividing by 17: the cube of v has volume 17^-D in y-space).
Before the flow, the logit step maps [0, 1) to the real line, away from the edges:

    q = a + (1 - 2a) y  (a = 0.05),   w = log q - log(1 - q)
    log |dw/dy| = sum_j [log(1 - 2a) - log q_j - log(1 - q_j)]

so log p_Y(y) = log p_W(w) + sum_j [log(1 - 2a) - log q_j - log(1 - q_j)]: the terms the
preprocessing adds to the flow's own likelihood. With K draws of u the importance-weighted
bound -log (1/K sum_k p_Y(y_k)) + D log 17 is tighter.
"""
from __future__ import annotations

import math

import numpy

import minigen
from minigen import nn
from minigen.nn import functional as F

from .registry import DATASETS, Recipe, register

__all__ = ["Coupling", "RealNVP", "build_realnvp", "evaluate", "LEVELS", "ALPHA"]

LEVELS = 17      # grey levels of the 8x8 digits
ALPHA = 0.05     # the logit step's margin a


class Coupling(nn.Module):
    """One affine coupling layer with the fixed mask ``b`` (1 = kept) and an MLP
    D -> hidden... -> 2D (s and t)."""

    def __init__(self, mask, hidden=(128, 128)):
        super().__init__()
        D = len(mask)
        self.register_buffer("b", minigen.tensor(numpy.asarray(mask, dtype=numpy.float32)))
        sizes = [D] + list(hidden)
        self.layers = nn.ModuleList(nn.Linear(a, c) for a, c in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(sizes[-1], 2 * D)
        self.scale = nn.Parameter(minigen.ones(1))
        self.D = D

    def _s_t(self, x_fixed):
        h = x_fixed
        for layer in self.layers:
            h = F.relu(layer(h))
        out = self.out(h)
        # s = (1 - b) scale tanh(out_s);  t = (1 - b) out_t
        s = (1.0 - self.b) * self.scale * minigen.tanh(out[:, :self.D])
        t = (1.0 - self.b) * out[:, self.D:]
        return s, t

    def forward(self, x):
        """``(y, log|det dy/dx|)`` with y = b x + (1 - b)(x exp(s) + t), log det = sum s."""
        s, t = self._s_t(self.b * x)
        y = self.b * x + (1.0 - self.b) * (x * minigen.exp(s) + t)
        return y, s.sum(1)

    def inverse(self, y):
        """x = b y + (1 - b)(y - t) exp(-s)."""
        s, t = self._s_t(self.b * y)
        return self.b * y + (1.0 - self.b) * (y - t) * minigen.exp(-s)


class RealNVP(nn.Module):
    """A stack of couplings with alternating masks over D-dimensional data and a N(0, I) base.

    ``image_shape=None``: 2-D points with masks [1, 0], [0, 1], ...; ``image_shape=(1, H, W)``:
    images with grey levels 0 .. LEVELS-1, checkerboard masks, dequantisation and the logit step.
    """

    def __init__(self, dim=2, n_couplings=8, hidden=(128, 128), image_shape=None):
        super().__init__()
        self.dim, self.n_couplings, self.hidden = int(dim), int(n_couplings), tuple(hidden)
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        if self.image_shape is not None:
            C, H, W = self.image_shape
            if C * H * W != self.dim:
                raise ValueError(f"RealNVP: image_shape {list(self.image_shape)} holds {C * H * W} "
                                 f"values, not dim = {self.dim}")
            r, c = numpy.meshgrid(numpy.arange(H), numpy.arange(W), indexing="ij")
            first = numpy.tile(((r + c) % 2).ravel(), C)
        else:
            first = numpy.arange(self.dim) % 2 == 0
        masks = [first if k % 2 == 0 else 1 - first for k in range(self.n_couplings)]
        self.couplings = nn.ModuleList(Coupling(m.astype(numpy.float32), hidden) for m in masks)

    def config(self):
        return {"class": "RealNVP", "dim": self.dim, "n_couplings": self.n_couplings,
                "hidden": list(self.hidden),
                "image_shape": list(self.image_shape) if self.image_shape else None}

    @property
    def images(self):
        return self.image_shape is not None

    # ------------------------------------------------------------------ the flow
    def forward(self, x):
        """``(z, sum of log-determinants)`` for points or logit-space vectors x [N, D]."""
        logdet = minigen.zeros(x.shape[0], device=x.device)
        for c in self.couplings:
            x, ld = c(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z):
        for c in reversed(self.couplings):
            z = c.inverse(z)
        return z

    def log_prob_flow(self, x):
        """log p(x) = log N(f(x); 0, I) + log |det df/dx| for x [N, D] in the flow's space."""
        z, logdet = self(x)
        # log N(z; 0, I) = -1/2 (||z||^2 + D log 2 pi)
        return -0.5 * ((z * z).sum(1) + self.dim * math.log(2 * math.pi)) + logdet

    # ------------------------------------------------------------------ images
    def to_logit(self, y):
        """w = logit(a + (1 - 2a) y) for y in [0, 1)^D, and log |dw/dy| per example."""
        q = ALPHA + (1.0 - 2.0 * ALPHA) * y
        w = minigen.log(q) - minigen.log(1.0 - q)
        # log |dw/dy| = sum_j log(1 - 2a) - log q_j - log(1 - q_j)
        ld = (math.log(1.0 - 2.0 * ALPHA) - minigen.log(q) - minigen.log(1.0 - q)).sum(1)
        return w, ld

    def log_prob_y(self, y):
        """log p_Y(y) of dequantised images y [N, D] in [0, 1): the flow's density of the logits
        plus the logit step's log-Jacobian."""
        lo, hi = float(y.min().item()), float(y.max().item())
        # [0, 1), closed at 1 because (16 + u) / 17 rounds to 1.0 in float32 for u near 1
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"RealNVP: dequantised inputs y = (v + u) / {LEVELS} must lie in [0, 1] "
                             f"(grey levels v in 0 .. {LEVELS - 1}, u in [0, 1)), got [{lo:.4g}, {hi:.4g}]")
        w, ld = self.to_logit(y)
        return self.log_prob_flow(w) + ld

    def dequantise(self, x):
        """Images x in [0, 1] (grey level v / (LEVELS - 1)) -> y = (v + u) / LEVELS, u ~ U[0, 1)."""
        v = (x.reshape(x.shape[0], -1) * (LEVELS - 1)).round()
        return (v + minigen.rand(*v.shape, device=v.device)) * (1.0 / LEVELS)

    def loss(self, x):
        """Mean negative log-likelihood in nats per example: of points (exact), or of one
        dequantised draw of images, with the D log 17 that makes it a bound on -log P(v)."""
        if not self.images:
            return -self.log_prob_flow(x).mean()
        # -log P(v) <= -log p_Y((v + u) / 17) + D log 17
        return -self.log_prob_y(self.dequantise(x)).mean() + self.dim * math.log(LEVELS)

    @minigen.no_grad()
    def nll_bound(self, x, draws=10):
        """Per-image bounds on -log P(v) in nats [N]: ``(mean over draws, importance-weighted)``."""
        lp = minigen.stack([self.log_prob_y(self.dequantise(x)) for _ in range(draws)])   # [K, N]
        plain = -lp.mean(0) + self.dim * math.log(LEVELS)
        iw = -(minigen.logsumexp(lp, 0) - math.log(draws)) + self.dim * math.log(LEVELS)
        return plain, iw

    @minigen.no_grad()
    def sample(self, n, temperature=1.0, trajectory=False):
        """``n`` samples: points [n, D], or images [n, C, H, W] in [0, 1] (the inverse logit
        step, then y * 17 / 16 clamped, since y in [0, 1) covers grey levels 0 .. 16 + 1).
        ``trajectory=True`` also returns the points after each inverse coupling."""
        device = self.couplings[0].b.device
        z = temperature * minigen.randn(n, self.dim, device=device)
        path = [z] if trajectory else None
        for c in reversed(self.couplings):
            z = c.inverse(z)
            if trajectory:
                path.append(z)
        if not self.images:
            return (z, path) if trajectory else z
        # y = (sigmoid(w) - a) / (1 - 2a); the grey value v ~ 17 y - 1/2, shown as v / 16
        y = (minigen.sigmoid(z) - ALPHA) * (1.0 / (1.0 - 2.0 * ALPHA))
        img = ((y * LEVELS - 0.5) * (1.0 / (LEVELS - 1))).clamp(0.0, 1.0).reshape(n, *self.image_shape)
        return (img, path) if trajectory else img


def build_realnvp(data="moons", variant="default"):
    """RealNVP for ``'moons'`` (8 couplings, MLP 2-128-128-4) or ``'digits'`` (8 checkerboard
    couplings, MLP 64-128-128-128-128)."""
    spec = DATASETS[data]
    if spec.kind == "points":
        return RealNVP(dim=2, n_couplings=8, hidden=(128, 128))
    if data != "digits":
        raise ValueError(f"realnvp: models two moons or the 8x8 digits (17 grey levels); got {data!r}")
    return RealNVP(dim=64, n_couplings=8, hidden=(128, 128, 128), image_shape=(1, 8, 8))


def evaluate(model, data, k=None, n=2000):
    """Points: test NLL (nats per point) on the fresh points and NN distance of samples.
    Digits: the two bounds on the test images' discrete NLL (nats per image, bits/dim)."""
    from minigen import metrics
    minigen.manual_seed(1234)
    x = data.test_loader.dataset.tensors[0]
    if not model.images:
        from minigen.data import moons_split
        d = moons_split()
        with minigen.no_grad():
            nll = float(-model.log_prob_flow(x).mean().item())
        s = model.sample(n).cpu().numpy()
        return {"test_nll_nats": nll, "nn_distance": metrics.nn_distance(s, d["train"]),
                "upper_share": metrics.mode_share(s, d["train"], d["train_upper"])}
    plain, iw = model.nll_bound(x)
    p, q = float(plain.mean().item()), float(iw.mean().item())
    return {"test_nll_bound_nats": p, "test_bits_per_dim_bound": metrics.bits_per_dim(p, model.dim),
            "test_iw10_bound_nats": q, "test_iw10_bits_per_dim": metrics.bits_per_dim(q, model.dim)}


def _pictures(model, run_dir, data):
    from minigen import plots
    return plots.flow_pictures(model, run_dir, data)


register("realnvp", build_realnvp, Recipe(
    data="moons", steps=5000, batch_size=256, lr=1e-3, variants=("default",),
    per_data={"digits": {"steps": None, "epochs": 30, "batch_size": 64}},
    quick={"steps": 30, "batch_size": 32},
    pictures=_pictures, evaluate=evaluate,
    description="RealNVP affine-coupling flow: two moons, and the 8x8 digits with dequantisation"))
