"""Op specs for minigen/linalg.py's LU decomposition (``linalg.lu_factor``, ``linalg.lu``,
``lu_unpack``), against a loop-by-loop NumPy reference (Gaussian elimination with partial
pivoting, one scalar at a time). First-order only: the backward's L, U and P are constants."""
from __future__ import annotations

import numpy as np

import minigen as mg
from .op_specs import _ins, _n, _spec


def _lu_ref_one(a):
    """Packed LU and the permutation matrix P (A = P L U) of one matrix, by scalar loops."""
    a = np.array(a, dtype=float)
    m, n = a.shape
    perm = list(range(m))
    for k in range(min(m, n)):
        p = max(range(k, m), key=lambda i: (abs(a[i, k]), -i))  # the largest, the first on ties
        a[[k, p]] = a[[p, k]]
        perm[k], perm[p] = perm[p], perm[k]
        if a[k, k] != 0:
            for i in range(k + 1, m):
                a[i, k] /= a[k, k]
                for j in range(k + 1, n):
                    a[i, j] -= a[i, k] * a[k, j]
    P = np.zeros((m, m))
    for i, r in enumerate(perm):
        P[r, i] = 1.0
    return a, P


def _lu_ref(a):
    flat = a.reshape((-1,) + a.shape[-2:])
    return np.stack([_lu_ref_one(x)[0] for x in flat]).reshape(a.shape)


def _plu_ref(a):
    lu, P = _lu_ref_one(a)
    m, n = a.shape
    k = min(m, n)
    L = np.tril(lu[:, :k], -1) + np.eye(m, k)
    U = np.triu(lu[:k, :])
    return P, L, U


_spec("linalg_lu_factor", lambda a: mg.linalg.lu_factor(a).LU, _lu_ref,
      lambda r, d: _ins(d, _n(r, 2, 4, 4)), second_order=False)
_spec("linalg_lu_L_U", lambda a: tuple(mg.linalg.lu(a))[1:],
      lambda a: _plu_ref(a)[1:], lambda r, d: _ins(d, _n(r, 3, 3)), second_order=False)
_PIV = np.array([2, 2, 3], dtype=np.int32)
_spec("lu_unpack_rectangular",  # L and U read from any packed 4x3 matrix; P from fixed pivots
      lambda x: tuple(mg.lu_unpack(x, mg.tensor(_PIV, device=x.device)))[1:],
      lambda x: (np.tril(x[:, :3], -1) + np.eye(4, 3), np.triu(x[:3, :])),
      lambda r, d: _ins(d, _n(r, 4, 3)))
