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
"""
import math
import numbers

from .elementwise import add, sub, mul, div, pow, maximum, where
from .unary import exp, log, relu, clamp
from .reduction import sum, mean, amax
from .shape import pad as _pad, permute, reshape
from .join import stack
from .extras import _reduce, cosine_similarity, pairwise_distance, logsigmoid
from .linalg import einsum

__all__ = ["unfold", "adaptive_max_pool1d", "adaptive_max_pool2d", "bilinear",
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


def _adaptive_max(input, output_size, n, name):
    out = (output_size,) * n if isinstance(output_size, numbers.Integral) or output_size is None \
        else tuple(output_size)
    sizes = input.shape[-n:]
    out = tuple(s if o is None else int(o) for o, s in zip(out, sizes))
    x = input
    for d in range(n):  # pool one spatial dim at a time: max is separable
        axis = x.ndim - n + d
        L, O = sizes[d], out[d]
        cells = []
        for i in range(O):
            lo, hi = (i * L) // O, -((-(i + 1) * L) // O)
            index = (slice(None),) * axis + (slice(lo, hi),)
            cells.append(amax(x[index], dim=axis))
        x = stack(cells, dim=axis)
    return x


def adaptive_max_pool1d(input, output_size, return_indices=False):
    if return_indices:
        raise NotImplementedError("adaptive_max_pool1d: return_indices is not supported in minigen")
    return _adaptive_max(input, output_size, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input, output_size, return_indices=False):
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices is not supported in minigen")
    return _adaptive_max(input, output_size, 2, "adaptive_max_pool2d")


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
