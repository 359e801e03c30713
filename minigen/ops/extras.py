"""Functions PyTorch programs reach for that are compositions of minigen's primitive ops.

Each is written from its defining equation with ops that already carry their own backward,
so each is differentiable (to any order) with no backward of its own to check:

    smooth_l1(d)  = 0.5 d^2 / beta          if |d| < beta,  |d| - 0.5 beta  otherwise
    huber(d)      = 0.5 d^2                 if |d| < delta, delta (|d| - 0.5 delta) otherwise
    normalize(x)  = x / max(||x||_p, eps)                         (along ``dim``)
    cos(x1, x2)   = <x1, x2> / (max(||x1||, eps) max(||x2||, eps))
    selu(x)       = scale (max(0, x) + min(0, alpha (e^x - 1)))
    logsigmoid(x) = -softplus(-x) = min(x, 0) - log(1 + e^-|x|)
    glu(a | b)    = a sigmoid(b)                                  (halves along ``dim``)
    mish(x)       = x tanh(softplus(x))
    hardswish(x)  = x relu6(x + 3) / 6,   hardsigmoid(x) = relu6(x + 3) / 6
    pixel_shuffle: (N, C r^2, H, W) -> (N, C, H r, W r), out[n, c, h r + i, w r + j]
                   = in[n, c r^2 + i r + j, h, w]; pixel_unshuffle is its inverse
    dropout2d:     one Bernoulli draw per (sample, channel), kept channels scaled by 1/(1-p)
    instance_norm: batch norm of each (sample, channel) over its own positions
    x.unfold(d, size, step): windows x[..., k step : k step + size, ...] along d, as a new
                   last dim (PyTorch's sliding-window view; here a gather, so it is a copy)
"""
import builtins
import math
import numbers

from ..autograd import Tensor, _wrap
from .elementwise import add, sub, mul, div, pow, minimum, where
from .unary import exp, log1p, sqrt, abs, tanh, sigmoid, relu, clamp
from .reduction import sum, mean
from .shape import reshape, permute, movedim
from .join import chunk

__all__ = [
    "smooth_l1_loss", "huber_loss", "normalize", "cosine_similarity", "pairwise_distance",
    "selu", "celu", "logsigmoid", "glu", "mish", "hardswish", "hardsigmoid", "softsign",
    "tanhshrink", "threshold", "softmin", "prelu", "rms_norm", "pixel_shuffle",
    "pixel_unshuffle", "dropout1d", "dropout2d", "dropout3d", "instance_norm",
    "margin_ranking_loss",
]
# torch.* functions defined here that are not nn.functional names (re-exported by minigen)
TORCH_FUNCTIONS = ["addcmul", "addcdiv", "normal", "index_put"]
# names that become Tensor methods (x.unfold is the sliding-window one, not F.unfold)
TENSOR_METHODS = {"unfold": "unfold_windows", "addcmul": "addcmul", "addcdiv": "addcdiv",
                  "bernoulli_": "bernoulli_", "exponential_": "exponential_",
                  "geometric_": "geometric_", "log_normal_": "log_normal_", "cauchy_": "cauchy_",
                  "random_": "random_", "share_memory_": "share_memory_",
                  "is_shared": "is_shared", "index_put": "index_put"}


def _reduce(loss, reduction, name):
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _same_shape(input, target, name):
    if tuple(input.shape) != tuple(target.shape):
        import warnings
        warnings.warn(f"{name}: target size {list(target.shape)} differs from input size "
                      f"{list(input.shape)}; they are broadcast, which is rarely what was meant",
                      stacklevel=3)


# ----------------------------------------------------------------------------- losses
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Smooth L1: quadratic below ``beta``, linear above (beta = 0 is the L1 loss)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    _same_shape(input, target, "smooth_l1_loss")
    d = abs(sub(input, target))
    if beta == 0:
        return _reduce(d, reduction, "smooth_l1_loss")
    # l = 0.5 d^2 / beta if d < beta else d - 0.5 beta
    loss = where(d < beta, mul(mul(d, d), 0.5 / beta), sub(d, 0.5 * beta))
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Huber: 0.5 d^2 below ``delta``, delta (|d| - 0.5 delta) above (times ``weight``)."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    _same_shape(input, target, "huber_loss")
    d = abs(sub(input, target))
    # l = 0.5 d^2 if d < delta else delta (d - 0.5 delta)
    loss = where(d < delta, mul(mul(d, d), 0.5), mul(sub(d, 0.5 * delta), delta))
    if weight is not None:
        loss = mul(loss, weight)
    return _reduce(loss, reduction, "huber_loss")


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    """l = max(0, -y (x1 - x2) + margin)."""
    loss = relu(add(mul(mul(target, -1.0), sub(input1, input2)), margin))
    return _reduce(loss, reduction, "margin_ranking_loss")


# ----------------------------------------------------------------------------- norms, distances
def _norm(x, p, dim, keepdim):
    if p == 2:
        return sqrt(sum(mul(x, x), dim=dim, keepdim=keepdim))
    if p == 1:
        return sum(abs(x), dim=dim, keepdim=keepdim)
    if p == float("inf"):
        return abs(x).amax(dim=dim, keepdim=keepdim)
    return pow(sum(pow(abs(x), p), dim=dim, keepdim=keepdim), 1.0 / p)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """x / max(||x||_p, eps) along ``dim``."""
    if out is not None:
        raise TypeError("normalize: out= is not supported in minigen")
    n = _norm(input, p, dim, True)
    return div(input, clamp(n, min=eps))


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """<x1, x2> / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` (inputs broadcast)."""
    n1 = clamp(_norm(x1, 2, dim, False), min=eps)
    n2 = clamp(_norm(x2, 2, dim, False), min=eps)
    return div(sum(mul(x1, x2), dim=dim), mul(n1, n2))


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim."""
    return _norm(add(sub(x1, x2), eps), p, -1, keepdim)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2 over the trailing dims) + eps) * weight; eps defaults to the dtype's
    machine epsilon, as PyTorch's."""
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    k = len(tuple(normalized_shape))
    if tuple(input.shape[input.ndim - k:]) != tuple(normalized_shape):
        raise RuntimeError(f"rms_norm: normalized_shape {list(normalized_shape)} does not match "
                           f"the trailing dims of input of shape {list(input.shape)}")
    if eps is None:
        eps = float(input.xp.finfo(input.dtype).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    y = mul(input, pow(add(mean(mul(input, input), dim=dims, keepdim=True), eps), -0.5))
    return y if weight is None else mul(y, weight)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Each (sample, channel) normalised over its own positions: batch norm of the input
    seen as one sample with N*C channels. Running statistics (if given) are the mean over the
    batch of the per-instance updates, as in PyTorch."""
    from .batch_norm import batch_norm
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected input of shape (N, C, L...) with at least 3 "
                         f"dims, got {list(input.shape)}")
    N, C = input.shape[:2]
    x = reshape(input, (1, N * C) + tuple(input.shape[2:]))
    rm = rv = None
    if running_mean is not None:
        rm = running_mean.repeat(N)
        rv = running_var.repeat(N)
    y = batch_norm(x, rm, rv, None, None, training=use_input_stats or rm is None,
                   momentum=momentum, eps=eps)
    if running_mean is not None and use_input_stats:
        from ..autograd import no_grad
        with no_grad():
            running_mean.copy_(rm.view(N, C).mean(0))
            running_var.copy_(rv.view(N, C).mean(0))
    y = reshape(y, tuple(input.shape))
    shape = (1, C) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = mul(y, reshape(weight, shape))
    if bias is not None:
        y = add(y, reshape(bias, shape))
    return y


# ----------------------------------------------------------------------------- activations
def selu(input, inplace=False):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    # scale (max(0, x) + min(0, alpha (e^x - 1)))
    return mul(add(relu(input), minimum(mul(sub(exp(minimum(input, 0.0)), 1.0), alpha), 0.0)), scale)


def celu(input, alpha=1.0, inplace=False):
    # max(0, x) + min(0, alpha (e^(x / alpha) - 1))
    return add(relu(input), minimum(mul(sub(exp(div(minimum(input, 0.0), alpha)), 1.0), alpha), 0.0))


def logsigmoid(input):
    # log sigma(x) = min(x, 0) - log(1 + e^-|x|)
    return sub(minimum(input, 0.0), log1p(exp(mul(abs(input), -1.0))))


def glu(input, dim=-1):
    if input.shape[dim] % 2:
        raise RuntimeError(f"glu: halving dimension {dim} of size {input.shape[dim]} must be even")
    a, b = chunk(input, 2, dim)
    return mul(a, sigmoid(b))


def _softplus(x):
    # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|)
    return add(relu(x), log1p(exp(mul(abs(x), -1.0))))


def mish(input, inplace=False):
    return mul(input, tanh(_softplus(input)))


def hardsigmoid(input, inplace=False):
    return div(clamp(add(input, 3.0), 0.0, 6.0), 6.0)


def hardswish(input, inplace=False):
    return mul(input, hardsigmoid(input))


def softsign(input):
    return div(input, add(abs(input), 1.0))


def tanhshrink(input):
    return sub(input, tanh(input))


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``."""
    return where(input > threshold, input, value)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    from .softmax_family import softmax
    if dim is None:
        raise TypeError("softmin: pass dim= (the dimension to normalise over)")
    x = input if dtype is None else input.to(dtype)
    return softmax(mul(x, -1.0), dim=dim)


def prelu(input, weight):
    """max(0, x) + a min(0, x), with ``a`` one value or one per channel (dim 1)."""
    a = weight
    if weight.numel() > 1:
        if input.ndim < 2 or input.shape[1] != weight.numel():
            raise RuntimeError(f"prelu: weight has {weight.numel()} values but input of shape "
                               f"{list(input.shape)} has {input.shape[1] if input.ndim > 1 else 1} channels")
        a = reshape(weight, (1, -1) + (1,) * (input.ndim - 2))
    return add(relu(input), mul(a, minimum(input, 0.0)))


# ----------------------------------------------------------------------------- rearrangements
def pixel_shuffle(input, upscale_factor):
    """(N, C r^2, H, W) -> (N, C, H r, W r)."""
    r = int(upscale_factor)
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise RuntimeError(f"pixel_shuffle: expected input of shape (*, C*{r}^2, H, W), got "
                           f"{list(input.shape)}")
    *lead, Cr2, H, W = input.shape
    C = Cr2 // (r * r)
    nl = len(lead)
    x = reshape(input, tuple(lead) + (C, r, r, H, W))
    # out[.., c, h r + i, w r + j] = x[.., c, i, j, h, w]
    x = permute(x, tuple(range(nl)) + (nl, nl + 3, nl + 1, nl + 4, nl + 2))
    return reshape(x, tuple(lead) + (C, H * r, W * r))


def pixel_unshuffle(input, downscale_factor):
    """(N, C, H r, W r) -> (N, C r^2, H, W), the inverse of ``pixel_shuffle``."""
    r = int(downscale_factor)
    if input.ndim < 3 or input.shape[-1] % r or input.shape[-2] % r:
        raise RuntimeError(f"pixel_unshuffle: height and width of input of shape "
                           f"{list(input.shape)} must be divisible by {r}")
    *lead, C, Hr, Wr = input.shape
    H, W = Hr // r, Wr // r
    nl = len(lead)
    x = reshape(input, tuple(lead) + (C, H, r, W, r))
    x = permute(x, tuple(range(nl)) + (nl, nl + 2, nl + 4, nl + 1, nl + 3))
    return reshape(x, tuple(lead) + (C * r * r, H, W))


def unfold_windows(self, dimension, size, step):
    """``x.unfold(dim, size, step)``: every window of ``size`` along ``dim``, ``step`` apart,
    as a new last dimension; ``dim`` becomes the window count (size - size) // step + 1."""
    from ..creation import tensor as _tensor
    d = dimension % builtins.max(self.ndim, 1)
    n = self.shape[d] if self.ndim else 1
    if size > n:
        raise RuntimeError(f"unfold: size {size} is larger than dimension {dimension} of size {n}")
    if step <= 0:
        raise RuntimeError(f"unfold: step must be > 0, got {step}")
    count = (n - size) // step + 1
    xp = self.xp
    # idx[k, j] = k step + j
    idx = xp.arange(count)[:, None] * step + xp.arange(size)[None, :]
    windows = self[(builtins.slice(None),) * d + (_tensor(idx, device=self.device),)]
    # windows: (..., count, size, rest...) -> move the window axis (d + 1) to the end
    return movedim(windows, d + 1, -1)


# ----------------------------------------------------------------------------- channel dropout
def _feature_dropout(input, p, training, batched_ndim, name):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (batched_ndim, batched_ndim - 1):
        import warnings
        warnings.warn(f"{name}: expected a {batched_ndim}-D (batched) or {batched_ndim - 1}-D "
                      f"input, got shape {list(input.shape)}; dropping whole entries of dims "
                      f"beyond the first two", stacklevel=3)
    if not training or p == 0.0:
        return input
    from ..creation import rand
    # one draw per channel: mask shape (N, C, 1, ..., 1) (or (C, 1, ...) unbatched)
    lead = 2 if input.ndim >= 2 else 1
    shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    if input.ndim == batched_ndim - 1:  # unbatched: channels first
        shape = tuple(input.shape[:1]) + (1,) * (input.ndim - 1)
    if p == 1.0:
        return mul(input, 0.0)
    u = rand(shape, dtype=input.dtype, device=input.device).array
    m = (u >= p).astype(input.dtype) * (1.0 / (1.0 - p))
    return mul(input, _wrap(m.astype(input.dtype, copy=False)))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) input with probability p; scale the rest by 1/(1-p)."""
    return _feature_dropout(input, p, training, 3, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) input with probability p; scale the rest by 1/(1-p)."""
    return _feature_dropout(input, p, training, 4, "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) input with probability p; scale by 1/(1-p)."""
    return _feature_dropout(input, p, training, 5, "dropout3d")


# ----------------------------------------------------------------------------- fused arithmetic
def _deprecated_value_first(name, tensor1, tensor2, rest, value):
    """PyTorch's deprecated ``name(input, Number value, tensor1, tensor2)`` overload."""
    if rest:
        if len(rest) > 1 or isinstance(tensor1, Tensor):
            raise TypeError(f"{name}() takes 3 positional arguments but {3 + len(rest)} were given")
        import warnings
        warnings.warn(f"This overload of {name} is deprecated:\n\t{name}(Number value, Tensor tensor1, "
                      f"Tensor tensor2)\nConsider using one of the following signatures instead:\n\t"
                      f"{name}(Tensor tensor1, Tensor tensor2, *, Number value = 1)", UserWarning, stacklevel=3)
        return tensor2, rest[0], tensor1
    return tensor1, tensor2, value


def addcmul(input, tensor1, tensor2, *rest, value=1):
    """input + value tensor1 tensor2 (and the deprecated ``addcmul(input, value, t1, t2)``)."""
    tensor1, tensor2, value = _deprecated_value_first("addcmul", tensor1, tensor2, rest, value)
    return add(input, mul(mul(tensor1, tensor2), value))


def addcdiv(input, tensor1, tensor2, *rest, value=1):
    """input + value tensor1 / tensor2 (and the deprecated ``addcdiv(input, value, t1, t2)``)."""
    tensor1, tensor2, value = _deprecated_value_first("addcdiv", tensor1, tensor2, rest, value)
    return add(input, mul(div(tensor1, tensor2), value))


# ----------------------------------------------------------------------------- random
def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False, out=None):
    """Samples mean + std eps, eps ~ N(0, 1): ``mean`` and ``std`` numbers (then ``size`` is
    the shape) or tensors (broadcast together; the result is differentiable in both)."""
    from ..creation import randn
    if out is not None:
        raise TypeError("normal: out= is not supported in minigen")
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None:
            raise TypeError("normal: with a number mean and std, give the shape as size=")
        eps = randn(*((size,) if isinstance(size, numbers.Integral) else tuple(size)),
                    dtype=dtype, device=device, generator=generator)
        t = eps * std + mean
        return t.requires_grad_(True) if requires_grad else t
    if isinstance(std, Tensor) and (std.detach().cpu().numpy() < 0).any():
        raise RuntimeError("normal: std must be >= 0")
    ref = mean if isinstance(mean, Tensor) else std
    shape = tuple(ref.xp.broadcast_shapes(tuple(mean.shape) if isinstance(mean, Tensor) else (),
                                          tuple(std.shape) if isinstance(std, Tensor) else ()))
    eps = randn(*shape, dtype=ref.dtype, device=ref.device, generator=generator)
    # x = mean + std eps
    return add(mul(eps, std), mean)


def _fill(self, name, values):
    if self._check_inplace(name):
        raise RuntimeError(f"{name}: a tensor in the autograd graph cannot be refilled with "
                           "random numbers; do it under `with torch.no_grad():` or on a detached "
                           "tensor")
    self.array[...] = values.astype(self.dtype, copy=False)
    return self


def _uniform_like(self, generator=None):
    from ..creation import rand
    return rand(*self.shape, dtype="float64", device=self.device, generator=generator).array


def bernoulli_(self, p=0.5, *, generator=None):
    """In place: 1 with probability ``p`` (a number or a tensor of probabilities), else 0."""
    pd = p.array if isinstance(p, Tensor) else p
    return _fill(self, "bernoulli_", _uniform_like(self, generator) < pd)


def exponential_(self, lambd=1.0, *, generator=None):
    """In place: Exp(lambd) samples, -log(1 - u) / lambd."""
    return _fill(self, "exponential_", -self.xp.log1p(-_uniform_like(self, generator)) / lambd)


def geometric_(self, p, *, generator=None):
    """In place: the number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
    xp = self.xp
    return _fill(self, "geometric_", xp.ceil(xp.log1p(-_uniform_like(self, generator)) / math.log1p(-p)))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """In place: exp(mean + std z), z ~ N(0, 1)."""
    from ..creation import randn
    z = randn(*self.shape, dtype="float64", device=self.device, generator=generator).array
    return _fill(self, "log_normal_", self.xp.exp(mean + std * z))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """In place: median + sigma tan(pi (u - 1/2))."""
    u = _uniform_like(self, generator)
    return _fill(self, "cauchy_", median + sigma * self.xp.tan(math.pi * (u - 0.5)))


def random_(self, from_=0, to=None, *, generator=None, **kwargs):
    """In place: integers uniform on [from, to) (``random_(to)`` is [0, to); ``random_()`` is
    [0, 2^mantissa bits] for floating tensors, as PyTorch's)."""
    from ..creation import randint
    from_ = kwargs.pop("from", from_)
    if kwargs:
        raise TypeError(f"random_: unexpected keyword arguments {sorted(kwargs)}")
    if to is None:
        if from_ != 0:
            from_, to = 0, from_
        else:
            kind = self.dtype.kind
            to = (2 ** (self.xp.finfo(self.dtype).nmant + 1) + 1 if kind == "f"
                  else 2 if kind == "b" else int(self.xp.iinfo(self.dtype).max))
    r = randint(int(from_), int(to), tuple(self.shape), device=self.device, generator=generator)
    return _fill(self, "random_", r.array)


def share_memory_(self):
    """minigen tensors live in ordinary process memory; a child process gets a copy, not a
    shared view (so Hogwild-style training does not share updates). Returns the tensor."""
    return self


def is_shared(self):
    return False




# ----------------------------------------------------------------------------- writes into plain tensors
from ..autograd import Function  # noqa: E402


class IndexPut(Function):
    """out = x with out[key] = v (or += v with ``accumulate``), out of place:

        dL/dx = dL/dout, zero at ``key`` unless accumulating;  dL/dv = sum_to(dL/dout [key], v.shape)
    """

    def forward(self, x, v, key=None, accumulate=False):
        self.key, self.accumulate, self.vshape = key, accumulate, v.shape
        out = x.copy()
        if accumulate:
            # repeated indices add up, as PyTorch's accumulate=True
            self.backend.scatter_add(out, key, self.xp.broadcast_to(v, out[key].shape))
        else:
            out[key] = v
        return out

    def backward(self, g):
        from .reduction import sum_to
        gv = sum_to(g[self.key], self.vshape)
        if self.accumulate:
            return g, gv
        keep = g.xp.ones(g.shape, dtype=g.dtype)
        keep[self.key] = 0
        return mul(g, _wrap(keep)), gv


def index_put(input, indices, values, accumulate=False):
    """``x.index_put(indices, values)``: a new tensor equal to ``x`` with ``x[indices] = values``
    (``accumulate=True``: ``+=``, repeated indices adding up); differentiable in both."""
    from .indexing import _normalise_key
    if not isinstance(indices, tuple):
        indices = tuple(indices) if isinstance(indices, list) else (indices,)
    key, _ = _normalise_key(input, indices)
    if not isinstance(values, Tensor):
        from ..creation import tensor as _tensor
        values = _tensor(values, dtype=input.dtype, device=input.device)
    return IndexPut.apply(input, values, key=key, accumulate=accumulate)


# ----------------------------------------------------------------------------- in-place variants
# PyTorch's ``x.op_(...)``: the out-of-place ``x.op(...)`` written back into x; on the graph it is
# recorded and x takes on the result (Tensor._rebase).
INPLACE_ELEMENTWISE = (
    "abs_ acos_ addcdiv_ addcmul_ arccos_ arcsin_ arctan_ asin_ atan_ atan2_ arctan2_ ceil_ "
    "clamp_max_ clamp_min_ clip_ cos_ cosh_ cumprod_ cumsum_ divide_ eq_ erf_ erfc_ exp2_ exp_ "
    "expm1_ fix_ floor_ fmod_ frac_ ge_ gt_ index_add_ index_fill_ index_put_ le_ lerp_ log10_ "
    "log1p_ log2_ log_ logical_and_ logical_not_ logical_or_ logit_ lt_ multiply_ nan_to_num_ "
    "ne_ neg_ negative_ pow_ reciprocal_ relu_ remainder_ round_ rsqrt_ sgn_ sigmoid_ sign_ "
    "sin_ sinh_ sqrt_ square_ subtract_ tan_ tanh_ tril_ triu_ true_divide_ trunc_ xlogy_ "
    "absolute_ acosh_ addbmm_ addmm_ addmv_ addr_ arccosh_ arcsinh_ arctanh_ asinh_ atanh_ "
    "baddbmm_ bitwise_and_ bitwise_not_ bitwise_or_ bitwise_xor_ bitwise_left_shift_ "
    "bitwise_right_shift_ copysign_ deg2rad_ digamma_ erfinv_ float_power_ floor_divide_ gcd_ "
    "greater_ greater_equal_ heaviside_ hypot_ i0_ igamma_ igammac_ index_copy_ lcm_ ldexp_ "
    "less_ less_equal_ lgamma_ logical_xor_ masked_scatter_ mvlgamma_ nextafter_ not_equal_ "
    "polygamma_ rad2deg_ renorm_ sinc_ scatter_reduce_ put_ index_reduce_ diagonal_scatter_ "
    "select_scatter_ slice_scatter_").split()
INPLACE_RESHAPING = "squeeze_ unsqueeze_ t_ transpose_ swapaxes_ swapdims_".split()


def install_torch_inplace_functions(namespace):
    """``torch.relu_(x)``, ``torch.exp_(x)``, ...: the module-level spelling of ``x.op_()``."""
    from ..tensor import Tensor as T
    for name in INPLACE_ELEMENTWISE + ("relu_ sigmoid_ tanh_ clamp_ clamp_min_ clamp_max_ "
                                       "fill_ zero_ index_put_ detach_ exp_").split():
        if name not in namespace and hasattr(T, name):
            namespace[name] = _method_as_function(name)


def _method_as_function(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"``torch.{name}(x, ...)``: ``x.{name}(...)``, in place."
    return fn


def functional_inplace(fn, name):
    """``F.relu_(x)``, ``F.elu_(x, alpha)``, ...: ``fn`` computed, then written into x (on
    the graph, recorded: Tensor._rebase)."""
    def inplace(input, *args, **kwargs):
        kwargs.pop("inplace", None)
        return input._write_back(fn(input, *args, **kwargs), name)
    inplace.__name__ = name
    inplace.__doc__ = f"``F.{name}``: ``F.{name[:-1]}`` written into its input, in place."
    return inplace


def _inplace(name, reshaping):
    def method(self, *args, **kwargs):
        r = getattr(Tensor, name[:-1])(self, *args, **kwargs)
        if not reshaping:
            return self._write_back(r, name)
        if self._check_inplace(name, r):  # the same values seen with another shape
            return self._rebase(r, name, reshaping=True)
        self.array = r.array
        return self
    method.__name__ = name
    method.__doc__ = f"In place: ``x.{name[:-1]}(...)`` written into x (recorded on the graph)."
    return method


def install_inplace(T):
    for name in INPLACE_ELEMENTWISE + INPLACE_RESHAPING:
        if not hasattr(T, name) and hasattr(T, name[:-1]):
            setattr(T, name, _inplace(name, name in INPLACE_RESHAPING))
