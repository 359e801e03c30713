"""More composites PyTorch programs use: im2col as ``F.unfold``, adaptive max pooling, the
bilinear form, and the embedding / margin losses. Each is built from differentiable ops.

    F.unfold(x, k):  (N, C, H, W) -> (N, C kh kw, L): every kh x kw patch (after padding, with
                     stride and dilation) as a column, L patches in row-major order
    adaptive max:    out[i] = max of x over rows floor(i H / oh) .. ceil((i + 1) H / oh) - 1
    bilinear:        y_k = x1^T A_k x2 + b_k
    triplet:         max(d(a, p) - d(a, n) + margin, 0),  d = ||u - v + eps||_p
    cosine_embedding: 1 - cos(x1, x2) if y = 1,  max(0, cos(x1, x2) - margin) if y = -1
    hinge_embedding: x if y = 1,  max(0, margin - x) if y = -1
    soft_margin:     log(1 + e^(-y x))
    multilabel_soft_margin: -mean_c [y log sigma(x) + (1 - y) log sigma(-x)]
    poisson_nll:     e^x - y x (log_input) or x - y log(x + eps), + Stirling term if ``full``
    affine_grid:     grid[n, h, w] = theta[n] (x_w, y_h, 1), with x, y the pixel centres in [-1, 1]
    grid_sample:     out[n, c, h, w] = sum over the 4 neighbours of (ix, iy) of
                     input[n, c, y, x] (1 - |ix - x|)(1 - |iy - y|)   (bilinear), where
                     ix = ((gx + 1) W - 1) / 2 (align_corners=False) or (gx + 1)(W - 1) / 2
"""
import math
import numbers

from .elementwise import add, sub, mul, where
from .unary import exp, log, relu, clamp
from .reduction import mean
from .shape import pad as _pad, permute, reshape
from .extras import _reduce, cosine_similarity, pairwise_distance, logsigmoid
from .linalg import einsum
from ..autograd import _wrap

__all__ = ["unfold", "adaptive_max_pool1d", "adaptive_max_pool2d", "bilinear", "affine_grid",
           "grid_sample",
           "triplet_margin_loss", "cosine_embedding_loss", "hinge_embedding_loss",
           "soft_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss"]


def _pair(v):
    return (int(v), int(v)) if isinstance(v, numbers.Integral) else tuple(int(a) for a in v)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C kh kw, L) (or (C, H, W) -> (C kh kw, L))."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"unfold: expected a 3-D or 4-D input, got shape {list(input.shape)}")
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = map(_pair, (kernel_size, dilation, padding, stride))
    if ph or pw:
        x = _pad(x, (pw, pw, ph, ph))
    N, C, H, W = x.shape
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # the kernel's extent with dilation
    if eh > H or ew > W:
        raise RuntimeError(f"unfold: kernel {kh}x{kw} (dilation {dh}x{dw}) is larger than the "
                           f"padded input {H}x{W}")
    # windows: (N, C, oh, ow, eh, ew), then every d-th element of each window
    w = x.unfold(2, eh, sh).unfold(3, ew, sw)[..., ::dh, ::dw]
    oh, ow = w.shape[2], w.shape[3]
    # (N, C, oh, ow, kh, kw) -> (N, C, kh, kw, oh, ow) -> (N, C kh kw, oh ow)
    cols = reshape(permute(w, (0, 1, 4, 5, 2, 3)), (N, C * kh * kw, oh * ow))
    return cols.squeeze(0) if unbatched else cols


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over windows that tile L into ``output_size`` cells; with ``return_indices`` also
    the argmaxes. The gradient goes, whole, to each cell's first argmax, as PyTorch's (the
    gather in ``pool_more._adaptive_max``)."""
    from .pool_more import adaptive_max_pool1d_with_indices
    y, idx = adaptive_max_pool1d_with_indices(input, output_size)
    return (y, idx) if return_indices else y


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over windows that tile (H, W) into ``output_size`` cells (``pool_more``)."""
    from .pool_more import adaptive_max_pool2d_with_indices
    y, idx = adaptive_max_pool2d_with_indices(input, output_size)
    return (y, idx) if return_indices else y


def bilinear(input1, input2, weight, bias=None):
    """y[..., k] = sum_ij x1[..., i] A[k, i, j] x2[..., j] + b[k]."""
    y = einsum("...i,kij,...j->...k", input1, weight, input2)
    return y if bias is None else add(y, bias)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:  # the harder of the two negatives' distances
        from .elementwise import minimum
        d_an = minimum(d_an, pairwise_distance(positive, negative, p, eps))
    return _reduce(relu(add(sub(d_ap, d_an), margin)), reduction, "triplet_margin_loss")


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    c = cosine_similarity(input1, input2, dim=-1, eps=1e-8)
    loss = where(target == 1, sub(1.0, c), relu(sub(c, margin)))
    loss = where((target == 1) | (target == -1), loss, mul(c, 0.0))
    return _reduce(loss, reduction, "cosine_embedding_loss")


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    # l = x where y = 1 (plus 0 where y = -1), max(0, margin - x) where y = -1
    pos = where(target == 1, input, mul(input, 0.0))
    neg = where(target == -1, relu(sub(margin, input)), mul(input, 0.0))
    return _reduce(add(pos, neg), reduction, "hinge_embedding_loss")


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    # log(1 + e^(-y x)) = -logsigmoid(y x)
    return _reduce(mul(logsigmoid(mul(input, target)), -1.0), reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    # -(y log sigma(x) + (1 - y) log sigma(-x)), averaged over classes
    l = add(mul(target, logsigmoid(input)), mul(sub(1.0, target), logsigmoid(mul(input, -1.0))))
    if weight is not None:
        l = mul(l, weight)
    l = mul(mean(l, dim=-1), -1.0)
    return _reduce(l, reduction, "multilabel_soft_margin_loss")


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    if log_input:
        loss = sub(exp(input), mul(target, input))
    else:
        loss = sub(input, mul(target, log(add(input, eps))))
    if full:
        # Stirling: y log y - y + 0.5 log(2 pi y), for y > 1
        y = target
        st = add(sub(mul(y, log(clamp(y, min=1.0))), y), mul(log(mul(clamp(y, min=1.0), 2 * math.pi)), 0.5))
        loss = add(loss, where(y > 1, st, mul(y, 0.0)))
    return _reduce(loss, reduction, "poisson_nll_loss")


# ----------------------------------------------------------------------------- spatial transformers
def _base_coords(n, align_corners, xp, dtype):
    """The n pixel centres in [-1, 1]: (2 i + 1) / n - 1, or -1 + 2 i / (n - 1) with corners."""
    i = xp.arange(n, dtype=dtype)
    if align_corners:
        return i * (2.0 / (n - 1)) - 1.0 if n > 1 else i * 0.0
    return (2.0 * i + 1.0) / n - 1.0


def affine_grid(theta, size, align_corners=False):
    """The sampling grid (N, H, W, 2) of the affine maps ``theta`` (N, 2, 3) for an output of
    ``size`` (N, C, H, W); differentiable in theta."""
    from ..autograd import Tensor
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (2, 3):
        raise ValueError(f"affine_grid: expected theta of shape (N, 2, 3), got {list(theta.shape)}")
    N, C, H, W = (int(s) for s in size)
    if N != theta.shape[0]:
        raise ValueError(f"affine_grid: size {list(size)} has batch {N}, theta has {theta.shape[0]}")
    xp, dt = theta.xp, theta.dtype
    xs = _base_coords(W, align_corners, xp, dt)
    ys = _base_coords(H, align_corners, xp, dt)
    base = xp.stack([xp.broadcast_to(xs[None, :], (H, W)), xp.broadcast_to(ys[:, None], (H, W)),
                     xp.ones((H, W), dtype=dt)], -1).reshape(1, H * W, 3)
    # grid = base theta^T: (1, HW, 3) @ (N, 3, 2) -> (N, HW, 2)
    from .linalg import matmul
    grid = matmul(_wrap(base), theta.transpose(1, 2))
    return reshape(grid, (N, H, W, 2))


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2) ((x, y) in [-1, 1]); bilinear,
    nearest or bicubic; padding 'zeros', 'border' (coordinates clipped to the image) or
    'reflection' (mirrored at the edges, then clipped; for bicubic, each tap's coordinate).
    Differentiable in the input and (bilinear, bicubic) the grid."""
    from ..autograd import no_grad
    from .compare import floor
    from .indexing import gather
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise ValueError(f"grid_sample: expected input (N, C, H, W) and grid (N, Ho, Wo, 2), got "
                         f"{list(input.shape)} and {list(grid.shape)}")
    N, C, H, W = input.shape
    Ho, Wo = grid.shape[1], grid.shape[2]
    gx, gy = grid[..., 0], grid[..., 1]
    # pixel coordinates of the sample points
    if align_corners:
        ix, iy = mul(add(gx, 1.0), (W - 1) / 2.0), mul(add(gy, 1.0), (H - 1) / 2.0)
    else:
        ix, iy = mul(sub(mul(add(gx, 1.0), W), 1.0), 0.5), mul(sub(mul(add(gy, 1.0), H), 1.0), 0.5)
    def clip(c, hi):
        """Clipped to [0, hi]; no gradient at and beyond the edges (PyTorch's clip)."""
        with no_grad():
            inside = (c > 0) & (c < hi)
            fixed = clamp(c.detach(), 0.0, hi)
        return where(inside, c, fixed)

    def reflect(c, twice_lo, twice_hi):
        """c mirrored into [lo, hi] (the edges at lo = twice_lo / 2, hi = twice_hi / 2, as
        often as it takes): with a = |c - lo| and k = floor(a / span), lo + (a - k span) for
        even k, lo + span - (a - k span) for odd k; the gradient is +-1 (k constant)."""
        if twice_lo == twice_hi:
            return mul(c, 0.0)
        lo, span = twice_lo / 2.0, (twice_hi - twice_lo) / 2.0
        d = sub(c, lo)
        with no_grad():
            sign = where(d < 0, mul(d, 0.0) - 1.0, mul(d, 0.0) + 1.0)
            k = floor(mul(d, sign) / span)
            even = (k - floor(k / 2.0) * 2.0) == 0
        extra = sub(mul(d, sign), mul(k, span))
        return where(even, add(extra, lo), sub(span + lo, extra))

    def pad_coords(ix, iy):
        if padding_mode == "reflection":
            if align_corners:
                ix, iy = reflect(ix, 0.0, 2.0 * (W - 1)), reflect(iy, 0.0, 2.0 * (H - 1))
            else:
                ix, iy = reflect(ix, -1.0, 2.0 * W - 1.0), reflect(iy, -1.0, 2.0 * H - 1.0)
        if padding_mode in ("border", "reflection"):
            ix, iy = clip(ix, W - 1.0), clip(iy, H - 1.0)
        return ix, iy

    if mode == "bicubic":  # the padding applies to each of the 16 taps (below)
        pass
    elif padding_mode == "reflection":
        if align_corners:
            ix, iy = reflect(ix, 0.0, 2.0 * (W - 1)), reflect(iy, 0.0, 2.0 * (H - 1))
        else:
            ix, iy = reflect(ix, -1.0, 2.0 * W - 1.0), reflect(iy, -1.0, 2.0 * H - 1.0)
    if mode != "bicubic" and padding_mode in ("border", "reflection"):
        ix, iy = clip(ix, W - 1.0), clip(iy, H - 1.0)
    flat = reshape(input, (N, C, H * W))

    def corner(xc, yc):
        """input at integer pixel (xc, yc) (constants), 0 outside the image."""
        with no_grad():
            inside = ((xc >= 0) & (xc <= W - 1) & (yc >= 0) & (yc <= H - 1)).to(input.dtype)
            xi = clamp(xc, 0, W - 1).to("int64")
            yi = clamp(yc, 0, H - 1).to("int64")
            idx = reshape(add(mul(yi, W), xi), (N, 1, Ho * Wo)).expand(N, C, Ho * Wo)
        v = reshape(gather(flat, 2, idx), (N, C, Ho, Wo))
        return mul(v, reshape(inside, (N, 1, Ho, Wo)))

    if mode == "bicubic":
        # Keys' cubic convolution (a = -0.75) over the 4 x 4 taps around (ix, iy):
        #   w(t+1) = ((a(t+1) - 5a)(t+1) + 8a)(t+1) - 4a,   w(t) = ((a+2)t - (a+3))t^2 + 1,
        #   w(1-t), w(2-t) by symmetry, t the fractional part (differentiable in the grid);
        # each tap's integer coordinate goes through the padding, 0 outside for 'zeros'
        A = -0.75
        with no_grad():
            x0, y0 = floor(ix.detach()), floor(iy.detach())
        tx, ty = sub(ix, x0), sub(iy, y0)

        def cubic(t):
            near = lambda u: add(mul(sub(mul(u, A + 2.0), A + 3.0), mul(u, u)), 1.0)  # noqa: E731
            far = lambda u: sub(mul(add(mul(sub(mul(u, A), 5.0 * A), u), 8.0 * A), u),  # noqa: E731
                                4.0 * A)
            return [far(add(t, 1.0)), near(t), near(sub(1.0, t)), far(sub(2.0, t))]
        wxs, wys = cubic(tx), cubic(ty)
        out = None
        for j in range(4):
            for i in range(4):
                with no_grad():
                    xc, yc = pad_coords(add(x0, i - 1.0), add(y0, j - 1.0))
                term = mul(corner(xc, yc), reshape(mul(wxs[i], wys[j]), (N, 1, Ho, Wo)))
                out = term if out is None else add(out, term)
        return out

    if mode == "nearest":
        with no_grad():
            # round half to even, as PyTorch's nearest
            xn, yn = ix.detach().round(), iy.detach().round()
        return corner(xn, yn)
    with no_grad():
        x0, y0 = floor(ix.detach()), floor(iy.detach())
    x1, y1 = add(x0, 1.0), add(y0, 1.0)
    # bilinear weights: (x1 - ix), (ix - x0), likewise in y; differentiable in the grid
    wx1, wy1 = sub(ix, x0), sub(iy, y0)
    wx0, wy0 = sub(1.0, wx1), sub(1.0, wy1)

    def w(a, b):
        return reshape(mul(a, b), (N, 1, Ho, Wo))
    return add(add(mul(corner(x0, y0), w(wx0, wy0)), mul(corner(x1, y0), w(wx1, wy0))),
               add(mul(corner(x0, y1), w(wx0, wy1)), mul(corner(x1, y1), w(wx1, wy1))))
