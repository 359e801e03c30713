"""``minigen.linalg`` (PyTorch's ``torch.linalg``): norms, inverse, determinant, solve.

The products (``matmul``, ``einsum``, ...) live in ``minigen/ops/linalg.py`` and are re-exported.
The rest are built so that their gradients are themselves minigen ops:

    vector_norm(x, ord) = (sum |x|^ord)^(1/ord)   (max |x| for inf, count of nonzeros for 0)
    matrix_norm(A, 'fro') = sqrt(sum A^2),   'nuc' and 2-norms are not implemented
    inv:   Y = A^-1,            dL/dA = -Y^T (dL/dY) Y^T
    det:   d = det A,           dL/dA = (dL/dd) d A^-T
    slogdet: (sign, log|det A|), d log|det A| / dA = A^-T
    solve(A, B) = A^-1 B
    cholesky: A = L L^T,  with P = Phi(L^T dL/dL) (Phi: lower triangle, diagonal halved),
              S = L^-T P L^-1,  dL/dA = (S + S^T) / 2
    solve_triangular(A, B): X = A^-1 B with A triangular,
              dL/dB = A^-T dL/dX,  dL/dA = -(dL/dB) X^T restricted to A's triangle
"""
from .autograd import Function
from .ops.linalg import *  # noqa: F401,F403
from .ops.linalg import matmul, diagonal, einsum  # noqa: F401
from .ops import abs as _abs, sum as _sum, sqrt as _sqrt, pow as _pow, mul as _mul, amax as _amax

__all__ = ["matmul", "einsum", "diagonal", "vector_norm", "matrix_norm", "norm", "inv", "det",
           "slogdet", "solve", "cholesky", "cholesky_ex", "solve_triangular", "LinAlgError"]


class LinAlgError(RuntimeError):
    """PyTorch's ``torch.linalg.LinAlgError`` (a RuntimeError): a factorization failed."""


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


def _tri_mask(xp, n, upper, unit, dtype):
    """1 on the used triangle of an n x n matrix (without the diagonal when ``unit``)."""
    m = xp.triu(xp.ones((n, n), dtype=dtype), 1 if unit else 0) if upper else \
        xp.tril(xp.ones((n, n), dtype=dtype), -1 if unit else 0)
    return m


def _phi(x):
    """The lower triangle of x with its diagonal halved."""
    n = x.shape[-1]
    return x.tril() - 0.5 * (x * _eye_like(x, n))


def _eye_like(x, n):
    from .autograd import _wrap
    return _wrap(x.xp.eye(n, dtype=x.array.dtype))


class Cholesky(Function):
    def forward(self, a):
        xp = self.xp
        try:
            low = xp.linalg.cholesky(a)
        except Exception:  # NumPy's LinAlgError (CuPy's cholesky fills NaN instead)
            low = None
        if low is None or not bool(xp.isfinite(low).all()):
            raise LinAlgError(_not_pd_message(xp, a))
        self.save_for_backward(low)
        return low

    def backward(self, gl):
        (low,) = self.saved_tensors
        # P = Phi(L^T gL);  S = L^-T P L^-1;  dL/dA = (S + S^T) / 2
        p = _phi(low.transpose(-2, -1) @ gl)
        lt = low.transpose(-2, -1)
        # P L^-1 = (L^-T P^T)^T, then L^-T (P L^-1)
        s = solve_triangular(lt, solve_triangular(lt, p.transpose(-2, -1), upper=True)
                             .transpose(-2, -1), upper=True)
        return 0.5 * (s + s.transpose(-2, -1))


def _not_pd_message(xp, a):
    """PyTorch's message, with the order of the first leading minor that is not positive."""
    import numpy
    arr = numpy.asarray(a.get() if hasattr(a, "get") else a).reshape((-1,) + a.shape[-2:])
    order = 1
    for m in arr:
        for k in range(1, m.shape[-1] + 1):
            try:
                numpy.linalg.cholesky(m[:k, :k])
            except numpy.linalg.LinAlgError:
                order = k
                break
        else:
            continue
        break
    return ("linalg.cholesky: The factorization could not be completed because the input is not "
            f"positive-definite (the leading minor of order {order} is not positive-definite).")


def cholesky(A, *, upper=False, out=None):
    """``torch.linalg.cholesky(A, *, upper=False)``: L lower triangular with A = L L^T (A
    symmetric positive definite; only its lower triangle is read, as LAPACK does; the
    gradient is symmetric, as PyTorch's); ``upper=True``
    returns U = L^T with A = U^T U. Raises ``LinAlgError`` when A is not positive definite."""
    if out is not None:
        raise NotImplementedError("linalg.cholesky: out= is not supported in minigen")
    _square(A, "cholesky")
    # the gradient is PyTorch's: the symmetric (S + S^T) / 2, a derivative along symmetric
    # perturbations of A (gradcheck it through A -> cholesky((A + A^T) / 2))
    L = Cholesky.apply(A)
    return L.transpose(-2, -1) if upper else L


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """``(L, info)``: info is 0 where the factorization succeeded, else the order of the first
    leading minor that is not positive definite (and L is NaN there, not an error, unless
    ``check_errors``)."""
    from .autograd import _wrap
    try:
        L = cholesky(A, upper=upper)
        info = _wrap(A.xp.zeros(A.shape[:-2], dtype="int32"))
        return L, info
    except LinAlgError as e:
        if check_errors:
            raise
        order = int(str(e).split("order ")[1].split(" ")[0])
        nan = _wrap(A.xp.full(A.shape, float("nan"), dtype=A.array.dtype))
        return nan, _wrap(A.xp.full(A.shape[:-2], order, dtype="int32"))


class SolveTriangular(Function):
    def forward(self, a, b, *, upper, unit):
        xp = self.xp
        n = a.shape[-1]
        mask = _tri_mask(xp, n, upper, unit, a.dtype)
        am = a * mask + (xp.eye(n, dtype=a.dtype) if unit else 0)
        x = xp.linalg.solve(am, b)
        self.upper, self.unit = upper, unit
        self.save_for_backward(a, x)
        self.mask = mask
        return x

    def backward(self, gx):
        a, x = self.saved_tensors
        from .autograd import _wrap
        # dL/dB = A^-T dL/dX  (A^T is triangular the other way round)
        gb = solve_triangular(a.transpose(-2, -1), gx, upper=not self.upper,
                              unitriangular=self.unit)
        # dL/dA = -(dL/dB) X^T, on the triangle A's solve reads
        ga = -(gb @ x.transpose(-2, -1)) * _wrap(self.mask)
        return ga, gb


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """``torch.linalg.solve_triangular(A, B, *, upper, left=True, unitriangular=False)``: X with
    A X = B (``left=False``: X A = B) for A triangular; only the triangle named by ``upper`` is
    read (and not its diagonal when ``unitriangular``: it is taken as ones). Batched, broadcast."""
    if out is not None:
        raise NotImplementedError("linalg.solve_triangular: out= is not supported in minigen")
    _square(A, "solve_triangular")
    if B.ndim < 2:
        raise RuntimeError(f"linalg.solve_triangular: The input tensor B must have at least 2 "
                           f"dimensions, got shape {list(B.shape)}")
    if not left:
        # X A = B  <=>  A^T X^T = B^T
        return solve_triangular(A.transpose(-2, -1), B.transpose(-2, -1), upper=not upper,
                                unitriangular=unitriangular).transpose(-2, -1)
    n = A.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                           f"equation AX = B ({A.shape[-2]}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    batch = _broadcast_batch(A.shape[:-2], B.shape[:-2])
    A = A.expand(batch + tuple(A.shape[-2:]))
    B = B.expand(batch + tuple(B.shape[-2:]))
    return SolveTriangular.apply(A, B, upper=bool(upper), unit=bool(unitriangular))


def _broadcast_batch(a, b):
    import numpy
    return tuple(numpy.broadcast_shapes(tuple(a), tuple(b)))
