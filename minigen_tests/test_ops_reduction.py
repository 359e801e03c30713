"""Reductions beyond the registry: var/std conventions, max/min return types, argmax, dtypes of
sums, ties, stability of the softmax family, empty tensors, errors, and composite twins of the
hand-derived reductions (softmax, log_softmax, logsumexp, prod, cumsum) to second order."""
import numpy as np
import pytest

import minigen

X = np.array([[1.0, 4.0, 2.0, 2.5], [0.5, -3.0, 7.0, 1.0], [2.0, 2.0, -1.0, 0.0]])


def T(a, device, dtype=minigen.float64, grad=False):
    return minigen.tensor(a, dtype=dtype, device=device, requires_grad=grad)


# ----------------------------------------------------------------------------- var / std
def test_var_std_are_unbiased_by_default(device):
    x = T([1.0, 2.0, 3.0, 4.0], device)
    assert minigen.var(x).item() == pytest.approx(np.var([1, 2, 3, 4], ddof=1))
    assert x.std().item() == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert x.var(unbiased=False).item() == pytest.approx(1.25)
    assert x.var(correction=0).item() == pytest.approx(1.25)
    assert minigen.var(x, False).item() == pytest.approx(1.25)  # the old positional form
    assert x.std(correction=2).item() == pytest.approx(np.sqrt(5.0 / 2))


def test_var_std_with_dims(device):
    x = T(X, device)
    np.testing.assert_allclose(x.var(dim=1).cpu().numpy(), X.var(axis=1, ddof=1))
    np.testing.assert_allclose(x.std(0, keepdim=True).cpu().numpy(), X.std(axis=0, ddof=1, keepdims=True))
    np.testing.assert_allclose(minigen.var(x, dim=(0, 1)).cpu().numpy(), X.var(ddof=1))
    v, m = minigen.var_mean(x, dim=1)
    np.testing.assert_allclose(v.cpu().numpy(), X.var(axis=1, ddof=1))
    np.testing.assert_allclose(m.cpu().numpy(), X.mean(axis=1))


def test_var_std_match_torch(device):
    torch = pytest.importorskip("torch")
    tx = torch.tensor(X)
    x = T(X, device)
    for kw in [{}, {"dim": 1}, {"dim": 0, "unbiased": False}, {"dim": 1, "correction": 2},
               {"dim": (0, 1), "keepdim": True}]:
        np.testing.assert_allclose(x.var(**kw).cpu().numpy(), tx.var(**kw).cpu().numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.std(**kw).cpu().numpy(), tx.std(**kw).cpu().numpy(), rtol=1e-12)


def test_var_of_one_element_is_nan_like_torch(device):
    with np.errstate(all="ignore"):
        assert np.isnan(T([5.0], device).var().item())
    assert T([5.0], device).var(unbiased=False).item() == 0.0


# ----------------------------------------------------------------------------- max / min
def test_max_with_dim_returns_values_and_indices(device):
    x = T(X, device)
    out = minigen.max(x, dim=1)
    values, indices = out  # unpacks like a tuple
    assert out.values is values and out.indices is indices and out[0] is values
    np.testing.assert_array_equal(values.cpu().numpy(), X.max(axis=1))
    np.testing.assert_array_equal(indices.cpu().numpy(), X.argmax(axis=1))
    assert indices.dtype == minigen.int64 and indices.device == device
    k = x.min(0, keepdim=True)
    assert k.values.shape == (1, 4) and k.indices.shape == (1, 4)
    np.testing.assert_array_equal(k.indices.cpu().numpy(), X.argmin(axis=0)[None])


def test_max_forms(device):
    x = T(X, device)
    full = minigen.max(x)
    assert full.shape == () and full.item() == 7.0
    assert x.min().item() == -3.0
    other = T(np.zeros_like(X), device)
    np.testing.assert_array_equal(minigen.max(x, other).cpu().numpy(), np.maximum(X, 0))
    np.testing.assert_array_equal(x.min(other).cpu().numpy(), np.minimum(X, 0))


def test_max_with_dim_gradient_goes_to_the_selected_element(device):
    x = T([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], device, grad=True)
    x.max(dim=1).values.sum().backward()
    g = x.grad.cpu().numpy()
    assert g.sum() == 2.0 and g[1].tolist() == [1.0, 0.0, 0.0]
    assert g[0, 0] == 0.0 and sorted(g[0].tolist()) == [0.0, 0.0, 1.0]


def test_full_max_and_amax_split_ties_evenly_like_torch(device):
    v = [[1.0, 3.0, 3.0], [3.0, 0.0, 1.0]]
    w = [[1.0, 1.0, 3.0], [2.0, 0.0, 0.0]]
    for vals, fn, ref in [(v, lambda t: t.max(), [[0, 1 / 3, 1 / 3], [1 / 3, 0, 0]]),
                          (v, lambda t: t.amax(dim=1).sum(), [[0, 0.5, 0.5], [1, 0, 0]]),
                          (v, lambda t: t.amin(dim=0).sum(), [[1, 0, 0], [0, 1, 1]]),
                          (w, lambda t: t.amin(dim=1).sum(), [[0.5, 0.5, 0], [0, 0.5, 0.5]])]:
        x = T(vals, device, grad=True)
        fn(x).backward()
        np.testing.assert_allclose(x.grad.cpu().numpy(), ref)
    torch = pytest.importorskip("torch")
    tx = torch.tensor(v, dtype=torch.float64, requires_grad=True)
    tx.max().backward()
    x = T(v, device, grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy())


def test_argmax_argmin(device):
    x = T(X, device)
    assert minigen.argmax(x).item() == int(X.argmax()) and x.argmin().item() == int(X.argmin())
    a = x.argmax(dim=1)
    assert a.dtype == minigen.int64 and a.device == device and not a.requires_grad
    np.testing.assert_array_equal(a.cpu().numpy(), X.argmax(axis=1))
    assert x.argmin(dim=0, keepdim=True).shape == (1, 4)
    assert x.argmax(keepdim=True).shape == (1, 1)


def test_reducing_empty_tensors(device):
    e = minigen.zeros(0, 3, dtype=minigen.float64, device=device)
    assert e.sum().item() == 0.0 and e.sum(dim=0).tolist() == [0.0, 0.0, 0.0]
    assert e.sum(dim=1).shape == (0,)
    with np.errstate(all="ignore"):
        assert np.isnan(e.mean().item())
    with pytest.raises(RuntimeError):
        e.max()
    with pytest.raises(IndexError, match="non-zero size"):
        e.max(dim=0)
    with pytest.raises(RuntimeError):
        e.argmax()
    assert e.amax(dim=1).shape == (0,)


# ----------------------------------------------------------------------------- sum / mean dtypes
def test_sum_dtypes(device):
    assert minigen.tensor([True, True, False], device=device).sum().dtype == minigen.int64
    assert minigen.tensor([True, True], device=device).sum().item() == 2
    assert minigen.tensor([1, 2], dtype=minigen.int32, device=device).sum().dtype == minigen.int64
    u8 = minigen.tensor([200, 100], dtype=minigen.uint8, device=device).sum()
    assert u8.dtype == minigen.int64 and u8.item() == 300  # as PyTorch (NumPy would give uint64)
    assert minigen.tensor([1, 2], device=device).sum(dtype=minigen.float64).dtype == minigen.float64
    assert minigen.ones(3, device=device).sum().dtype == minigen.float32
    assert minigen.tensor([1, 2], device=device).cumsum(0).dtype == minigen.int64


def test_mean_of_integers_raises(device):
    with pytest.raises(RuntimeError, match="floating point"):
        minigen.tensor([1, 2], device=device).mean()
    assert minigen.tensor([1, 2], device=device).mean(dtype=minigen.float32).item() == 1.5


def test_sum_mean_dims(device):
    x = T(np.arange(24.0).reshape(2, 3, 4), device)
    np.testing.assert_array_equal(x.sum(dim=-1).cpu().numpy(), np.arange(24.0).reshape(2, 3, 4).sum(-1))
    np.testing.assert_array_equal(x.sum(dim=(0, 2), keepdim=True).shape, (1, 3, 1))
    np.testing.assert_allclose(x.mean(dim=[0, 1]).cpu().numpy(),
                               np.arange(24.0).reshape(2, 3, 4).mean(axis=(0, 1)))


def test_reduction_dim_errors(device):
    x = T(X, device)
    with pytest.raises(IndexError, match=r"sum: dimension out of range.*got 2"):
        x.sum(dim=2)
    with pytest.raises(IndexError, match="dimension out of range"):
        x.max(dim=-3)
    with pytest.raises(RuntimeError, match="multiple times"):
        x.sum(dim=(1, -1))
    assert x.cpu().numpy().tolist() == X.tolist()


# ----------------------------------------------------------------------------- softmax family
def test_softmax_family_is_stable(device):
    big = T([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]], device)
    with np.errstate(over="raise", invalid="raise"):
        s = minigen.softmax(big, dim=1).cpu().numpy()
        ls = minigen.log_softmax(big, dim=1).cpu().numpy()
        lse = minigen.logsumexp(big, dim=1).cpu().numpy()
    e = np.exp([0.0, 1.0, 2.0])
    np.testing.assert_allclose(s[0], e / e.sum())
    np.testing.assert_allclose(s.sum(axis=1), [1.0, 1.0])
    np.testing.assert_allclose(ls[0], np.log(e / e.sum()))
    np.testing.assert_allclose(lse, [1002.0 + np.log(np.exp([-2.0, -1.0, 0.0]).sum()), 1000.0])


def test_logsumexp_of_all_minus_inf_is_minus_inf(device):
    x = T([[-np.inf, -np.inf], [0.0, -np.inf]], device)
    with np.errstate(all="ignore"):
        out = minigen.logsumexp(x, dim=1).cpu().numpy()
    assert out[0] == -np.inf and out[1] == 0.0


def test_softmax_of_0d_and_default_dim(device):
    assert minigen.softmax(T(3.0, device), dim=0).item() == 1.0
    x = T(X, device)
    np.testing.assert_allclose(minigen.softmax(x, -1).cpu().numpy().sum(-1), np.ones(3))


def test_cumsum_cumprod_prod_match_torch(device):
    torch = pytest.importorskip("torch")
    v = [[0.5, 0.0, 2.0, -1.0], [1.5, -2.0, 0.0, 0.0]]
    for ours, theirs in [(lambda t: t.cumsum(1), lambda t: t.cumsum(1)),
                         (lambda t: t.cumprod(1), lambda t: t.cumprod(1)),
                         (lambda t: t.prod(1), lambda t: t.prod(1)),
                         (lambda t: t.prod(), lambda t: t.prod())]:
        x = T(v, device, grad=True)
        tx = torch.tensor(v, dtype=torch.float64, requires_grad=True)
        y, ty = ours(x), theirs(tx)
        np.testing.assert_allclose(y.cpu().numpy(), ty.detach().cpu().numpy())
        w = np.arange(1.0, 1.0 + ty.numel()).reshape(ty.shape)
        (y * T(w, device)).sum().backward()
        (ty * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy(), atol=1e-12)


# ----------------------------------------------------------------------------- composite twins
def _twin(hand, composite, x_np, device, dtype=minigen.float64):
    """Value, gradient and Hessian-vector product of sum(w * f(x)) agree for the two forms."""
    rng = np.random.default_rng(1)
    results = []
    for f in (hand, composite):
        x = T(x_np, device, dtype=dtype, grad=True)
        y = f(x)
        w = T(rng.standard_normal(y.shape), device, dtype=dtype)
        (g,) = minigen.grad((y * w).sum(), x, create_graph=True)
        u = T(rng.standard_normal(x_np.shape), device, dtype=dtype)
        # a linear f has a constant gradient: its second derivative is zero
        (h,) = minigen.grad((g * u).sum(), x, allow_unused=True) if g.requires_grad else (None,)
        h = minigen.zeros_like(x) if h is None else h
        results.append((y.cpu().numpy(), g.cpu().numpy(), h.cpu().numpy()))
        rng = np.random.default_rng(1)
    for a, b, what in zip(results[0], results[1], ("value", "gradient", "second derivative")):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=what)


def _softmax_composite(x, dim):
    e = (x - x.detach().amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)


def _logsumexp_composite(x, dim, keepdim=False):
    m = x.detach().amax(dim=dim, keepdim=True)
    y = m + (x - m).exp().sum(dim=dim, keepdim=True).log()
    return y if keepdim else y.squeeze(dim)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_twin(dim, device):
    _twin(lambda x: minigen.softmax(x, dim), lambda x: _softmax_composite(x, dim), X, device)


@pytest.mark.parametrize("dim", [0, 1])
def test_log_softmax_twin(dim, device):
    _twin(lambda x: minigen.log_softmax(x, dim),
          lambda x: x - _logsumexp_composite(x, dim, keepdim=True), X, device)


@pytest.mark.parametrize("dim, keepdim", [(1, False), (0, True), ((0, 1), False)])
def test_logsumexp_twin(dim, keepdim, device):
    _twin(lambda x: minigen.logsumexp(x, dim, keepdim=keepdim),
          lambda x: _logsumexp_composite(x, dim, keepdim), X, device)


def test_prod_twin(device):
    pos = np.abs(X) + 0.5  # prod = exp(sum(log x)) for positive x
    _twin(lambda x: x.prod(1), lambda x: x.log().sum(1).exp(), pos, device)
    _twin(lambda x: x.prod(), lambda x: x.log().sum().exp(), pos[:2, :3], device)


def test_cumsum_twin(device):
    # y_i = sum_{j<=i} x_j = (L x) with L lower-triangular ones
    L = np.tril(np.ones((4, 4)))
    _twin(lambda x: x.cumsum(1), lambda x: x @ T(L.T, device), X, device)


def test_cumprod_twin(device):
    pos = np.abs(X) + 0.5
    _twin(lambda x: x.cumprod(1), lambda x: x.log().cumsum(1).exp(), pos, device)


def test_amax_twin_without_ties(device):
    # max over a dim as a softmax-free composite: sum(x * onehot(argmax))
    D = X + np.array([[0.0] * 4, [0.0] * 4, [0.3, 0.0, 0.0, 0.0]])  # row 2 of X has a tie

    def composite(x):
        onehot = minigen.tensor((D == D.max(axis=1, keepdims=True)).astype(float),
                                dtype=minigen.float64, device=device)
        return (x * onehot).sum(1)
    _twin(lambda x: x.amax(1), composite, D, device)


def test_softmax_of_integers_needs_a_dtype(device):
    """As in PyTorch, softmax has no integer version: an integer input is a clear error, and
    dtype= converts it first. The input is left as it was."""
    x = minigen.tensor([[1, 2, 3]], device=device)
    for fn, name in ((minigen.softmax, "softmax"), (minigen.log_softmax, "log_softmax")):
        with pytest.raises(RuntimeError, match=rf"{name}: expected a floating point input, got int64"):
            fn(x, dim=-1)
    want = np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum()
    np.testing.assert_allclose(minigen.softmax(x, dim=-1, dtype=minigen.float64).cpu().numpy()[0], want)
    assert x.dtype == minigen.int64
