"""More of ``torch.nn.functional``, each a composite of differentiable ops:

    channel_shuffle: (N, C, *) -> (N, g, C/g, *) -> swap the two group axes -> (N, C, *)
    softshrink:      x - l where x > l, x + l where x < -l, else 0;   hardshrink: x where |x| > l
    alpha_dropout:   y = a (x m + alpha' (1 - m)) + b, m ~ Bernoulli(1 - p) kept elements, with
                     alpha' = -SELU's scale * alpha, a = ((1 - p)(1 + p alpha'^2))^(-1/2) and
                     b = -a alpha' p: keeps a SELU network's zero mean and unit variance
                     (feature_alpha_dropout: one m per (sample, channel))
    pdist:           ||x_i - x_j||_p for every row pair i < j, in row-major order
    multi_margin:    sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C
    multilabel_margin: sum_{j in targets} sum_{i not in targets} max(0, 1 - (x_{y_j} - x_i)) / C,
                     the targets being the entries of each target row before its first -1
    triplet_margin_with_distance: max(d(a, p) - d(a, n) + margin, 0), d any distance function
"""
from __future__ import annotations

import math
import numbers

import numpy

from ..autograd import Tensor, _wrap
from .elementwise import add, mul, sub, where
from .extras import _reduce, pairwise_distance
from .extras_torch_misc import hardshrink
from .unary import relu

__all__ = ["channel_shuffle", "native_channel_shuffle", "softshrink", "hardshrink",
           "alpha_dropout", "feature_alpha_dropout", "pdist", "multi_margin_loss",
           "multilabel_margin_loss", "triplet_margin_with_distance_loss"]


def channel_shuffle(input, groups):
    """Split the C channels into ``groups`` groups and interleave them (ShuffleNet):
    channel g (C/groups) + k moves to k groups + g."""
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if not isinstance(groups, numbers.Integral) or groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    N, C = input.shape[:2]
    if C % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {C} channels "
                           f"and {groups} groups.")
    rest = tuple(input.shape[2:])
    x = input.reshape(N, groups, C // groups, *rest).transpose(1, 2)
    return x.reshape(N, C, *rest)


native_channel_shuffle = channel_shuffle


def softshrink(input, lambd=0.5):
    """x - lambd where x > lambd, x + lambd where x < -lambd, 0 elsewhere (gradient 1 outside
    [-lambd, lambd], 0 inside)."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be in range [0, {numpy.finfo(input.dtype).max:g}] for "
                           f"input dtype {input.dtype}, but found {lambd}")
    return where(input > lambd, sub(input, lambd),
                 where(input < -lambd, add(input, lambd), mul(input, 0.0)))


# ----------------------------------------------------------------------------- alpha dropout
_SELU_ALPHA_PRIME = 1.7580993408473766  # SELU's scale * alpha (the negative saturation, negated)


def _alpha_dropout(input, p, training, feature):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if feature and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return mul(input, 0.0)
    from ..creation import rand
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if feature else tuple(input.shape)
    keep = (rand(shape, dtype=input.dtype, device=input.device).array >= p).astype(input.dtype)
    al = _SELU_ALPHA_PRIME
    a = ((al * al * p + 1.0) * (1.0 - p)) ** -0.5
    # y = x (a m) + (a al p - a al (1 - m)): dropped elements become a (al p - al) = SELU's floor
    # moved so that mean and variance are kept
    scale = keep * a
    shift = (keep - 1.0) * (al * a) + al * a * p
    return add(mul(input, _wrap(scale.astype(input.dtype))), _wrap(shift.astype(input.dtype)))


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped elements are set to SELU's negative saturation and the
    result is scaled and shifted to keep zero mean and unit variance. Note ``training=False`` is
    PyTorch's default here. ``inplace`` changes nothing."""
    return _alpha_dropout(input, p, training, feature=False)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels: one keep/drop draw per (sample, channel)."""
    return _alpha_dropout(input, p, training, feature=True)


# ----------------------------------------------------------------------------- pdist
def pdist(input, p=2):
    """||x_i - x_j||_p for the rows i < j of an (N, M) input, as a vector of N (N - 1) / 2 in
    row-major order. As PyTorch's, the gradient is 0 where a distance (or, for p < 1, a
    coordinate difference) is 0, where the p-norm has no derivative."""
    from .reduction import sum as _sum, amax
    from .unary import abs as _abs
    if not isinstance(input, Tensor):
        raise TypeError(f"pdist: expected a Tensor input, got {type(input).__name__}")
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    if input.dtype.kind != "f":
        raise RuntimeError(f"pdist only supports floating-point dtypes, got {input.dtype}")
    N = input.shape[0]
    i, j = numpy.triu_indices(N, 1)
    xp = input.xp
    d = sub(input[xp.asarray(i)], input[xp.asarray(j)])  # (P, M)
    a = _abs(d)
    if p == 0:  # the number of differing coordinates; no gradient
        return add(_sum(mul(d, 0.0), dim=-1), _wrap((a.array != 0).sum(-1).astype(d.dtype)))
    if p == math.inf:
        return amax(a, dim=-1)
    if p == 1:
        return _sum(a, dim=-1)
    # ||d||_p = (sum |d|^p)^(1/p), with 0 ** (anything) kept out of the graph
    zero = a == 0
    t = where(zero, mul(a, 0.0), where(zero, 1.0, a).pow(float(p)))
    s = _sum(t, dim=-1)
    sz = s == 0
    return where(sz, mul(s, 0.0), where(sz, 1.0, s).pow(1.0 / p))


# ----------------------------------------------------------------------------- margin losses
def _class_input(op, input, target):
    if input.ndim not in (1, 2):
        raise RuntimeError(f"{op}: expected a 1-D (C) or 2-D (N, C) input, got "
                           f"{list(input.shape)}")
    return input.unsqueeze(0) if input.ndim == 1 else input


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss: for each sample, sum over the classes i != y of
    w_y max(0, margin - x_y + x_i)^p, divided by the number of classes C."""
    op = "multi_margin_loss"
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = _class_input(op, input, target)
    N, C = x.shape
    t = target.reshape(-1)
    if t.shape[0] != N:
        raise RuntimeError(f"{op}: inconsistent target size: {list(target.shape)} for input of "
                           f"size: {list(input.shape)}")
    ta = t.array
    if ta.size and (int(ta.min()) < 0 or int(ta.max()) >= C):
        raise IndexError(f"{op}: target out of range: targets must be in [0, {C - 1}], got "
                         f"{int(ta.min())}..{int(ta.max())}")
    if weight is not None and tuple(weight.shape) != (C,):
        raise RuntimeError(f"{op}: weight must be a 1-D tensor of {C} elements, got "
                           f"{list(weight.shape)}")
    xp = x.xp
    rows = xp.arange(N)
    x_y = x[rows, ta].unsqueeze(1)  # (N, 1)
    h = relu(add(sub(x, x_y), margin))
    if p == 2:
        h = mul(h, h)
    if weight is not None:
        h = mul(h, weight[ta].unsqueeze(1))
    other = _wrap((xp.arange(C)[None, :] != ta[:, None]).astype(x.dtype))
    loss = mul(h, other).sum(dim=1) / C
    if input.ndim == 1:
        loss = loss.squeeze(0)
    return _reduce(loss, reduction, op)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge loss: with the targets y_j of a sample the entries of its target row
    before the first -1, sum_j sum_{i not a target} max(0, 1 - (x_{y_j} - x_i)) / C."""
    op = "multilabel_margin_loss"
    x = _class_input(op, input, target)
    if target.dtype != numpy.int64:
        raise RuntimeError(f"expected scalar type Long but found {target.dtype}")
    t = target.unsqueeze(0) if target.ndim == 1 else target
    if tuple(t.shape) != tuple(x.shape) or target.ndim != input.ndim:
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    N, C = x.shape
    xp = x.xp
    ta = t.array
    valid = xp.cumprod(ta != -1, axis=1).astype(bool)  # entries before the first -1
    if bool(((ta < -1) | (ta >= C))[valid].any()) if ta.size else False:
        raise RuntimeError(f"{op}: target out of range: entries must be in [-1, {C - 1}]")
    safe = xp.where(valid, ta, 0)
    is_target = xp.zeros((N, C), bool)
    rows = xp.broadcast_to(xp.arange(N)[:, None], ta.shape)
    is_target[rows[valid], safe[valid]] = True
    x_y = x[xp.arange(N)[:, None], safe]  # (N, K): the target classes' scores
    h = relu(add(sub(x.unsqueeze(1), x_y.unsqueeze(2)), 1.0))  # (N, K, C)
    m = (valid[:, :, None] & ~is_target[:, None, :]).astype(x.dtype)
    loss = mul(h, _wrap(m)).sum(dim=(1, 2)) / C
    if input.ndim == 1:
        loss = loss.squeeze(0)
    return _reduce(loss, reduction, op)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0), d = ``distance_function`` (pairwise_distance by
    default); with ``swap`` d(a, n) is replaced by min(d(a, n), d(p, n))."""
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    nd = {anchor.ndim, positive.ndim, negative.ndim}
    if len(nd) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {anchor.ndim}D, positive "
                           f"{positive.ndim}D, and negative {negative.ndim}D inputs")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_ap = dist(anchor, positive)
    d_an = dist(anchor, negative)
    if swap:
        from .elementwise import minimum
        d_an = minimum(d_an, dist(positive, negative))
    loss = relu(add(sub(d_ap, d_an), margin))
    return _reduce(loss, reduction, "triplet_margin_with_distance_loss")


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction="mean", ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...) (PyTorch 2.13):
    logits[..., c, d...] = sum_i input[..., i] linear_weight[c, d..., i] (+ linear_bias[c, d...]).
    linear_weight (C, *out_features, in_features) with out_features non-empty gives a
    K-dimensional loss. ``ignore_index=None`` ignores nothing (-100 for cross_entropy).
    ``options`` (PyTorch's chunked path, which never materialises the logits) is accepted;
    minigen computes the reference form, which has the same value and gradients."""
    from .activation import linear
    from .cross_entropy import cross_entropy
    if input.ndim < 1 or input.ndim > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.ndim}")
    batches, in_features = tuple(input.shape[:-1]), input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError("expected equal input and linear_weight last dimensions (in_features), "
                           f"got {in_features} and {linear_weight.shape[-1]}, respectively")
    C = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (C,) + out_features:
        raise RuntimeError(f"expected linear_bias shape {(C,) + out_features}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and not batches:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape "
                           f"{tuple(linear_weight.shape)} requires batched input, (N, "
                           f"{in_features}), got unbatched input with shape {tuple(input.shape)}")
    logits_shape = batches + (C,) + out_features
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    W = linear_weight.reshape(-1, in_features)
    b = None if linear_bias is None else linear_bias.reshape(-1)
    logits = linear(input, W, b).reshape(logits_shape)
    return cross_entropy(logits, target, weight=weight,
                         ignore_index=-100 if ignore_index is None else ignore_index,
                         reduction=reduction, label_smoothing=label_smoothing)


__all__ += ["linear_cross_entropy"]
