"""Complex tensors (minigen/ops/complex.py and the complex branches of Mul, Div, MatMul, Cast).

Every program maps real tensors to real tensors through complex ones, so finite differences
check its gradients (gradcheck, gradgradcheck) with no reference library; PyTorch, when
installed, checks the values and PyTorch's gradient convention (dL/dx + i dL/dy)."""
import numpy as np
import pytest

import minigen

A = np.random.default_rng(0).normal(size=(3, 2, 2))
B = np.random.default_rng(1).normal(size=(3, 2, 2))
TH = np.random.default_rng(2).uniform(-3, 3, size=(2,))


def rope(lib, a, b):
    """Meta's LLaMA rotary embedding: view_as_complex, polar, *, view_as_real."""
    th = lib.tensor(TH) if lib is not minigen else minigen.tensor(TH, device=a.device)
    f = lib.polar(lib.ones_like(th), th)
    return lib.view_as_real(lib.view_as_complex(a) * f).flatten(1)


def products(lib, a, b):
    z, w = lib.view_as_complex(a), lib.view_as_complex(b)
    return lib.view_as_real(z * w + z / (w + 3) - z.conj() * 2)


def matmul(lib, a, b):
    z, w = lib.view_as_complex(a), lib.view_as_complex(b)
    return lib.view_as_real(z.reshape(3, 2) @ w.reshape(2, 3))


def parts(lib, a, b):
    z = lib.view_as_complex(a)
    return lib.stack([z.real * 2, z.imag ** 2, z.abs(), z.angle()], dim=0)


def build(lib, a, b):
    z = lib.complex(a[..., 0], b[..., 1])
    w = lib.polar(b[..., 0].abs() + 0.5, a[..., 1])
    return lib.view_as_real((z * w).sum(0))


def casts(lib, a, b):
    z = a[..., 0].to(lib.complex128) * lib.view_as_complex(b)
    return z.real.to(lib.float64) + lib.view_as_real(z).sum(-1)


PROGRAMS = [rope, products, matmul, parts, build, casts]


def _t(x, device):
    return minigen.tensor(x, dtype=minigen.float64, device=device, requires_grad=True)


@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.__name__)
def test_gradients_match_finite_differences(prog, device):
    a, b = _t(A, device), _t(B, device)
    f = lambda x, y: prog(minigen, x, y)  # noqa: E731
    assert minigen.gradcheck(f, (a, b))
    assert minigen.gradgradcheck(f, (a, b))


@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.__name__)
def test_values_and_gradients_match_pytorch(prog, device):
    torch = pytest.importorskip("torch")
    at = torch.tensor(A, requires_grad=True)
    bt = torch.tensor(B, requires_grad=True)
    yt = prog(torch, at, bt)
    w = np.random.default_rng(3).normal(size=tuple(yt.shape))
    (yt * torch.tensor(w)).sum().backward()
    a, b = _t(A, device), _t(B, device)
    y = prog(minigen, a, b)
    (y * minigen.tensor(w, device=device)).sum().backward()
    np.testing.assert_allclose(y.detach().cpu().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    for mine, theirs in ((a.grad, at.grad), (b.grad, bt.grad)):
        assert (mine is None) == (theirs is None)
        if theirs is not None:
            np.testing.assert_allclose(mine.cpu().numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_complex_leaf_gradient_follows_pytorchs_convention(device):
    # L = |z|^2 = x^2 + y^2: dL/dx + i dL/dy = 2 z
    z = minigen.tensor([1.0 + 2.0j, -0.5j], dtype=minigen.complex128, device=device,
                       requires_grad=True)
    (z * z.conj()).real.sum().backward()
    np.testing.assert_allclose(z.grad.cpu().numpy(), [2.0 + 4.0j, -1.0j])


def test_dtypes_and_errors(device):
    x = minigen.zeros(2, 2, device=device)
    assert minigen.view_as_complex(x).dtype == minigen.complex64 == minigen.cfloat
    assert minigen.view_as_complex(x.double()).dtype == minigen.complex128 == minigen.cdouble
    assert minigen.tensor([1 + 1j]).is_complex()
    with pytest.raises(RuntimeError, match="last dimension of size 2"):
        minigen.view_as_complex(minigen.zeros(2, 3, device=device))
    with pytest.raises(RuntimeError, match="expected a complex tensor"):
        minigen.view_as_real(x)
    with pytest.raises(RuntimeError, match="non-complex"):
        x.imag
    assert x.real is x
    with pytest.raises(TypeError, match="same floating dtype"):
        minigen.polar(x, x.double())
