"""torch.* functions programs use that are compositions of minigen's ops:

    diff(x)[i]        = x[i + 1] - x[i]             (n times, along ``dim``)
    kron(a, b)        = the block matrix [a_ij b]   (any equal number of dims)
    cartesian_prod    = every tuple (a_i, b_j, ...), as rows
    nansum / nanmean  = sum / mean over the entries that are not NaN
    quantile(x, q)    = the sorted values, linearly interpolated at position q (n - 1)
    cummax / cummin   = running max / min and where it was attained
    searchsorted(s, v) = the index at which v would be inserted into sorted s (left or right)
    bucketize(v, b)   = searchsorted(b, v);  bincount(x) = how often each value occurs
The differentiable ones (diff, kron, cartesian_prod, nansum, nanmean, quantile, cummax values)
carry gradients through the ops they are made of; the index-valued ones are constants.

The rest of PyTorch's functions that minigen adds live beside this file and are exported here:
extras_torch_special.py (lgamma, digamma, polygamma, erfinv, i0, ...), extras_torch_elementwise.py
(hypot, copysign, fmax, logcumsumexp, the bitwise ops, ...), extras_torch_linalg.py (baddbmm,
cross, tensordot, matrix_power, cov, ...), extras_torch_index.py (kthvalue, mode, nanmedian,
scatter_reduce, masked_scatter, index_copy, ...), extras_torch_misc.py (the scatters into
views, put, index_reduce, hsplit, histogram, trapezoid, ...) and extras_torch_tensor.py (facts
about a tensor: x.new, x.data_ptr(), x.as_strided, promote_types, ...).
"""
import numbers

from ..autograd import Tensor, _wrap
from .elementwise import add, sub, mul, div, where
from .reduction import sum
from .shape import reshape
from .join import stack

__all__ = ["diff", "kron", "cartesian_prod", "nansum", "nanmean", "quantile", "nanquantile",
           "cummax", "cummin", "searchsorted", "bucketize", "bincount"]
TENSOR_METHODS = ["diff", "kron", "nansum", "nanmean", "quantile", "nanquantile", "cummax",
                  "cummin", "bincount"]

# More of PyTorch's functions, in the modules beside this one (special functions; elementwise
# math, bitwise and rounding; products and matrix functions; selections and scatters; facts
# about a tensor). Each lists its names and its Tensor methods; all are exported here.
from . import (extras_torch_special as _special, extras_torch_elementwise as _elementwise,  # noqa: E402
               extras_torch_linalg as _linalg, extras_torch_index as _index,
               extras_torch_tensor as _tensor, extras_torch_misc as _misc)
from .extras_torch_special import *  # noqa: E402,F401,F403
from .extras_torch_elementwise import *  # noqa: E402,F401,F403
from .extras_torch_linalg import *  # noqa: E402,F401,F403
from .extras_torch_index import *  # noqa: E402,F401,F403
from .extras_torch_index import sum_to_size  # noqa: E402,F401  (a method only)
from .extras_torch_tensor import *  # noqa: E402,F401,F403
from .extras_torch_misc import *  # noqa: E402,F401,F403
for _m in (_special, _elementwise, _linalg, _index, _tensor, _misc):
    __all__ += [n for n in _m.__all__ if n not in __all__]
    TENSOR_METHODS += [n for n in getattr(_m, "TENSOR_METHODS", ()) if n not in TENSOR_METHODS]
_tensor.install(Tensor)  # x.new(...), x.data_ptr(), x.det(), x.polygamma(n), & | ^ ~, ...
_misc.install(Tensor)  # x.H, x.mH, x.is_conj(), x.output_nr, x.hardshrink(), ...


def diff(input, n=1, dim=-1, prepend=None, append=None):
    from .join import cat
    x = input
    if prepend is not None or append is not None:
        x = cat([t for t in (prepend, x, append) if t is not None], dim=dim)
    d = dim % x.ndim
    for _ in range(n):
        L = x.shape[d]
        hi = x[(slice(None),) * d + (slice(1, L),)]
        lo = x[(slice(None),) * d + (slice(0, L - 1),)]
        # diff[i] = x[i + 1] - x[i]
        x = sub(hi, lo)
    return x


def kron(input, other):
    a, b = input, other
    nd = max(a.ndim, b.ndim)
    a = reshape(a, (1,) * (nd - a.ndim) + tuple(a.shape))
    b = reshape(b, (1,) * (nd - b.ndim) + tuple(b.shape))
    # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...) -> (a0 b0, a1 b1, ...)
    ai = reshape(a, tuple(s for k in a.shape for s in (k, 1)))
    bi = reshape(b, tuple(s for k in b.shape for s in (1, k)))
    return reshape(mul(ai, bi), tuple(p * q for p, q in zip(a.shape, b.shape)))


def cartesian_prod(*tensors):
    from . import meshgrid
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, (-1,)) for g in grids], dim=1)


def nansum(input, dim=None, keepdim=False, dtype=None):
    x = where(input != input, 0.0, input)  # NaN != NaN
    return sum(x) if dim is None else sum(x, dim=dim, keepdim=keepdim)


def nanmean(input, dim=None, keepdim=False, dtype=None):
    ok = (input == input).to(input.dtype)
    total = nansum(input, dim, keepdim)
    count = sum(ok) if dim is None else sum(ok, dim=dim, keepdim=keepdim)
    return div(total, count)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """Linear interpolation between the sorted values at position q (n - 1) (PyTorch's
    'linear'; also 'lower', 'higher', 'nearest', 'midpoint')."""
    from .sorting import sort
    xp = input.xp
    scalar_q = isinstance(q, numbers.Number)
    qs = xp.asarray([q] if scalar_q else (q.array if isinstance(q, Tensor) else q), dtype="float64")
    if qs.ndim != 1 or (qs < 0).any() or (qs > 1).any():
        raise ValueError("quantile: q must be a number or a 1-D tensor of values in [0, 1]")
    x = reshape(input, (-1,)) if dim is None else input
    d = 0 if dim is None else dim % x.ndim
    s = sort(x, dim=d)[0]
    n = s.shape[d]
    outs = []
    for qi in qs.tolist():
        pos = qi * (n - 1)
        lo, hi = int(xp.floor(pos)), int(xp.ceil(pos))
        frac = pos - lo
        if interpolation == "lower":
            hi, frac = lo, 0.0
        elif interpolation == "higher":
            lo, frac = hi, 0.0
        elif interpolation == "nearest":
            lo = hi = int(round(pos)) if abs(pos - lo - 0.5) > 1e-12 else (lo if lo % 2 == 0 else hi)
            frac = 0.0
        elif interpolation == "midpoint":
            frac = 0.5 if hi != lo else 0.0
        elif interpolation != "linear":
            raise ValueError(f"quantile: interpolation must be 'linear', 'lower', 'higher', "
                             f"'nearest' or 'midpoint', got {interpolation!r}")
        a = s[(slice(None),) * d + (lo,)]
        b = s[(slice(None),) * d + (hi,)]
        # q-th quantile = a + frac (b - a)
        v = add(a, mul(sub(b, a), frac))
        if keepdim:
            v = v.unsqueeze(d) if dim is not None else reshape(v, (1,) * input.ndim)
        outs.append(v)
    return outs[0] if scalar_q else stack(outs, dim=0)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    if bool((input != input).any()):
        raise NotImplementedError("nanquantile: inputs with NaN are not supported in minigen")
    return quantile(input, q, dim, keepdim, interpolation=interpolation)


class _ValuesIndices(tuple):
    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def _cum_extreme(input, dim, op, name):
    from .indexing import gather
    xp = input.xp
    d = dim % max(input.ndim, 1)
    a = xp.moveaxis(input.array, d, -1)
    n = a.shape[-1]
    run = op.accumulate(a, axis=-1)
    # index of the element that holds the running extreme (the last one, on ties, as PyTorch)
    hit = a == run
    pos = xp.where(hit, xp.arange(n), -1)
    idx = xp.maximum.accumulate(pos, axis=-1)
    idx = xp.moveaxis(idx, -1, d).astype("int64")
    values = gather(input, d, _wrap(idx))
    return _ValuesIndices((values, _wrap(idx)))


def cummax(input, dim):
    return _cum_extreme(input, dim, input.xp.maximum, "cummax")


def cummin(input, dim):
    return _cum_extreme(input, dim, input.xp.minimum, "cummin")


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    xp = sorted_sequence.xp
    s = sorted_sequence.array
    v = input.array if isinstance(input, Tensor) else xp.asarray(input)
    side = side or ("right" if right else "left")
    if s.ndim == 1:
        out = xp.searchsorted(s, v, side=side)
    else:
        if s.shape[:-1] != v.shape[:-1]:
            raise RuntimeError(f"searchsorted: leading dims of sorted_sequence {list(s.shape)} and "
                               f"input {list(v.shape)} must match")
        flat_s = s.reshape(-1, s.shape[-1])
        flat_v = v.reshape(-1, v.shape[-1])
        out = xp.stack([xp.searchsorted(a, b, side=side) for a, b in zip(flat_s, flat_v)])
        out = out.reshape(v.shape)
    return _wrap(xp.asarray(out).astype("int32" if out_int32 else "int64"))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value: i with boundaries[i-1] < x <= boundaries[i] (right=False)."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries must be 1-D, got shape {list(boundaries.shape)}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def bincount(input, weights=None, minlength=0):
    xp = input.xp
    if input.ndim != 1 or input.dtype.kind not in "iu":
        raise RuntimeError(f"bincount: expected a 1-D tensor of non-negative integers, got "
                           f"{input.dtype} of shape {list(input.shape)}")
    if input.numel() and int(input.array.min()) < 0:
        raise RuntimeError("bincount: the input must be non-negative")
    w = None if weights is None else weights.array
    out = xp.bincount(input.array, weights=w, minlength=minlength)
    return _wrap(out if w is not None else out.astype("int64"))
