"""How close are generated 2-D points to the data? Scores for the toy sets (two moons).

* **Nearest-neighbour distance**: the mean, over samples, of the Euclidean distance from a
  sample to its nearest training point. A sampler that puts its points on the data has a small
  figure; the yardstick is the same figure for fresh points drawn from the true distribution
  (0.0095 on the standardised two moons: ``moons_split()['test']``). It cannot see how mass is
  shared between the modes: every point on one moon scores as well as points on both.
* **Mode share**: the fraction of samples whose nearest training point lies in a given subset
  (the upper moon); 0.5 for fresh points (standard error sqrt(0.25 / 2000) = 0.011 for 2,000).
* **Chamfer distance**: the mean of the nearest-neighbour distances in both directions
  (samples to data, data to samples): the second direction does see a missing mode.

Distances are computed exactly in float64, in chunks, so 2,000 x 10,000 pairs take well under
a second.
"""
from __future__ import annotations

import numpy

__all__ = ["as_points", "nearest", "nn_distance", "mode_share", "chamfer_distance"]


def as_points(x, name="samples"):
    """``x`` (a tensor or array ``[N, D]``) as float64 NumPy; a ``ValueError`` for anything else."""
    a = x.cpu().numpy() if hasattr(x, "numpy") and not isinstance(x, numpy.ndarray) else numpy.asarray(x)
    if a.ndim != 2 or a.shape[0] < 1:
        raise ValueError(f"{name}: expected points [N, D] with N >= 1, got shape {list(a.shape)}")
    a = a.astype(numpy.float64)
    if not numpy.isfinite(a).all():
        raise ValueError(f"{name}: {int((~numpy.isfinite(a)).any(1).sum())} of {a.shape[0]} points "
                         "hold NaN or infinite coordinates")
    return a


def nearest(x, data, chunk=1000):
    """``(distance [N], index [N])``: each row of ``x``'s nearest row of ``data``."""
    x, data = as_points(x), as_points(data, "data")
    if x.shape[1] != data.shape[1]:
        raise ValueError(f"nearest: samples have {x.shape[1]} coordinates, data {data.shape[1]}")
    sq = (data ** 2).sum(1)
    dist, idx = numpy.empty(len(x)), numpy.empty(len(x), dtype=numpy.int64)
    for s in range(0, len(x), chunk):
        xs = x[s:s + chunk]
        # ||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2
        d2 = (xs ** 2).sum(1)[:, None] - 2.0 * xs @ data.T + sq[None, :]
        j = d2.argmin(1)
        idx[s:s + chunk] = j
        dist[s:s + chunk] = numpy.sqrt(numpy.maximum(d2[numpy.arange(len(xs)), j], 0.0))
    return dist, idx


def nn_distance(samples, data):
    """Mean distance from each sample to its nearest point of ``data``."""
    return float(nearest(samples, data)[0].mean())


def mode_share(samples, data, in_mode):
    """The fraction of ``samples`` whose nearest point of ``data`` has ``in_mode`` True."""
    in_mode = numpy.asarray(in_mode, dtype=bool)
    data = as_points(data, "data")
    if in_mode.shape != (len(data),):
        raise ValueError(f"mode_share: in_mode must be a bool per data point, shape [{len(data)}], "
                         f"got {list(in_mode.shape)}")
    return float(in_mode[nearest(samples, data)[1]].mean())


def chamfer_distance(samples, data):
    """(mean NN distance samples -> data + mean NN distance data -> samples) / 2."""
    return 0.5 * (nn_distance(samples, data) + nn_distance(data, samples))
