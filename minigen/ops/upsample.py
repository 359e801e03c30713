"""``interpolate``: resize images (N, C, H, W) or sequences (N, C, L), with PyTorch's rules.

Each spatial dimension is resized on its own (every mode here is separable). For an output
position o along a dimension of input size n and output size m, with scale = n / m (or
1 / scale_factor when a scale factor is given and not recomputed):

    'nearest'        y[o] = x[min(floor(o scale), n - 1)]
    'nearest-exact'  y[o] = x[min(floor((o + 0.5) scale), n - 1)]
    'linear'/'bilinear'
        src = (o + 0.5) scale - 0.5, clamped at 0     (align_corners=False)
        src = o (n - 1) / (m - 1)                     (align_corners=True)
        y[o] = (1 - t) x[i0] + t x[i1],   i0 = floor(src), i1 = min(i0 + 1, n - 1), t = src - i0
    'trilinear'      linear along each of three dimensions
    'area'           y[o] = mean of x[floor(o n / m) .. ceil((o + 1) n / m) - 1] (adaptive avg pool)
    'bicubic'        src as for linear but not clamped; i0 = floor(src), t = src - i0,
        y[o] = sum_{j=-1..2} W(t - j) x[clamp(i0 + j, 0, n - 1)]   (Keys' kernel, a = -0.75)

Nearest is a gather along the dimension (``index_select``: its gradient is the scatter-add of gy
to the source positions, and that scatter's gradient is the gather again); for an integer
factor r it is a broadcast of each source row to r copies, whose gradient is the sum over them. Linear is a matrix
product with an interpolation matrix A (m, n), y = A x along the dimension, whose gradient is
A^T gy. Both are built from differentiable minigen ops, so they differentiate any number of times.
The index arrays and matrices depend only on the sizes; they are computed on the host (small)
and copied to the input's device.
"""
from __future__ import annotations

import math
import numbers

import numpy

from ..autograd import Tensor

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_MODES = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,),
          "trilinear": (3,), "bicubic": (2,), "area": (1, 2, 3)}

# PyTorch's (and OpenCV's) cubic convolution kernel parameter
_CUBIC_A = -0.75


def _nearest_index(n_in, n_out, scale, exact):
    """Source index of every output position (computed in float32, as PyTorch does on the CPU)."""
    if n_in == n_out:
        return None
    s = numpy.float32(scale)
    o = numpy.arange(n_out, dtype=numpy.float32)
    src = numpy.floor(((o + numpy.float32(0.5)) if exact else o) * s).astype(numpy.int64)
    return numpy.minimum(src, n_in - 1)


def _linear_matrix(n_in, n_out, scale, align_corners):
    """A (n_out, n_in): y = A x interpolates linearly between the two nearest source positions."""
    A = numpy.zeros((n_out, n_in))
    if n_in == n_out:
        return None
    for o in range(n_out):
        if align_corners:
            src = o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            src = max(scale * (o + 0.5) - 0.5, 0.0)
        i0 = min(int(src), n_in - 1)
        t = min(max(src - i0, 0.0), 1.0)
        i1 = i0 + (1 if i0 < n_in - 1 else 0)
        A[o, i0] += 1.0 - t
        A[o, i1] += t
    return A


def _cubic_weights(t, a=_CUBIC_A):
    """Keys' cubic convolution weights of the taps at offsets -1, 0, 1, 2 from floor(src), for
    the fraction t = src - floor(src):

        W(x) = (a + 2)|x|^3 - (a + 3)|x|^2 + 1          |x| <= 1
        W(x) = a|x|^3 - 5a|x|^2 + 8a|x| - 4a            1 < |x| < 2

    at x = t + 1, t, 1 - t, 2 - t (they sum to 1)."""
    def near(x):
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0

    def far(x):
        return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    return far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)


def _cubic_matrix(n_in, n_out, scale, align_corners):
    """A (n_out, n_in): y = A x is PyTorch's bicubic interpolation along one dimension. The
    source position is o (n - 1) / (m - 1) (align_corners) or (o + 0.5) scale - 0.5 (not
    clamped, unlike linear); the four taps around it are clamped to the edge rows."""
    A = numpy.zeros((n_out, n_in))
    for o in range(n_out):
        if align_corners:
            src = o * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            src = scale * (o + 0.5) - 0.5
        i0 = math.floor(src)
        for off, w in zip((-1, 0, 1, 2), _cubic_weights(src - i0)):
            A[o, min(max(i0 + off, 0), n_in - 1)] += w
    return A


def _area_matrix(n_in, n_out):
    """A (n_out, n_in) for 'area' (PyTorch's adaptive average pooling): output o is the mean of
    inputs floor(o n / m) .. ceil((o + 1) n / m) - 1. A mean over a rectangle is the product of
    the means along its sides, so the 2-D and 3-D cases are this matrix along each dimension."""
    if n_in == n_out:
        return None
    A = numpy.zeros((n_out, n_in))
    for o in range(n_out):
        lo = (o * n_in) // n_out
        hi = -((-(o + 1) * n_in) // n_out)
        A[o, lo:hi] = 1.0 / (hi - lo)
    return A


def _antialias_matrix(n_in, n_out, scale, cubic):
    """A (n_out, n_in) for ``antialias=True`` (PIL's resampling, as PyTorch's): output o
    averages the inputs j within ``support`` of its centre c = (o + 0.5) scale, with weights
    f((j + 0.5 - c) / s) normalised to sum 1, where s = max(scale, 1) widens the filter when
    downsampling; f is the triangle 1 - |x| (bilinear) or Keys' cubic with a = -0.5 (bicubic),
    support = s (bilinear) or 2 s (bicubic)."""
    s = scale if scale >= 1.0 else 1.0
    support = (2.0 if cubic else 1.0) * s

    def f(x):
        x = abs(x)
        if not cubic:
            return max(1.0 - x, 0.0)
        a = -0.5
        if x < 1.0:
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
        if x < 2.0:
            return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
        return 0.0
    A = numpy.zeros((n_out, n_in))
    for o in range(n_out):
        c = scale * (o + 0.5)
        lo = max(int(c - support + 0.5), 0)
        hi = min(int(c + support + 0.5), n_in)
        w = numpy.array([f((j + 0.5 - c) / s) for j in range(lo, hi)])
        if w.size and w.sum() != 0.0:
            w = w / w.sum()
        A[o, lo:hi] = w
    return A


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize to ``size`` or by ``scale_factor`` (exactly one of them), with ``mode`` one of
    'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear' or 'bicubic' (4-D input) or
    'trilinear' (5-D input). ``antialias=True`` (bilinear, bicubic): PIL's area-aware filter
    when downsampling (``_antialias_matrix``)."""
    from ..creation import tensor
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate: expected a Tensor input, got {type(input).__name__}")
    if mode not in _MODES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported; use one of "
                                  f"{', '.join(repr(m) for m in _MODES)}")
    nd = input.ndim - 2
    if nd not in _MODES[mode]:
        want = " or ".join(f"{d + 2}-D" for d in _MODES[mode])
        raise NotImplementedError(f"interpolate: mode {mode!r} expects {want} input, but got "
                                  f"input of size {list(input.shape)}")
    if (mode.startswith("nearest") or mode == "area") and align_corners is not None:
        raise ValueError("interpolate: align_corners option can only be set with the "
                         "interpolating modes: linear | bilinear | bicubic | trilinear")
    if antialias and not (mode in ("bilinear", "bicubic") and input.ndim == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes "
                         "and requires a 4-D tensor as input (minigen has no 'lanczos')")
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    in_sizes = tuple(input.shape[2:])
    if size is not None:
        out_sizes = (size,) * nd if isinstance(size, numbers.Integral) else tuple(size)
        if len(out_sizes) != nd:
            raise ValueError(f"interpolate: input of size {list(input.shape)} has {nd} spatial "
                             f"dimensions, but size={size!r}")
        out_sizes = tuple(int(o) for o in out_sizes)
        scales = [None] * nd
    elif scale_factor is not None:
        factors = (scale_factor,) * nd if isinstance(scale_factor, numbers.Number) \
            else tuple(scale_factor)
        if len(factors) != nd:
            raise ValueError(f"interpolate: input of size {list(input.shape)} has {nd} spatial "
                             f"dimensions, but scale_factor={scale_factor!r}")
        out_sizes = tuple(int(math.floor(n * float(f))) for n, f in zip(in_sizes, factors))
        scales = [None if recompute_scale_factor else 1.0 / float(f) for f in factors]
    else:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    if any(o <= 0 for o in out_sizes):
        raise ValueError(f"interpolate: output size {out_sizes} must be positive (input "
                         f"{list(input.shape)})")
    y = input
    for k, (n, m, sc) in enumerate(zip(in_sizes, out_sizes, scales)):
        scale = n / m if sc is None else sc
        dim = 2 + k
        if mode.startswith("nearest"):
            idx = _nearest_index(n, m, scale, exact=mode == "nearest-exact")
            if idx is not None and m % n == 0 and (idx == numpy.arange(m) // (m // n)).all():
                # an integer factor r: each source row repeated r times, as a broadcast whose
                # gradient is a sum over the r copies (no scatter-add)
                r, shape = m // n, list(y.shape)
                y = y.unsqueeze(dim + 1)
                y = y.expand(*shape[:dim + 1], r, *shape[dim + 1:]).reshape(*shape[:dim], m, *shape[dim + 1:])
            elif idx is not None:
                # y[..., o, ...] = x[..., idx[o], ...]
                y = y.index_select(dim, tensor(idx, device=input.device))
        else:
            if mode == "area":
                A = _area_matrix(n, m)
            elif antialias:
                if align_corners:
                    scale = (n - 1) / (m - 1) if m > 1 else 0.0
                A = _antialias_matrix(n, m, scale, mode == "bicubic")
            elif mode == "bicubic":
                A = _cubic_matrix(n, m, scale, bool(align_corners))
            else:
                A = _linear_matrix(n, m, scale, bool(align_corners))
            if A is not None:
                A = tensor(A, dtype=input.dtype, device=input.device)
                # y = A x along dim (the last dim as x A^T)
                if dim == input.ndim - 1:
                    y = y.matmul(A.t())
                elif dim == input.ndim - 2:
                    y = A.matmul(y)
                else:  # (trilinear's depth) through the last dimension and back
                    y = y.transpose(dim, -1).matmul(A.t()).transpose(dim, -1)
    return y if y is not input else input * 1.0


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated PyTorch name for ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Bilinear with align_corners=True (as the deprecated PyTorch function)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
