"""Reductions and products that generative-model code uses: ``any``, ``all``,
``count_nonzero``, ``norm``, ``median``, ``aminmax``, ``mv``, ``addmm``, ``cdist``.

All are composites of minigen ops (or constants, for the boolean and counting ones), so their
gradients come from autograd:

* ``norm(x, p)`` = (sum_i |x_i|^p)^(1/p); p = inf is max |x_i|, p = -inf min |x_i|, p = 0
  the number of nonzeros (no gradient). At x = 0 the 2-norm's gradient is taken as 0 (as in
  PyTorch), by never letting sqrt see a zero (sqrt'(0) = inf would make 0 * inf = NaN).
* ``median`` (full) is the lower median m; its gradient is shared evenly by the elements equal
  to m (as torch.median's is), by writing it as amax over {x_i : x_i = m}. With ``dim``, the
  value is a gather at the selected index, so the gradient goes to that element.
* ``cdist(x1, x2, p)`` = norm(x1[..., i, None, :] - x2[..., None, j, :], p, dim=-1).
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple

from ..autograd import Tensor, _wrap, _wrap_dim
from . import reduction as _r
from .elementwise import where
from .linalg import matmul
from .reduction import GatherAlong, _dims
from .unary import abs as _abs

__all__ = ["any", "all", "count_nonzero", "norm", "median", "aminmax", "mv", "addmm", "cdist"]

median_result = namedtuple("median", ["values", "indices"])
aminmax_result = namedtuple("aminmax", ["min", "max"])


def _check_tensor(t, op):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")


# ----------------------------------------------------------------------------- boolean
def _logical_reduce(input, dim, keepdim, fn):
    _check_tensor(input, fn)
    xp, a = input.xp, input.array
    axes = _dims(dim, a.ndim, fn)
    r = getattr(xp, fn)(a.astype(bool), axis=axes, keepdims=keepdim)
    # uint8 in, uint8 out (as in PyTorch); every other dtype gives bool
    return _wrap(xp.asarray(r).astype(a.dtype if a.dtype == "uint8" else bool))


def any(input, dim=None, keepdim=False):
    """True where any element (over ``dim``: an int, a tuple or None for all) is nonzero."""
    return _logical_reduce(input, dim, keepdim, "any")


def all(input, dim=None, keepdim=False):
    """True where every element (over ``dim``) is nonzero."""
    return _logical_reduce(input, dim, keepdim, "all")


def count_nonzero(input, dim=None):
    """The number of nonzero elements over ``dim`` (int64)."""
    _check_tensor(input, "count_nonzero")
    xp, a = input.xp, input.array
    axes = _dims(dim, a.ndim, "count_nonzero")
    return _wrap(xp.asarray((a != 0).sum(axis=axes)).astype("int64"))


# ----------------------------------------------------------------------------- norm
def _sqrt_safe(s):
    """sqrt(s) with gradient 0 where s == 0 (sqrt sees 1 there, and the result is masked)."""
    zero = s == 0
    return where(zero, 0.0, where(zero, 1.0, s).sqrt())


def _root_safe(s, p):
    """s^(1/p), with gradient 0 where s == 0."""
    zero = s == 0
    return where(zero, 0.0, where(zero, 1.0, s) ** (1.0 / p))


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """The vector p-norm (sum_i |x_i|^p)^(1/p) over ``dim`` (an int, a tuple, or None for all
    elements); ``p`` is a number, inf, -inf, or 'fro' (the 2-norm of the elements).

    As torch.norm: p='nuc' is the nuclear norm (the sum of the singular values) of the matrices
    over two dims, and a numeric p over two dims is the vector norm of those elements."""
    _check_tensor(input, "norm")
    if out is not None:
        raise TypeError("norm: the out= argument is not supported by minigen")
    if dtype is not None:
        input = input.to(dtype)
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"norm: expected a floating point tensor as input, got "
                           f"{input.array.dtype} of shape {list(input.shape)}")
    if isinstance(p, str):
        if p == "nuc":  # the sum of the singular values (minigen/linalg_decomp.py)
            from ..linalg_decomp import matrix_norm
            if dim is None and input.ndim != 2:
                raise RuntimeError(f"norm: p='nuc' with dim=None needs a 2-D input, got shape "
                                   f"{list(input.shape)}")
            return matrix_norm(input, "nuc", tuple(dim) if dim is not None else (-2, -1),
                               keepdim)
        if p != "fro":
            raise RuntimeError(f"norm: p must be a number, inf, -inf or 'fro', got {p!r}")
        if isinstance(dim, (tuple, list)) and len(dim) > 2:
            raise RuntimeError(f"norm: p='fro' takes at most 2 dims, got dim={list(dim)} for "
                               f"input of shape {list(input.shape)}")
        p = 2
    if p is None:
        p = 2
    axes = _dims(dim, input.array.ndim, "norm")
    red = axes if axes is not None else ()
    if p == math.inf:
        return _r.amax(_abs(input), dim=red, keepdim=keepdim)        # max_i |x_i|
    if p == -math.inf:
        return _r.amin(_abs(input), dim=red, keepdim=keepdim)        # min_i |x_i|
    if p == 0:
        nz = (input != 0).to(input.dtype)                             # #{i : x_i != 0}
        return _r.sum(nz, dim=axes, keepdim=keepdim)
    if p == 1:
        return _r.sum(_abs(input), dim=axes, keepdim=keepdim)        # sum_i |x_i|
    if p == 2:
        # ||x||_2 = sqrt(sum_i x_i^2)
        return _sqrt_safe(_r.sum(input * input, dim=axes, keepdim=keepdim))
    # ||x||_p = (sum_i |x_i|^p)^(1/p)
    return _root_safe(_r.sum(_abs(input) ** p, dim=axes, keepdim=keepdim), p)


# ----------------------------------------------------------------------------- median, aminmax
def median(input, dim=None, keepdim=False):
    """``median(x)``: the lower median of all elements (the ((n-1)//2)-th smallest; NaN if any
    is NaN). ``median(x, dim)``: (values, indices) of the lower median along ``dim``."""
    _check_tensor(input, "median")
    xp, a = input.xp, input.array
    if dim is None:
        if a.size == 0:
            return _wrap(xp.asarray(float("nan"), dtype=a.dtype if a.dtype.kind == "f"
                                    else "float32"))
        flat = xp.sort(a.reshape(-1))  # NaNs sort last
        m = flat[-1:] if a.dtype.kind == "f" and bool(xp.isnan(flat[-1])) else \
            flat[(a.size - 1) // 2:(a.size - 1) // 2 + 1]
        m = m.reshape(())
        if a.dtype.kind != "f":
            return _wrap(m.copy())
        # the elements equal to m (or NaN, when m is NaN) share its gradient evenly
        tie = (a == m) | (xp.isnan(a) & xp.isnan(m))
        return _r.amax(where(_wrap(tie), input, -math.inf))
    if a.ndim == 0:
        return median_result(input * 1 if input.requires_grad else input.clone(),
                             _wrap(xp.zeros((), "int64")))
    d = _wrap_dim(dim, a.ndim, "median")
    n = a.shape[d]
    if n == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size "
                         f"(input shape {list(input.shape)}).")
    order = xp.argsort(a, axis=d, kind="stable")
    k = (n - 1) // 2
    index = [slice(None)] * a.ndim
    index[d] = slice(k, k + 1)
    idx = order[tuple(index)]
    if a.dtype.kind == "f":
        # a NaN in a row makes it the median (as in PyTorch): NaNs sort last, so take the last
        has_nan = xp.isnan(a).any(axis=d, keepdims=True)
        index[d] = slice(n - 1, n)
        idx = xp.where(has_nan, order[tuple(index)], idx)
    values = GatherAlong.apply(input, index=idx, dim=d)
    if not keepdim:
        return median_result(values.squeeze(d), _wrap(idx.squeeze(d).astype("int64")))
    return median_result(values, _wrap(idx.astype("int64")))


def aminmax(input, *, dim=None, keepdim=False):
    """(min, max) over ``dim`` (all elements when None); ties share the gradient evenly."""
    _check_tensor(input, "aminmax")
    red = () if dim is None else dim
    return aminmax_result(_r.amin(input, dim=red, keepdim=keepdim),
                          _r.amax(input, dim=red, keepdim=keepdim))


# ----------------------------------------------------------------------------- products
def mv(input, vec):
    """Matrix (n, m) times vector (m,) -> (n,)."""
    _check_tensor(input, "mv")
    _check_tensor(vec, "mv")
    if input.array.ndim != 2 or vec.array.ndim != 1 or input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"mv: expected a matrix (n, m) and a vector (m,), got input "
                           f"{list(input.shape)} and vec {list(vec.shape)}")
    return matmul(input, vec)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2), input broadcast to (n, p). With beta = 0 the input
    is ignored (NaNs in it do not propagate), as in PyTorch."""
    for t in (input, mat1, mat2):
        _check_tensor(t, "addmm")
    if mat1.array.ndim != 2 or mat2.array.ndim != 2:
        raise RuntimeError(f"addmm: mat1 and mat2 must be matrices, got mat1 "
                           f"{list(mat1.shape)} and mat2 {list(mat2.shape)}")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"addmm: mat1 and mat2 shapes cannot be multiplied "
                           f"({mat1.shape[0]}x{mat1.shape[1]} and "
                           f"{mat2.shape[0]}x{mat2.shape[1]})")
    n, p = mat1.shape[0], mat2.shape[1]
    s = tuple(input.shape)
    if len(s) > 2 or _bad_broadcast(s, (n, p)):
        raise RuntimeError(f"addmm: input {list(s)} cannot be broadcast to the product's shape "
                           f"[{n}, {p}]")
    prod = matmul(mat1, mat2)
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod
    return prod + (input if beta == 1 else input * beta)


def _bad_broadcast(shape, target):
    """True if ``shape`` does not broadcast to ``target`` (without growing it)."""
    lead = len(target) - len(shape)
    return lead < 0 or builtins.any(s not in (1, t) for s, t in zip(shape, target[lead:]))


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise p-norm distances: x1 (..., P, M), x2 (..., R, M) -> (..., P, R), batch dims
    broadcast. Built as the norm of all differences (P R M memory): exact, and its gradient at
    a zero distance is 0, as in PyTorch."""
    _check_tensor(x1, "cdist")
    _check_tensor(x2, "cdist")
    if x1.array.ndim < 2 or x2.array.ndim < 2:
        raise RuntimeError(f"cdist: x1 and x2 must have at least 2 dimensions, got x1 "
                           f"{list(x1.shape)} and x2 {list(x2.shape)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist: x1 and x2 must have the same number of columns, got x1 "
                           f"{list(x1.shape)} and x2 {list(x2.shape)}")
    if p < 0:
        raise RuntimeError(f"cdist: only supports non-negative p values, got p={p}")
    # d_ij = || x1_i - x2_j ||_p
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return norm(diff, p, dim=-1)
