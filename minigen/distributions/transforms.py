"""``torch.distributions.transforms``: invertible maps y = f(x) with log |det df/dx|.

A ``TransformedDistribution`` pushes a base distribution through them; its density is the
change of variables

    log p_Y(y) = log p_X(f^-1(y)) - log |det J_f(f^-1(y))|

    AffineTransform(loc, scale):  y = loc + scale x,         log|J| = log |scale|
    ExpTransform:                 y = exp x,                 log|J| = x
    SigmoidTransform:             y = 1 / (1 + e^-x),        log|J| = -softplus(-x) - softplus(x)
    TanhTransform:                y = tanh x,                log|J| = 2 (log 2 - x - softplus(-2x))
    PowerTransform(exponent):     y = x^e,                   log|J| = log |e y / x|
    SoftmaxTransform:             y = softmax(x) (not bijective; no log|J|)
    AbsTransform:                 y = |x| (not bijective; inverse x = y)
    SoftplusTransform:            y = log(1 + e^x),          log|J| = -softplus(-x)
    StickBreakingTransform:       R^(K-1) -> the K-simplex: z_i = sigmoid(x_i - log(K - i)),
                                  y_i = z_i prod_{j<i} (1 - z_j), y_K = prod_j (1 - z_j)
    LowerCholeskyTransform:       y = strict lower triangle of x + diag(exp(diag x))
    IndependentTransform(t, n):   t, with n more rightmost dimensions in one event
    ReshapeTransform(in, out):    the event reshaped, log|J| = 0
    CumulativeDistributionTransform(d): y = d.cdf(x), log|J| = d.log_prob(x)
    CorrCholeskyTransform:        R^(D(D-1)/2) -> Cholesky factors of D x D correlation
                                  matrices: r = tanh(x) filled below the diagonal row by row,
                                  each row a signed stick-breaking onto the unit sphere
    PositiveDefiniteTransform:    y = L L^T with L = LowerCholeskyTransform(x)
    CatTransform(ts, dim, lengths): ts[i] on the i-th block of ``dim``, concatenated
    StackTransform(ts, dim):      ts[i] on x.select(dim, i), stacked
    ComposeTransform([f1, f2]):   y = f2(f1(x)),             log|J| = sum of the parts'

``t.inv`` is the inverse transform; ``t(x)``, ``t.inv(y)``, ``t.log_abs_det_jacobian(x, y)``.
``event_dim`` says how many rightmost dimensions form one event (log|J| is summed over them).
"""
from __future__ import annotations

import math

import minigen
from minigen.nn import functional as F

from . import constraints
from ._util import sum_rightmost

__all__ = ["Transform", "AffineTransform", "ExpTransform", "SigmoidTransform", "TanhTransform",
           "PowerTransform", "SoftmaxTransform", "AbsTransform", "ComposeTransform",
           "identity_transform", "SoftplusTransform", "StickBreakingTransform",
           "LowerCholeskyTransform", "IndependentTransform", "ReshapeTransform",
           "CumulativeDistributionTransform", "CorrCholeskyTransform",
           "PositiveDefiniteTransform", "CatTransform", "StackTransform"]


class Transform:
    bijective = False
    domain = constraints.real
    codomain = constraints.real
    sign = 1

    def __init__(self, cache_size=0):
        if cache_size not in (0, 1):
            raise ValueError(f"cache_size must be 0 or 1, got {cache_size}")
        self._cache_size = cache_size
        self._cached = None
        self._inv = None

    @property
    def event_dim(self):
        return self.domain.event_dim

    def with_cache(self, cache_size=1):
        """The same transform remembering its last (x, y) pair (``cache_size=1``) or not."""
        if self._cache_size == cache_size:
            return self
        import copy
        new = copy.copy(self)
        Transform.__init__(new, cache_size)
        return new

    @property
    def inv(self):
        if self._inv is None:
            self._inv = _InverseTransform(self)
        return self._inv

    def __call__(self, x):
        if self._cache_size == 1 and self._cached is not None and self._cached[0] is x:
            return self._cached[1]
        y = self._call(x)
        if self._cache_size == 1:
            self._cached = (x, y)
        return y

    def _inv_call(self, y):
        if self._cache_size == 1 and self._cached is not None and self._cached[1] is y:
            return self._cached[0]
        x = self._inverse(y)
        if self._cache_size == 1:
            self._cached = (x, y)
        return x

    def _call(self, x):
        raise NotImplementedError

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} has no inverse")

    def log_abs_det_jacobian(self, x, y):
        raise NotImplementedError(f"{type(self).__name__} has no log_abs_det_jacobian")

    def forward_shape(self, shape):
        return shape

    def inverse_shape(self, shape):
        return shape

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)

    def __repr__(self):
        return type(self).__name__ + "()"


class _InverseTransform(Transform):
    def __init__(self, transform):
        super().__init__(transform._cache_size)
        self._inv = transform

    @property
    def bijective(self):
        return self._inv.bijective

    @property
    def domain(self):
        return self._inv.codomain

    @property
    def codomain(self):
        return self._inv.domain

    @property
    def sign(self):
        return self._inv.sign

    @property
    def inv(self):
        return self._inv

    def __call__(self, x):
        return self._inv._inv_call(x)

    def log_abs_det_jacobian(self, x, y):
        return -self._inv.log_abs_det_jacobian(y, x)

    def __eq__(self, other):
        return isinstance(other, _InverseTransform) and self._inv == other._inv

    def __hash__(self):
        return hash(("inv", self._inv))

    def __repr__(self):
        return f"_InverseTransform({self._inv!r})"


class _Identity(Transform):
    bijective = True

    def _call(self, x):
        return x

    def _inverse(self, y):
        return y

    def log_abs_det_jacobian(self, x, y):
        return minigen.zeros_like(x)


identity_transform = _Identity()


class ComposeTransform(Transform):
    def __init__(self, parts, cache_size=0):
        super().__init__(cache_size)
        self.parts = list(parts)

    @property
    def bijective(self):
        return all(p.bijective for p in self.parts)

    @property
    def sign(self):
        s = 1
        for p in self.parts:
            s = s * p.sign
        return s

    @property
    def domain(self):
        if not self.parts:
            return constraints.real
        d = self.parts[0].domain
        # the domain's event_dim must cover what later parts need
        need = self.parts[-1].codomain.event_dim
        for p in reversed(self.parts):
            need += p.domain.event_dim - p.codomain.event_dim
            need = max(need, p.domain.event_dim)
        return d if need <= d.event_dim else constraints.independent(d, need - d.event_dim)

    @property
    def codomain(self):
        if not self.parts:
            return constraints.real
        c = self.parts[-1].codomain
        need = self.parts[0].domain.event_dim
        for p in self.parts:
            need += p.codomain.event_dim - p.domain.event_dim
            need = max(need, p.codomain.event_dim)
        return c if need <= c.event_dim else constraints.independent(c, need - c.event_dim)

    def _call(self, x):
        for p in self.parts:
            x = p(x)
        return x

    def _inverse(self, y):
        for p in reversed(self.parts):
            y = p.inv(y)
        return y

    def __call__(self, x):
        return self._call(x)

    @property
    def inv(self):
        return ComposeTransform([p.inv for p in reversed(self.parts)])

    def log_abs_det_jacobian(self, x, y):
        if not self.parts:
            return minigen.zeros_like(x)
        xs = [x]
        for p in self.parts[:-1]:
            xs.append(p(xs[-1]))
        xs.append(y)
        total = 0
        event_dim = self.domain.event_dim
        for p, a, b in zip(self.parts, xs[:-1], xs[1:]):
            term = p.log_abs_det_jacobian(a, b)
            total = total + sum_rightmost(term, event_dim - p.domain.event_dim)
            event_dim += p.codomain.event_dim - p.domain.event_dim
        return total

    def forward_shape(self, shape):
        for p in self.parts:
            shape = p.forward_shape(shape)
        return shape

    def inverse_shape(self, shape):
        for p in reversed(self.parts):
            shape = p.inverse_shape(shape)
        return shape

    def __eq__(self, other):
        return isinstance(other, ComposeTransform) and self.parts == other.parts

    def __hash__(self):
        return hash(tuple(self.parts))

    def __repr__(self):
        return "ComposeTransform(\n    " + ",\n    ".join(repr(p) for p in self.parts) + "\n)"


class ExpTransform(Transform):
    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = 1

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x

    def __eq__(self, other):
        return isinstance(other, ExpTransform)

    def __hash__(self):
        return hash(ExpTransform)


class SigmoidTransform(Transform):
    domain = constraints.real
    codomain = constraints.unit_interval
    bijective = True
    sign = 1

    def _call(self, x):
        # clamped to [tiny, 1 - eps] so that the inverse stays finite, as PyTorch does
        fi = minigen.finfo(x.dtype)
        return x.sigmoid().clamp(fi.tiny, 1.0 - fi.eps)

    def _inverse(self, y):
        fi = minigen.finfo(y.dtype)
        y = y.clamp(fi.tiny, 1.0 - fi.eps)
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x, y):
        return -F.softplus(-x) - F.softplus(x)

    def __eq__(self, other):
        return isinstance(other, SigmoidTransform)

    def __hash__(self):
        return hash(SigmoidTransform)


class TanhTransform(Transform):
    domain = constraints.real
    codomain = constraints.interval(-1.0, 1.0)
    bijective = True
    sign = 1

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        return y.atanh()

    def log_abs_det_jacobian(self, x, y):
        # log(1 - tanh(x)^2), in a form that stays accurate for large |x|
        return 2.0 * (math.log(2.0) - x - F.softplus(-2.0 * x))

    def __eq__(self, other):
        return isinstance(other, TanhTransform)

    def __hash__(self):
        return hash(TanhTransform)


class AffineTransform(Transform):
    bijective = True

    def __init__(self, loc, scale, event_dim=0, cache_size=0):
        super().__init__(cache_size)
        self.loc, self.scale, self._event_dim = loc, scale, event_dim

    @property
    def event_dim(self):
        return self._event_dim

    @property
    def domain(self):
        return constraints.real if self._event_dim == 0 else \
            constraints.independent(constraints.real, self._event_dim)

    @property
    def codomain(self):
        return self.domain

    @property
    def sign(self):
        if isinstance(self.scale, (int, float)):
            return 1 if self.scale >= 0 else -1
        return self.scale.sign()

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        scale = self.scale
        if isinstance(scale, (int, float)):
            out = minigen.full_like(x, math.log(abs(scale)))
        else:
            out = scale.abs().log()
            out = out.expand(minigen.broadcast_shapes(tuple(out.shape), tuple(x.shape)))
        if self._event_dim:
            out = out.reshape(tuple(out.shape[:out.ndim - self._event_dim]) + (-1,)).sum(-1)
        return out

    def forward_shape(self, shape):
        return minigen.broadcast_shapes(tuple(shape), tuple(getattr(self.loc, "shape", ())),
                                        tuple(getattr(self.scale, "shape", ())))

    inverse_shape = forward_shape

    def __repr__(self):
        return "AffineTransform()"


class PowerTransform(Transform):
    domain = constraints.positive
    codomain = constraints.positive
    bijective = True

    def __init__(self, exponent, cache_size=0):
        super().__init__(cache_size)
        self.exponent = exponent

    @property
    def sign(self):
        e = self.exponent
        if isinstance(e, (int, float)):
            return 1 if e >= 0 else -1
        return e.sign()

    def _call(self, x):
        return x.pow(self.exponent)

    def _inverse(self, y):
        return y.pow(1 / self.exponent)

    def log_abs_det_jacobian(self, x, y):
        return (self.exponent * y / x).abs().log()


class SoftmaxTransform(Transform):
    domain = constraints.real_vector
    codomain = constraints.simplex

    def _call(self, x):
        logprobs = x - x.max(-1, keepdim=True)[0]
        probs = logprobs.exp()
        return probs / probs.sum(-1, keepdim=True)

    def _inverse(self, y):
        return y.log()

    def __eq__(self, other):
        return isinstance(other, SoftmaxTransform)

    def __hash__(self):
        return hash(SoftmaxTransform)


class AbsTransform(Transform):
    domain = constraints.real
    codomain = constraints.positive

    def _call(self, x):
        return x.abs()

    def _inverse(self, y):
        return y

    def __eq__(self, other):
        return isinstance(other, AbsTransform)

    def __hash__(self):
        return hash(AbsTransform)


class SoftplusTransform(Transform):
    domain = constraints.real
    codomain = constraints.positive
    bijective = True
    sign = 1

    def _call(self, x):
        return F.softplus(x)

    def _inverse(self, y):
        # x = y + log(1 - e^-y)
        return (-y).expm1().neg().log() + y

    def log_abs_det_jacobian(self, x, y):
        return -F.softplus(-x)

    def __eq__(self, other):
        return isinstance(other, SoftplusTransform)

    def __hash__(self):
        return hash(SoftplusTransform)


class StickBreakingTransform(Transform):
    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    @staticmethod
    def _offset(n, ref):
        # log(K - i) for i = 1 .. K-1 (K = n + 1)
        return minigen.arange(n, 0, -1, dtype=ref.dtype, device=ref.device).log()

    def _call(self, x):
        z = (x - self._offset(x.shape[-1], x)).sigmoid()
        rest = (1 - z).cumprod(-1)
        ones = minigen.ones(tuple(x.shape[:-1]) + (1,), dtype=x.dtype, device=x.device)
        # y_i = z_i prod_{j<i}(1 - z_j), y_K = prod_j (1 - z_j)
        return minigen.cat([z, ones], -1) * minigen.cat([ones, rest], -1)

    def _inverse(self, y):
        y_crop = y[..., :-1]
        sf = (1 - y_crop.cumsum(-1)).clamp(min=minigen.finfo(y.dtype).tiny)
        return y_crop.log() - sf.log() + self._offset(y_crop.shape[-1], y)

    def log_abs_det_jacobian(self, x, y):
        x = x - self._offset(x.shape[-1], x)
        return (-x + F.logsigmoid(x) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        return tuple(shape[:-1]) + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        return tuple(shape[:-1]) + (shape[-1] - 1,)

    def __eq__(self, other):
        return isinstance(other, StickBreakingTransform)

    def __hash__(self):
        return hash(StickBreakingTransform)


class LowerCholeskyTransform(Transform):
    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.lower_cholesky

    def _call(self, x):
        return x.tril(-1) + x.diagonal(dim1=-2, dim2=-1).exp().diag_embed()

    def _inverse(self, y):
        return y.tril(-1) + y.diagonal(dim1=-2, dim2=-1).log().diag_embed()

    def __eq__(self, other):
        return isinstance(other, LowerCholeskyTransform)

    def __hash__(self):
        return hash(LowerCholeskyTransform)


class IndependentTransform(Transform):
    def __init__(self, base_transform, reinterpreted_batch_ndims, cache_size=0):
        super().__init__(cache_size)
        self.base_transform = base_transform.with_cache(cache_size)
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    @property
    def domain(self):
        return constraints.independent(self.base_transform.domain, self.reinterpreted_batch_ndims)

    @property
    def codomain(self):
        return constraints.independent(self.base_transform.codomain,
                                       self.reinterpreted_batch_ndims)

    @property
    def bijective(self):
        return self.base_transform.bijective

    @property
    def sign(self):
        return self.base_transform.sign

    def _call(self, x):
        return self.base_transform(x)

    def _inverse(self, y):
        return self.base_transform.inv(y)

    def log_abs_det_jacobian(self, x, y):
        return sum_rightmost(self.base_transform.log_abs_det_jacobian(x, y),
                             self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)

    def __repr__(self):
        return f"IndependentTransform({self.base_transform!r}, {self.reinterpreted_batch_ndims})"


class ReshapeTransform(Transform):
    bijective = True

    def __init__(self, in_shape, out_shape, cache_size=0):
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        n_in, n_out = 1, 1
        for s in self.in_shape:
            n_in *= s
        for s in self.out_shape:
            n_out *= s
        if n_in != n_out:
            raise ValueError("in_shape, out_shape have different numbers of elements")
        super().__init__(cache_size)

    @property
    def domain(self):
        return constraints.independent(constraints.real, len(self.in_shape))

    @property
    def codomain(self):
        return constraints.independent(constraints.real, len(self.out_shape))

    def _call(self, x):
        batch = tuple(x.shape[:x.ndim - len(self.in_shape)])
        return x.reshape(batch + self.out_shape)

    def _inverse(self, y):
        batch = tuple(y.shape[:y.ndim - len(self.out_shape)])
        return y.reshape(batch + self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        batch = tuple(x.shape[:x.ndim - len(self.in_shape)])
        return minigen.zeros(batch, dtype=x.dtype, device=x.device)

    def forward_shape(self, shape):
        cut = len(shape) - len(self.in_shape)
        if cut < 0 or tuple(shape[cut:]) != self.in_shape:
            raise ValueError(f"Shape mismatch: expected {tuple(shape[cut:])} but got "
                             f"{self.in_shape}")
        return tuple(shape[:cut]) + self.out_shape

    def inverse_shape(self, shape):
        cut = len(shape) - len(self.out_shape)
        if cut < 0 or tuple(shape[cut:]) != self.out_shape:
            raise ValueError(f"Shape mismatch: expected {tuple(shape[cut:])} but got "
                             f"{self.out_shape}")
        return tuple(shape[:cut]) + self.in_shape


class CumulativeDistributionTransform(Transform):
    bijective = True
    codomain = constraints.unit_interval
    sign = 1

    def __init__(self, distribution, cache_size=0):
        super().__init__(cache_size)
        self.distribution = distribution

    @property
    def domain(self):
        return self.distribution.support

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)


class CorrCholeskyTransform(Transform):
    domain = constraints.real_vector
    bijective = True

    @property
    def codomain(self):
        return constraints.corr_cholesky

    def _call(self, x):
        from .utils import vec_to_tril_matrix
        eps = minigen.finfo(x.dtype).eps
        r = vec_to_tril_matrix(x.tanh().clamp(-1 + eps, 1 - eps), diag=-1)
        # row i: y_ij = r_ij sqrt(prod_{k<j} (1 - r_ik^2)),  y_ii = sqrt(prod_{k<i} (1 - r_ik^2))
        z1m_cumprod_sqrt = (1 - r.pow(2)).sqrt().cumprod(-1)
        r = r + minigen.eye(r.shape[-1], dtype=r.dtype, device=r.device)
        ones = minigen.ones(tuple(r.shape[:-1]) + (1,), dtype=r.dtype, device=r.device)
        return r * minigen.cat([ones, z1m_cumprod_sqrt[..., :-1]], -1)

    def _inverse(self, y):
        from .utils import tril_matrix_to_vec
        y_cumsum = 1 - (y * y).cumsum(-1)
        ones = minigen.ones(tuple(y.shape[:-1]) + (1,), dtype=y.dtype, device=y.device)
        shifted = minigen.cat([ones, y_cumsum[..., :-1]], -1)
        t = tril_matrix_to_vec(y, diag=-1) / tril_matrix_to_vec(shifted, diag=-1).sqrt()
        return (t.log1p() - (-t).log1p()) / 2  # atanh

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        from .utils import tril_matrix_to_vec
        y1m_cumsum = 1 - (y * y).cumsum(-1)
        stick = 0.5 * tril_matrix_to_vec(y1m_cumsum, diag=-2).log().sum(-1)
        tanh_logdet = -2 * (x + F.softplus(-2 * x) - math.log(2.0)).sum(-1)
        return stick + tanh_logdet

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("Too few dimensions on input")
        n = shape[-1]
        d = round((0.25 + 2 * n) ** 0.5 + 0.5)
        if d * (d - 1) // 2 != n:
            raise ValueError("Input is not a flattened lower-diagonal number")
        return tuple(shape[:-1]) + (d, d)

    def inverse_shape(self, shape):
        if len(shape) < 2:
            raise ValueError("Too few dimensions on input")
        if shape[-2] != shape[-1]:
            raise ValueError("Input is not square")
        d = shape[-1]
        return tuple(shape[:-2]) + (d * (d - 1) // 2,)

    def __eq__(self, other):
        return isinstance(other, CorrCholeskyTransform)

    def __hash__(self):
        return hash(CorrCholeskyTransform)


class PositiveDefiniteTransform(Transform):
    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def _call(self, x):
        L = LowerCholeskyTransform()(x)
        return L @ L.transpose(-2, -1)

    def _inverse(self, y):
        return LowerCholeskyTransform().inv(minigen.linalg.cholesky(y))

    def __eq__(self, other):
        return isinstance(other, PositiveDefiniteTransform)

    def __hash__(self):
        return hash(PositiveDefiniteTransform)


class CatTransform(Transform):
    def __init__(self, tseq, dim=0, lengths=None, cache_size=0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise AssertionError("CatTransform: every element of tseq must be a Transform")
        super().__init__(cache_size)
        self.transforms = [t.with_cache(cache_size) for t in tseq]
        self.lengths = [1] * len(self.transforms) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.transforms):
            raise AssertionError("CatTransform: lengths must have one entry per transform")
        self.dim = dim

    @property
    def event_dim(self):
        return max(t.event_dim for t in self.transforms)

    @property
    def bijective(self):
        return all(t.bijective for t in self.transforms)

    @property
    def length(self):
        return sum(self.lengths)

    def _apply(self, x, fn):
        if x.shape[self.dim] != self.length:
            raise AssertionError(f"CatTransform: expected size {self.length} along dim "
                                 f"{self.dim}, got {x.shape[self.dim]}")
        out, start = [], 0
        for t, n in zip(self.transforms, self.lengths):
            out.append(fn(t, x.narrow(self.dim, start, n)))
            start += n
        return minigen.cat(out, self.dim)

    def _call(self, x):
        return self._apply(x, lambda t, v: t(v))

    def _inverse(self, y):
        return self._apply(y, lambda t, v: t.inv(v))

    def log_abs_det_jacobian(self, x, y):
        dim = self.dim if self.dim >= 0 else self.dim + x.ndim
        parts, start = [], 0
        for t, n in zip(self.transforms, self.lengths):
            xs, ys = x.narrow(self.dim, start, n), y.narrow(self.dim, start, n)
            ladj = t.log_abs_det_jacobian(xs, ys)
            if t.event_dim < self.event_dim:
                ladj = sum_rightmost(ladj, self.event_dim - t.event_dim)
            parts.append(ladj)
            start += n
        if dim < x.ndim - self.event_dim:  # the cat dimension is a batch dimension
            return minigen.cat(parts, dim)
        return sum(parts)


class StackTransform(Transform):
    def __init__(self, tseq, dim=0, cache_size=0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise AssertionError("StackTransform: every element of tseq must be a Transform")
        super().__init__(cache_size)
        self.transforms = [t.with_cache(cache_size) for t in tseq]
        self.dim = dim

    @property
    def bijective(self):
        return all(t.bijective for t in self.transforms)

    def _slices(self, z):
        return [z.select(self.dim, i) for i in range(z.shape[self.dim])]

    def _call(self, x):
        if x.shape[self.dim] != len(self.transforms):
            raise AssertionError(f"StackTransform: expected {len(self.transforms)} entries "
                                 f"along dim {self.dim}, got {x.shape[self.dim]}")
        return minigen.stack([t(v) for t, v in zip(self.transforms, self._slices(x))], self.dim)

    def _inverse(self, y):
        return minigen.stack([t.inv(v) for t, v in zip(self.transforms, self._slices(y))],
                             self.dim)

    def log_abs_det_jacobian(self, x, y):
        return minigen.stack([t.log_abs_det_jacobian(a, b) for t, a, b in
                              zip(self.transforms, self._slices(x), self._slices(y))], self.dim)
