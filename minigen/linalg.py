"""``minigen.linalg`` (PyTorch's ``torch.linalg``): norms, inverse, determinant, solve.

The products (``matmul``, ``einsum``, ...) live in ``minigen/ops/linalg.py`` and are re-exported.
The rest are built so that their gradients are themselves minigen ops:

    vector_norm(x, ord) = (sum |x|^ord)^(1/ord)   (max |x| for inf, count of nonzeros for 0)
    matrix_norm(A, 'fro') = sqrt(sum A^2),   'nuc' and 2-norms are not implemented
    inv:   Y = A^-1,            dL/dA = -Y^T (dL/dY) Y^T
    det:   d = det A,           dL/dA = (dL/dd) d A^-T
    slogdet: (sign, log|det A|), d log|det A| / dA = A^-T
    solve(A, B) = A^-1 B
"""
from .autograd import Function
from .ops.linalg import *  # noqa: F401,F403
from .ops.linalg import matmul, diagonal, einsum  # noqa: F401
from .ops import abs as _abs, sum as _sum, sqrt as _sqrt, pow as _pow, mul as _mul, amax as _amax

__all__ = ["matmul", "einsum", "diagonal", "vector_norm", "matrix_norm", "norm", "inv", "det",
           "slogdet", "solve"]


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """(sum |x|^ord)^(1/ord) over ``dim`` (all elements by default)."""
    if dtype is not None:
        x = x.to(dtype)
    if ord == float("inf"):
        return _amax(_abs(x), dim=dim, keepdim=keepdim) if dim is not None else _amax(_abs(x))
    if ord == -float("inf"):
        return (_abs(x).amin(dim=dim, keepdim=keepdim) if dim is not None else _abs(x).amin())
    if ord == 0:
        return _sum((x != 0).to(x.dtype), dim=dim, keepdim=keepdim)
    if ord == 2:
        return _sqrt(_sum(_mul(x, x), dim=dim, keepdim=keepdim))
    if ord == 1:
        return _sum(_abs(x), dim=dim, keepdim=keepdim)
    return _pow(_sum(_pow(_abs(x), ord), dim=dim, keepdim=keepdim), 1.0 / ord)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    if ord != "fro":
        raise NotImplementedError(f"matrix_norm: ord={ord!r} is not implemented in minigen "
                                  "(only 'fro')")
    return vector_norm(A, 2, dim=tuple(dim), keepdim=keepdim, dtype=dtype)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``ord=None``: the 2-norm of the flattened input (or over ``dim``); a string ord is a
    matrix norm; a number is a vector norm."""
    if isinstance(ord, str):
        return matrix_norm(A, ord, dim if dim is not None else (-2, -1), keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def _square(A, name):
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be a batch of square matrices, got shape "
                           f"{list(A.shape)}")


class Inv(Function):
    def forward(self, a):
        y = self.xp.linalg.inv(a)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        yt = y.transpose(-2, -1)
        # dL/dA = -Y^T (dL/dY) Y^T
        return -(yt @ gy @ yt)


def inv(A):
    _square(A, "inv")
    return Inv.apply(A)


class Det(Function):
    def forward(self, a):
        d = self.xp.linalg.det(a)
        self.save_for_backward(a, d)
        return d

    def backward(self, gd):
        a, d = self.saved_tensors
        # dL/dA = (dL/dd) d A^-T
        return (gd * d).unsqueeze(-1).unsqueeze(-1) * inv(a).transpose(-2, -1)


def det(A):
    _square(A, "det")
    return Det.apply(A)


class _LogAbsDet(Function):
    def forward(self, a):
        sign, logabs = self.xp.linalg.slogdet(a)
        self.save_for_backward(a)
        return self.xp.asarray(logabs)

    def backward(self, g):
        (a,) = self.saved_tensors
        # d log|det A| / dA = A^-T
        return g.unsqueeze(-1).unsqueeze(-1) * inv(a).transpose(-2, -1)


def slogdet(A):
    """(sign, log|det A|); the log is differentiable, the sign is a constant."""
    _square(A, "slogdet")
    from .autograd import _wrap
    sign = _wrap(A.xp.asarray(A.xp.linalg.slogdet(A.array)[0]))
    return sign, _LogAbsDet.apply(A)


def solve(A, B, *, left=True):
    """X with A X = B (``left=False``: X A = B)."""
    _square(A, "solve")
    if not left:
        return matmul(B, inv(A))
    if B.ndim == A.ndim - 1:  # a batch of vectors
        return matmul(inv(A), B.unsqueeze(-1)).squeeze(-1)
    return matmul(inv(A), B)
