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
    lu_factor: A = P L U (partial pivoting, L unit lower, U upper, packed into one matrix);
              with G = tril(L^T dL/dL, -1) + triu(dL/dU U^T),  dL/dA = P L^-T G U^-T
"""
from .autograd import Function
from .ops.linalg import *  # noqa: F401,F403
from .ops.linalg import matmul, diagonal, einsum  # noqa: F401
from .ops import abs as _abs, sum as _sum, sqrt as _sqrt, pow as _pow, mul as _mul, amax as _amax

__all__ = ["matmul", "einsum", "diagonal", "vector_norm", "matrix_norm", "norm", "inv", "det",
           "slogdet", "solve", "cholesky", "cholesky_ex", "solve_triangular", "lu_factor",
           "lu_factor_ex", "lu", "lu_unpack", "LinAlgError"]


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


# ----------------------------------------------------------------------------- LU

def _getrf(xp, a):
    """LU with partial pivoting, as LAPACK's getrf: at step k the row with the largest |a[i, k]|
    (i >= k, the first one on ties) is swapped into row k, then the column below the pivot is
    divided by it and the trailing block updated. Batched over the leading dims. Returns the
    packed LU (L's strict lower triangle, U's upper), 1-based int32 pivots (row k was swapped
    with row pivots[k] - 1) and info: 0, or the 1-based index of the first zero on U's
    diagonal."""
    a = a.copy()
    m, n = a.shape[-2], a.shape[-1]
    k_max = min(m, n)
    batch = a.shape[:-2]
    piv = xp.zeros(batch + (k_max,), dtype=xp.int32)
    info = xp.zeros(batch, dtype=xp.int32)
    rows = xp.broadcast_to(xp.arange(m), batch + (m,))
    for k in range(k_max):
        p = xp.argmax(xp.abs(a[..., k:, k]), axis=-1) + k            # batch
        piv[..., k] = p + 1
        pk = xp.expand_dims(p, -1)
        perm = xp.where(rows == k, pk, xp.where(rows == pk, k, rows))    # swap rows k and p
        a = xp.take_along_axis(a, perm[..., None], axis=-2)
        pivot = a[..., k, k]
        zero = pivot == 0
        info = xp.where((info == 0) & zero, k + 1, info).astype(xp.int32)
        safe = xp.where(zero, 1, pivot)
        a[..., k + 1:, k] = xp.where(zero[..., None], a[..., k + 1:, k], a[..., k + 1:, k] /
                                     safe[..., None])
        a[..., k + 1:, k + 1:] -= a[..., k + 1:, k:k + 1] * a[..., k:k + 1, k + 1:]
    return a, piv, info


def _perm_from_pivots(xp, piv, m, dtype):
    """The permutation matrix P of A = P L U from getrf's 1-based pivots: replay the row swaps
    on 0..m-1 (perm[i] = the row of A that became row i of L U), then P[perm[i], i] = 1."""
    batch = piv.shape[:-1]
    rows = xp.broadcast_to(xp.arange(m), batch + (m,))
    perm = rows
    for k in range(piv.shape[-1]):
        j = xp.expand_dims(piv[..., k].astype(xp.int64) - 1, -1)
        at_k = perm[..., k:k + 1]
        at_j = xp.take_along_axis(perm, j, axis=-1)
        perm = xp.where(rows == k, at_j, xp.where(rows == j, at_k, perm))
    return (perm[..., None, :] == xp.arange(m)[:, None]).astype(dtype)


class _LUFactor(Function):
    def forward(self, a, *, lu, piv):
        self.m, self.n = a.shape[-2], a.shape[-1]
        self.save_for_backward(lu, _perm_from_pivots(self.xp, piv, self.m, a.dtype))
        return lu

    def backward(self, g):
        if self.m != self.n:
            raise NotImplementedError(f"linalg.lu_factor: the gradient of a non-square LU "
                                      f"({self.m}x{self.n}) is not implemented in minigen")
        lu, P = self.saved_tensors
        L = lu.tril(-1) + _eye_like(lu, self.n)
        U = lu.triu()
        # G = tril(L^T gL, -1) + triu(gU U^T);  dL/dA = P L^-T G U^-T
        G = (L.transpose(-2, -1) @ g.tril(-1)).tril(-1) + (g.triu() @ U.transpose(-2, -1)).triu()
        y = solve_triangular(L.transpose(-2, -1), G, upper=True, unitriangular=True)
        return P @ solve_triangular(U.transpose(-2, -1), y, upper=False, left=False)


def _lu_checked(A, pivot, name):
    if A.ndim < 2:
        raise RuntimeError(f"{name}: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(A.shape)} instead")
    if not pivot:
        raise RuntimeError(f"{name}: LU without pivoting is not implemented on the CPU "
                           "(minigen pivots always; pass pivot=True)")
    if A.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point tensor, got {A.dtype}")
    from .autograd import _wrap
    lu_arr, piv, info = _getrf(A.xp, A.array)
    return _LUFactor.apply(A, lu=lu_arr, piv=piv), _wrap(piv), _wrap(info)


def _raise_singular(info, name):
    import numpy
    bad = numpy.asarray(info.cpu().numpy() if hasattr(info, "cpu") else info).reshape(-1)
    for b, i in enumerate(bad):
        if i > 0:
            where = f" (Batch element {b})" if info.ndim else ""
            raise LinAlgError(f"{name}{where}: U[{i},{i}] is zero and using it on lu_solve would "
                              "result in a division by zero. If you still want to perform the "
                              "factorization, consider calling linalg.lu(A, pivot) or "
                              "linalg.lu_factor_ex(A, pivot)")


from collections import namedtuple as _nt  # noqa: E402
lu_factor_result = _nt("linalg_lu_factor", ["LU", "pivots"])
lu_factor_ex_result = _nt("linalg_lu_factor_ex", ["LU", "pivots", "info"])
lu_result = _nt("linalg_lu", ["P", "L", "U"])
lu_unpack_result = _nt("lu_unpack", ["P", "L", "U"])


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """``torch.linalg.lu_factor_ex``: (LU, pivots, info) of A = P L U; ``info`` is 0, or the
    1-based index of the first zero on U's diagonal (no error unless ``check_errors``)."""
    if out is not None:
        raise NotImplementedError("linalg.lu_factor_ex: out= is not supported in minigen")
    LU, piv, info = _lu_checked(A, pivot, "torch.linalg.lu_factor_ex")
    if check_errors:
        _raise_singular(info, "torch.linalg.lu_factor_ex")
    return lu_factor_ex_result(LU, piv, info)


def lu_factor(A, *, pivot=True, out=None):
    """``torch.linalg.lu_factor``: the LU decomposition with partial pivoting, A = P L U,
    packed as PyTorch (and LAPACK) pack it: ``LU`` holds U on and above the diagonal and L's
    strict lower triangle (L's diagonal is ones); ``pivots`` (int32, 1-based) says row k was
    swapped with row pivots[k]. Raises LinAlgError when U has a zero on its diagonal.
    Differentiable for square A (see the module doc)."""
    if out is not None:
        raise NotImplementedError("linalg.lu_factor: out= is not supported in minigen")
    LU, piv, info = _lu_checked(A, pivot, "torch.linalg.lu_factor")
    _raise_singular(info, "torch.linalg.lu_factor")
    return lu_factor_result(LU, piv)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """``torch.lu_unpack``: (P, L, U) from ``lu_factor``'s packed LU and pivots, so that
    A = P @ L @ U; L is m x k unit lower triangular, U k x n upper (k = min(m, n)). L and U
    are differentiable in LU_data. With ``unpack_data=False`` L and U are empty, with
    ``unpack_pivots=False`` P is."""
    if out is not None:
        raise NotImplementedError("lu_unpack: out= is not supported in minigen")
    from .autograd import _wrap
    from .creation import empty
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = min(m, n)
    if tuple(LU_pivots.shape) != tuple(LU_data.shape[:-2]) + (k,):
        raise RuntimeError(f"lu_unpack: LU_pivots of shape {list(LU_pivots.shape)} does not "
                           f"match LU_data of shape {list(LU_data.shape)} (expected "
                           f"{list(LU_data.shape[:-2]) + [k]})")
    if unpack_data:
        eye = _wrap(LU_data.xp.eye(m, k, dtype=LU_data.array.dtype))
        L = LU_data[..., :, :k].tril(-1) + eye
        U = LU_data[..., :k, :].triu()
    else:
        L = U = empty(0, dtype=LU_data.dtype, device=LU_data.device)
    if unpack_pivots:
        P = _wrap(_perm_from_pivots(LU_data.xp, LU_pivots.array, m, LU_data.array.dtype))
    else:
        P = empty(0, dtype=LU_data.dtype, device=LU_data.device)
    return lu_unpack_result(P, L, U)


def lu(A, *, pivot=True, out=None):
    """``torch.linalg.lu``: (P, L, U) with A = P @ L @ U (no error for singular A)."""
    if out is not None:
        raise NotImplementedError("linalg.lu: out= is not supported in minigen")
    LU, piv, _ = _lu_checked(A, pivot, "torch.linalg.lu")
    return lu_result(*lu_unpack(LU, piv))


def _lu_deprecated(A, pivot=True, get_infos=False, out=None):
    """``torch.lu`` / ``Tensor.lu`` (PyTorch's older name): (LU, pivots), or (LU, pivots,
    infos) with ``get_infos=True``; without it a singular A raises, as in PyTorch."""
    if out is not None:
        raise NotImplementedError("lu: out= is not supported in minigen")
    LU, piv, info = _lu_checked(A, pivot, "torch.lu")
    if get_infos:
        return LU, piv, info
    _raise_singular(info, "torch.lu")
    return LU, piv


# svd, qr, eigh, matrix_exp, pinv, lstsq, matrix_rank, the spectral / nuclear norms, ...
from .linalg_decomp import *  # noqa: E402,F401,F403
from .linalg_decomp import __all__ as _decomp_all  # noqa: E402
__all__ = __all__ + [n for n in _decomp_all if n not in __all__]
