"""Denoising diffusion (Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models"), with
DDIM sampling (Song, Meng & Ermon 2021), classifier-free guidance (Ho & Salimans 2022) and
inpainting (RePaint's simple form, Lugmayr et al. 2022).

The forward process. Noise is added to the data x_0 in T small Gaussian steps with variances
beta_1 .. beta_T (the schedule):

    q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I)

A product of Gaussians is Gaussian, so any step can be drawn in one go. With alpha_t = 1 - beta_t
and alpha_bar_t = prod_{s <= t} alpha_s:

    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,   eps ~ N(0, I)

alpha_bar_t falls from about 1 to about 0, so x_T is (almost) pure noise N(0, I).

The reverse process. Given x_0, the step back is Gaussian too (Bayes on the two forms above):

    q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I)
    mu~_t = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
            + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t
    beta~_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t

The model p(x_{t-1} | x_t) = N(mu_theta(x_t, t), sigma_t^2 I) replaces the unknown x_0 by its
guess from a network eps_theta that predicts the noise in x_t:

    x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_bar_t)
    mu_theta = mu~_t(x_t, x0_hat) = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_t)

with sigma_t^2 = beta_t (this file; beta~_t is the other choice Ho et al. tried).

The objective. The negative ELBO is a sum of KL terms, one per step:

    -log p(x_0) <= L_T + sum_{t>1} L_{t-1} + L_0
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t))
            = ||mu~_t - mu_theta||^2 / (2 sigma_t^2) + (terms without theta)
            = beta_t^2 / (2 sigma_t^2 alpha_t (1 - alpha_bar_t)) ||eps - eps_theta(x_t, t)||^2 + c

Dropping the weight in front gives Ho et al.'s simple loss, which trains better:

    L_simple = E_{t, x_0, eps} ||eps - eps_theta(sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, t)||^2

``loss`` is its mean over the batch and the coordinates; ``nll_bound`` computes the full bound
(with a discretised decoder for L_0), in nats, for images whose pixels take a few grey levels.

DDIM. The same trained eps_theta also defines a non-Markovian process with the same marginals
q(x_t | x_0); on a sub-sequence tau_1 < ... < tau_S of the steps its update is

    x_{tau_{i-1}} = sqrt(alpha_bar_{tau_{i-1}}) x0_hat
                    + sqrt(1 - alpha_bar_{tau_{i-1}} - s_i^2) eps_theta(x_{tau_i}, tau_i) + s_i z
    s_i = eta sqrt((1 - alpha_bar_{tau_{i-1}}) / (1 - alpha_bar_{tau_i})) sqrt(1 - alpha_bar_{tau_i} / alpha_bar_{tau_{i-1}})

eta = 1 is DDPM-like, eta = 0 deterministic: then x_T is a function of x_0, and running the
update the other way (``ddim_invert``) encodes an image into its noise.

Classifier-free guidance. A conditional network eps_theta(x_t, t, y) is trained with the label
replaced by a "no label" token with probability p_uncond, so the one network is also an
unconditional model. Sampling mixes the two predictions with the guidance scale w:

    eps_guided = eps_theta(x_t, t, null) + w (eps_theta(x_t, t, y) - eps_theta(x_t, t, null))

w = 1 is plain conditional sampling, w = 0 unconditional, w > 1 trades diversity for fidelity.

Inpainting. Pixels known at x_0 (mask m = 1) are known at every noise level: at each reverse
step the sample's known part is replaced by a fresh draw of q(x_{t-1} | x_0),

    x_{t-1} <- m * (sqrt(alpha_bar_{t-1}) x_0 + sqrt(1 - alpha_bar_{t-1}) eps) + (1 - m) * x_{t-1}

so the model fills in the rest consistently, with no retraining.

Indexing: the paper's t = 1..T is the code's t = 0..T-1 (``betas[t]`` is beta_{t+1}); the
network sees the code's integer. Images in [0, 1] are mapped to [-1, 1] for the process and
back for the samples; 2-D points are used as they are.
"""
from __future__ import annotations

import copy
import math

import numpy

import minigen
from minigen import nn
from minigen.nn import functional as F

from .registry import DATASETS, Recipe, register

__all__ = ["linear_betas", "cosine_betas", "check_betas", "sinusoidal_embedding", "PointDenoiser",
           "DDPM", "build_ddpm", "evaluate"]


# ----------------------------------------------------------------------------- schedules
def linear_betas(T, beta_1=1e-4, beta_T=0.02):
    """beta_t evenly spaced from ``beta_1`` to ``beta_T`` (Ho et al.: 1e-4 .. 0.02 for T = 1000)."""
    return numpy.linspace(beta_1, beta_T, T, dtype=numpy.float64)


def cosine_betas(T, s=0.008, max_beta=0.999):
    """Nichol & Dhariwal's schedule: alpha_bar(t) = f(t) / f(0), f(t) = cos((t/T + s)/(1 + s) pi/2)^2,
    beta_t = 1 - alpha_bar(t) / alpha_bar(t - 1), clipped at ``max_beta`` (near t = T)."""
    f = numpy.cos((numpy.arange(T + 1) / T + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return numpy.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], max_beta)


def check_betas(betas):
    """``betas`` as float64 after checking that they make a schedule: each in (0, 1), so that
    alpha_bar_t = prod (1 - beta_s) is strictly decreasing and never reaches 0."""
    b = numpy.asarray(betas, dtype=numpy.float64)
    if b.ndim != 1 or b.size < 1:
        raise ValueError(f"betas: expected a 1-d schedule of T >= 1 values, got shape {list(b.shape)}")
    bad = numpy.flatnonzero(~((b > 0) & (b < 1)))
    if bad.size:
        raise ValueError(f"betas: every beta_t must lie in (0, 1) so that alpha_bar_t = prod(1 - beta_s) "
                         f"decreases strictly and stays above 0; beta[{bad[0]}] = {b[bad[0]]!r}")
    alpha_bar = numpy.cumprod(1.0 - b)
    if alpha_bar[-1] <= 0 or not numpy.isfinite(alpha_bar).all():
        raise ValueError(f"betas: alpha_bar_T = {alpha_bar[-1]!r} underflows to 0; use fewer or smaller betas")
    return b


SCHEDULES = {"linear": linear_betas, "cosine": cosine_betas}


# ----------------------------------------------------------------------------- the network for 2-D points
def sinusoidal_embedding(t, dim, max_period=10000.0):
    """The Transformer's position code of the integers ``t`` [B]: [sin(t f_i), cos(t f_i)] with
    f_i = exp(-ln(max_period) i / (dim/2)), i = 0 .. dim/2 - 1; float32 [B, dim]."""
    if dim % 2:
        raise ValueError(f"sinusoidal_embedding: dim must be even, got {dim}")
    half = dim // 2
    # f_i = exp(-ln(max_period) i / half)
    freqs = minigen.exp(minigen.arange(half, dtype=minigen.float32, device=t.device)
                        * (-math.log(max_period) / half))
    angle = t.to(minigen.float32)[:, None] * freqs[None, :]
    return minigen.cat([minigen.sin(angle), minigen.cos(angle)], dim=1)


class PointDenoiser(nn.Module):
    """eps_theta for D-dimensional points: [x, emb(t)] -> ``depth`` x ``width`` ReLU -> D.
    Also the score network of ``score.py`` (there t is the noise level's index)."""

    def __init__(self, dim=2, width=128, depth=3, emb_dim=32):
        super().__init__()
        self.dim, self.width, self.depth, self.emb_dim = dim, width, depth, emb_dim
        sizes = [dim + emb_dim] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(width, dim)

    def config(self):
        return {"class": "PointDenoiser", "dim": self.dim, "width": self.width, "depth": self.depth,
                "emb_dim": self.emb_dim}

    def forward(self, x, t, y=None):
        if y is not None:
            raise ValueError("PointDenoiser: the 2-D denoiser takes no labels (y must be None)")
        h = minigen.cat([x, sinusoidal_embedding(t, self.emb_dim)], dim=1)
        for layer in self.hidden:
            h = F.relu(layer(h))
        return self.out(h)


# ----------------------------------------------------------------------------- the process
class DDPM(nn.Module):
    """The diffusion process around a noise-predicting network ``net(x_t, t, y) -> eps``.

    Args:
        net: the denoiser (``PointDenoiser`` for points, ``unet.UNet`` for images).
        shape: the shape of one example: ``(2,)`` for points, ``(C, H, W)`` for images.
        T: the number of noise levels; ``schedule``: ``'linear'`` or ``'cosine'`` (or ``betas``,
            an explicit array of T values).
        images: True for images in [0, 1] (mapped to [-1, 1], samples clamped there).
        num_classes: for classifier-free guidance: labels 0 .. num_classes - 1, and the "no
            label" token ``num_classes``; ``p_uncond``: how often training drops the label.
        ema_decay: keep an exponential moving average of the network's weights, updated after
            every optimizer step (``after_step``), theta_ema <- d theta_ema + (1 - d) theta with
            d = min(ema_decay, (1 + n) / (10 + n)) at step n; in eval mode the sampler uses it.
            None: no average.
    """

    def __init__(self, net, shape, T=1000, schedule="linear", betas=None, images=True,
                 num_classes=None, p_uncond=0.1, ema_decay=None):
        super().__init__()
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"DDPM: ema_decay must lie in (0, 1) or be None, got {ema_decay}")
        if betas is None and schedule not in SCHEDULES:
            raise ValueError(f"DDPM: schedule must be one of {sorted(SCHEDULES)}, got {schedule!r}")
        if not 0.0 <= p_uncond < 1.0:
            raise ValueError(f"DDPM: p_uncond is a probability in [0, 1), got {p_uncond}")
        b = check_betas(SCHEDULES[schedule](int(T)) if betas is None else betas)
        self.net, self.shape, self.T = net, tuple(shape), b.size
        self.schedule = schedule if betas is None else "custom"
        self._betas = None if betas is None else b.tolist()
        self.images, self.num_classes, self.p_uncond = bool(images), num_classes, float(p_uncond)
        self.conditional = num_classes is not None
        self.ema_decay = ema_decay
        if ema_decay is not None:
            self.ema_net = copy.deepcopy(net).requires_grad_(False)
            self.register_buffer("ema_steps", minigen.zeros((), dtype=minigen.int64))
        alpha_bar = numpy.cumprod(1.0 - b)
        # host copies (Python floats, so a tensor times one keeps its dtype) for the per-step
        # scalars of sampling
        self.beta, self.alpha, self.alpha_bar = tuple(b.tolist()), tuple((1.0 - b).tolist()), tuple(alpha_bar.tolist())
        # device copies (float32) for the per-example factors of training
        self.register_buffer("sqrt_ab", minigen.tensor(numpy.sqrt(alpha_bar), dtype=minigen.float32),
                             persistent=False)
        self.register_buffer("sqrt_1m_ab", minigen.tensor(numpy.sqrt(1.0 - alpha_bar),
                                                          dtype=minigen.float32), persistent=False)

    def config(self):
        return {"class": "DDPM", "net": self.net.config(), "shape": list(self.shape), "T": self.T,
                "schedule": self.schedule, "images": self.images, "num_classes": self.num_classes,
                "p_uncond": self.p_uncond, "ema_decay": self.ema_decay,
                **({"betas": self._betas} if self._betas is not None else {})}

    def parameters(self, recurse=True):
        # the average is not trained: the optimizer sees the network's own weights only
        return self.net.parameters(recurse)

    @minigen.no_grad()
    def after_step(self):
        """theta_ema <- d theta_ema + (1 - d) theta, d = min(ema_decay, (1 + n) / (10 + n))."""
        if self.ema_decay is None:
            return
        # d as a 0-d tensor on the device: no host sync per step
        n = self.ema_steps.to(minigen.float32)
        d = minigen.clamp_max((1.0 + n) / (10.0 + n), self.ema_decay)
        for pe, p in zip(self.ema_net.parameters(), self.net.parameters()):
            pe.mul_(d).add_(p.detach() * (1.0 - d))
        self.ema_steps.add_(1)

    def denoiser(self):
        """The network the sampler uses: the weight average in eval mode (when kept), else the
        trained weights."""
        return self.ema_net if (self.ema_decay is not None and not self.training) else self.net

    # ------------------------------------------------------------------ helpers
    def _per_example(self, table, t):
        # table[t] as [B, 1, ..., 1], to broadcast against a batch of examples
        return table[t].reshape(t.shape[0], *([1] * len(self.shape)))

    def _check_t(self, t):
        if isinstance(t, int):
            lo = hi = t
        else:
            if t.dtype not in (minigen.int64, minigen.int32):
                raise ValueError(f"DDPM: timesteps must be integers (int64), got {t.dtype}")
            lo, hi = int(t.min().item()), int(t.max().item())
        if lo < 0 or hi >= self.T:
            raise ValueError(f"DDPM: timestep t must lie in 0 .. {self.T - 1} (T = {self.T}), got {lo} .. {hi}")

    def _check_labels(self, y, n):
        if not self.conditional:
            if y is not None:
                raise ValueError("DDPM: this model was trained without labels; labels must be None")
            return None
        if y is None:
            return None
        y = y if isinstance(y, minigen.Tensor) else minigen.tensor(list(y), dtype=minigen.int64)
        y = y.to(self.sqrt_ab.device)
        if y.shape != (n,):
            raise ValueError(f"DDPM: labels must be one class per example, shape [{n}], got {list(y.shape)}")
        lo, hi = minigen.stack(y.aminmax()).tolist()  # one read of the device, not two
        if lo < 0 or hi >= self.num_classes:
            raise ValueError(f"DDPM: labels must lie in 0 .. {self.num_classes - 1}, got {lo} .. {hi}")
        return y

    def to_process(self, x):
        """Data -> the space the noise is added in: images [0, 1] -> [-1, 1]; points unchanged."""
        return x * 2.0 - 1.0 if self.images else x

    def from_process(self, x):
        return ((x + 1.0) * 0.5).clamp(0.0, 1.0) if self.images else x

    def q_sample(self, x0, t, eps, check=True):
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps (x_0 in the process's space;
        ``t`` int64 [B] in 0 .. T-1, checked unless ``check=False``)."""
        if check:
            self._check_t(t)
        return self._per_example(self.sqrt_ab, t) * x0 + self._per_example(self.sqrt_1m_ab, t) * eps

    # ------------------------------------------------------------------ training
    def loss(self, x, y=None):
        """L_simple: mean over the batch and coordinates of ||eps - eps_theta(x_t, t, y)||^2, with
        t uniform on 0 .. T-1 per example; for a guided model, y is dropped with prob. p_uncond."""
        x0 = self.to_process(x)
        B = x0.shape[0]
        t = minigen.randint(0, self.T, (B,), device=x0.device)
        eps = minigen.randn(*x0.shape, device=x0.device)
        if self.conditional:
            if y is None:
                raise ValueError("DDPM: a guided model trains on (x, labels); got no labels")
            y = self._check_labels(y, B)
            # y <- null with probability p_uncond
            drop = minigen.rand(B, device=x0.device) < self.p_uncond
            y = minigen.where(drop, minigen.full((B,), self.num_classes, dtype=minigen.int64, device=x0.device), y)
        # x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps
        x_t = self.q_sample(x0, t, eps, check=False)
        return F.mse_loss(self.net(x_t, t, y), eps)

    # ------------------------------------------------------------------ the reverse step
    def eps(self, x_t, t_int, y=None, guidance=1.0):
        """eps_theta(x_t, t) at one integer step for the whole batch; with labels and guidance w,
        eps(null) + w (eps(y) - eps(null)) (w = 1: one conditional call)."""
        B = x_t.shape[0]
        net = self.denoiser()
        t = minigen.full((B,), int(t_int), dtype=minigen.int64, device=x_t.device)
        if y is None or not self.conditional:
            null = None if not self.conditional else minigen.full((B,), self.num_classes, dtype=minigen.int64,
                                                                  device=x_t.device)
            return net(x_t, t, null)
        if guidance == 1.0:
            return net(x_t, t, y)
        null = minigen.full((B,), self.num_classes, dtype=minigen.int64, device=x_t.device)
        both = net(minigen.cat([x_t, x_t]), minigen.cat([t, t]), minigen.cat([y, null]))
        e_y, e_null = both[:B], both[B:]
        # eps_guided = eps(null) + w (eps(y) - eps(null))
        return e_null + guidance * (e_y - e_null)

    def x0_hat(self, x_t, t_int, eps):
        """x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t), clamped to [-1, 1] for images."""
        ab = self.alpha_bar[t_int]
        x0 = (x_t - math.sqrt(1.0 - ab) * eps) * (1.0 / math.sqrt(ab))
        return x0.clamp(-1.0, 1.0) if self.images else x0

    def p_step(self, x_t, t_int, y=None, guidance=1.0):
        """One ancestral step x_t -> x_{t-1} ~ N(mu~_t(x_t, x0_hat), beta_t I) (no noise at t = 0)."""
        self._check_t(t_int)
        eps = self.eps(x_t, t_int, y, guidance)
        x0 = self.x0_hat(x_t, t_int, eps)
        b, a, ab = self.beta[t_int], self.alpha[t_int], self.alpha_bar[t_int]
        ab_prev = self.alpha_bar[t_int - 1] if t_int > 0 else 1.0
        # mu~_t = sqrt(ab_{t-1}) beta_t / (1 - ab_t) x0_hat + sqrt(alpha_t) (1 - ab_{t-1}) / (1 - ab_t) x_t
        mean = (math.sqrt(ab_prev) * b / (1.0 - ab)) * x0 + (math.sqrt(a) * (1.0 - ab_prev) / (1.0 - ab)) * x_t
        if t_int == 0:
            return mean
        # x_{t-1} = mu + sigma_t z,  sigma_t^2 = beta_t
        return mean + math.sqrt(b) * minigen.randn(*x_t.shape, device=x_t.device)

    def ddim_times(self, steps):
        """tau_1 < ... < tau_S: ``steps`` of the T levels, evenly spaced, ending at T - 1."""
        steps = int(steps)
        if not 1 <= steps <= self.T:
            raise ValueError(f"DDIM: steps must lie in 1 .. {self.T} (the model was trained with T = "
                             f"{self.T} levels), got {steps}")
        return [int(v) for v in numpy.unique(numpy.linspace(0, self.T - 1, steps).round().astype(int))]

    def ddim_step(self, x_t, t_int, t_prev, y=None, guidance=1.0, eta=0.0):
        """x_{tau_i} -> x_{tau_{i-1}} (t_prev = -1: to x_0)."""
        self._check_t(t_int)
        if not -1 <= t_prev < t_int:
            raise ValueError(f"DDPM.ddim_step: t_prev must lie in -1 .. t - 1 = {t_int - 1}, got {t_prev}")
        eps = self.eps(x_t, t_int, y, guidance)
        x0 = self.x0_hat(x_t, t_int, eps)
        ab = self.alpha_bar[t_int]
        ab_prev = self.alpha_bar[t_prev] if t_prev >= 0 else 1.0
        # s_i = eta sqrt((1 - ab_prev) / (1 - ab)) sqrt(1 - ab / ab_prev)
        s = eta * math.sqrt((1.0 - ab_prev) / (1.0 - ab)) * math.sqrt(max(1.0 - ab / ab_prev, 0.0))
        # the predicted noise is re-derived from the clamped x0_hat so both terms agree
        eps = (x_t - math.sqrt(ab) * x0) * (1.0 / math.sqrt(1.0 - ab)) if self.images else eps
        # x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev - s^2) eps + s z
        out = math.sqrt(ab_prev) * x0 + math.sqrt(max(1.0 - ab_prev - s * s, 0.0)) * eps
        if s > 0:
            out = out + s * minigen.randn(*x_t.shape, device=x_t.device)
        return out

    # ------------------------------------------------------------------ sampling
    @minigen.no_grad()
    def sample(self, n, labels=None, sampler="ddpm", steps=None, guidance=1.0, eta=0.0,
               trajectory=False, x_T=None):
        """``n`` samples: images [n, C, H, W] in [0, 1], or points [n, D].

        ``sampler``: ``'ddpm'`` (ancestral, all T steps) or ``'ddim'`` (``steps`` of them,
        default min(50, T), ``eta`` = 0 deterministic). ``labels`` (guided models): one digit per sample;
        ``guidance``: the scale w. ``trajectory=True`` also returns the list of intermediate
        x_t (in data space) with their step indices. ``x_T``: start from this noise.
        """
        if sampler not in ("ddpm", "ddim"):
            raise ValueError(f"DDPM.sample: sampler must be 'ddpm' or 'ddim', got {sampler!r}")
        if sampler == "ddpm" and steps not in (None, self.T):
            raise ValueError(f"DDPM.sample: ancestral sampling runs all T = {self.T} steps; use "
                             f"sampler='ddim' for {steps}")
        if not math.isfinite(guidance) or guidance < 0:
            raise ValueError(f"DDPM.sample: guidance must be a finite scale >= 0, got {guidance}")
        device = self.sqrt_ab.device
        y = self._check_labels(labels, n)
        if guidance != 1.0 and y is None:
            raise ValueError("DDPM.sample: guidance needs labels (a guided model and the digits to draw)")
        x = minigen.randn(n, *self.shape, device=device) if x_T is None else x_T.to(device)
        path = [(self.T, self.from_process(x))] if trajectory else None
        if sampler == "ddpm":
            for t in range(self.T - 1, -1, -1):
                x = self.p_step(x, t, y, guidance)
                if trajectory:
                    path.append((t, self.from_process(x)))
        else:
            times = self.ddim_times(min(50, self.T) if steps is None else steps)
            for i in range(len(times) - 1, -1, -1):
                x = self.ddim_step(x, times[i], times[i - 1] if i > 0 else -1, y, guidance, eta)
                if trajectory:
                    path.append((times[i - 1] if i > 0 else 0, self.from_process(x)))
        out = self.from_process(x)
        return (out, path) if trajectory else out

    @minigen.no_grad()
    def ddim_invert(self, x, steps=50, labels=None):
        """x_0 -> x_T by running the deterministic DDIM update forwards:
        x_{tau_{i+1}} = sqrt(ab_{i+1}) x0_hat(x_{tau_i}) + sqrt(1 - ab_{i+1}) eps_theta(x_{tau_i}, tau_i).
        ``sample(sampler='ddim', steps=steps, x_T=...)`` maps it back (approximately)."""
        y = self._check_labels(labels, x.shape[0])
        times = self.ddim_times(steps)
        h = self.to_process(x.to(self.sqrt_ab.device))
        prev = -1
        for t in times:
            # the noise estimated at the current level, used to step to level t
            t_eval = max(prev, 0)
            eps = self.eps(h, t_eval, y)
            ab_cur = self.alpha_bar[prev] if prev >= 0 else 1.0
            x0 = (h - math.sqrt(1.0 - ab_cur) * eps) * (1.0 / math.sqrt(ab_cur))
            ab = self.alpha_bar[t]
            h = math.sqrt(ab) * x0 + math.sqrt(1.0 - ab) * eps
            prev = t
        return h

    @minigen.no_grad()
    def inpaint(self, x, mask, labels=None, guidance=1.0):
        """Complete images ``x`` [n, C, H, W] in [0, 1] where ``mask`` is 0 (1 = known pixel):
        ancestral sampling with the known pixels replaced, at every step, by x_0 noised to that
        level (RePaint without resampling)."""
        if not self.images:
            raise ValueError("DDPM.inpaint: inpainting is for image models")
        device = self.sqrt_ab.device
        x0 = self.to_process(x.to(device))
        m = mask.to(device).to(x0.dtype)
        if tuple(m.shape[-3:]) != self.shape:
            raise ValueError(f"DDPM.inpaint: mask must have the image shape {list(self.shape)} "
                             f"(or [n, *shape]), got {list(m.shape)}")
        y = self._check_labels(labels, x0.shape[0])
        h = minigen.randn(*x0.shape, device=device)
        for t in range(self.T - 1, -1, -1):
            h = self.p_step(h, t, y, guidance)
            if t > 0:
                ab = self.alpha_bar[t - 1]
                known = math.sqrt(ab) * x0 + math.sqrt(1.0 - ab) * minigen.randn(*x0.shape, device=device)
            else:
                known = x0
            # x_{t-1} <- m * q(x_{t-1} | x_0) + (1 - m) * x_{t-1}
            h = m * known + (1.0 - m) * h
        return self.from_process(h)

    # ------------------------------------------------------------------ the bound
    @minigen.no_grad()
    def nll_bound(self, x, levels=17, labels=None):
        """The negative ELBO -log p(x_0) <= L_T + sum_t L_{t-1} + L_0 of images ``x`` in [0, 1]
        whose pixels take ``levels`` evenly spaced grey levels, in nats per image [N]
        (one draw of x_t per term). L_0 is the discretised Gaussian decoder of Ho et al.: the
        mass of N(mu_theta(x_1, 1), beta_1) on the pixel's bin (the edge bins open-ended)."""
        if not self.images:
            raise ValueError("DDPM.nll_bound: the discrete bound is for images")
        device = self.sqrt_ab.device
        x0 = self.to_process(x.to(device))
        y = self._check_labels(labels, x0.shape[0])
        D = math.prod(self.shape)
        axes = tuple(range(1, 1 + len(self.shape)))
        # L_T = KL(q(x_T | x_0) || N(0, I))
        ab = self.alpha_bar[-1]
        m2 = (x0 * x0).sum(axes) * ab
        total = 0.5 * (m2 + D * ((1.0 - ab) - 1.0 - math.log(1.0 - ab)))
        for t in range(self.T - 1, 0, -1):
            eps = minigen.randn(*x0.shape, device=device)
            ab, ab_prev, b, a = self.alpha_bar[t], self.alpha_bar[t - 1], self.beta[t], self.alpha[t]
            x_t = math.sqrt(ab) * x0 + math.sqrt(1.0 - ab) * eps
            c0, ct = math.sqrt(ab_prev) * b / (1.0 - ab), math.sqrt(a) * (1.0 - ab_prev) / (1.0 - ab)
            mu_q = c0 * x0 + ct * x_t
            mu_p = c0 * self.x0_hat(x_t, t, self.eps(x_t, t, y)) + ct * x_t
            var_q, var_p = (1.0 - ab_prev) / (1.0 - ab) * b, b
            # KL(N(mu_q, var_q) || N(mu_p, var_p)), summed over the D coordinates
            d = mu_q - mu_p
            total = total + 0.5 * ((d * d).sum(axes) / var_p + D * (var_q / var_p - 1.0 + math.log(var_p / var_q)))
        # L_0 = -log of the Gaussian's mass on each pixel's bin
        eps = minigen.randn(*x0.shape, device=device)
        x_1 = math.sqrt(self.alpha_bar[0]) * x0 + math.sqrt(1.0 - self.alpha_bar[0]) * eps
        mu = self.x0_hat(x_1, 0, self.eps(x_1, 0, y))
        sd, half = math.sqrt(self.beta[0]), 1.0 / (levels - 1)
        cdf = lambda v: 0.5 * (1.0 + minigen.erf(v * (1.0 / math.sqrt(2.0))))  # noqa: E731
        hi = minigen.where(x0 > 1.0 - 1e-3, minigen.ones_like(x0), cdf((x0 + half - mu) / sd))
        lo = minigen.where(x0 < -1.0 + 1e-3, minigen.zeros_like(x0), cdf((x0 - half - mu) / sd))
        total = total - minigen.log((hi - lo).clamp_min(1e-12)).sum(axes)
        return total


# ----------------------------------------------------------------------------- registry
def build_ddpm(data="digits", variant="uncond", T=None, schedule="linear", channels=None, ema_decay=0.999):
    """A DDPM sized for ``data``: an MLP on ``'moons'`` (T = 100), a UNet on the images
    (T = 1000). Variants: ``'uncond'``, ``'guided'`` (classifier-free guidance on the digit)."""
    spec = DATASETS[data]
    if spec.kind == "points":
        if variant != "uncond":
            raise ValueError(f"ddpm: the 2-D toy set has no labels; variant {variant!r} needs images")
        return DDPM(PointDenoiser(dim=2), (2,), T=T or 100, schedule=schedule, images=False)
    if spec.kind != "images":
        raise ValueError(f"ddpm: models images or 2-D points; {data!r} is a {spec.kind} data set")
    from .unet import UNet
    C, H, W = spec.shape
    small = H <= 16
    ch = tuple(channels) if channels is not None else ((32, 64) if small else (32, 64, 64))
    num_classes = 10 if variant == "guided" else None
    net = UNet(C, channels=ch, num_classes=num_classes)
    return DDPM(net, spec.shape, T=T or 1000, schedule=schedule, images=True, num_classes=num_classes,
                ema_decay=ema_decay)


def evaluate(model, data, k=None, n=2000):
    """Sample scores: for points, the NN distance to the training set and the upper-moon share;
    for images, the digit classifier's scores (FD, classes, precision/recall) and, on the 8x8
    digits, the bound in bits/dim."""
    from minigen import metrics
    minigen.manual_seed(1234)
    if not model.images:
        from minigen.data import moons_split
        d = moons_split()
        x = model.sample(n).cpu().numpy()
        return {"nn_distance": metrics.nn_distance(x, d["train"]),
                "fresh_nn_distance": metrics.nn_distance(d["test"], d["train"]),
                "upper_share": metrics.mode_share(x, d["train"], d["train_upper"])}
    real = data.test_images()
    out = {}
    labels = None
    n_img = min(n, 1000)
    if model.conditional:
        labels = minigen.tensor(numpy.arange(n_img) % 10, dtype=minigen.int64)
    x = model.sample(n_img, labels=labels, sampler="ddim")
    s = metrics.score_images(x, real=real)
    keep = {"frechet_distance_digit_classifier": "sample_fd", "classes_covered": "sample_classes",
            "precision": "sample_precision", "recall": "sample_recall",
            "memorisation_ratio": "sample_memorisation_ratio"}
    out.update({name: float(s[key]) for key, name in keep.items() if key in s})
    if model.conditional:
        _, logits = metrics.classify(x)
        out["label_agreement"] = float((logits.argmax(1) == numpy.arange(n_img) % 10).mean())
    if tuple(model.shape) == (1, 8, 8):
        nats = float(model.nll_bound(real[:500]).mean().item())
        out["test_nll_bound_nats"] = nats
        out["test_bits_per_dim_bound"] = metrics.bits_per_dim(nats, 64)
    return out


def _pictures(model, run_dir, data):
    from minigen import plots
    return plots.diffusion_pictures(model, run_dir, data)


def _evaluate(model, data, k=None):
    return evaluate(model, data)


register("ddpm", build_ddpm, Recipe(
    data="digits", steps=4000, batch_size=64, lr=1e-3, variants=("guided", "uncond"),
    per_data={"moons": {"steps": 5000, "batch_size": 256, "variants": ("uncond",)},
              "mnist": {"steps": 6000, "batch_size": 64}},
    per_variant={"guided": {"data_options": {"labels": True}}},
    quick={"steps": 30, "batch_size": 16, "model_options": {"T": 20}},
    pictures=_pictures, evaluate=_evaluate,
    description="denoising diffusion: epsilon-prediction MLP on two moons, UNet on digits; DDIM, guidance, inpainting"))
