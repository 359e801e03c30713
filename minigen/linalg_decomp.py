"""The decompositions and matrix functions of ``torch.linalg`` that ``minigen/linalg.py`` does
not hold: svd, qr, eigh, matrix_exp and the functions built on them (pinv, matrix_rank,
lstsq, svdvals, eigvalsh, cond, the spectral and nuclear norms), with their gradients written
in minigen ops (so they are differentiable again).

SVD, A = U diag(S) V^T (A m x n, k = min(m, n), the thin factors; Townsend 2016). With
F_ij = 1 / (s_j^2 - s_i^2) (0 on the diagonal) and gU, gS, gV the incoming gradients:

    gA = U [ (F o (U^T gU - gU^T U)) S + diag(gS) + S (F o (V^T gV - gV^T V)) ] V^T
         + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T)

Defined where the singular values are distinct and non-zero (as PyTorch's). Only losses that do
not depend on the signs of the singular vectors have a gradient at all (a vector's sign is
arbitrary). With ``full_matrices=True`` the extra columns carry no gradient (PyTorch narrows to
the thin factors too).

QR, A = Q R (m >= n, Q m x n with orthonormal columns, R n x n upper triangular; Walter &
Lehmann 2018): with M = R gR^T - gQ^T Q and copyltu(M) = tril(M) + tril(M, -1)^T (the symmetric
matrix with M's lower triangle),

    gA = (gQ + Q copyltu(M)) R^-T

For m < n, A = [X | Y] with X square: X = Q U gives Q and U from the square rule after
gQ <- gQ + Y gV^T (V = Q^T Y, the rest of R), and gY = Q gV.

eigh, A = V diag(L) V^T (A symmetric, only its lower triangle read): with F_ij = 1/(l_j - l_i)
(0 on the diagonal),

    gA = V (diag(gL) + sym(F o (V^T gV))) V^T,   sym(X) = (X + X^T) / 2

the gradient along symmetric perturbations of A, as PyTorch's is.

matrix_exp, e^A = sum_k A^k / k!: computed by scaling and squaring, e^A = (e^(A / 2^s))^(2^s)
with ||A / 2^s||_1 <= 1/2 and the Taylor series to 18 terms there (error below 1e-20 of the
norm). Its gradient is the top-right block of the exponential of a block matrix (Van Loan 1978):

    exp([[A^T, G], [0, A^T]]) = [[e^(A^T), gA], [0, e^(A^T)]]

so the backward is matrix_exp again and every order of derivative follows.

pinv, X = A^+ (Golub & Pereyra 1973, constant rank):

    gA = -X^T G X^T + (I - A X) G^T X X^T + X^T X G^T (I - X A)
"""
from __future__ import annotations

import math
from collections import namedtuple

from .autograd import Function, Tensor, _wrap
from .linalg import solve_triangular, vector_norm, inv, _square

__all__ = ["svd", "svdvals", "qr", "eigh", "eigvalsh", "matrix_exp", "pinv", "matrix_rank",
           "lstsq", "cond", "matrix_power", "multi_dot", "cross", "vecdot", "solve_ex",
           "inv_ex", "cholesky_solve", "cholesky_inverse", "triangular_solve", "vander",
           "tensorinv", "tensorsolve", "matrix_norm", "norm", "householder_product", "lu_solve",
           "eig", "eigvals"]

svd_result = namedtuple("linalg_svd", ["U", "S", "Vh"])
qr_result = namedtuple("linalg_qr", ["Q", "R"])
eigh_result = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
eig_result = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])
lstsq_result = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
solve_ex_result = namedtuple("linalg_solve_ex", ["result", "info"])
inv_ex_result = namedtuple("linalg_inv_ex", ["inverse", "info"])
torch_svd_result = namedtuple("svd", ["U", "S", "V"])
torch_qr_result = namedtuple("qr", ["Q", "R"])
triangular_solve_result = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])


def _mT(x):
    return x.transpose(-2, -1)


def _eye(x, n):
    return _wrap(x.xp.eye(n, dtype=x.array.dtype))


def _check_matrix(A, op):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.{op}: expected a Tensor, got {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"linalg.{op}: The input tensor A must have at least 2 dimensions, "
                           f"got shape {list(A.shape)}")
    if A.array.dtype.kind != "f":
        raise RuntimeError(f"linalg.{op}: Expected a floating point tensor as input. Got "
                           f"{A.array.dtype}")


# ----------------------------------------------------------------------------- SVD
class _SVD(Function):
    """The thin SVD (U m x k, S k, Vh k x n); backward as in the module docstring."""

    def forward(self, a):
        xp = self.xp
        u, s, vh = (xp.asarray(t) for t in xp.linalg.svd(a, full_matrices=False))
        self.save_for_backward(u, s, vh)
        return u, s, vh

    def backward(self, gu, gs, gvh):
        u, s, vh = self.saved_tensors
        return _svd_backward(u, s, vh, gu, gs, gvh)


def _svd_backward(u, s, vh, gu, gs, gvh):
    m, n, k = u.shape[-2], vh.shape[-1], s.shape[-1]
    v = _mT(vh)
    s_row, s_col = s.unsqueeze(-2), s.unsqueeze(-1)
    xp = s.xp
    off = _wrap(1.0 - xp.eye(k, dtype=s.array.dtype))
    d = s_row * s_row - s_col * s_col  # d_ij = s_j^2 - s_i^2
    f = off / (d + _wrap(xp.eye(k, dtype=s.array.dtype)))
    inner = 0.0
    if gs is not None:
        inner = gs.diag_embed()
    if gu is not None:
        ut_gu = _mT(u) @ gu
        inner = inner + (f * (ut_gu - _mT(ut_gu))) * s_row
    if gvh is not None:
        gv = _mT(gvh)
        vt_gv = _mT(v) @ gv
        inner = inner + s_col * (f * (vt_gv - _mT(vt_gv)))
    ga = u @ inner @ vh if not isinstance(inner, float) else None
    if gu is not None and m > k:
        extra = (gu - u @ (_mT(u) @ gu)) / s_row  # (I - U U^T) gU S^-1
        ga = extra @ vh if ga is None else ga + extra @ vh
    if gvh is not None and n > k:
        gv = _mT(gvh)
        extra = (gv - v @ (vh @ gv)) / s_row  # (I - V V^T) gV S^-1, transposed below
        ga = u @ _mT(extra) if ga is None else ga + u @ _mT(extra)
    return ga


def _full_complement(A, U, Vh, full_matrices):
    """The full U (m x m) and Vh (n x n): the thin factors completed by an orthonormal basis
    of the complement (constants: they carry no gradient, as in PyTorch)."""
    xp = A.xp
    m, n = A.shape[-2], A.shape[-1]
    uf, _, vhf = (xp.asarray(t) for t in xp.linalg.svd(A.array, full_matrices=True))
    k = min(m, n)
    if m > k:
        U = _cat_last(U, _wrap(uf[..., :, k:]), -1)
    if n > k:
        Vh = _cat_last(Vh, _wrap(vhf[..., k:, :]), -2)
    return U, Vh


def _cat_last(a, b, dim):
    from .ops import cat
    return cat([a, b], dim)


def svd(A, full_matrices=True, *, driver=None, out=None):
    """``torch.linalg.svd(A, full_matrices=True)``: (U, S, Vh) with A = U diag(S) Vh, S
    descending. Differentiable where the singular values are distinct (and non-zero when
    A is not square); see the module docstring."""
    _check_matrix(A, "svd")
    U, S, Vh = _SVD.apply(A)
    if full_matrices and A.shape[-1] != A.shape[-2]:
        U, Vh = _full_complement(A, U, Vh, full_matrices)
    return svd_result(U, S, Vh)


def svdvals(A, *, driver=None, out=None):
    """The singular values, descending (differentiable: gA = U diag(gS) V^T)."""
    _check_matrix(A, "svdvals")
    return _SVD.apply(A)[1]


def _torch_svd(input, some=True, compute_uv=True, *, out=None):
    """Deprecated ``torch.svd``: (U, S, V) with V (not V^T); ``some=False`` the full factors;
    ``compute_uv=False`` gives zero U and V (full size), as PyTorch."""
    _check_matrix(input, "svd")
    if not compute_uv:
        m, n = input.shape[-2], input.shape[-1]
        S = svdvals(input)
        z = input.xp.zeros
        batch = tuple(input.shape[:-2])
        return torch_svd_result(_wrap(z(batch + (m, m), dtype=input.array.dtype)), S,
                                _wrap(z(batch + (n, n), dtype=input.array.dtype)))
    U, S, Vh = svd(input, full_matrices=not some)
    return torch_svd_result(U, S, _mT(Vh))


# ----------------------------------------------------------------------------- QR
class _QR(Function):
    """Reduced QR of A m x n (Q m x k, R k x n); backward in the module docstring."""

    def forward(self, a):
        xp = self.xp
        q, r = (xp.asarray(t) for t in xp.linalg.qr(a, mode="reduced"))
        self.save_for_backward(a, q, r)
        return q, r

    def backward(self, gq, gr):
        a, q, r = self.saved_tensors
        return _qr_backward(a, q, r, gq, gr)


def _copyltu(m):
    return m.tril() + _mT(m.tril(-1))


def _qr_backward_tall(q, r, gq, gr):
    # M = R gR^T - gQ^T Q;  gA = (gQ + Q copyltu(M)) R^-T
    mm = 0.0
    if gr is not None:
        mm = r @ _mT(gr)
    if gq is not None:
        mm = mm - _mT(gq) @ q
    b = q @ _copyltu(mm)
    if gq is not None:
        b = b + gq
    # X R^T = b  <=>  R X^T = b^T
    return _mT(solve_triangular(r, _mT(b), upper=True))


def _qr_backward(a, q, r, gq, gr):
    m, n = a.shape[-2], a.shape[-1]
    if gq is None and gr is None:
        return None
    if m >= n:
        return _qr_backward_tall(q, r, gq, gr)
    # wide: A = [X | Y], R = [U | V] with X = Q U (square) and V = Q^T Y
    from .ops import cat
    y, u = a[..., :, m:], r[..., :, :m]
    gv = gr[..., :, m:] if gr is not None else None
    gu = gr[..., :, :m] if gr is not None else None
    gq2 = gq
    if gv is not None:
        gq2 = y @ _mT(gv) if gq2 is None else gq2 + y @ _mT(gv)
    gx = _qr_backward_tall(q, u, gq2, gu)
    gy = q @ gv if gv is not None else _wrap(a.xp.zeros(tuple(y.shape), dtype=a.array.dtype))
    return cat([gx, gy], -1)


def qr(A, mode="reduced", *, out=None):
    """``torch.linalg.qr(A, mode='reduced')``: Q with orthonormal columns and R upper
    triangular, A = Q R. ``mode='complete'`` gives the square Q (m x m) and R (m x n);
    ``mode='r'`` gives an empty Q and R. Differentiable (module docstring); with 'complete'
    and m > n, Q's extra columns (not unique) are constants and R's gradient is the reduced
    one (PyTorch refuses this backward)."""
    _check_matrix(A, "qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    m, n = A.shape[-2], A.shape[-1]
    if mode == "complete" and m > n:
        # Q: the full orthogonal matrix (its extra columns are not unique: a constant here,
        # where PyTorch refuses the backward); R: the reduced R over zero rows (differentiable)
        from .ops import cat
        xp = A.xp
        q = xp.asarray(xp.linalg.qr(A.array, mode="complete")[0])
        Q1, R1 = _QR.apply(A)
        zeros = _wrap(xp.zeros(tuple(A.shape[:-2]) + (m - n, n), dtype=A.array.dtype))
        Q = cat([Q1, _wrap(q[..., :, n:])], -1)
        return qr_result(Q, cat([R1, zeros], -2))
    Q, R = _QR.apply(A)
    if mode == "r":
        return qr_result(_wrap(A.xp.zeros((0,), dtype=A.array.dtype)), R)
    return qr_result(Q, R)


def _torch_qr(input, some=True, *, out=None):
    """Deprecated ``torch.qr(A, some=True)``: linalg.qr with mode 'reduced' (some) or
    'complete'."""
    Q, R = qr(input, "reduced" if some else "complete")
    return torch_qr_result(Q, R)


# ----------------------------------------------------------------------------- eigh
class _Eigh(Function):
    def forward(self, a, *, uplo):
        xp = self.xp
        w, v = (xp.asarray(t) for t in xp.linalg.eigh(a, UPLO=uplo))
        self.save_for_backward(w, v)
        return w, v

    def backward(self, gw, gv):
        w, v = self.saved_tensors
        xp = w.xp
        k = w.shape[-1]
        inner = gw.diag_embed() if gw is not None else 0.0
        if gv is not None:
            off = _wrap(1.0 - xp.eye(k, dtype=w.array.dtype))
            e = w.unsqueeze(-2) - w.unsqueeze(-1)  # e_ij = l_j - l_i
            f = off / (e + _wrap(xp.eye(k, dtype=w.array.dtype)))
            x = f * (_mT(v) @ gv)
            inner = inner + 0.5 * (x + _mT(x))
        return v @ inner @ _mT(v)


def eigh(A, UPLO="L", *, out=None):
    """``torch.linalg.eigh(A, UPLO='L')``: the eigenvalues (ascending) and orthonormal
    eigenvectors (columns) of a symmetric A, read from its lower ('L') or upper ('U')
    triangle. Differentiable where the eigenvalues are distinct (module docstring)."""
    _square(A, "eigh")
    _check_matrix(A, "eigh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    w, v = _Eigh.apply(A, uplo=UPLO)
    return eigh_result(w, v)


def eigvalsh(A, UPLO="L", *, out=None):
    """The eigenvalues of a symmetric A, ascending (gradient V diag(gL) V^T)."""
    return eigh(A, UPLO).eigenvalues


# ----------------------------------------------------------------------------- eig
def _host_eig(xp, a):
    """(w, V) of a general square matrix, complex; on the host where the device's array module
    has no general eig (CuPy has only eigh)."""
    fn = getattr(getattr(xp, "linalg", None), "eig", None)
    if fn is not None:
        try:
            return tuple(xp.asarray(t) for t in fn(a))
        except (NotImplementedError, AttributeError):
            pass
    import numpy
    from . import backend as B
    host = B.backend_of(a).to_numpy(a)
    w, v = numpy.linalg.eig(host)
    return xp.asarray(w), xp.asarray(v)


class _Eig(Function):
    """A = V diag(L) V^-1 (complex L, V with unit columns, as LAPACK). First-order gradient,
    as PyTorch's (the arrays of the backward are constants): with E_ij = conj(L_j - L_i) (1
    on the diagonal) and X = V^H gV,

        gA = V^-H [ diag(gL) + (X - V^H V Re(diag X)) / E  (off the diagonal) ] V^H

    and the real part of it for a real A."""

    def forward(self, a):
        w, v = _host_eig(self.xp, a)
        # always complex, as PyTorch (NumPy gives real arrays when every eigenvalue is real)
        cdt = "complex64" if a.dtype in ("float32", "complex64") else "complex128"
        w, v = w.astype(cdt), v.astype(cdt)
        self.real_input = a.dtype.kind == "f"
        self.save_for_backward(w, v)
        return w, v

    def backward(self, gw, gv):
        w, v = self.saved_tensors
        xp = w.xp
        W, V = w.array, v.array
        n = W.shape[-1]
        Vh = xp.conj(xp.swapaxes(V, -1, -2))
        inner = xp.zeros(V.shape, dtype=V.dtype)
        if gv is not None:
            X = Vh @ gv.array.astype(V.dtype)
            re_diag = xp.real(xp.diagonal(X, 0, -2, -1))
            X = X - Vh @ (V * re_diag[..., None, :])
            E = xp.conj(W[..., None, :] - W[..., :, None])
            eye = xp.eye(n, dtype=bool)
            inner = xp.where(eye, 0, X / xp.where(eye, 1, E))
        if gw is not None:
            idx = xp.arange(n)
            inner[..., idx, idx] = gw.array.astype(V.dtype)
        ga = xp.linalg.solve(Vh, inner @ Vh)
        if self.real_input:
            ga = xp.real(ga)
        return _wrap(ga)


def eig(A, *, out=None):
    """``torch.linalg.eig(A)``: the complex eigenvalues and eigenvectors (unit columns) of a
    square A, A = V diag(L) V^-1. Differentiable to first order for distinct eigenvalues
    (only through losses that do not depend on the eigenvectors' arbitrary phases)."""
    _square(A, "eig")
    if A.array.dtype.kind not in "fc":
        raise RuntimeError(f"linalg.eig: Expected a floating point or complex tensor as input. "
                           f"Got {A.array.dtype}")
    w, v = _Eig.apply(A)
    return eig_result(w, v)


def eigvals(A, *, out=None):
    """The complex eigenvalues of a square A (gA = Re(V^-H diag(gL) V^H) for a real A)."""
    return eig(A).eigenvalues


# ----------------------------------------------------------------------------- matrix_exp
def _expm_array(xp, a):
    """e^A of a batch of square arrays by scaling and squaring (module docstring)."""
    n = a.shape[-1]
    if a.size == 0:
        return a.copy()
    norm = float(xp.abs(a).sum(-2).max()) if a.size else 0.0
    s = max(0, int(math.ceil(math.log2(norm / 0.5)))) if norm > 0.5 else 0
    x = a / (2.0 ** s)
    eye = xp.broadcast_to(xp.eye(n, dtype=a.dtype), a.shape)
    out = eye.copy()
    term = eye.copy()
    for k in range(1, 19):
        term = (term @ x) / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


class _MatrixExp(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return _expm_array(self.xp, a)

    def backward(self, g):
        (a,) = self.saved_tensors
        from .ops import cat
        n = a.shape[-1]
        at = _mT(a)
        zero = g * 0.0
        block = cat([cat([at, g], -1), cat([zero, at], -1)], -2)
        # exp([[A^T, G], [0, A^T]]) = [[., gA], [0, .]]
        return matrix_exp(block)[..., :n, n:]


def matrix_exp(A):
    """``torch.linalg.matrix_exp(A)`` = sum_k A^k / k! (module docstring); differentiable to
    every order."""
    _square(A, "matrix_exp")
    _check_matrix(A, "matrix_exp")
    return _MatrixExp.apply(A)


# ----------------------------------------------------------------------------- pinv and kin
class _Pinv(Function):
    def forward(self, a, *, atol, rtol, hermitian):
        xp = self.xp
        u, s, vh = (xp.asarray(t) for t in xp.linalg.svd(a, full_matrices=False))
        smax = s[..., :1] if s.shape[-1] else s
        tol = _tolerance(xp, smax, a.shape, atol, rtol)
        keep = s > tol
        inv_s = xp.where(keep, 1.0 / xp.where(keep, s, 1.0), 0.0).astype(a.dtype)
        x = (_np_mT(vh) * inv_s[..., None, :]) @ _np_mT(u)
        self.save_for_backward(a, x)
        return x

    def backward(self, g):
        a, x = self.saved_tensors
        xt, gt = _mT(x), _mT(g)
        # gA = -X^T G X^T + (I - A X) G^T X X^T + X^T X G^T (I - X A)
        ga = -(xt @ g @ xt)
        ga = ga + (gt @ x @ xt - a @ (x @ (gt @ x @ xt)))
        ga = ga + (xt @ (x @ gt) - ((xt @ x) @ gt @ x) @ a)
        return ga


def _np_mT(a):
    return a.swapaxes(-1, -2)


def _tolerance(xp, smax, shape, atol, rtol):
    """max(atol, rtol * s_max); rtol defaults to eps * max(m, n) when neither is given."""
    m, n = shape[-2], shape[-1]
    eps = float(xp.finfo(smax.dtype).eps)
    if rtol is None:
        rtol = eps * max(m, n) if (atol is None or _is_zero(atol)) else 0.0
    atol = 0.0 if atol is None else atol
    atol = atol.array[..., None] if isinstance(atol, Tensor) else atol
    rtol = rtol.array[..., None] if isinstance(rtol, Tensor) else rtol
    return xp.maximum(atol, rtol * smax)


def _is_zero(v):
    return (not isinstance(v, Tensor)) and v == 0


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """``torch.linalg.pinv``: the Moore-Penrose pseudo-inverse from the SVD, singular values
    at or below max(atol, rtol * s_max) taken as zero (rtol = eps max(m, n) by default).
    Differentiable where the rank does not change (module docstring)."""
    _check_matrix(A, "pinv")
    return _Pinv.apply(A, atol=atol, rtol=rtol, hermitian=hermitian)


def _pinverse(input, rcond=1e-15):
    """``torch.pinverse(A, rcond=1e-15)``: pinv with rtol = rcond."""
    return pinv(input, rtol=rcond)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None, out=None):
    """The number of singular values above max(atol, rtol * s_max) (int64)."""
    _check_matrix(A, "matrix_rank")
    if tol is not None:
        atol, rtol = tol, 0.0
    xp = A.xp
    s = xp.asarray(xp.linalg.svd(A.array, compute_uv=False))
    smax = s[..., :1] if s.shape[-1] else s
    tol_ = _tolerance(xp, smax, A.shape, atol, rtol)
    return _wrap(xp.asarray((s > tol_).sum(-1)).astype("int64"))


def lstsq(A, B, rcond=None, *, driver=None):
    """``torch.linalg.lstsq(A, B)``: the X minimising ||A X - B|| (the minimum-norm one when
    A is rank-deficient), as pinv(A) @ B (differentiable). ``rank`` is reported for every
    driver but 'gels'; ``singular_values`` for 'gelsd' / 'gelss'; ``residuals`` (the squared
    residual norms of each column) when m > n, A has full rank and the driver is not
    'gelsy' (PyTorch's CPU default). ``rcond`` sets pinv's relative tolerance."""
    _check_matrix(A, "lstsq")
    drivers = ("gels", "gelsy", "gelsd", "gelss")
    if driver is not None and driver not in drivers:
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of {drivers}")
    driver = driver or "gelsy"
    vector = B.ndim == A.ndim - 1
    Bm = B.unsqueeze(-1) if vector else B
    if Bm.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2), "
                           f"got {A.shape[-2]} and {Bm.shape[-2]}")
    if rcond is None:
        rcond = float(A.xp.finfo(A.array.dtype).eps) * max(A.shape[-2], A.shape[-1])
    X = pinv(A, rtol=rcond) @ Bm
    xp = A.xp
    empty = _wrap(xp.zeros((0,), dtype=A.array.dtype))
    rank = matrix_rank(A, rtol=rcond) if driver != "gels" else \
        _wrap(xp.zeros((0,), dtype="int64"))
    sv = svdvals(A.detach()) if driver in ("gelsd", "gelss") else empty
    m, n = A.shape[-2], A.shape[-1]
    res = empty
    if driver != "gelsy" and m > n and bool((rank.array == n).all()):
        r = A @ X - Bm
        res = (r * r).sum(-2)
    if vector:
        X = X.squeeze(-1)
    return lstsq_result(X, res, rank, sv)


def cond(A, p=None):
    """The condition number ||A||_p ||A^-1||_p; p None or 2: s_max / s_min from the SVD."""
    if p is None or p == 2 or p == -2:
        s = svdvals(A)
        r = s[..., 0] / s[..., -1]
        return 1.0 / r if p == -2 else r
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


# ----------------------------------------------------------------------------- norms
def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """``torch.linalg.matrix_norm``: 'fro' (sqrt of the sum of squares), 'nuc' (the sum of
    the singular values), 2 / -2 (the largest / smallest singular value), 1 / -1 (the
    largest / smallest column sum of |A|), inf / -inf (the same over rows), over ``dim``."""
    if dtype is not None:
        A = A.to(dtype)
    d0, d1 = (d % A.ndim for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, "
                           f"{dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, dim=(d0, d1), keepdim=keepdim)
    inf = float("inf")
    if ord in ("nuc", 2, -2):
        x = A.movedim((d0, d1), (-2, -1))
        s = svdvals(x)
        r = s.sum(-1) if ord == "nuc" else s[..., 0] if ord == 2 else s[..., -1]
        if keepdim:
            r = r.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return r
    if ord in (1, -1, inf, -inf):
        summed, other = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = A.abs().sum(summed, keepdim=True)
        r = sums.amax(other, keepdim=True) if ord > 0 else sums.amin(other, keepdim=True)
        if not keepdim:
            r = r.squeeze(max(d0, d1)).squeeze(min(d0, d1))
        return r
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """``torch.linalg.norm``: with ``ord`` a string, or ``dim`` a pair, or (ord given and A
    2-D with no dim) a matrix norm; else a vector norm (ord None: the 2-norm of the flattened
    input)."""
    if isinstance(dim, int):
        dim = (dim,)
    if isinstance(ord, str) or (dim is not None and len(dim) == 2) or \
            (ord is not None and dim is None and A.ndim == 2):
        if dim is None and A.ndim != 2 and ord is not None:
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input "
                               f"must be 1D or 2D. Got {A.ndim}D.")
        return matrix_norm(A, "fro" if ord is None else ord, dim if dim is not None else
                           (-2, -1), keepdim, dtype=dtype)
    if ord is not None and dim is None and A.ndim > 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must "
                           f"be 1D or 2D. Got {A.ndim}D.")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


# ----------------------------------------------------------------------------- products, solves
def matrix_power(A, n):
    from .ops.extras_torch_linalg import matrix_power as mp
    return mp(A, n)


def multi_dot(tensors, *, out=None):
    """``torch.linalg.multi_dot([A, B, C, ...])``: the product, the first may be a 1-D row
    vector and the last a 1-D column vector (then the result drops those dims). Multiplied
    left to right (PyTorch picks the cheapest order; the values agree to round-off)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError("multi_dot(): expected at least 2 tensors but got "
                           f"{len(tensors)}")
    first_vec, last_vec = tensors[0].ndim == 1, tensors[-1].ndim == 1
    mats = list(tensors)
    if first_vec:
        mats[0] = mats[0].unsqueeze(0)
    if last_vec:
        mats[-1] = mats[-1].unsqueeze(-1)
    for i, t in enumerate(mats):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    out_ = mats[0]
    for t in mats[1:]:
        out_ = out_ @ t
    if first_vec and last_vec:
        return out_.reshape(())
    if first_vec:
        return out_.squeeze(0)
    if last_vec:
        return out_.squeeze(-1)
    return out_


def cross(input, other, *, dim=-1, out=None):
    """``torch.linalg.cross``: the cross product along ``dim`` (default -1, unlike
    ``torch.cross``), the inputs broadcast."""
    from .ops.extras_torch_linalg import cross as c
    from .ops import broadcast_tensors
    a, b = broadcast_tensors(input, other)
    return c(a, b, dim=dim)


def vecdot(x, y, *, dim=-1, out=None):
    """sum(conj(x) * y) along ``dim`` (broadcast)."""
    if x.array.dtype.kind == "c":
        x = x.conj()
    return (x * y).sum(dim)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """(solve(A, B), info) with info 0 (a singular A raises, as with check_errors)."""
    from .linalg import solve
    X = solve(A, B, left=left)
    return solve_ex_result(X, _wrap(A.xp.zeros(tuple(A.shape[:-2]), dtype="int32")))


def inv_ex(A, *, check_errors=False, out=None):
    return inv_ex_result(inv(A), _wrap(A.xp.zeros(tuple(A.shape[:-2]), dtype="int32")))


def cholesky_solve(B, L, upper=False, *, out=None):
    """``torch.cholesky_solve(B, L, upper=False)``: X with (L L^T) X = B (``upper``: L is U
    with A = U^T U), by two triangular solves (differentiable in B and L)."""
    if upper:
        y = solve_triangular(_mT(L), B, upper=False)
        return solve_triangular(L, y, upper=True)
    y = solve_triangular(L, B, upper=False)
    return solve_triangular(_mT(L), y, upper=True)


def cholesky_inverse(L, upper=False, *, out=None):
    """``torch.cholesky_inverse(L, upper=False)``: (L L^T)^-1 (``upper``: (U^T U)^-1)."""
    n = L.shape[-1]
    eye = _eye(L, n)
    if L.ndim > 2:
        eye = eye.expand(*L.shape)
    return cholesky_solve(eye, L, upper)


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """Deprecated ``torch.triangular_solve(b, A, upper=True, transpose=False,
    unitriangular=False)``: (X, A clone) with A X = b (A^T X = b with ``transpose``)."""
    M = _mT(A) if transpose else A
    X = solve_triangular(M, b, upper=(not upper) if transpose else upper,
                         unitriangular=unitriangular)
    return triangular_solve_result(X, A.clone())


def vander(x, N=None):
    """``torch.linalg.vander(x, N=None)``: columns x^0, x^1, ..., x^(N-1) (increasing
    powers, unlike ``torch.vander``), over the last dim, batched."""
    n = x.shape[-1] if N is None else int(N)
    if n <= 0:
        raise RuntimeError("N must be greater than 1.")
    from .ops import stack
    cols = [x * 0.0 + 1.0 if x.array.dtype.kind in "fc" else x * 0 + 1]
    for _ in range(1, n):
        cols.append(cols[-1] * x)
    return stack(cols[:n], -1)


def tensorinv(A, ind=2, *, out=None):
    """The tensor B with tensordot(A, B, ind) = I: A reshaped to a square matrix
    (prod(shape[:ind]) rows), inverted, reshaped to shape[ind:] + shape[:ind]."""
    lead, rest = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    m = math.prod(lead)
    if m != math.prod(rest):
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) "
                           f"== prod(self.shape[:ind]), but got {math.prod(rest)} != {m}")
    return inv(A.reshape(m, m)).reshape(rest + lead)


def tensorsolve(A, B, dims=None, *, out=None):
    """X with tensordot(A, X, X.ndim) = B (dims of A moved to the end first)."""
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        keep = [d for d in range(A.ndim) if d not in dims]
        A = A.permute(*(keep + dims))
    from .linalg import solve
    rest = tuple(A.shape[B.ndim:])
    m = math.prod(B.shape)
    return solve(A.reshape(m, math.prod(rest)), B.reshape(m)).reshape(rest)


def householder_product(A, tau, *, out=None):
    """Q = H_1 H_2 ... H_k, H_i = I - tau_i v_i v_i^T, v_i the i-th column of A below the
    diagonal with a 1 on it (LAPACK's orgqr); the first n columns of Q."""
    return _householder_full(A, tau)[..., :, :A.shape[-1]]


def _householder_full(A, tau):
    """The whole m x m Q = H_1 ... H_k of householder_product."""
    m, n = A.shape[-2], A.shape[-1]
    xp = A.xp
    Q = _eye(A, m)
    if A.ndim > 2:
        Q = Q.expand(*(tuple(A.shape[:-2]) + (m, m)))
    below = _wrap(xp.tril(xp.ones((m, n), dtype=A.array.dtype), -1))
    V = A * below + _wrap(xp.eye(m, n, dtype=A.array.dtype))
    for i in range(tau.shape[-1]):
        v = V[..., :, i:i + 1]
        Q = Q - (Q @ v) @ (_mT(v) * tau[..., i:i + 1].unsqueeze(-1))
    return Q


def geqrf(input, *, out=None):
    """``torch.geqrf(A)``: LAPACK's compact QR, (a, tau): R on and above a's diagonal, the
    Householder vectors below it, their scales in tau (no gradient, as PyTorch's)."""
    _check_matrix(input, "geqrf")
    import numpy
    from . import backend as B
    host = B.backend_of(input.array).to_numpy(input.array)
    flat = host.reshape((-1,) + host.shape[-2:])
    outs = [numpy.linalg.qr(x, mode="raw") for x in flat]
    a = numpy.stack([h.T for h, _ in outs]).reshape(host.shape)
    tau = numpy.stack([t for _, t in outs]).reshape(host.shape[:-2] + (min(host.shape[-2:]),))
    xp = input.xp
    return _wrap(xp.asarray(a.astype(host.dtype))), _wrap(xp.asarray(tau.astype(host.dtype)))


def ormqr(input, tau, other, left=True, transpose=False, *, out=None):
    """``torch.ormqr(a, tau, C, left=True, transpose=False)``: C multiplied by the full Q of
    the Householder vectors (Q C, Q^T C, C Q or C Q^T)."""
    Q = _householder_full(input, tau)
    if transpose:
        Q = _mT(Q)
    return Q @ other if left else other @ Q


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """``torch.linalg.lu_solve(LU, pivots, B, *, left=True, adjoint=False)``: X with A X = B
    for A = P L U given packed by ``lu_factor`` (``adjoint``: A^T X = B; ``left=False``:
    X A = B), by a permutation and two triangular solves (differentiable in LU and B)."""
    from .linalg import lu_unpack
    P, L, U = lu_unpack(LU, pivots)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _mT(lu_solve(LU, pivots, _mT(B), adjoint=not adjoint))
    if adjoint:  # A^T X = B:  U^T L^T P^T X = B  =>  X = P L^-T U^-T B
        y = solve_triangular(_mT(U), B, upper=False)
        y = solve_triangular(_mT(L), y, upper=True, unitriangular=True)
        return P @ y
    # A X = B:  X = U^-1 L^-1 P^T B
    y = solve_triangular(L, _mT(P) @ B, upper=False, unitriangular=True)
    return solve_triangular(U, y, upper=True)


# ----------------------------------------------------------------------------- torch.* spellings
def _torch_cholesky(input, upper=False, *, out=None):
    """Deprecated ``torch.cholesky(A, upper=False)``: linalg.cholesky."""
    from .linalg import cholesky
    return cholesky(input, upper=upper)


def frobenius_norm(input, dim=(-2, -1), keepdim=False, *, out=None):
    return vector_norm(input, 2, dim=tuple(dim) if not isinstance(dim, int) else dim,
                       keepdim=keepdim)


def nuclear_norm(input, dim=(-2, -1), keepdim=False, *, out=None):
    if isinstance(dim, bool):  # nuclear_norm(input, keepdim)
        dim, keepdim = (-2, -1), dim
    return matrix_norm(input, "nuc", dim, keepdim)


TORCH_LEVEL = {
    "geqrf": geqrf, "ormqr": ormqr, "orgqr": householder_product,
    "svd": _torch_svd, "qr": _torch_qr, "pinverse": _pinverse, "cholesky": _torch_cholesky,
    "cholesky_solve": cholesky_solve, "cholesky_inverse": cholesky_inverse,
    "triangular_solve": triangular_solve, "matrix_exp": matrix_exp,
    "frobenius_norm": frobenius_norm, "nuclear_norm": nuclear_norm,
}


def _install_methods():
    """x.svd(), x.qr(), x.pinverse(), x.matrix_exp(), x.cholesky(), x.cholesky_solve(L),
    x.cholesky_inverse(), x.triangular_solve(A): the torch.* functions with x first."""
    for name in ("svd", "qr", "pinverse", "matrix_exp", "cholesky", "cholesky_solve",
                 "cholesky_inverse", "triangular_solve", "geqrf", "ormqr", "orgqr"):
        if not hasattr(Tensor, name):
            setattr(Tensor, name, TORCH_LEVEL[name])


_install_methods()
