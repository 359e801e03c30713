"""Pooling: max, average and adaptive average pooling over windows of an image (or a sequence).

A window of the (padded) input is placed at every output position (a, b):

    rows a s_h + i d_h - p_h, columns b s_w + j d_w - p_w,   0 <= i < kh, 0 <= j < kw

    OH = floor((H + 2 p_h - d_h (kh - 1) - 1) / s_h) + 1     (ceil instead of floor with
    ceil_mode=True, dropping a last window that would start in the bottom padding)

Max pooling keeps the largest element of each window; its gradient goes, whole, to that element
(the argmax), so the backward is a scatter of gy to the argmaxes, and the scatter's own backward
is the gather at the same positions: ``PlaneScatter`` and ``PlaneGather`` are each other's
backward. Average pooling is a window sum divided by the window's size; the window sum's adjoint
spreads each gy over its window: ``WindowSum`` and ``WindowSpread`` are each other's backward.
Both loops run over the kh * kw kernel offsets, each step one strided slice of the whole batch.

Adaptive average pooling (windows of varying size that tile the input) is linear and separable:
y = A_h x A_w^T with averaging matrices, so it is built from ``matmul`` and needs no backward of
its own. ``interpolate`` (upsampling) is in ``upsample.py``.
"""
from __future__ import annotations

import numbers

from ..autograd import Function, Tensor
from .conv_args import _tuple

__all__ = ["max_pool1d", "max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d"]


# ----------------------------------------------------------------------------- window geometry
def _frame(in_hw, kernel, stride, padding, dilation, out_hw):
    """Size of the padded frame that holds the input at offset ``padding`` and every window."""
    return tuple(max(n + p, (o - 1) * s + (k - 1) * d + 1)
                 for n, k, s, p, d, o in zip(in_hw, kernel, stride, padding, dilation, out_hw))


def _window(i, j, kernel, stride, dilation, out_hw):
    """Index of the frame's elements that kernel offset (i, j) reads, for every output position."""
    (sh, sw), (dh, dw), (OH, OW) = stride, dilation, out_hw
    return (Ellipsis, slice(i * dh, i * dh + (OH - 1) * sh + 1, sh),
            slice(j * dw, j * dw + (OW - 1) * sw + 1, sw))


def _geometry(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode):
    """Check the arguments; return (batched 4-d input, squeeze flags, kernel, stride, padding,
    dilation, out) all as 2-d tuples (1-d pooling is 2-d pooling on a height-1 image)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
                           f"but got input of size {list(input.shape)}")
    kernel = _tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0) \
        else _tuple(stride, nd, "stride", op)
    padding = _tuple(padding, nd, "padding", op)
    dilation = _tuple(dilation, nd, "dilation", op)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got {kernel}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: stride must be greater than zero, but got {stride}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation must be greater than zero, but got {dilation}")
    reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(p < 0 or p > r // 2 for p, r in zip(padding, reach)):
        raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got "
                           f"padding={padding}, kernel_size={kernel} and dilation={dilation}")
    squeeze = input.ndim == nd + 1
    x = input.unsqueeze(0) if squeeze else input
    if nd == 1:
        x = x.unsqueeze(2)
        kernel, stride, padding, dilation, reach = ((1,) + kernel, (1,) + stride, (0,) + padding,
                                                    (1,) + dilation, (1,) + reach)
    out = []
    for n, r, s, p in zip(x.shape[2:], reach, stride, padding):
        # OH = floor_or_ceil((H + 2p - reach) / s) + 1
        o = (n + 2 * p - r + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= n + p:  # the last window would start in the padding
            o -= 1
        out.append(o)
    out = tuple(out)
    if any(o <= 0 for o in out):
        shown = "x".join(str(n) for n in input.shape[-nd:])
        raise RuntimeError(
            f"{op}: given input size ({input.shape[-nd - 1]}x{shown}), the calculated output size "
            f"({input.shape[-nd - 1]}x{'x'.join(str(o) for o in out[-nd:])}) is too small "
            f"(kernel_size={kernel[-nd:]}, stride={stride[-nd:]}, padding={padding[-nd:]})")
    return x, squeeze, kernel, stride, padding, dilation, out


def _finish(y, nd, squeeze):
    if nd == 1:
        y = y.squeeze(2)
    return y.squeeze(0) if squeeze else y


# ----------------------------------------------------------------------------- max pooling
class MaxPool2dFunction(Function):
    """y[n, c, a, b] = max over the window at (a, b); also returns the argmax as a flat index
    h W + w into the input plane (PyTorch's ``indices``).

    Forward: a loop over the kernel offsets keeps the running maximum and where it came from; a
    later element replaces it only if strictly larger (so the first maximum wins) or NaN (so NaN
    propagates), as PyTorch does. Padding is -inf, so it never wins.

    Backward: y[n, c, a, b] = x[n, c, idx[n, c, a, b]], so dL/dx[n, c, h, w] is the sum of the
    gy[n, c, a, b] whose argmax is (h, w): a scatter-add (``PlaneScatter``), linear in gy, with the
    gather at the same indices (``PlaneGather``) as its own backward.
    """

    def forward(self, x, *, kernel, stride, padding, dilation, out_hw):
        xp = self.xp
        N, C, H, W = x.shape
        (kh, kw), (ph, pw) = kernel, padding
        Hb, Wb = _frame((H, W), kernel, stride, padding, dilation, out_hw)
        x_p = xp.full((N, C, Hb, Wb), -xp.inf, x.dtype)
        x_p[:, :, ph:ph + H, pw:pw + W] = x
        y = arg = None
        for i in range(kh):
            for j in range(kw):
                v = x_p[_window(i, j, kernel, stride, dilation, out_hw)]
                if y is None:
                    y = v.copy()
                    arg = xp.zeros(y.shape, xp.int64)
                    continue
                take = v > y
                take |= xp.isnan(v)
                xp.copyto(y, v, where=take)
                xp.copyto(arg, i * kw + j, where=take)
        # flat index of the argmax in the input plane: (a s_h + i d_h - p_h) W + (b s_w + j d_w - p_w)
        (sh, sw), (dh, dw), (OH, OW) = stride, dilation, out_hw
        h = xp.arange(OH).reshape(OH, 1) * sh + (arg // kw) * dh - ph
        w = xp.arange(OW).reshape(1, OW) * sw + (arg % kw) * dw - pw
        self.indices = h * W + w
        self.in_shape = x.shape
        # windows that never overlap send each input element to at most one output
        self.unique = sh >= (kh - 1) * dh + 1 and sw >= (kw - 1) * dw + 1
        return y, self.indices

    def backward(self, gy, _g_indices):
        N, C, H, W = self.in_shape
        g = PlaneScatter.apply(gy.reshape(N, C, -1), index=self.indices.reshape(N, C, -1),
                               size=H * W, unique=self.unique)
        return g.reshape(N, C, H, W)


def _plane_key(xp, index):
    """Index tuple for a[n, c, index[n, c, l]] on an (N, C, P) array."""
    N, C, _ = index.shape
    return (xp.arange(N).reshape(N, 1, 1), xp.arange(C).reshape(1, C, 1), index)


class PlaneGather(Function):
    """y[n, c, l] = x[n, c, index[n, c, l]]. Backward: ``PlaneScatter`` of gy at the same index."""

    def forward(self, x, *, index, unique):
        self.index, self.size, self.unique = index, x.shape[2], unique
        return x[_plane_key(self.xp, index)]

    def backward(self, gy):
        return PlaneScatter.apply(gy, index=self.index, size=self.size, unique=self.unique)


class PlaneScatter(Function):
    """y = zeros(N, C, size); y[n, c, index[n, c, l]] += g[n, c, l] (repeated indices add up;
    ``unique`` says there are none, and a plain assignment does). Backward: ``PlaneGather``."""

    def forward(self, g, *, index, size, unique):
        self.index, self.unique = index, unique
        N, C, _ = g.shape
        y = self.xp.zeros((N, C, size), g.dtype)
        key = _plane_key(self.xp, index)
        if unique:
            y[key] = g
        else:
            self.backend.scatter_add(y, key, g)
        return y

    def backward(self, gy):
        return PlaneGather.apply(gy, index=self.index, unique=self.unique)


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode):
    x, squeeze, kernel, stride, padding, dilation, out = _geometry(
        op, nd, input, kernel_size, stride, padding, dilation, ceil_mode)
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype}")
    y, idx = MaxPool2dFunction.apply(x, kernel=kernel, stride=stride, padding=padding,
                                     dilation=dilation, out_hw=out)
    return _finish(y, nd, squeeze), _finish(idx, nd, squeeze)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over kH x kW windows of (N, C, H, W) or (C, H, W); ``stride`` defaults to the kernel.
    With ``return_indices`` also the argmaxes, as flat indices into each H x W plane."""
    y, idx = _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of length k of (N, C, L) or (C, L)."""
    y, idx = _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode)


# ----------------------------------------------------------------------------- average pooling
class WindowSum(Function):
    """y[n, c, a, b] = sum_{i, j} x_p[n, c, a s_h + i, b s_w + j] (x_p: x in a zero frame).

    Backward: y is linear in x and each x element is added into every window that covers it, so
    dL/dx_p[n, c, a s_h + i, b s_w + j] += gy[n, c, a, b]: ``WindowSpread``, this op's adjoint."""

    def forward(self, x, *, kernel, stride, padding, out_hw):
        self.params = (kernel, stride, padding)
        self.in_hw = x.shape[2:]
        N, C, H, W = x.shape
        (kh, kw), (ph, pw) = kernel, padding
        Hb, Wb = _frame((H, W), kernel, stride, padding, (1, 1), out_hw)
        x_p = self.xp.zeros((N, C, Hb, Wb), x.dtype)
        x_p[:, :, ph:ph + H, pw:pw + W] = x
        y = None
        for i in range(kh):
            for j in range(kw):
                v = x_p[_window(i, j, kernel, stride, (1, 1), out_hw)]
                if y is None:
                    y = v.copy()
                else:
                    y += v
        return y

    def backward(self, gy):
        kernel, stride, padding = self.params
        return WindowSpread.apply(gy, kernel=kernel, stride=stride, padding=padding,
                                  in_hw=self.in_hw)


class WindowSpread(Function):
    """The adjoint of ``WindowSum``: x_p[n, c, a s_h + i, b s_w + j] += g[n, c, a, b] for every
    kernel offset (i, j), then the frame is cropped to the input. Backward: ``WindowSum``."""

    def forward(self, g, *, kernel, stride, padding, in_hw):
        self.params = (kernel, stride, padding)
        self.out_hw = g.shape[2:]
        N, C, OH, OW = g.shape
        (kh, kw), (ph, pw), (H, W) = kernel, padding, in_hw
        Hb, Wb = _frame(in_hw, kernel, stride, padding, (1, 1), (OH, OW))
        x_p = self.xp.zeros((N, C, Hb, Wb), g.dtype)
        for i in range(kh):
            for j in range(kw):
                x_p[_window(i, j, kernel, stride, (1, 1), (OH, OW))] += g
        return self.xp.ascontiguousarray(x_p[:, :, ph:ph + H, pw:pw + W])

    def backward(self, gy):
        kernel, stride, padding = self.params
        return WindowSum.apply(gy, kernel=kernel, stride=stride, padding=padding,
                               out_hw=self.out_hw)


def _divisor(xp, in_hw, kernel, stride, padding, out_hw, count_include_pad):
    """Window sizes (OH, OW): with count_include_pad the window clipped to the padded input,
    otherwise clipped to the input itself (PyTorch's rule)."""
    sizes = []
    for n, k, s, p, o in zip(in_hw, kernel, stride, padding, out_hw):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, n)
        sizes.append(end - start)
    return sizes[0].reshape(-1, 1) * sizes[1].reshape(1, -1)


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    x, squeeze, kernel, stride, padding, _, out = _geometry(
        op, nd, input, kernel_size, stride, padding, 1, ceil_mode)
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype}")
    s = WindowSum.apply(x, kernel=kernel, stride=stride, padding=padding, out_hw=out)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor must be not zero")
        y = s / float(divisor_override)
    else:
        from ..autograd import _wrap
        xp = x.xp
        div = _divisor(xp, x.shape[2:], kernel, stride, padding, out, count_include_pad)
        # y = window sum / window size
        y = s * _wrap((1.0 / div).astype(x.dtype))
    return _finish(y, nd, squeeze)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over kH x kW windows of (N, C, H, W) or (C, H, W); ``stride`` defaults to the kernel.
    Padding counts towards the window size with ``count_include_pad`` (PyTorch's default)."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over windows of length k of (N, C, L) or (C, L)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


# ----------------------------------------------------------------------------- adaptive average
def _adaptive_matrix(n_in, n_out):
    """A[o, :] averages input positions floor(o n_in / n_out) .. ceil((o + 1) n_in / n_out) - 1."""
    import numpy
    A = numpy.zeros((n_out, n_in))
    for o in range(n_out):
        start = (o * n_in) // n_out
        end = -(-((o + 1) * n_in) // n_out)
        A[o, start:end] = 1.0 / (end - start)
    return A


def _adaptive_avg(op, nd, input, output_size):
    from ..creation import tensor
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
                           f"but got input of size {list(input.shape)}")
    sizes = (output_size,) * nd if output_size is None or isinstance(output_size, numbers.Integral) \
        else tuple(output_size)
    if len(sizes) != nd:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {nd}, got {output_size!r}")
    in_sizes = input.shape[-nd:]
    sizes = tuple(n if o is None else int(o) for o, n in zip(sizes, in_sizes))
    if any(o <= 0 for o in sizes) or any(n == 0 for n in in_sizes):
        raise RuntimeError(f"{op}: output_size {sizes} must be positive and the input "
                           f"{list(input.shape)} non-empty")
    y = input
    for k, (n, o) in enumerate(zip(in_sizes, sizes)):
        if n == o:
            continue
        A = tensor(_adaptive_matrix(n, o), dtype=input.dtype, device=input.device)
        dim = input.ndim - nd + k
        # average along dim: y <- A y (over that dim); the last dim as y A^T
        y = y.matmul(A.t()) if dim == input.ndim - 1 else A.matmul(y)
    return y if y is not input else input * 1.0


def adaptive_avg_pool2d(input, output_size):
    """Average over windows that tile (H, W) into ``output_size`` cells (an int, or a pair whose
    entries may be None to keep that size): y = A_h x A_w^T."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


from .upsample import *  # noqa: E402,F401,F403
from .upsample import __all__ as _up_all  # noqa: E402

__all__ = __all__ + list(_up_all)
