"""``torch.gradient`` (finite differences), ``torch.histogramdd`` and the count samplers
``torch.poisson`` / ``torch.binomial``.

torch.gradient(f, spacing, dim, edge_order) estimates df/dx_d along each dim d by second-order
central differences in the interior and one-sided differences at the two ends:

    uniform spacing h:   f'_i = (f_{i+1} - f_{i-1}) / 2h
                         ends (edge_order=1): (f_1 - f_0) / h,  (f_{n-1} - f_{n-2}) / h
                         ends (edge_order=2): (-3 f_0 + 4 f_1 - f_2) / 2h,
                                              (3 f_{n-1} - 4 f_{n-2} + f_{n-3}) / 2h
    coordinates x (hl = x_i - x_{i-1}, hr = x_{i+1} - x_i):
        f'_i = (hl^2 f_{i+1} - hr^2 f_{i-1} + (hr^2 - hl^2) f_i) / (hl hr (hl + hr))
        and the matching one-sided second-order weights at the ends (exact for quadratics)

Each estimate is a weighted sum of slices of f, so it is differentiable in f (the weights are
constants). histogramdd counts (or weighs) the rows of an (..., D) input into a D-dimensional
grid of bins, each bin [e_k, e_{k+1}) with the last edge inclusive, as PyTorch (and NumPy);
it is computed on the host and carries no gradient. poisson and binomial draw from the device's
seeded generator and carry no gradient (PyTorch's poisson has a zero gradient; binomial none).
"""
from __future__ import annotations

import builtins
import numbers
from collections import namedtuple

import numpy

from .. import backend as B
from ..autograd import Tensor, _wrap
from .join import cat

__all__ = ["gradient", "histogramdd", "poisson", "binomial"]

histogramdd_result = namedtuple("histogramdd", ["hist", "bin_edges"])


def _host(a):
    """A NumPy copy of a device array (the array itself on the CPU)."""
    return B.backend_of(a).to_numpy(a)


def _slice(f, dim, lo, hi):
    idx = [slice(None)] * f.ndim
    idx[dim] = slice(lo, hi)
    return f[tuple(idx)]


def _along(w, dim, ndim, like):
    """A 1-D weight array shaped to broadcast along ``dim`` of an ``ndim``-D tensor."""
    shape = [1] * ndim
    shape[dim] = -1
    return _wrap(like.xp.asarray(numpy.asarray(w, dtype=like.array.dtype)).reshape(shape))


def _diff_uniform(f, dim, h, edge_order):
    n = f.shape[dim]
    s = lambda lo, hi: _slice(f, dim, lo, hi)  # noqa: E731
    mid = (s(2, n) - s(0, n - 2)) / (2.0 * h)
    if edge_order == 1:
        first = (s(1, 2) - s(0, 1)) / h
        last = (s(n - 1, n) - s(n - 2, n - 1)) / h
    else:
        first = (s(0, 1) * -3.0 + s(1, 2) * 4.0 - s(2, 3)) / (2.0 * h)
        last = (s(n - 1, n) * 3.0 - s(n - 2, n - 1) * 4.0 + s(n - 3, n - 2)) / (2.0 * h)
    return cat([first, mid, last], dim)


def _diff_coords(f, dim, x, edge_order):
    n = f.shape[dim]
    s = lambda lo, hi: _slice(f, dim, lo, hi)  # noqa: E731
    w = lambda v: _along(v, dim, f.ndim, f)  # noqa: E731
    hl, hr = x[1:-1] - x[:-2], x[2:] - x[1:-1]
    den = hl * hr * (hl + hr)
    mid = s(2, n) * w(hl * hl / den) - s(0, n - 2) * w(hr * hr / den) + \
        s(1, n - 1) * w((hr * hr - hl * hl) / den)
    if edge_order == 1:
        first = (s(1, 2) - s(0, 1)) * w([1.0 / (x[1] - x[0])])
        last = (s(n - 1, n) - s(n - 2, n - 1)) * w([1.0 / (x[-1] - x[-2])])
    else:
        d1, d2 = x[1] - x[0], x[2] - x[1]
        a, b, c = -(2 * d1 + d2) / (d1 * (d1 + d2)), (d1 + d2) / (d1 * d2), -d1 / (d2 * (d1 + d2))
        first = s(0, 1) * w([a]) + s(1, 2) * w([b]) + s(2, 3) * w([c])
        d1, d2 = x[-2] - x[-3], x[-1] - x[-2]
        a, b, c = d2 / (d1 * (d1 + d2)), -(d2 + d1) / (d1 * d2), (2 * d2 + d1) / (d2 * (d1 + d2))
        last = s(n - 3, n - 2) * w([a]) + s(n - 2, n - 1) * w([b]) + s(n - 1, n) * w([c])
    return cat([first, mid, last], dim)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """``torch.gradient(input, *, spacing=1, dim=None, edge_order=1)``: a tuple with the
    estimated derivative along each of ``dim`` (every dim by default). ``spacing`` is one
    number (the same step everywhere), a list of numbers (one step per dim), or a list of
    1-D coordinate tensors (one per dim)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"gradient: expected input to be a Tensor, got {type(input).__name__}")
    if edge_order not in (1, 2):
        raise RuntimeError(f"torch.gradient only supports edge_order=1 and edge_order=2, got "
                           f"{edge_order}")
    if dim is None:
        dims = list(range(input.ndim))
    elif isinstance(dim, numbers.Integral):
        dims = [int(dim)]
    else:
        dims = [int(d) for d in dim]
    dims = [d % max(input.ndim, 1) for d in dims]
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"torch.gradient: dim {list(dims)} appears multiple times")
    if spacing is None:
        spacing = 1
    if isinstance(spacing, (numbers.Number, Tensor)) and not \
            (isinstance(spacing, Tensor) and spacing.ndim > 0):
        steps = [spacing] * len(dims)
    else:
        steps = list(spacing)
        if len(steps) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or "
                               f"its length to match the number of dimensions ({len(dims)}), "
                               f"got {len(steps)}")
    f = input if input.array.dtype.kind in "fc" else input.to(B.get_default_dtype())
    outs = []
    for d, h in zip(dims, steps):
        n = input.shape[d]
        if n < edge_order + 1:
            raise RuntimeError(f"torch.gradient expected each dimension size to be at least "
                               f"edge_order+1 (dim {d} has size {n}, edge_order {edge_order})")
        if isinstance(h, Tensor) and h.ndim == 1:
            if h.shape[0] != n:
                raise RuntimeError(f"torch.gradient expected each tensor to be on the same "
                                   f"device and of the same size as dim {d} ({n}), got "
                                   f"{h.shape[0]}")
            x = numpy.asarray(_host(h.array), dtype=numpy.float64)
            outs.append(_diff_coords(f, d, x, edge_order))
        else:
            hv = float(h.item() if isinstance(h, Tensor) else h)
            outs.append(_diff_uniform(f, d, hv, edge_order))
    return tuple(outs)


def histogramdd(input, bins, *, range=None, weight=None, density=False, out=None):
    """``torch.histogramdd(input, bins, *, range=None, weight=None, density=False)``: the
    rows of ``input`` (..., D) counted into a D-dimensional grid. ``bins``: one int (for every
    dim), a list of ints, or a list of 1-D edge tensors; ``range``: [lo_1, hi_1, ..., lo_D,
    hi_D] (default each dim's min and max); ``density`` divides by the total and the bin
    volumes. Returns (hist, bin_edges); no gradient."""
    if not isinstance(input, Tensor):
        raise TypeError(f"histogramdd: expected input to be a Tensor, got {type(input).__name__}")
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the "
                           f"same dtype, but got input {input.array.dtype} (a floating input "
                           "is required)")
    if input.ndim < 2:
        raise RuntimeError(f"torch.histogramdd: input tensor should have at least 2 dimensions, "
                           f"but got {input.ndim}")
    D = input.shape[-1]
    x = _host(input.array).reshape(-1, D)
    dt = input.array.dtype
    if isinstance(bins, numbers.Integral):
        nb = [int(bins)] * D
    else:
        nb = list(bins)
        if len(nb) != D:
            raise RuntimeError(f"torch.histogramdd: expected {D} sequences of bin edges for each "
                               f"dimension, but got {len(nb)}")
    edges = []
    for k in builtins.range(D):
        b = nb[k]
        if isinstance(b, Tensor):
            edges.append(numpy.asarray(_host(b.array), dtype=dt))
            continue
        if int(b) <= 0:
            raise RuntimeError(f"torch.histogramdd: expected bin count for each dimension to "
                               f"be positive, but got {b}")
        if range is not None:
            if len(range) != 2 * D:
                raise RuntimeError(f"torch.histogramdd: for a {D}-dimensional histogram, range "
                                   f"should have {2 * D} elements, but got {len(range)}")
            lo, hi = float(range[2 * k]), float(range[2 * k + 1])
        elif x.shape[0]:
            lo, hi = float(x[:, k].min()), float(x[:, k].max())
        else:
            lo, hi = 0.0, 0.0
        if lo > hi:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {lo} "
                               f"max {hi} for dimension {k}")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5  # an empty range is widened, as PyTorch and NumPy
        edges.append(numpy.linspace(lo, hi, int(b) + 1).astype(dt))
    w = None if weight is None else _host(weight.array).reshape(-1)
    hist, _ = numpy.histogramdd(x.astype(numpy.float64), bins=[e.astype(numpy.float64)
                                                               for e in edges], weights=w)
    if density:
        total = hist.sum()
        vol = numpy.ones_like(hist)
        for k, e in enumerate(edges):
            shape = [1] * D
            shape[k] = -1
            vol = vol * numpy.diff(e.astype(numpy.float64)).reshape(shape)
        hist = hist / (total * vol) if total else hist * 0.0
    backend = B.backend_of(input.array)
    return histogramdd_result(_wrap(backend.asarray(hist.astype(dt))),
                              tuple(_wrap(backend.asarray(e)) for e in edges))



def _draw(t, method, *args):
    g = B.generator_for(t.device.type)
    fn = getattr(g, method, None)
    shape = tuple(t.shape)
    if fn is None:  # a device generator without this sampler: draw on the host, copy over
        host = B.generator_for("cpu")
        arr = getattr(host, method)(*(_host(a) for a in args), size=shape)
        return t.xp.asarray(arr)
    return t.xp.asarray(fn(*args, size=shape))


def poisson(input, generator=None):
    """``torch.poisson(rates)``: one Poisson(rate) count per element, in ``input``'s dtype
    (rates must be non-negative)."""
    if not isinstance(input, Tensor) or input.array.dtype.kind != "f":
        raise RuntimeError("poisson: expected a floating point tensor of rates")
    if bool((input.array < 0).any()):
        raise RuntimeError("poisson: invalid Poisson rate, expected rate to be non-negative")
    g = generator
    arr = (g.poisson(input.array, size=tuple(input.shape)) if g is not None and
           hasattr(g, "poisson") else _draw(input, "poisson", input.array))
    return _wrap(arr.astype(input.array.dtype))


def binomial(count, prob, generator=None):
    """``torch.binomial(count, prob)``: one Binomial(count, prob) draw per element (the two
    broadcast), in ``count``'s dtype."""
    for name, t in (("count", count), ("prob", prob)):
        if not isinstance(t, Tensor) or t.array.dtype.kind != "f":
            raise RuntimeError(f"binomial: expected {name} to be a floating point tensor")
    shape = numpy.broadcast_shapes(tuple(count.shape), tuple(prob.shape))
    c = count.expand(*shape) if tuple(count.shape) != shape else count
    p = prob.expand(*shape) if tuple(prob.shape) != shape else prob
    if bool(((p.array < 0) | (p.array > 1)).any()):
        raise RuntimeError("binomial: expected prob to be in [0, 1]")
    n = c.array.astype("int64")
    arr = (generator.binomial(n, p.array, size=shape) if generator is not None and
           hasattr(generator, "binomial") else _draw(c, "binomial", n, p.array))
    return _wrap(arr.astype(count.array.dtype))
