"""Score matching with annealed Langevin dynamics (Song & Ermon 2019, "Generative Modeling by
Estimating Gradients of the Data Distribution"; the noise-conditional score network, NCSN).

The score. A density p(x) is known up to its normaliser if its score, the gradient of its log,

    s(x) = grad_x log p(x)

is known: Langevin dynamics turns a score into samples. With a step size alpha and z ~ N(0, I),

    x <- x + (alpha / 2) s(x) + sqrt(alpha) z

converges to p as alpha -> 0 and the number of steps grows.

Denoising score matching (Vincent 2011). The score of the data smoothed by Gaussian noise of
width sigma, p_sigma(x~) = integral p(x) N(x~; x, sigma^2 I) dx, is learnt without knowing p: for
x~ = x + sigma z, the regression target grad_{x~} log N(x~; x, sigma^2 I) = -(x~ - x) / sigma^2 =
-z / sigma has the smoothed score as its conditional mean. So

    min_s E_{x, z} || s(x + sigma z, sigma) + z / sigma ||^2

learns s(., sigma) = grad log p_sigma.

Many noise levels. One sigma is not enough: a small one is accurate near the data but says
nothing in the empty space between the modes, where Langevin starts; a large one covers the
space but blurs the data. NCSN learns one network for a geometric ladder sigma_1 > ... > sigma_L
(here 1 -> 0.01, L = 10). Parameterising s(x, sigma_i) = net(x, i) / sigma_i and weighting each
level by sigma_i^2 (Song & Ermon's lambda(sigma) = sigma^2) makes every level's loss the same
size:

    loss = E_{i, x, z} 1/2 || net(x + sigma_i z, i) + z ||^2

(the squared norm summed over coordinates, i uniform per point, averaged over the batch).

Annealed Langevin dynamics. Start from noise, run Langevin at the widest level, then use its
end as the start of the next, down to sigma_L, with steps alpha_i = eps sigma_i^2 / sigma_L^2
(eps = 2e-5) so that the signal-to-noise ratio of every level's steps is the same:

    for i = 1 .. L:   for k = 1 .. K:   x <- x + (alpha_i / 2) s(x, sigma_i) + sqrt(alpha_i) z

Why the modes come out misweighted. Langevin at a level only mixes within the region its noise
connects. The weights of well-separated modes are fixed early, at the wide levels, from where
the chains started, not from the modes' true masses; at the narrow levels a chain cannot cross
between moons in K steps. The share of points on each moon drifts from 0.5 by more than
sampling noise explains (0.46-0.58 in PyTorch's runs of this protocol).
"""
from __future__ import annotations

import math

import numpy

import minigen
from minigen import nn

from .diffusion import PointDenoiser
from .registry import DATASETS, Recipe, register

__all__ = ["geometric_sigmas", "ScoreModel", "build_score", "evaluate"]


def geometric_sigmas(sigma_max=1.0, sigma_min=0.01, L=10):
    """sigma_1 > ... > sigma_L in geometric progression from ``sigma_max`` to ``sigma_min``."""
    if not (sigma_max > sigma_min > 0) or L < 2:
        raise ValueError(f"geometric_sigmas: need sigma_max > sigma_min > 0 and L >= 2, got "
                         f"{sigma_max}, {sigma_min}, {L}")
    return numpy.geomspace(sigma_max, sigma_min, int(L))


class ScoreModel(nn.Module):
    """A noise-conditional score network over 2-D points: s(x, sigma_i) = net(x, i) / sigma_i."""

    def __init__(self, net=None, sigma_max=1.0, sigma_min=0.01, L=10):
        super().__init__()
        self.net = net if net is not None else PointDenoiser(dim=2)
        self.sigma_max, self.sigma_min, self.L = float(sigma_max), float(sigma_min), int(L)
        sigmas = geometric_sigmas(sigma_max, sigma_min, L)
        self.sigmas = tuple(sigmas.tolist())
        self.register_buffer("sigma_table", minigen.tensor(sigmas, dtype=minigen.float32), persistent=False)

    def config(self):
        return {"class": "ScoreModel", "net": self.net.config(), "sigma_max": self.sigma_max,
                "sigma_min": self.sigma_min, "L": self.L}

    def score(self, x, i):
        """s(x, sigma_i) = net(x, i) / sigma_i, for one level index ``i`` (0 = widest)."""
        if not 0 <= int(i) < self.L:
            raise ValueError(f"ScoreModel.score: level i must lie in 0 .. {self.L - 1}, got {i}")
        idx = minigen.full((x.shape[0],), int(i), dtype=minigen.int64, device=x.device)
        return self.net(x, idx) * (1.0 / self.sigmas[int(i)])

    def loss(self, x):
        """1/2 ||net(x + sigma_i z, i) + z||^2, summed over coordinates, averaged over the batch."""
        B = x.shape[0]
        i = minigen.randint(0, self.L, (B,), device=x.device)
        z = minigen.randn(*x.shape, device=x.device)
        sigma = self.sigma_table[i][:, None]
        # x~ = x + sigma_i z
        x_noisy = x + sigma * z
        r = self.net(x_noisy, i) + z
        return 0.5 * (r * r).sum(1).mean()

    @minigen.no_grad()
    def sample(self, n, steps_per_level=100, eps=2e-5, trajectory=False, x0=None):
        """Annealed Langevin from N(0, I): ``steps_per_level`` steps at each sigma_i with
        alpha_i = eps sigma_i^2 / sigma_L^2; no final denoising step. ``trajectory=True`` also
        returns the points at the end of each level."""
        if steps_per_level < 1 or not eps > 0:
            raise ValueError(f"ScoreModel.sample: need steps_per_level >= 1 and eps > 0, got "
                             f"{steps_per_level}, {eps}")
        device = self.sigma_table.device
        x = minigen.randn(n, 2, device=device) if x0 is None else x0.to(device)
        path = [(None, x)] if trajectory else None
        for i, sigma in enumerate(self.sigmas):
            # alpha_i = eps sigma_i^2 / sigma_L^2
            alpha = eps * sigma ** 2 / self.sigmas[-1] ** 2
            for _ in range(steps_per_level):
                # x <- x + alpha_i / 2 s(x, sigma_i) + sqrt(alpha_i) z
                x = x + (alpha / 2) * self.score(x, i) + math.sqrt(alpha) * minigen.randn(*x.shape, device=device)
            if trajectory:
                path.append((sigma, x))
        return (x, path) if trajectory else x


def build_score(data="moons", variant="ncsn"):
    """The NCSN of the two-moons protocol: 10 levels 1 -> 0.01, the DDPM's 2-D MLP."""
    if DATASETS[data].kind != "points":
        raise ValueError(f"score: the score model draws 2-D points; {data!r} is a {DATASETS[data].kind} data set")
    return ScoreModel()


def evaluate(model, data=None, k=None, n=2000):
    """NN distance of ``n`` annealed-Langevin samples to the training points, the same figure for
    fresh points, and the share of samples nearest the upper moon."""
    from minigen import metrics
    from minigen.data import moons_split
    d = moons_split()
    minigen.manual_seed(1234)
    x = model.sample(n).cpu().numpy()
    return {"nn_distance": metrics.nn_distance(x, d["train"]),
            "fresh_nn_distance": metrics.nn_distance(d["test"], d["train"]),
            "upper_share": metrics.mode_share(x, d["train"], d["train_upper"])}


def _pictures(model, run_dir, data):
    from minigen import plots
    return plots.score_pictures(model, run_dir)


register("score", build_score, Recipe(
    data="moons", steps=5000, batch_size=256, lr=1e-3, variants=("ncsn",),
    quick={"steps": 30, "batch_size": 32},
    pictures=_pictures, evaluate=lambda model, data, k=None: evaluate(model, data),
    description="noise-conditional score network + annealed Langevin dynamics on two moons"))
