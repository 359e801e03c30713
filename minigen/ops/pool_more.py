"""3-d pooling, adaptive max pooling with indices, max unpooling, power-average pooling and
``fold`` (col2im), each built from the Functions of ``pool.py`` and ``conv.py``.

max_pool3d / avg_pool3d. Both are separable: the max (or sum) over a d x h x w window is the
max (sum) over the depth window of the max (sum) over each depth slice's h x w window. So a 3-d
pool is two 2-d pools: first over (H, W) with the depth folded into the channels, (N, C D, H, W),
then over depth with (OH, OW) flattened into one width, a (kd x 1) window on (N, C, D, OH OW).
The max's argmax composes: the depth pass picks the slice d, the plane pass had picked the
plane index h W + w within slice d, and PyTorch's index is d H W + h W + w. Taking the first
maximum along depth of the first maxima within each slice is the first maximum in (d, h, w)
order, PyTorch's tie rule. The window size that divides an average is a product of the
per-axis clipped lengths (``count_include_pad``'s rule is per axis).

adaptive max pooling (any number of dims) with indices: cell i of an axis of length L cut into
O cells covers floor(i L / O) .. ceil((i + 1) L / O) - 1; every cell's elements are gathered at
once (shorter cells repeat their first element, which changes neither the max nor the first
argmax), the argmax taken on the raw arrays, and y = x[argmax] by ``PlaneGather`` (whose
backward scatters gy to the argmaxes, all of it to one element, as PyTorch).

max_unpool: y = zeros, y[n, c, indices[n, c, l]] = x[n, c, l] (``PlaneScatter``; its backward
gathers gy at the indices).

lp_pool: (sum over the window of x^p)^(1/p) = (kernel size * avg_pool(x^p))^(1/p), as PyTorch
computes it (with sign(s) relu(|s|) in between, so that negative window sums give 0).

fold (col2im): the adjoint of ``unfold``. Column (c, i, j) of block l is added into the output
at (l's row) s + i d - p, (l's column) s + j d - p: that is a conv_transpose2d of the blocks, as
(N C, kh kw, oh, ow) images, with the identity kernel (kh kw, 1, kh, kw) (input channel (i, j)
is written at kernel offset (i, j)); ``output_padding`` makes the output exactly output_size.
"""
from __future__ import annotations

import numbers

import numpy

from ..autograd import Tensor, _wrap
from .conv_args import _tuple
from .pool import (MaxPool2dFunction, PlaneGather, PlaneScatter, WindowSum, _geometry,
                   avg_pool1d, avg_pool2d)

__all__ = ["max_pool3d", "max_pool3d_with_indices", "avg_pool3d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices",
           "max_unpool1d", "max_unpool2d", "max_unpool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d",
           "fold"]


# ----------------------------------------------------------------------------- 3-d max / avg
def _max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode):
    op = "max_pool3d"
    x, squeeze, k, s, p, d, out = _geometry(op, 3, input, kernel_size, stride, padding, dilation,
                                            ceil_mode)
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype}")
    N, C, D, H, W = x.shape
    OD, OH, OW = out
    # max over each depth slice's (h, w) windows: (N, C D, OH, OW) and plane indices h W + w
    y1, i1 = MaxPool2dFunction.apply(x.reshape(N, C * D, H, W), kernel=k[1:], stride=s[1:],
                                     padding=p[1:], dilation=d[1:], out_hw=(OH, OW))
    # max over the depth windows of those: (N, C, OD, OH OW) and indices e (OH OW) + l
    y, i2 = MaxPool2dFunction.apply(y1.reshape(N, C, D, OH * OW), kernel=(k[0], 1),
                                    stride=(s[0], 1), padding=(p[0], 0), dilation=(d[0], 1),
                                    out_hw=(OD, OH * OW))
    xp = x.xp
    depth = i2.array // (OH * OW)  # the slice each output's max came from
    plane = xp.take_along_axis(i1.array.reshape(N, C, D, OH * OW), depth, axis=2)
    idx = _wrap(depth * (H * W) + plane)
    y, idx = y.reshape(N, C, OD, OH, OW), idx.reshape(N, C, OD, OH, OW)
    return (y.squeeze(0), idx.squeeze(0)) if squeeze else (y, idx)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over kD x kH x kW windows of (N, C, D, H, W) or (C, D, H, W); ``stride`` defaults to
    the kernel. With ``return_indices`` also the argmaxes as flat indices d H W + h W + w."""
    y, idx = _max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode)


def _window_sizes(in_size, kernel, stride, padding, out, count_include_pad):
    """Per axis, each window's length clipped to the padded input (count_include_pad) or to the
    input; PyTorch's divisor is their product."""
    sizes = []
    for n, k, s, p, o in zip(in_size, kernel, stride, padding, out):
        start = numpy.arange(o) * s - p
        end = numpy.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = numpy.maximum(start, 0), numpy.minimum(end, n)
        sizes.append(end - start)
    return sizes


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over kD x kH x kW windows of (N, C, D, H, W) or (C, D, H, W)."""
    op = "avg_pool3d"
    x, squeeze, k, s, p, _, out = _geometry(op, 3, input, kernel_size, stride, padding, 1,
                                            ceil_mode)
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype}")
    N, C, D, H, W = x.shape
    OD, OH, OW = out
    s1 = WindowSum.apply(x.reshape(N, C * D, H, W), kernel=k[1:], stride=s[1:], padding=p[1:],
                         out_hw=(OH, OW))
    sm = WindowSum.apply(s1.reshape(N, C, D, OH * OW), kernel=(k[0], 1), stride=(s[0], 1),
                         padding=(p[0], 0), out_hw=(OD, OH * OW)).reshape(N, C, OD, OH, OW)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError(f"{op}: divisor must be not zero")
        y = sm / float(divisor_override)
    else:
        from ..creation import tensor
        a, b, c = _window_sizes((D, H, W), k, s, p, out, count_include_pad)
        div = a.reshape(-1, 1, 1) * b.reshape(1, -1, 1) * c.reshape(1, 1, -1)
        y = sm * tensor(1.0 / div, dtype=x.dtype, device=x.device)
    return y.squeeze(0) if squeeze else y


# ----------------------------------------------------------------------------- adaptive
def _batched(op, nd, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
                           f"but got input of size {list(input.shape)}")
    squeeze = input.ndim == nd + 1
    return (input.unsqueeze(0) if squeeze else input), squeeze


def _out_sizes(op, nd, output_size, in_sizes):
    sizes = (output_size,) * nd if output_size is None or isinstance(output_size, numbers.Integral) \
        else tuple(output_size)
    if len(sizes) != nd:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {nd}, got {output_size!r}")
    sizes = tuple(n if o is None else int(o) for o, n in zip(sizes, in_sizes))
    if any(o < 0 for o in sizes):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(sizes)}")
    if any(n == 0 for n in in_sizes):
        raise RuntimeError(f"{op}: expected input to have non-zero size for non-batch "
                           f"dimensions, but input has sizes {list(in_sizes)}")
    return sizes


def adaptive_avg_pool3d(input, output_size):
    """Average (N, C, D, H, W) over windows that tile it into ``output_size`` cells: the 2-d
    adaptive average over (H, W), then along depth the averaging matrix A_d (od, D)."""
    from ..creation import tensor
    from .pool import _adaptive_matrix, adaptive_avg_pool2d
    op = "adaptive_avg_pool3d"
    x, squeeze = _batched(op, 3, input)
    N, C, D, H, W = x.shape
    od, oh, ow = _out_sizes(op, 3, output_size, (D, H, W))
    y = adaptive_avg_pool2d(x.reshape(N, C * D, H, W), (oh, ow)).reshape(N, C, D, oh * ow)
    if od != D:
        A = tensor(_adaptive_matrix(D, od), dtype=x.dtype, device=x.device)
        y = A.matmul(y)  # y[n, c, e, l] = sum_t A[e, t] y[n, c, t, l]
    y = y.reshape(N, C, od, oh, ow)
    return y.squeeze(0) if squeeze else y


def _adaptive_max(op, nd, input, output_size):
    x, squeeze = _batched(op, nd, input)
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype}")
    in_sizes = tuple(x.shape[2:])
    out = _out_sizes(op, nd, output_size, in_sizes)
    N, C = x.shape[:2]
    xp = x.xp
    # per axis: (O, K) positions of each cell, short cells padded with their first position
    flat = None
    for axis, (L, O) in enumerate(zip(in_sizes, out)):
        start = (numpy.arange(O) * L) // O
        end = -((-(numpy.arange(O) + 1) * L) // O)
        K = int((end - start).max()) if O else 1
        pos = start[:, None] + numpy.arange(K)[None, :]
        pos = numpy.where(pos < end[:, None], pos, start[:, None])
        step = int(numpy.prod(in_sizes[axis + 1:], dtype=numpy.int64))
        term = pos * step
        if flat is None:
            flat = term
        else:  # (cells so far, K so far) x (O, K): outer sum, cells and offsets kept in order
            P0, K0 = flat.shape
            flat = (flat[:, None, :, None] + term[None, :, None, :]).reshape(P0 * O, K0 * K)
    P = flat.shape[0]
    xf = x.reshape(N, C, -1)
    if P == 0 or N * C == 0:
        idx = xp.zeros((N, C, P), xp.int64)
    else:
        cand = xp.asarray(flat.astype(numpy.int64))
        vals = xf.array[:, :, cand]  # (N, C, P, K)
        # first maximum (a NaN counts as the maximum, as PyTorch propagates it)
        k = xp.argmax(xp.where(xp.isnan(vals), xp.inf, vals), axis=-1)
        idx = xp.take_along_axis(xp.broadcast_to(cand, (N, C) + cand.shape), k[..., None],
                                 axis=-1)[..., 0]
    y = PlaneGather.apply(xf, index=idx, unique=False).reshape(N, C, *out)
    idx = _wrap(idx.reshape((N, C) + out))
    return (y.squeeze(0), idx.squeeze(0)) if squeeze else (y, idx)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """(y, indices) of adaptive max pooling over (N, C, L); indices are positions in L."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """(y, indices) of adaptive max pooling over (N, C, H, W); indices are h W + w."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """(y, indices) of adaptive max pooling over (N, C, D, H, W); indices are d H W + h W + w."""
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max over windows that tile (D, H, W) into ``output_size`` cells (an int or a triple;
    None keeps that size); with ``return_indices`` also the argmaxes."""
    y, idx = _adaptive_max("adaptive_max_pool3d", 3, input, output_size)
    return (y, idx) if return_indices else y


# ----------------------------------------------------------------------------- unpooling
def _max_unpool(op, nd, input, indices, kernel_size, stride, padding, output_size):
    x, squeeze = _batched(op, nd, input)
    if not isinstance(indices, Tensor) or indices.dtype != numpy.int64:
        raise RuntimeError(f"{op}: expected 'indices' to be a tensor of dtype int64, got "
                           f"{getattr(indices, 'dtype', type(indices).__name__)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{op}: expected shape of indices to be same as that of the input "
                           f"tensor ({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    k = _tuple(kernel_size, nd, "kernel_size", op)
    s = k if stride is None else _tuple(stride, nd, "stride", op)
    p = _tuple(padding, nd, "padding", op)
    in_sizes = tuple(x.shape[2:])
    default = tuple((n - 1) * st - 2 * pd + kk for n, st, pd, kk in zip(in_sizes, s, p, k))
    if output_size is None:
        out = default
    else:
        out = tuple(int(o) for o in output_size)
        if len(out) == nd + 2 or (len(out) == nd + 1 and squeeze):
            out = out[-nd:]
        if len(out) != nd:
            raise ValueError(f"{op}: output_size should be a sequence containing {nd} or {nd + 2} "
                             f"elements, but it has a length of '{len(out)}'")
        for k, (o, dflt, st) in enumerate(zip(out, default, s)):
            if not dflt - st < o < dflt + st:
                raise ValueError(f'{op}: invalid output_size "{out}" (dim {k} must be between '
                                 f"{dflt - st} and {dflt + st})")
    N, C = x.shape[:2]
    size = int(numpy.prod(out, dtype=numpy.int64))
    ind = (indices.unsqueeze(0) if squeeze else indices).array.reshape(N, C, -1)
    if ind.size and (int(ind.min()) < 0 or int(ind.max()) >= size):
        raise RuntimeError(f"{op}: Found an invalid max index: {int(ind.max())} (output volumes "
                           f"are of size {'x'.join(str(o) for o in out)})")
    y = PlaneScatter.apply(x.reshape(N, C, -1), index=ind, size=size, unique=True)
    y = y.reshape((N, C) + out)
    return y.squeeze(0) if squeeze else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d: each value put back at its index, zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: each value put back at its index h W + w."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool3d: each value put back at its index d H W + h W + w."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                       output_size)


# ----------------------------------------------------------------------------- power average
def _lp_pool(nd, avg, input, norm_type, kernel_size, stride, ceil_mode):
    from .unary import abs as _abs, relu
    from .compare import sign
    k = _tuple(kernel_size, nd, "kernel_size", f"lp_pool{nd}d")
    if stride is not None:
        out = avg(input.pow(norm_type), k, stride, 0, ceil_mode)
    else:
        out = avg(input.pow(norm_type), k, padding=0, ceil_mode=ceil_mode)
    n = int(numpy.prod(k))
    # (n * mean of x^p)^(1/p), with negative sums sent to 0 as PyTorch does
    return (sign(out) * relu(_abs(out))).mul(n).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: (sum over each window of x^p)^(1/p), p = norm_type."""
    return _lp_pool(1, avg_pool1d, input, float(norm_type), kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over kH x kW windows: (sum x^p)^(1/p)."""
    return _lp_pool(2, avg_pool2d, input, float(norm_type), kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over kD x kH x kW windows: (sum x^p)^(1/p)."""
    return _lp_pool(3, avg_pool3d, input, float(norm_type), kernel_size, stride, ceil_mode)


# ----------------------------------------------------------------------------- fold (col2im)
def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of ``unfold``: (N, C kh kw, L) or (C kh kw, L) -> (N, C, H, W),
    summing overlapping block entries; L must be the number of blocks unfold would produce."""
    from ..creation import tensor
    from .conv_transpose import conv_transpose2d
    op = "fold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{op}: Expected 2D or 3D (batch mode) tensor for input with possibly "
                           f"0 batch size and non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    out = _tuple(output_size, 2, "output_size", op)
    (kh, kw), dil, pad, st = (_tuple(v, 2, n, op) for v, n in (
        (kernel_size, "kernel_size"), (dilation, "dilation"), (padding, "padding"),
        (stride, "stride")))
    for name, v, lo in (("kernel_size", (kh, kw), 1), ("dilation", dil, 1), ("stride", st, 1),
                        ("padding", pad, 0)):
        if any(e < lo for e in v):
            raise RuntimeError(f"{op}: {name} should be {'greater than zero' if lo else 'non-negative'}"
                               f", but got {name}: {v}")
    squeeze = input.ndim == 2
    x = input.unsqueeze(0) if squeeze else input
    N, CK, L = x.shape
    if CK % (kh * kw):
        raise RuntimeError(f"{op}: Expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size, but got input.size(1)={CK} and "
                           f"kernel_size=({kh}, {kw})")
    blocks = [(o + 2 * p - d * (k - 1) - 1) // s + 1
              for o, p, d, k, s in zip(out, pad, dil, (kh, kw), st)]
    if any(b < 1 for b in blocks) or blocks[0] * blocks[1] != L:
        raise RuntimeError(f"{op}: Given output_size={out}, kernel_size=({kh}, {kw}), "
                           f"dilation={dil}, padding={pad}, stride={st}, expected size of input's "
                           f"dimension 2 to match the calculated number of sliding blocks "
                           f"{blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got "
                           f"input.size(2)={L}.")
    C = CK // (kh * kw)
    natural = [(b - 1) * s - 2 * p + d * (k - 1) + 1
               for b, s, p, d, k in zip(blocks, st, pad, dil, (kh, kw))]
    eye = tensor(numpy.eye(kh * kw).reshape(kh * kw, 1, kh, kw), dtype=x.dtype, device=x.device)
    y = conv_transpose2d(x.reshape(N * C, kh * kw, blocks[0], blocks[1]), eye, None, st, pad,
                         tuple(o - n for o, n in zip(out, natural)), 1, dil)
    y = y.reshape(N, C, out[0], out[1])
    return y.squeeze(0) if squeeze else y


# ----------------------------------------------------------------------------- fractional max
def _fractional_starts(u, L, O, k, dtype):
    """Window starts of fractional max pooling along one axis (Graham, 2014), PyTorch's rule:
    alpha = (L - k) / (O - 1), start_i = int((i + u) alpha) - int(u alpha) for i < O - 1 and
    the last window ends at the input's end; u (one draw per sample and channel) in [0, 1).
    Computed in the input's float type, as PyTorch's kernel does (the int() truncations depend
    on it)."""
    u = u.astype(dtype)
    starts = numpy.empty(u.shape + (O,), numpy.int64)
    if O > 1:
        alpha = dtype.type(L - k) / dtype.type(O - 1)
        i = numpy.arange(O - 1, dtype=dtype)
        starts[..., :O - 1] = ((i + u[..., None]) * alpha).astype(numpy.int64) \
            - (u * alpha).astype(numpy.int64)[..., None]
    if O > 0:
        starts[..., O - 1] = L - k
    return starts


def _fractional_max(op, nd, input, kernel_size, output_size, output_ratio, samples):
    from ..creation import rand
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    x, squeeze = _batched(op, nd, input)
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype}")
    N, C = x.shape[:2]
    sizes = tuple(x.shape[2:])
    k = _tuple(kernel_size, nd, "kernel_size", op)
    if output_size is None:
        ratio = (output_ratio,) * nd if isinstance(output_ratio, numbers.Real) else tuple(output_ratio)
        out = tuple(int(n * r) for n, r in zip(sizes, ratio))
    else:
        out = _tuple(output_size, nd, "output_size", op)
    names = ("time", "height", "width")[3 - nd:]
    for name, o, kk, n in zip(names, out, k, sizes):
        if o + kk - 1 > n:
            raise RuntimeError(f"{op}(): pool {name} {kk} too large relative to input {name} {n}")
    if samples is None:
        samples = rand(N, C, nd, dtype=x.dtype, device=x.device)
    if samples.shape[1] != C:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[0] < N or samples.shape[2] != nd:
        raise RuntimeError(f"Expect _random_samples to have size ({N}, {C}, {nd}), got "
                           f"{list(samples.shape)}")
    u = numpy.asarray(samples.detach().cpu().numpy(), dtype=x.dtype)[:N]
    # PyTorch's draws: sample 0 sets the width (2-d) or the time axis (3-d), then the others
    order = (1, 0) if nd == 2 else (0,) if nd == 1 else (0, 1, 2)
    flat = None
    for axis in range(nd):
        starts = _fractional_starts(u[:, :, order[axis]], sizes[axis], out[axis], k[axis], x.dtype)
        step = int(numpy.prod(sizes[axis + 1:], dtype=numpy.int64))
        term = (starts[..., :, None] + numpy.arange(k[axis])) * step  # (N, C, O, K)
        if flat is None:
            flat = term
        else:
            P0, K0 = flat.shape[2:]
            flat = (flat[:, :, :, None, :, None] + term[:, :, None, :, None, :]).reshape(
                N, C, P0 * term.shape[2], K0 * term.shape[3])
    xp = x.xp
    xf = x.reshape(N, C, -1)
    cand = xp.asarray(flat)
    vals = xp.take_along_axis(xf.array[:, :, None, :], cand, axis=-1) if cand.size else \
        xp.zeros(cand.shape, x.dtype)
    kbest = xp.argmax(xp.where(xp.isnan(vals), xp.inf, vals), axis=-1) if cand.size else \
        xp.zeros(cand.shape[:3], xp.int64)
    idx = xp.take_along_axis(cand, kbest[..., None], axis=-1)[..., 0] if cand.size else kbest
    y = PlaneGather.apply(xf, index=idx, unique=False).reshape((N, C) + out)
    idx = _wrap(idx.reshape((N, C) + out))
    return (y.squeeze(0), idx.squeeze(0)) if squeeze else (y, idx)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Max over kH x kW windows placed at pseudo-random fractional strides so that (H, W)
    shrinks to ``output_size`` (or ``output_ratio`` of it); ``_random_samples`` (N, C, 2) in
    [0, 1) fixes the placement (drawn from minigen's generator otherwise)."""
    y, idx = _fractional_max("fractional_max_pool2d", 2, input, kernel_size, output_size,
                             output_ratio, _random_samples)
    return (y, idx) if return_indices else y


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Fractional max pooling over (T, H, W); ``_random_samples`` is (N, C, 3)."""
    y, idx = _fractional_max("fractional_max_pool3d", 3, input, kernel_size, output_size,
                             output_ratio, _random_samples)
    return (y, idx) if return_indices else y


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return _fractional_max("fractional_max_pool2d", 2, input, kernel_size, output_size,
                           output_ratio, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    return _fractional_max("fractional_max_pool3d", 3, input, kernel_size, output_size,
                           output_ratio, _random_samples)


__all__ += ["fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
            "fractional_max_pool3d_with_indices"]
