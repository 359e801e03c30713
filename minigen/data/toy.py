"""Two-dimensional toy distributions for density models, flows, GANs and diffusion.

Each is a few lines of NumPy, seeded, so a 2-d model can be trained and its samples plotted
in seconds. The raw shapes are then shifted and scaled by fixed constants (measured once on a
million points) so every dataset has mean about 0 and overall standard deviation about 1:
a model's learning rate and noise schedule then carry over from one dataset to the next.
The scale is the same on both axes, so shapes keep their aspect ratio.

``noise`` is the standard deviation of Gaussian jitter added to every raw point, before the
scaling (for '8gaussians' it is the width of each blob). ``noise=None`` uses the default
listed in ``NOISE``.
"""
from __future__ import annotations

import numpy

from ..creation import from_numpy


def _moons(rng, n, noise):
    # two interleaved half circles: (cos t, sin t) and (1 - cos t, 1/2 - sin t), t in [0, pi]
    n_out = n // 2
    t = rng.uniform(0.0, numpy.pi, n)
    outer = numpy.stack([numpy.cos(t), numpy.sin(t)], 1)
    inner = numpy.stack([1.0 - numpy.cos(t), 0.5 - numpy.sin(t)], 1)
    return numpy.where((numpy.arange(n) < n_out)[:, None], outer, inner)


def _circles(rng, n, noise):
    # two concentric circles, radius 1 and 1/2
    t = rng.uniform(0.0, 2 * numpy.pi, n)
    r = numpy.where(numpy.arange(n) < n // 2, 1.0, 0.5)
    return r[:, None] * numpy.stack([numpy.cos(t), numpy.sin(t)], 1)


def _eight_gaussians(rng, n, noise):
    # eight blobs evenly spaced on a circle of radius 2
    angle = rng.integers(0, 8, n) * (numpy.pi / 4)
    return 2.0 * numpy.stack([numpy.cos(angle), numpy.sin(angle)], 1)


def _swissroll(rng, n, noise):
    # the 2-d swiss roll: (t cos t, t sin t), t in [1.5 pi, 4.5 pi]
    t = 1.5 * numpy.pi * (1.0 + 2.0 * rng.random(n))
    return numpy.stack([t * numpy.cos(t), t * numpy.sin(t)], 1)


def _checkerboard(rng, n, noise):
    # uniform on the black squares of a 4x4 board on [-2, 2]^2
    x = rng.uniform(-2.0, 2.0, n)
    y = rng.random(n) - 2.0 * rng.integers(0, 2, n) + numpy.floor(x) % 2
    return numpy.stack([x, y], 1)


def _spirals(rng, n, noise):
    # two spirals, point-symmetric: r = theta, theta in [0, 3 pi]
    theta = numpy.sqrt(rng.random(n)) * 3 * numpy.pi
    arm = numpy.stack([-numpy.cos(theta) * theta, numpy.sin(theta) * theta], 1)
    return numpy.where((numpy.arange(n) < n // 2)[:, None], arm, -arm)


_MAKERS = {"moons": _moons, "circles": _circles, "8gaussians": _eight_gaussians,
           "swissroll": _swissroll, "checkerboard": _checkerboard, "spirals": _spirals}
NOISE = {"moons": 0.05, "circles": 0.05, "8gaussians": 0.2, "swissroll": 0.5,
         "checkerboard": 0.0, "spirals": 0.1}
# (mean x, mean y, std) of each raw shape with its default noise, from 10^6 points
_NORM = {
    "moons": (0.5, 0.25, 0.707),
    "circles": (0.0, 0.0, 0.56),
    "8gaussians": (0.0, 0.0, 1.428),
    "swissroll": (2.0, 0.22, 6.81),
    "checkerboard": (0.0, 0.0, 1.155),
    "spirals": (0.0, 0.0, 4.71),
}
NAMES = tuple(_MAKERS)


def toy2d(name, n=1000, seed=0, noise=None):
    """``n`` points of the 2-d toy distribution ``name``, as a float32 cpu tensor ``[n, 2]``.

    Names: 'moons', 'circles', '8gaussians', 'swissroll', 'checkerboard', 'spirals'.
    The same ``(name, n, seed, noise)`` always gives the same points; rows are shuffled, so a
    slice of them is a fair sample of the whole shape.
    """
    if name not in _MAKERS:
        raise ValueError(f"toy2d: unknown dataset {name!r}; choose one of {', '.join(NAMES)}")
    n = int(n)
    if n < 1:
        raise ValueError(f"toy2d: n must be a positive number of points, got {n}")
    noise = NOISE[name] if noise is None else float(noise)
    if noise < 0:
        raise ValueError(f"toy2d: noise is a standard deviation and must be >= 0, got {noise}")
    rng = numpy.random.default_rng(seed)
    x = _MAKERS[name](rng, n, noise)
    x = x + noise * rng.standard_normal((n, 2))
    x = x[rng.permutation(n)]
    mx, my, s = _NORM[name]
    x = (x - numpy.array([mx, my])) / s
    return from_numpy(numpy.ascontiguousarray(x, dtype=numpy.float32))


def two_moons(seed=0, n_per_moon=5000, noise=0.05):
    """The raw two-moons points of the diffusion/flow protocol, and which moon each is on.

    ``rng = default_rng(seed)``; t_up and t_lo are ``rng.uniform(0, pi, n_per_moon)`` in that
    order; the upper moon is (cos t, sin t), the lower (1 - cos t, 1/2 - sin t); stacked
    (upper first) plus ``rng.normal(0, noise, (2 n, 2))``. Returns NumPy float64 ``[2n, 2]``
    and a bool ``[2n]`` (True on the upper moon). Unlike ``toy2d``, nothing is shuffled or
    rescaled: ``moons_split`` standardises with the training statistics.
    """
    rng = numpy.random.default_rng(seed)
    t_up = rng.uniform(0.0, numpy.pi, n_per_moon)
    t_lo = rng.uniform(0.0, numpy.pi, n_per_moon)
    upper = numpy.stack([numpy.cos(t_up), numpy.sin(t_up)], 1)
    lower = numpy.stack([1.0 - numpy.cos(t_lo), 0.5 - numpy.sin(t_lo)], 1)
    x = numpy.concatenate([upper, lower]) + rng.normal(0.0, noise, (2 * n_per_moon, 2))
    return x, numpy.arange(2 * n_per_moon) < n_per_moon


def moons_split():
    """The two-moons protocol of the diffusion, score and flow models: 10,000 training points
    (``two_moons(0, 5000)``) and 2,000 fresh ones (``two_moons(1, 1000)``), both standardised
    per coordinate with the training mean and population standard deviation.

    Returns a dict of NumPy arrays: ``train`` float32 [10000, 2], ``test`` float32 [2000, 2],
    ``train_upper`` / ``test_upper`` (bool: on the upper moon), ``mean``, ``std`` (float64 [2]).
    """
    raw, up = two_moons(0, 5000)
    fresh, fresh_up = two_moons(1, 1000)
    mean, std = raw.mean(0), raw.std(0)
    return {"train": ((raw - mean) / std).astype(numpy.float32),
            "test": ((fresh - mean) / std).astype(numpy.float32),
            "train_upper": up, "test_upper": fresh_up, "mean": mean, "std": std}
