"""Activations and the other functional forms of the basic layers (``F.linear``, ``F.gelu``,
``F.dropout``, ``F.embedding``, ``F.one_hot``...), with PyTorch's names, arguments and defaults.

Every differentiable function here is twice differentiable (a WGAN-GP critic needs the
gradient of a gradient through all of them). Two ways to get there:

* composites of primitive ops (``silu = x * sigmoid(x)``, the tanh form of GELU): autograd
  differentiates them as often as asked;
* a hand-written ``Function`` whose ``backward`` is itself written in minigen ops (``Linear``,
  ``LeakyRelu``, ``Elu``, ``Softplus``, ``Hardtanh``, ``NormalCdf``, the embedding pair). These
  exist where a composite would be slower, or wrong: ``where(x > 0, x, alpha * (exp(x) - 1))``
  overflows ``exp`` in the branch it discards, and the discarded branch's gradient
  ``0 * exp(x) = 0 * inf`` is NaN. Each Function's docstring derives its backward.

``inplace=True`` is accepted wherever PyTorch accepts it and changes nothing: minigen never
overwrites an op's input (the graph may need it for backward), so the result is always a new
tensor and the input is left as it was.
"""
from __future__ import annotations

from .. import backend as B
from ..autograd import Function, Tensor, _device_mismatch, _wrap
from .elementwise import mul
from .unary import sigmoid
from .unary import relu as _relu

__all__ = [
    "linear", "relu", "leaky_relu", "rrelu", "gelu", "silu", "softplus", "elu", "hardtanh", "relu6",
    "dropout", "embedding", "embedding_bag", "one_hot", "gumbel_softmax",
]


from .gelu import gelu  # noqa: E402  (exact GELU and the normal CDF live in ops/gelu.py)


# ----------------------------------------------------------------------------- linear
class Linear(Function):
    """y = x W^T + b, for x of shape (*, in), W of shape (out, in), b of shape (out,).

    With X = x reshaped to (N, in) and G = dL/dy reshaped to (N, out), N the product of the
    leading dims, y_nj = sum_i X_ni W_ji + b_j gives
        dL/dX_ni = sum_j G_nj W_ji      dL/dx = G W        (reshaped back to x's shape)
        dL/dW_ji = sum_n G_nj X_ni      dL/dW = G^T X
        dL/db_j  = sum_n G_nj           dL/db = G summed over the rows
    each a matmul or a sum of minigen ops, so the backward is differentiable again.
    """

    def forward(self, x, w, b=None):
        self.save_for_backward(x, w)
        y = x.reshape(-1, x.shape[-1]) @ w.T
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, gy):
        x, w = self.saved_tensors
        need = self.needs_input_grad
        g = gy.reshape(-1, w.shape[0])
        gx = (g @ w).reshape(x.shape) if need[0] else None
        gw = g.mT @ x.reshape(-1, w.shape[1]) if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, (g.sum(0) if need[2] else None)


def linear(input, weight, bias=None):
    """y = input @ weight^T + bias: ``input`` (*, in_features), ``weight`` (out_features,
    in_features), ``bias`` (out_features,) or None."""
    if weight.ndim != 2:
        raise RuntimeError(f"linear: weight must be 2-D (out_features, in_features), "
                           f"got shape {list(weight.shape)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise RuntimeError(
            f"linear: input {list(input.shape)} has {input.shape[-1] if input.ndim else 0} "
            f"features in its last dimension, but weight {list(weight.shape)} expects "
            f"in_features={weight.shape[1]}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"linear: input and weight must have the same dtype, but got "
                           f"{input.dtype} and {weight.dtype}")
    if bias is None:
        return Linear.apply(input, weight)
    if tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(f"linear: bias of shape {list(bias.shape)} does not match weight "
                           f"{list(weight.shape)}; expected [{weight.shape[0]}]")
    return Linear.apply(input, weight, bias.to(input.dtype))


# ----------------------------------------------------------------------------- piecewise linear
def relu(input, inplace=False):
    """max(x, 0); the gradient at 0 is 0, as in PyTorch. ``inplace`` changes nothing."""
    return _relu(input)


class LeakyRelu(Function):
    """y = x for x > 0, s x otherwise, computed as max(x, s x) for s <= 1 (x > 0: x > s x;
    x < 0: s x > x) and min(x, s x) for s > 1: two array passes where max(x, 0) + s min(x, 0)
    takes four (a DCGAN discriminator's activation, 64 x 64 x 16 x 16: 1.0 ms against 1.7 ms).

    dy/dx = d = 1 for x > 0, s otherwise (s at x = 0, as PyTorch). d is piecewise constant, so
    the second derivative in x is 0 and the backward, g d, only has to be differentiable in g:
    d is a constant, rebuilt in backward from the saved sign mask (one byte an element instead
    of four: in a DCGAN discriminator these masks are most of what the activations keep).
    (Masks are multiplied, not selected with ``where``: NumPy's ``where`` on a random sign
    pattern is about 100x slower than a multiply.)
    """

    def forward(self, x, negative_slope):
        xp = self.xp
        self.slope = negative_slope
        # (asarray: NumPy answers a 0-d x with scalars, which out= and the saved tensors refuse)
        self.save_for_backward(xp.asarray(x > 0))
        if negative_slope == 0:  # 0 * inf is nan: max(inf, nan) would lose the + inf
            return xp.asarray(xp.maximum(x, 0) + negative_slope * xp.minimum(x, 0))
        sx = xp.asarray(x * negative_slope)
        return xp.maximum(x, sx, out=sx) if negative_slope <= 1 else xp.minimum(x, sx, out=sx)

    def backward(self, gy):
        (pos,) = self.saved_tensors
        # d = 1 where x > 0, else s: (1 - pos) s + pos, exact (0 + 1 and s + 0)
        pos = pos.array.astype(gy.dtype)
        d = self.xp.asarray(1 - pos)  # (an array even when pos is 0-d)
        d *= self.slope
        d += pos
        return gy * _wrap(d)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x. ``inplace`` changes nothing."""
    return LeakyRelu.apply(input, negative_slope=negative_slope)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU (Xu et al. 2015): x if x >= 0 else a x, with a ~ U(lower, upper)
    drawn per element while training, and a = (lower + upper) / 2 in evaluation."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    from ..creation import rand
    # a ~ U(lower, upper), one per element
    a = rand(*input.shape, dtype=input.dtype, device=input.device) * (upper - lower) + lower
    from .elementwise import where
    return where(input >= 0, input, input * a)


class Hardtanh(Function):
    """y = clamp(x, lo, hi).  dy/dx = 1 strictly inside (lo, hi) and 0 elsewhere, ends
    excluded, as PyTorch's hardtanh (``clamp`` includes the ends; this does not)."""

    def forward(self, x, min_val, max_val):
        self.save_for_backward(x)
        self.lo, self.hi = min_val, max_val
        return self.xp.clip(x, min_val, max_val)

    def backward(self, gy):
        (x,) = self.saved_tensors
        inside = (x > self.lo) & (x < self.hi)
        return gy * inside.to(gy.dtype)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val). ``inplace`` changes nothing."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return Hardtanh.apply(input, min_val=min_val, max_val=max_val)


def relu6(input, inplace=False):
    """min(max(x, 0), 6) = hardtanh(x, 0, 6). ``inplace`` changes nothing."""
    return hardtanh(input, 0.0, 6.0)


# ----------------------------------------------------------------------------- smooth
class Elu(Function):
    """y = x for x > 0, alpha (e^x - 1) otherwise, computed as max(x, 0) + alpha expm1(min(x, 0))
    (expm1 only ever sees x <= 0, so large x never overflows).

    dy/dx = 1 for x > 0; for x <= 0, dy/dx = alpha e^x = y + alpha, which reuses the output.
    With constant masks P = [x > 0] and N = [x < 0]:
        dy/dx = c + N y,   c = P + (1 - P) alpha
    (1 for x > 0, alpha + y for x < 0, alpha at x = 0). ``y`` comes back from ``saved_tensors``
    as this node's own output, so differentiating the backward again goes through it:
    d^2y/dx^2 = N dy/dx = alpha e^x for x < 0, and 0 at x = 0 and beyond, where PyTorch also
    takes alpha as the first derivative but 0 as the second.
    """

    def forward(self, x, alpha):
        xp = self.xp
        y = xp.asarray(xp.maximum(x, 0) + alpha * xp.expm1(xp.minimum(x, 0)))
        pos = xp.asarray(x > 0).astype(x.dtype)
        self.save_for_backward(y, xp.asarray(pos + alpha * (1 - pos)),
                               xp.asarray(x < 0).astype(x.dtype))
        return y

    def backward(self, gy):
        y, c, neg = self.saved_tensors
        return gy * (c + neg * y)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1). ``inplace`` changes nothing."""
    return Elu.apply(input, alpha=alpha)


class Softplus(Function):
    """y = (1/beta) log(1 + e^(beta x)), and y = x where beta x > threshold (as PyTorch,
    where the two agree to float precision).

    Computed as (max(z, 0) + log1p(e^-|z|)) / beta with z = beta x, which never overflows.
    dy/dx = e^z / (1 + e^z) = sigmoid(z), or 1 where z > threshold. With constant masks
    G = [z > threshold] and L = [z < threshold]:
        dy/dx = G + (1 - G) sigmoid(L z + (1 - L) threshold)
    The argument equals z wherever sigmoid is used, but its derivative is 0 at
    z = threshold exactly, so d^2y/dx^2 = beta sigmoid (1 - sigmoid) below the threshold and
    0 from it on, the pair PyTorch uses. sigmoid is minigen's, so this differentiates again.
    """

    def forward(self, x, beta, threshold):
        xp = self.xp
        self.beta, self.threshold = beta, threshold
        z = x * beta
        above = xp.asarray(z > threshold)  # (asarray: arrays even for a 0-d x)
        below = xp.asarray(z < threshold).astype(x.dtype)
        self.save_for_backward(x, above.astype(x.dtype), below,
                               xp.asarray((1 - below) * threshold))
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
        return xp.where(above, x, soft).astype(x.dtype, copy=False)

    def backward(self, gy):
        x, g, below, rest = self.saved_tensors
        s = sigmoid(x * self.beta * below + rest)
        return gy * (g + (1.0 - g) * s)


def softplus(input, beta=1.0, threshold=20.0):
    """(1/beta) log(1 + exp(beta x)), linear where beta x > threshold."""
    return Softplus.apply(input, beta=beta, threshold=threshold)


def silu(input, inplace=False):
    """x sigmoid(x) (the swish). A composite, so autograd differentiates it as often as asked.
    ``inplace`` changes nothing."""
    return mul(input, sigmoid(input))


# ----------------------------------------------------------------------------- dropout
def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p),
    so E[output] = input and evaluation needs no rescaling. ``training=False`` (or p = 0)
    returns ``input`` itself; p = 1 gives zeros. The mask comes from minigen's seeded generator
    on the input's device, so ``manual_seed`` repeats it. ``inplace`` changes nothing.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    from ..creation import rand
    if p == 1.0:
        return mul(input, 0.0)
    # m_i = 1[u_i >= p] / (1 - p),  u_i ~ U[0, 1)
    u = rand(input.shape, dtype=input.dtype, device=input.device).array
    m = (u >= p).astype(input.dtype) * (1.0 / (1.0 - p))
    return mul(input, _wrap(m.astype(input.dtype, copy=False)))


# ----------------------------------------------------------------------------- embedding
class EmbeddingGather(Function):
    """y[p] = W[idx[p]]: row lookup. Its backward scatters rows back (``EmbeddingScatter``).

    With ``zero_padding`` (used only as the adjoint of the scatter) positions whose index is
    the padding index read 0 instead of their row. ``row_scale`` (``scale_grad_by_freq``: one
    factor per row of W, 1 / its count in idx) scales the rows of the gradient the backward
    scatters.
    """

    def forward(self, w, idx, padding_idx, zero_padding=False, row_scale=None):
        self.idx, self.padding_idx, self.num = idx, padding_idx, w.shape[0]
        self.row_scale = row_scale
        y = w[idx]
        if zero_padding and padding_idx is not None:
            y = y * (idx != padding_idx)[..., None].astype(y.dtype)
        return y

    def backward(self, gy):
        return EmbeddingScatter.apply(gy, idx=self.idx, num=self.num, padding_idx=self.padding_idx,
                                      row_scale=self.row_scale)


class EmbeddingScatter(Function):
    """dL/dW = sum over positions p of e_{idx[p]} dL/dy[p] (repeated indices add up), with the
    padding row set to zero: it receives no gradient, as in PyTorch. This map is linear in
    dL/dy; its adjoint is the gather that reads 0 at padding positions. ``row_scale``
    (``scale_grad_by_freq``) multiplies row i of the result by row_scale[i]; the adjoint stays
    the plain gather then, as PyTorch's double backward of embedding ignores the scaling (so
    that, with S G = diag(counts), D S G = S G D and second derivatives agree with finite
    differences of the scaled gradient)."""

    def forward(self, gy, idx, num, padding_idx, row_scale=None):
        self.idx, self.padding_idx, self.row_scale = idx, padding_idx, row_scale
        d = gy.shape[-1]
        gw = self.xp.zeros((num, d), dtype=gy.dtype)
        self.backend.scatter_add(gw, idx.reshape(-1), gy.reshape(-1, d))
        if row_scale is not None:
            gw *= row_scale[:, None]
        if padding_idx is not None:
            gw[padding_idx] = 0
        return gw

    def backward(self, ggw):
        return EmbeddingGather.apply(ggw, idx=self.idx, padding_idx=self.padding_idx,
                                     zero_padding=True)


def _check_embedding_indices(input, num, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected the indices as a Tensor, got {type(input).__name__}")
    if input.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected indices of an integer dtype (int64 or int32), but "
                           f"got {input.dtype}")
    if input.numel():
        lo, hi = B.value_range(input.array)
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{op}: index {bad} is out of range for num_embeddings={num} "
                             f"(valid indices are 0 to {num - 1})")


def _embedding_renorm_(weight, input, max_norm, norm_type):
    """PyTorch's ``max_norm``: before the lookup, every row of ``weight`` that ``input`` picks
    and whose ``norm_type``-norm exceeds ``max_norm`` is scaled in place (outside autograd) by
    max_norm / (norm + 1e-7)."""
    xp = weight.xp
    rows = xp.unique(input.array.reshape(-1))
    if rows.size == 0:
        return
    w = weight.array
    sel = w[rows]
    p = float(norm_type)
    norms = xp.abs(sel).max(-1) if p == float("inf") else (xp.abs(sel) ** p).sum(-1) ** (1.0 / p)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    w[rows] = sel * scale[:, None]


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the integer tensor ``input``:
    output shape ``input.shape + (embedding_dim,)``. The row ``padding_idx`` gets no gradient.
    ``max_norm``: the picked rows longer than max_norm are first rescaled in place to that
    length (as PyTorch). ``sparse=True`` is accepted; the gradient is then the same values as
    PyTorch's sparse one, held as a dense tensor. ``scale_grad_by_freq=True`` divides the
    gradient of each row by the number of times ``input`` picks it.
    """
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), "
                           f"got shape {list(weight.shape)}")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                             f"num_embeddings={num}")
        padding_idx %= num
    _check_embedding_indices(input, num, "embedding")
    if type(input.array) is not type(weight.array):
        _device_mismatch("embedding", [input, weight])
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    row_scale = None
    if scale_grad_by_freq:
        xp = weight.xp
        counts = xp.bincount(input.array.reshape(-1), minlength=num)
        row_scale = (1.0 / xp.maximum(counts, 1)).astype(weight.dtype)
    return EmbeddingGather.apply(weight, idx=input.array, padding_idx=padding_idx,
                                 row_scale=row_scale)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sums, means or maxima of bags of embeddings, without building the (n, D) rows per bag.

    ``input``: 1-D indices split into bags by ``offsets`` (bag b is input[offsets[b]:
    offsets[b+1]], the last one to the end; with ``include_last_offset`` offsets has B + 1
    entries and the last bag still runs to the end of input, as PyTorch's), or 2-D (B, n):
    B bags of n indices (``offsets`` must then be None). Output (B, D):

        'sum'   out[b] = sum_{i in bag b} w_i e[input_i]     (w = per_sample_weights, else 1)
        'mean'  out[b] = (1 / |bag b|) sum_{i in bag b} e[input_i]
        'max'   out[b] = max_{i in bag b} e[input_i]          (elementwise)

    Entries equal to ``padding_idx`` are left out of their bag (not counted by 'mean'); an
    empty bag gives zeros. ``per_sample_weights`` (same shape as input) only with 'sum'.
    Built from differentiable ops: the rows are ``embedding``'s gather; 'sum' and 'mean' add
    them into their bags (``index_add``), 'max' reduces them into their bags with
    ``scatter_reduce(..., 'amax')``; so the gradient reaches each picked row of ``weight`` (for
    'max' only the row that gave the maximum) and ``per_sample_weights``. ``max_norm`` rescales the picked rows first, as in
    ``embedding``; ``sparse=True`` gives the same gradient values, dense;
    ``scale_grad_by_freq`` divides each row's gradient by its count in ``input`` (PyTorch's
    documented meaning; its CPU kernel applies some of the counts to the wrong rows, so the
    two can differ there)."""
    import numpy
    from ..creation import tensor as _tensor, zeros
    op = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding_bag: weight must be 2-D (num_embeddings, embedding_dim), "
                           f"got shape {list(weight.shape)}")
    if not isinstance(input, Tensor):
        raise TypeError(f"embedding_bag: expected the indices as a Tensor, got "
                        f"{type(input).__name__}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(
                "embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                "on GitHub.")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: If per_sample_weights "
                             f"({list(per_sample_weights.shape)}) is not None, then it must have the same shape as the input "
                             f"({list(input.shape)})")
    num, D = weight.shape
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding_bag: padding_idx {padding_idx} must be within "
                             f"num_embeddings={num}")
        padding_idx %= num
    _check_embedding_indices(input, num, op)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is "
                             "a mini-batch of fixed length sequences. However, found offsets of "
                             f"type {type(offsets)}")
        nb, per = input.shape
        starts = [b * per for b in range(nb)]
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        offs = offsets.tolist() if isinstance(offsets, Tensor) else list(offsets)
        if isinstance(offsets, Tensor) and offsets.ndim != 1 or \
                any(isinstance(o, list) for o in offs):
            raise ValueError("offsets has to be a 1D Tensor")
        offs = [int(o) for o in offs]
        starts = offs[:-1] if include_last_offset else offs
        if offs and offs[0] != 0:
            raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the "
                               "mini-batch has to start from position 0. However, got "
                               f"{offs[0]}")
        if offs and offs[-1] > input.shape[0]:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length "
                               f"{input.shape[0]} but got offsets[-1] of {offs[-1]}")
        if any(b < a for a, b in zip(offs, offs[1:])):
            raise RuntimeError(f"embedding_bag: offsets must be non-decreasing, got {offs}")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    n, nbags = input.shape[0], len(starts)
    if nbags == 0:  # (include_last_offset with a single offset: no bags)
        return embedding(input[:0], weight).reshape(0, D)
    idx = numpy.asarray(input.detach().cpu().numpy(), dtype=numpy.int64).reshape(-1)
    # bag b holds positions starts[b] .. starts[b+1] - 1 (the last one to the end); the kept
    # positions (not padding_idx) and their bags
    pos = numpy.arange(n)
    bag = numpy.searchsorted(numpy.asarray(starts, dtype=numpy.int64), pos, side="right") - 1
    keep = pos if padding_idx is None else pos[idx != padding_idx]
    kbag = bag[keep]
    counts = numpy.bincount(kbag, minlength=nbags).astype(numpy.float64)
    rows = embedding(input, weight, max_norm=max_norm, norm_type=norm_type,
                     scale_grad_by_freq=scale_grad_by_freq)                    # (n, D)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(1)
    if mode in ("sum", "mean"):
        # out[b] = sum of the bag's rows (times 1 / count for 'mean'; an empty bag: 0), as an
        # index_add of the kept rows into their bags, whose gradient is the gather back
        if keep.size != n:
            rows = rows.index_select(0, _tensor(keep, device=weight.device))
        if mode == "mean":
            inv = (1.0 / numpy.maximum(counts, 1.0))[kbag][:, None]
            rows = rows * _tensor(inv, dtype=weight.dtype, device=weight.device)
        out = zeros(nbags, D, dtype=weight.dtype, device=weight.device)
        return out.index_add(0, _tensor(kbag, device=weight.device), rows)
    # 'max': out[b, d] = max over the bag's rows of row[d], an 'amax' scatter-reduce that
    # leaves an empty bag at its initial 0; the gradient goes to the row that gave the maximum
    # (rows tied for it are one and the same embedding row, picked twice)
    if keep.size != n:
        rows = rows.index_select(0, _tensor(keep, device=weight.device))
    where_to = _tensor(numpy.broadcast_to(kbag[:, None], (kbag.size, D)).copy(),
                       device=weight.device)
    out = zeros(nbags, D, dtype=weight.dtype, device=weight.device)
    return out.scatter_reduce(0, where_to, rows, "amax", include_self=False)


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape ``tensor.shape + (num_classes,)`` with a 1 at each class index.
    ``num_classes=-1`` means max(tensor) + 1. Not differentiable (integer output)."""
    if tensor.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: is only applicable to index tensors of an integer dtype, "
                           f"got {tensor.dtype}")
    xp, idx = tensor.xp, tensor.array
    if idx.size == 0:
        if num_classes == -1:
            raise RuntimeError("one_hot: can not infer the total number of classes from an "
                               "empty tensor; pass num_classes")
    else:
        lo, hi = B.value_range(idx)
        if lo < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {lo}")
        if num_classes == -1:
            num_classes = hi + 1
        elif hi >= num_classes:
            raise RuntimeError(f"one_hot: class values must be smaller than "
                               f"num_classes={num_classes}, got {hi}")
    classes = xp.arange(num_classes, dtype=idx.dtype)
    return _wrap((idx[..., None] == classes).astype(B.int64))


def _gumbel_noise(like):
    """Standard Gumbel samples g = -log(E), E ~ Exponential(1) = -log(1 - U), U ~ U[0, 1)
    (E kept above the smallest normal number, so that g stays finite)."""
    import numpy
    from ..creation import rand
    u = rand(*like.shape, dtype=like.dtype, device=like.device)
    e = (-(1.0 - u).log()).clamp_min(float(numpy.finfo(like.dtype).tiny))
    return -e.log()


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """A sample from the Gumbel-softmax (Concrete) distribution (Jang et al.; Maddison et al.):

        y = softmax((logits + g) / tau, dim),    g_i ~ Gumbel(0, 1) independent

    ``hard=True`` returns the one-hot vector of argmax y in the forward pass but y's gradient in
    the backward (the straight-through estimator: y_hard - y.detach() + y). ``eps`` is
    deprecated in PyTorch and has no effect (a warning says so if it is changed)."""
    import warnings
    from .softmax_family import softmax
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    if not isinstance(logits, Tensor):
        raise TypeError(f"gumbel_softmax: expected a Tensor, got {type(logits).__name__}")
    y_soft = softmax((logits + _gumbel_noise(logits)) / tau, dim)
    if not hard:
        return y_soft
    from ..creation import zeros_like
    index = y_soft.detach().argmax(dim, keepdim=True)
    y_hard = zeros_like(logits).scatter(dim, index, 1.0)
    # forward value y_hard, gradient of y_soft
    return y_hard - y_soft.detach() + y_soft
