"""matmul, einsum and diagonal beyond the registry: every operand-rank combination against NumPy
and torch, gradients through broadcast batch dims, einsum's forms (operand list, implicit output,
'...', repeated letters), errors naming both shapes, and composite twins to second order."""
import numpy as np
import pytest

import minigen

RNG = np.random.default_rng(0)


def T(a, device, grad=False):
    return minigen.tensor(np.asarray(a, np.float64), dtype=minigen.float64, device=device,
                          requires_grad=grad)


MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                 ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((2, 1, 2, 3), (4, 3, 2)),
                 ((3,), (2, 3, 4)), ((2, 2, 3), (3,)), ((1, 2, 3), (5, 3, 1)),
                 ((0, 3), (3, 2)), ((2, 0), (0, 3))]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES, ids=str)
def test_matmul_shapes_values_and_gradients(sa, sb, device):
    a, b = RNG.standard_normal(sa), RNG.standard_normal(sb)
    x, y = T(a, device, grad=True), T(b, device, grad=True)
    z = x @ y
    want = a @ b
    assert z.shape == want.shape and z.device == device
    np.testing.assert_allclose(z.cpu().numpy(), want, rtol=1e-12, atol=1e-12)
    g = RNG.standard_normal(want.shape)
    z.backward(T(g, device))
    assert x.grad.shape == sa and y.grad.shape == sb
    torch = pytest.importorskip("torch")
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    (ta @ tb).backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.cpu().numpy(), ta.grad.cpu().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.grad.cpu().numpy(), tb.grad.cpu().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sa, sb", [((2, 3), (4, 2)), ((3,), (4,)), ((2, 2, 3), (2, 4))],
                         ids=str)
def test_matmul_shape_error_names_both_shapes(sa, sb, device):
    x, y = T(np.ones(sa), device), T(np.ones(sb), device)
    fa, fb = "x".join(map(str, sa)), "x".join(map(str, sb))
    with pytest.raises(RuntimeError, match=f"matmul: .*{fa} and {fb}"):
        x @ y


def test_matmul_batch_error_and_0d(device):
    with pytest.raises(RuntimeError, match=r"\[2, 2, 3\].*\[3, 3, 2\]"):
        T(np.ones((2, 2, 3)), device) @ T(np.ones((3, 3, 2)), device)
    with pytest.raises(RuntimeError, match="at least 1D"):
        T(2.0, device) @ T([1.0], device)


def test_mm_bmm_dot_outer(device):
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    np.testing.assert_allclose(minigen.mm(T(a, device), T(b, device)).cpu().numpy(), a @ b)
    p, q = RNG.standard_normal((2, 2, 3)), RNG.standard_normal((2, 3, 2))
    np.testing.assert_allclose(minigen.bmm(T(p, device), T(q, device)).cpu().numpy(), p @ q)
    u, v = RNG.standard_normal(3), RNG.standard_normal(4)
    assert minigen.dot(T(u, device), T(u, device)).shape == ()
    np.testing.assert_allclose(minigen.outer(T(u, device), T(v, device)).cpu().numpy(), np.outer(u, v))
    with pytest.raises(RuntimeError, match=r"mm: expected 2D.*\[3\]"):
        minigen.mm(T(u, device), T(b, device))
    with pytest.raises(RuntimeError, match=r"bmm: batch sizes differ"):
        minigen.bmm(T(p, device), T(q[:1], device))
    with pytest.raises(RuntimeError, match="dot: 1D"):
        minigen.dot(T(a, device), T(u, device))


def test_matmul_promotes_and_keeps_float32(device):
    a32 = minigen.ones(2, 3, device=device)
    assert (a32 @ minigen.ones(3, device=device)).dtype == minigen.float32
    assert (a32 @ minigen.ones(3, 2, dtype=minigen.float64, device=device)).dtype == minigen.float64


# ----------------------------------------------------------------------------- einsum
EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(3,), (2,)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]), ("...ii->...i", [(2, 3, 3)]),
    ("b...,b->...", [(2, 3, 4), (2,)]), ("bii->b", [(2, 3, 3)]), ("ijk->kji", [(2, 3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 4)]), ("i j , j k -> i k", [(2, 3), (3, 2)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]), ("iij->ij", [(2, 2, 3)]),
]


@pytest.mark.parametrize("eq, shapes", EINSUMS, ids=[e for e, _ in EINSUMS])
def test_einsum_against_numpy_and_torch(eq, shapes, device):
    arrays = [RNG.standard_normal(s) for s in shapes]
    xs = [T(a, device, grad=True) for a in arrays]
    y = minigen.einsum(eq, *xs)
    want = np.einsum(eq.replace(" ", ""), *arrays)
    assert y.shape == want.shape
    np.testing.assert_allclose(y.cpu().numpy(), want, rtol=1e-12, atol=1e-12)
    y_list = minigen.einsum(eq, xs)  # the operand-list form
    np.testing.assert_allclose(y_list.cpu().numpy(), want, rtol=1e-12, atol=1e-12)
    g = RNG.standard_normal(want.shape)
    y.backward(T(g, device))
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    torch.einsum(eq, *ts).backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.cpu().numpy(), t.grad.cpu().numpy(), rtol=1e-10, atol=1e-12)


def test_einsum_second_order(device):
    a = T(RNG.standard_normal((2, 3)), device, True)
    b = T(RNG.standard_normal((3, 3)), device, True)
    assert minigen.gradgradcheck(lambda a, b: minigen.einsum("ij,jj->i", [a, b]), [a, b])
    # trace(b) * sum(b): a product of two einsums, so its second derivative is not zero
    assert minigen.gradgradcheck(lambda b: minigen.einsum("ii->", b) * minigen.einsum("ij->", b),
                                 [b])


def test_einsum_errors(device):
    a, b = T(np.ones((2, 3)), device), T(np.ones((4, 2)), device)
    with pytest.raises(RuntimeError, match=r"subscript 'j' has size 3 .* and 4"):
        minigen.einsum("ij,jk->ik", a, b)
    with pytest.raises(ValueError, match="2 operands, but 1"):
        minigen.einsum("ij,jk->ik", a)
    with pytest.raises(RuntimeError, match=r"'ijk'.*\[2, 3\]"):
        minigen.einsum("ijk->i", a)
    with pytest.raises(RuntimeError, match="output subscript 'z'"):
        minigen.einsum("ij->z", a)


# ----------------------------------------------------------------------------- diagonal
@pytest.mark.parametrize("shape, offset, d1, d2", [
    ((3, 3), 0, 0, 1), ((3, 4), 1, 0, 1), ((4, 3), -2, 0, 1), ((2, 3, 4), 0, 1, 2),
    ((2, 3, 4), 1, 2, 0), ((3, 3), 5, 0, 1), ((2, 3, 3), -1, -1, -2)])
def test_diagonal_matches_torch(shape, offset, d1, d2, device):
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal(shape)
    x = T(a, device, grad=True)
    y = x.diagonal(offset, d1, d2)
    tx = torch.tensor(a, requires_grad=True)
    ty = torch.diagonal(tx, offset, d1, d2)
    np.testing.assert_array_equal(y.cpu().numpy(), ty.detach().cpu().numpy())
    w = RNG.standard_normal(ty.shape)
    (y * T(w, device)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), tx.grad.cpu().numpy())
    with pytest.raises(RuntimeError, match="identical"):
        x.diagonal(0, 1, 1)


# ----------------------------------------------------------------------------- composite twins
def _twin(hand, composite, arrays, device):
    """Value, gradients and a Hessian-vector product agree for the two forms."""
    out = []
    for f in (hand, composite):
        rng = np.random.default_rng(5)
        xs = [T(a, device, grad=True) for a in arrays]
        y = f(*xs)
        w = T(rng.standard_normal(y.shape), device)
        gs = minigen.grad((y * w).sum(), xs, create_graph=True)
        us = [T(rng.standard_normal(a.shape), device) for a in arrays]
        gu = sum((g * u).sum() for g, u in zip(gs, us))
        # a linear f has constant gradients: its second derivative is zero
        hs = minigen.grad(gu, xs, allow_unused=True) if gu.requires_grad else [None] * len(xs)
        out.append([y.cpu().numpy()] + [g.cpu().numpy() for g in gs]
                   + [np.zeros(a.shape) if h is None else h.cpu().numpy() for h, a in zip(hs, arrays)])
    for p, q in zip(*out):
        np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-12)


def _matmul_composite(a, b):
    # C_ik = sum_j A_ij B_jk, by broadcasting: (..., i, j, 1) * (..., 1, j, k), summed over j
    return (a.unsqueeze(-1) * b.unsqueeze(-3)).sum(-2)


@pytest.mark.parametrize("sa, sb", [((2, 3), (3, 4)), ((2, 1, 2, 3), (3, 3, 2))], ids=str)
def test_matmul_twin(sa, sb, device):
    _twin(minigen.matmul, _matmul_composite, [RNG.standard_normal(sa), RNG.standard_normal(sb)],
          device)


def test_einsum_twin(device):
    arrays = [RNG.standard_normal((2, 2, 3)), RNG.standard_normal((2, 3, 2))]
    _twin(lambda a, b: minigen.einsum("bij,bjk->bik", a, b), _matmul_composite, arrays, device)
    sq = [RNG.standard_normal((3, 3))]
    eye = np.eye(3)
    _twin(lambda a: minigen.einsum("ii->", a), lambda a: (a * T(eye, device)).sum(), sq, device)
