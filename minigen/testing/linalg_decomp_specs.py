"""Op specs for minigen/linalg_decomp.py: svd, qr, eigh, matrix_exp and pinv, each against a
NumPy float64 reference, with gradcheck and gradgradcheck (their backwards are minigen ops).

The outputs are chosen to be well defined where the factor is not unique: U * U and Vh * Vh
(each singular vector's sign is arbitrary, its square is not), V * V for eigh; inputs are random
normal matrices, whose singular values / eigenvalues are distinct. matrix_exp's reference is the
plain Taylor series sum_k A^k / k! to 40 terms (no scaling: the inputs have norm below 2)."""
from __future__ import annotations

import numpy as np

import minigen as mg
from .op_specs import _ins, _n, _spec


def _svd_ref(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return u * u, s, vh * vh


def _svd_fn(a):
    u, s, vh = mg.linalg.svd(a, full_matrices=False)
    return u * u, s, vh * vh


def _sym(a):
    return a + np.swapaxes(a, -1, -2)


def _eigh_ref(a):
    w, v = np.linalg.eigh(_sym(a))
    return w, v * v


def _eigh_fn(a):
    w, v = mg.linalg.eigh(a + a.transpose(-2, -1))
    return w, v * v


def _expm_ref(a):
    out, term = np.eye(a.shape[-1]), np.eye(a.shape[-1])
    for k in range(1, 40):
        term = term @ a / k
        out = out + term
    return out


def _small(r, *shape):
    a = _n(r, *shape)
    return a / max(1.0, float(np.abs(a).sum(-2).max())) * 1.5


_spec("linalg_svd", _svd_fn, _svd_ref, lambda r, d: _ins(d, _n(r, 4, 3)),
      domain="random 4x3: distinct non-zero singular values")
_spec("linalg_svd_wide", _svd_fn, _svd_ref, lambda r, d: _ins(d, _n(r, 2, 4)),
      domain="random 2x4: distinct non-zero singular values")
_spec("linalg_qr", lambda a: tuple(mg.linalg.qr(a)), lambda a: tuple(np.linalg.qr(a)),
      lambda r, d: _ins(d, _n(r, 4, 3)), domain="random 4x3 of full rank")
_spec("linalg_qr_wide", lambda a: tuple(mg.linalg.qr(a)), lambda a: tuple(np.linalg.qr(a)),
      lambda r, d: _ins(d, _n(r, 3, 4)), domain="random 3x4 of full rank")
_spec("linalg_eigh", _eigh_fn, _eigh_ref, lambda r, d: _ins(d, _n(r, 2, 3, 3)),
      domain="A + A^T of a random A: distinct eigenvalues")
_spec("linalg_matrix_exp", mg.linalg.matrix_exp, _expm_ref,
      lambda r, d: _ins(d, _small(r, 3, 3)), domain="random 3x3, column sums below 1.5")
_spec("linalg_pinv", mg.linalg.pinv, np.linalg.pinv, lambda r, d: _ins(d, _n(r, 4, 3)),
      domain="random 4x3 of full rank")
_spec("linalg_pinv_wide", mg.linalg.pinv, np.linalg.pinv, lambda r, d: _ins(d, _n(r, 2, 4)),
      domain="random 2x4 of full rank")


def _eig_fn(a):
    w, v = mg.linalg.eig(a)
    return mg.real(w), mg.imag(w), mg.abs(v) ** 2


def _eig_ref(a):
    w, v = np.linalg.eig(a)
    return w.real, w.imag, np.abs(v) ** 2


_spec("linalg_eig", _eig_fn, _eig_ref, lambda r, d: _ins(d, _n(r, 3, 3)), second_order=False,
      domain="random 3x3: distinct eigenvalues (a complex pair or not); |V|^2 is phase-free")


# minigen/linalg.py's Cholesky and SolveTriangular (used by cholesky_solve / lu_solve above)
def _spd(a):
    return a @ np.swapaxes(a, -1, -2) + a.shape[-1] * np.eye(a.shape[-1])


_spec("linalg_cholesky_spd", lambda a: mg.linalg.cholesky(a @ a.mT + 3.0 * mg.eye(
    3, dtype=a.dtype, device=a.device)), lambda a: np.linalg.cholesky(_spd(a)),
      lambda r, d: _ins(d, _n(r, 2, 3, 3)), domain="A A^T + 3 I: symmetric positive definite")


def _lower(a):
    return np.tril(a) + 3.0 * np.eye(a.shape[-1])


_spec("linalg_solve_triangular_lower",
      lambda a, b: mg.linalg.solve_triangular(a + 3.0 * mg.eye(3, dtype=a.dtype, device=a.device),
                                              b, upper=False),
      lambda a, b: np.linalg.solve(_lower(a), b),
      lambda r, d: _ins(d, _n(r, 3, 3), _n(r, 3, 2)),
      domain="the lower triangle of A + 3 I (only it is read): well conditioned")
