"""Products and matrix functions PyTorch programs call, as compositions of minigen's
differentiable ops (so their gradients, of any order, come from the ops they are made of):

    baddbmm(M, B1, B2) = beta M + alpha B1 @ B2                 (batched; M broadcast)
    addbmm(M, B1, B2)  = beta M + alpha sum_b B1[b] @ B2[b]
    addmv(v, A, x)     = beta v + alpha A x,   addr(M, u, w) = beta M + alpha u w^T
    ger(u, w) = outer(u, w),   inner(a, b)[..i, ..j] = sum_k a[..i, k] b[..j, k]
    cross(a, b, dim)   = (a2 b3 - a3 b2, a3 b1 - a1 b3, a1 b2 - a2 b1) along a dim of size 3
    matrix_power(A, n) = A A ... A (n >= 0, by repeated squaring; n < 0: inv(A)^|n|)
    logdet(A) = log det A (NaN where det A < 0),   dist(a, b, p) = ||a - b||_p
    renorm(x, p, dim, maxnorm): each slice x.select(dim, i) whose p-norm exceeds maxnorm is
        scaled by maxnorm / (norm + 1e-7)
    diagflat(x, offset) = diag(x.flatten(), offset)
    cov(X) = sum_i w_i (x_i - xbar)(x_i - xbar)^T / (sum w - correction ...), the rows of X
        the variables and its columns the observations (fweights, aweights as PyTorch's)
    corrcoef(X) = cov_ij / sqrt(cov_ii cov_jj), clipped to [-1, 1]
    tensordot(a, b, dims): sum over the paired dims = a matrix product after moving them
        together (a's to the end, b's to the front) and flattening
    block_diag(A, B, ...): the tensors (as matrices) along the diagonal, zeros elsewhere
    chain_matmul(A, B, ...) = A @ B @ ...,  vander(x, N) = [x^(N-1), ..., x, 1] (as columns)

With beta = 0 the added tensor is ignored (its NaNs do not propagate), as in PyTorch.
"""
from __future__ import annotations

import builtins
import numbers

from ..autograd import Tensor, _wrap
from .elementwise import mul, sub, where
from .join import stack
from .linalg import matmul, outer
from .reduction import sum
from .shape import reshape
from .unary import sqrt

__all__ = ["baddbmm", "addbmm", "addmv", "addr", "ger", "inner", "cross", "matrix_power",
           "logdet", "dist", "renorm", "diagflat", "cov", "corrcoef", "tensordot", "block_diag",
           "chain_matmul", "vander"]
TENSOR_METHODS = [n for n in __all__ if n not in ("tensordot", "block_diag", "chain_matmul",
                                                  "vander")]


def _check(t, op, name="input"):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")


def _fits(shape, target):
    lead = len(target) - len(shape)
    return lead >= 0 and builtins.all(s in (1, t) for s, t in zip(shape, target[lead:]))


def _beta_alpha(input, prod, beta, alpha, op):
    """beta input + alpha prod (input ignored when beta == 0)."""
    if not _fits(tuple(input.shape), tuple(prod.shape)):
        raise RuntimeError(f"{op}: input {list(input.shape)} cannot be broadcast to the "
                           f"product's shape {list(prod.shape)}")
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod
    return prod + (input if beta == 1 else input * beta)


def _check_batches(op, input, batch1, batch2):
    """input, batch1 (b, n, m) and batch2 (b, m, p): tensors, and batches that multiply."""
    for name, t in (("input", input), ("batch1", batch1), ("batch2", batch2)):
        _check(t, op, name)
    if batch1.ndim != 3 or batch2.ndim != 3:
        raise RuntimeError(f"{op}: batch1 and batch2 must be 3-D tensors, got "
                           f"{list(batch1.shape)} and {list(batch2.shape)}")
    if batch1.shape[0] != batch2.shape[0] or batch1.shape[2] != batch2.shape[1]:
        raise RuntimeError(f"{op}: batch1 {list(batch1.shape)} and batch2 "
                           f"{list(batch2.shape)} cannot be multiplied")


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta input + alpha (batch1 @ batch2), batch1 (b, n, m), batch2 (b, m, p)."""
    _check_batches("baddbmm", input, batch1, batch2)
    return _beta_alpha(input, matmul(batch1, batch2), beta, alpha, "baddbmm")


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta input + alpha sum_b batch1[b] @ batch2[b]."""
    _check_batches("addbmm", input, batch1, batch2)
    b, n, m = batch1.shape
    p = batch2.shape[2]
    # sum_b B1[b] @ B2[b] = [B1[0] B1[1] ...] (n, b m) @ [B2[0]; B2[1]; ...] (b m, p)
    left = reshape(batch1.permute(1, 0, 2), (n, b * m))
    right = reshape(batch2, (b * m, p))
    return _beta_alpha(input, matmul(left, right), beta, alpha, "addbmm")


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta input + alpha (mat @ vec), mat (n, m), vec (m,)."""
    for name, t in (("input", input), ("mat", mat), ("vec", vec)):
        _check(t, "addmv", name)
    if mat.ndim != 2 or vec.ndim != 1 or mat.shape[1] != vec.shape[0]:
        raise RuntimeError(f"addmv: expected a matrix (n, m) and a vector (m,), got mat "
                           f"{list(mat.shape)} and vec {list(vec.shape)}")
    return _beta_alpha(input, matmul(mat, vec), beta, alpha, "addmv")


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta input + alpha outer(vec1, vec2)."""
    for name, t in (("input", input), ("vec1", vec1), ("vec2", vec2)):
        _check(t, "addr", name)
    if vec1.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"addr: expected 1-D vectors, got vec1 {list(vec1.shape)} and vec2 "
                           f"{list(vec2.shape)}")
    return _beta_alpha(input, outer(vec1, vec2), beta, alpha, "addr")


def ger(input, vec2):
    """The outer product (the old name of torch.outer)."""
    return outer(input, vec2)


def inner(input, other):
    """The inner product over the last dimension: out[..i, ..j] = sum_k a[..i, k] b[..j, k]
    (for a 0-d operand, the product a * b)."""
    _check(input, "inner")
    _check(other, "inner", "other")
    if input.ndim == 0 or other.ndim == 0:
        return mul(input, other)
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner: the last dimensions of input {list(input.shape)} and other "
                           f"{list(other.shape)} must match")
    k = input.shape[-1]
    a = reshape(input, (-1, k))
    b = reshape(other, (-1, k))
    out = matmul(a, b.transpose(0, 1))
    return reshape(out, tuple(input.shape[:-1]) + tuple(other.shape[:-1]))


def cross(input, other, dim=None):
    """The cross product of 3-vectors along ``dim`` (default: the first dim of size 3, as
    torch.cross; torch.linalg.cross uses dim=-1); the operands broadcast."""
    _check(input, "cross")
    _check(other, "cross", "other")
    from .construct_shape import broadcast_tensors
    if input.ndim != other.ndim:
        raise RuntimeError(f"cross: input {list(input.shape)} and other {list(other.shape)} "
                           "must have the same number of dimensions")
    a, b = broadcast_tensors(input, other)
    if dim is None:
        dims = [i for i, s in enumerate(a.shape) if s == 3]
        if not dims:
            raise RuntimeError(f"cross: no dimension of size 3 in input {list(input.shape)}")
        dim = dims[0]
    if not -a.ndim <= dim < a.ndim:
        raise IndexError(f"cross: dim {dim} out of range for a tensor of {a.ndim} dims")
    d = dim % a.ndim
    if a.shape[d] != 3:
        raise RuntimeError(f"cross: inputs dimension {dim} must have length 3, got input "
                           f"{list(input.shape)} and other {list(other.shape)}")
    a1, a2, a3 = a.unbind(d)
    b1, b2, b3 = b.unbind(d)
    return stack([a2 * b3 - a3 * b2, a3 * b1 - a1 * b3, a1 * b2 - a2 * b1], dim=d)


def matrix_power(input, n):
    """input^n for a square matrix (or a batch): n = 0 the identity, n < 0 the inverse's power."""
    _check(input, "matrix_power")
    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"matrix_power: expected a square matrix or a batch of them, got "
                           f"shape {list(input.shape)}")
    if not isinstance(n, numbers.Integral):
        raise TypeError(f"matrix_power: n must be an int, got {type(n).__name__}")
    n = int(n)
    if n == 0:
        xp = input.xp
        eye = _wrap(xp.broadcast_to(xp.eye(input.shape[-1], dtype=input.array.dtype),
                                    input.shape).copy())
        return eye + input * 0 if input.requires_grad else eye  # (a zero gradient, as PyTorch)
    a = input
    if n < 0:
        from ..linalg import inv
        a, n = inv(input), -n
    out = None
    while n:  # repeated squaring: a^n = prod of a^(2^k) over the set bits of n
        if n & 1:
            out = a if out is None else matmul(out, a)
        n >>= 1
        if n:
            a = matmul(a, a)
    return out


def logdet(input):
    """log det A: -inf where det A = 0, NaN where det A < 0."""
    from ..linalg import slogdet
    sign, logabs = slogdet(input)
    return where(sign < 0, float("nan"), logabs)


def dist(input, other, p=2):
    """||input - other||_p over all elements (broadcasting): p = 0 counts the non-zeros,
    p = inf / -inf the largest / smallest |difference|."""
    from ..linalg import vector_norm
    return vector_norm(sub(input, other), ord=p)


def renorm(input, p, dim, maxnorm):
    """Each slice along ``dim`` whose p-norm is above ``maxnorm`` is scaled down to it:
    x_i * maxnorm / (||x_i||_p + 1e-7)."""
    from ..linalg import vector_norm
    _check(input, "renorm")
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive norm not supported, got p={p}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} "
                           "dimensions")
    d = dim % input.ndim
    others = tuple(i for i in range(input.ndim) if i != d)
    norm = vector_norm(input, ord=p, dim=others, keepdim=True)
    big = norm > maxnorm
    safe = where(big, norm, 1.0)
    scale = where(big, maxnorm / (safe + 1e-7), 1.0)
    return input * scale


def diagflat(input, offset=0):
    """A 2-D tensor with input's elements (flattened) on diagonal ``offset``."""
    from .construct_shape import diag
    return diag(reshape(input, (-1,)), offset)


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance of the variables in input's rows (observations in its columns); a
    1-D input is one variable. With frequency weights f and observation weights a,
    w = f a, xbar = sum w x / sum w and
    cov = (x - xbar) diag(w) (x - xbar)^T / (sum w - correction sum(w a) / sum w)
    (without aweights the denominator is sum w - correction), clamped at 0."""
    _check(input, "cov")
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    x = reshape(input, (1, -1)) if input.ndim < 2 else input
    if x.array.dtype.kind != "f":
        from .. import backend as B
        x = x.to(B._default_dtype)
    n_obs = x.shape[1]
    w = None
    if fweights is not None:
        if fweights.ndim > 1 or fweights.numel() != n_obs:
            raise RuntimeError(f"cov(): expected fweights to have one dimension with "
                               f"{n_obs} elements, got shape {list(fweights.shape)}")
        if fweights.array.dtype.kind not in "iu":
            raise RuntimeError("cov(): expected fweights to have integral dtype")
        if bool((fweights.array < 0).any()):
            raise RuntimeError("cov(): fweights cannot be negative")
        w = fweights.to(x.dtype)
    if aweights is not None:
        if aweights.ndim > 1 or aweights.numel() != n_obs:
            raise RuntimeError(f"cov(): expected aweights to have one dimension with "
                               f"{n_obs} elements, got shape {list(aweights.shape)}")
        if aweights.array.dtype.kind != "f":
            raise RuntimeError("cov(): expected aweights to have floating point dtype")
        if bool((aweights.array < 0).any()):
            raise RuntimeError("cov(): aweights cannot be negative")
        aw = aweights.to(x.dtype)
        w = aw if w is None else w * aw
    if w is None:
        w_sum = float(n_obs)
        avg = x.mean(dim=1, keepdim=True)
        norm = w_sum - correction
    else:
        w_sum = sum(w)
        avg = sum(x * w, dim=1, keepdim=True) / w_sum
        if aweights is None:
            norm = w_sum - correction
        else:
            norm = w_sum - correction * sum(w * aweights.to(x.dtype)) / w_sum
    if isinstance(norm, Tensor):
        norm = where(norm < 0, 0.0, norm)
    else:
        norm = builtins.max(norm, 0.0)
    xm = x - avg
    c = matmul(xm * w if w is not None else xm, xm.transpose(0, 1)) / norm
    return reshape(c, ()) if c.shape[0] == 1 else c  # one variable: a 0-d result, as PyTorch


def corrcoef(input):
    """Pearson correlation coefficients of input's rows: cov_ij / sqrt(cov_ii cov_jj),
    clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = sqrt(c.diagonal())
    c = c / d.unsqueeze(1) / d.unsqueeze(0)
    return c.clamp(-1.0, 1.0)


def tensordot(a, b, dims=2):
    """Sum over dims of a and b paired by ``dims``: an int n (a's last n with b's first n), a
    pair of lists ([a dims], [b dims]), or a 2-row tensor of them."""
    _check(a, "tensordot", "a")
    _check(b, "tensordot", "b")
    if a.array.dtype != b.array.dtype:
        raise RuntimeError(f"tensordot: both inputs should have same dtype, got {a.array.dtype} "
                           f"and {b.array.dtype}")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
        if isinstance(dims, int):
            dims = int(dims)
    if isinstance(dims, numbers.Integral):
        n = int(dims)
        if n < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={n}")
        if n > a.ndim or n > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={n}")
        da, db = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        da, db = [list(d) if isinstance(d, (list, tuple)) else [d] for d in dims]
    da = [d % builtins.max(a.ndim, 1) for d in da]
    db = [d % builtins.max(b.ndim, 1) for d in db]
    if len(da) != len(db):
        raise RuntimeError(f"both dimension lists should have same length, got {da} and {db}")
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in "
                               f"dim {j}")
    fa = [i for i in range(a.ndim) if i not in da]
    fb = [j for j in range(b.ndim) if j not in db]
    k = 1
    for i in da:
        k *= a.shape[i]
    am = reshape(a.permute(*(fa + da)), (-1, k))
    bm = reshape(b.permute(*(db + fb)), (k, -1))
    return reshape(matmul(am, bm), tuple(a.shape[i] for i in fa) + tuple(b.shape[j] for j in fb))


def block_diag(*tensors):
    """The tensors along the diagonal of one matrix (a 0-d tensor is 1 x 1, a 1-D one 1 x n),
    zeros elsewhere; the dtype is the tensors' promoted one."""
    from .elementwise import _promote
    from .join import cat
    from .shape import pad
    if not tensors:
        from .. import creation
        return creation.empty(1, 0)
    mats = []
    for t in tensors:
        _check(t, "block_diag", "each argument")
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. "
                               f"Input has {t.ndim} dimensions")
        mats.append(reshape(t, (1, 1)) if t.ndim == 0 else reshape(t, (1, -1)) if t.ndim == 1
                    else t)
    xp = mats[0].xp
    probe = _wrap(xp.zeros(1, mats[0].array.dtype))
    for m in mats[1:]:  # PyTorch's promotion of all the dtypes
        probe = _promote(probe, _wrap(xp.zeros(1, m.array.dtype)))[0]
    target = probe.array.dtype
    mats = [m if m.array.dtype == target else m.to(target) for m in mats]
    width = builtins.sum(m.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        rows.append(pad(m, (left, width - left - m.shape[1])))
        left += m.shape[1]
    return cat(rows, 0)


def chain_matmul(*matrices):
    """The product of the matrices, left to right (deprecated in PyTorch for linalg.multi_dot)."""
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.ndim != 2:
            raise RuntimeError(f"chain_matmul(): Tensor dimension is {m.ndim}, expected 2 instead.")
    out = matrices[0]
    for m in matrices[1:]:
        out = matmul(out, m)
    return out if len(matrices) > 1 else out.clone()


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of 1-D x: columns x^(N-1), ..., x, 1 (reversed if increasing)."""
    _check(x, "vander", "x")
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    xv = x if x.array.dtype.kind in "fc" else x.to("int64")
    if n == 0:
        return _wrap(x.xp.zeros((x.shape[0], 0), dtype=xv.array.dtype))
    cols = [xv * 0 + 1]
    for _ in range(1, n):
        cols.append(cols[-1] * xv)
    if not increasing:
        cols = cols[::-1]
    return stack(cols, dim=1)
