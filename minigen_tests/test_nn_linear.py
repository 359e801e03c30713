"""Linear, Identity, Flatten, Unflatten, Embedding, Dropout, one_hot (minigen/nn/linear.py and
the functional forms in minigen/ops/activation.py): forward against NumPy, gradcheck and
gradgradcheck on both devices, composite twins, PyTorch's initialisation and printed form,
padding_idx, index errors, dropout scaling and repeatability."""
import math

import numpy as np
import pytest

import minigen
import minigen.nn as nn
import minigen.nn.functional as F
from minigen.testing import check_op


def T(a, device, dtype=None, grad=False):
    return minigen.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


# ----------------------------------------------------------------------------- F.linear
@pytest.mark.parametrize("xshape", [(4,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_gradcheck_gradgradcheck(xshape, bias, device):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(xshape), rng.standard_normal((5, 4)), rng.standard_normal(5)
    if bias:
        check_op(lambda x, w, b: F.linear(x, w, b), lambda x, w, b: x @ w.T + b, [x, w, b],
                 device, forward_atol=1e-13, forward_rtol=1e-13, name="linear")
    else:
        check_op(lambda x, w: F.linear(x, w), lambda x, w: x @ w.T, [x, w], device,
                 forward_atol=1e-13, forward_rtol=1e-13, name="linear")


def test_linear_matches_composite_twin_to_second_order(device):
    """The fused Linear Function against x @ W^T + b built from primitive ops: values, the
    three gradients, and the gradient of a gradient penalty ||dL/dx||^2 (WGAN-GP's pattern)
    with respect to all three."""
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)]
    v = rng.standard_normal((2, 3, 5))
    results = []
    for f in (F.linear, lambda x, w, b: x @ w.t() + b):
        x, w, b = (T(a, device, grad=True) for a in arrays)
        y = f(x, w, b)
        g = minigen.grad(y, [x, w, b], grad_outputs=T(v, device), create_graph=True)
        # penalty = sum over the batch of ||dy/dx v||^2 (tanh keeps it non-linear in w)
        gx = minigen.grad(f(x, w, b).tanh().sum(), x, create_graph=True)[0]
        h = minigen.grad((gx * gx).sum(), [x, w, b])
        results.append([y.cpu().numpy()] + [t.cpu().numpy() for t in g] + [t.cpu().numpy() for t in h])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_linear_errors(device):
    x = minigen.ones(2, 3, device=device)
    with pytest.raises(RuntimeError, match=r"linear: input \[2, 3\].*weight \[5, 4\]"):
        F.linear(x, minigen.ones(5, 4, device=device))
    with pytest.raises(RuntimeError, match=r"bias of shape \[4\].*weight \[5, 3\]"):
        F.linear(x, minigen.ones(5, 3, device=device), minigen.ones(4, device=device))
    with pytest.raises(RuntimeError, match="float32 and float64"):
        F.linear(x, minigen.ones(5, 3, dtype=minigen.float64, device=device))
    with pytest.raises(RuntimeError, match="2-D"):
        F.linear(x, minigen.ones(3, device=device))
    other = "cpu" if device == "cuda" else "cuda"
    with pytest.raises(RuntimeError, match="cpu and cuda"):
        F.linear(x, minigen.ones(5, 3, device=other))


# ----------------------------------------------------------------------------- nn.Linear
def test_linear_module_shapes_repr_and_forward(device):
    m = nn.Linear(784, 400, device=device)
    assert repr(m) == "Linear(in_features=784, out_features=400, bias=True)"
    assert m.weight.shape == (400, 784) and m.bias.shape == (400,)
    assert m.weight.device == device and m.weight.dtype == minigen.float32
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    x = np.random.default_rng(2).standard_normal((8, 784)).astype(np.float32)
    y = m(T(x, device))
    want = x.astype(np.float64) @ m.weight.cpu().numpy().T.astype(np.float64) + m.bias.cpu().numpy()
    np.testing.assert_allclose(y.cpu().numpy(), want, rtol=1e-4, atol=1e-5)
    nb = nn.Linear(3, 2, bias=False, dtype=minigen.float64, device=device)
    assert nb.bias is None and repr(nb) == "Linear(in_features=3, out_features=2, bias=False)"
    assert nb.weight.dtype == minigen.float64
    assert [n for n, _ in nb.named_parameters()] == ["weight"]
    assert list(nb.state_dict()) == ["weight"]


def test_linear_default_init_is_pytorchs(device):
    """kaiming_uniform_(a=sqrt 5) for W is U(-1/sqrt(in), 1/sqrt(in)); b too. With n samples
    of U(-c, c) (variance c^2/3, fourth moment c^4/5) the sample mean has standard error
    c / sqrt(3 n) and the sample variance sqrt((c^4/5 - c^4/9) / n); each check allows 6
    standard errors (a false failure has probability ~1e-9)."""
    fan_in, out = 256, 512
    m = nn.Linear(fan_in, out, device=device)
    c = 1 / math.sqrt(fan_in)
    for p in (m.weight, m.bias):
        a = p.cpu().numpy().astype(np.float64).ravel()
        n = a.size
        assert np.abs(a).max() <= c
        assert abs(a.mean()) < 6 * c / math.sqrt(3 * n)
        # Var of the sample variance of U(-c, c): (mu4 - sigma^4) / n, mu4 = c^4 / 5
        se_var = math.sqrt((c ** 4 / 5 - (c ** 2 / 3) ** 2) / n)
        assert abs(a.var() - c ** 2 / 3) < 6 * se_var
    # the whole range is used: the extremes are near the bounds (n = 131072 samples)
    w = m.weight.cpu().numpy()
    assert w.max() > 0.999 * c and w.min() < -0.999 * c


def test_linear_init_repeats_with_seed(device):
    minigen.manual_seed(7)
    a = nn.Linear(5, 3, device=device)
    minigen.manual_seed(7)
    b = nn.Linear(5, 3, device=device)
    np.testing.assert_array_equal(a.weight.cpu().numpy(), b.weight.cpu().numpy())
    np.testing.assert_array_equal(a.bias.cpu().numpy(), b.bias.cpu().numpy())
    c = nn.Linear(5, 3, device=device)
    assert not np.array_equal(a.weight.cpu().numpy(), c.weight.cpu().numpy())


# ----------------------------------------------------------------------------- shape layers
def test_identity_flatten_unflatten(device):
    x = T(np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5), device, grad=True)
    assert nn.Identity(54, unused="x")(x) is x
    assert repr(nn.Identity()) == "Identity()"
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    y = nn.Unflatten(1, (2, 30))(nn.Flatten()(x))
    assert y.shape == (2, 2, 30)
    np.testing.assert_array_equal(y.cpu().numpy().ravel(), x.cpu().numpy().ravel())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.ones(x.shape))
    assert repr(nn.Unflatten(1, (2, 5))) == "Unflatten(dim=1, unflattened_size=(2, 5))"
    assert repr(nn.Unflatten(1, [2, 5])) == "Unflatten(dim=1, unflattened_size=[2, 5])"


# ----------------------------------------------------------------------------- embedding
def test_embedding_forward_gradcheck_gradgradcheck(device):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((6, 3))
    idx = T(np.array([[0, 5, 2], [2, 2, 1]]), device)  # repeats: their gradients add up
    check_op(lambda w: F.embedding(idx, w), lambda w: w[idx.cpu().numpy()], [w], device,
             forward_atol=0, forward_rtol=0, name="embedding")


def test_embedding_matches_one_hot_matmul_twin(device):
    """Embedding = one_hot(idx) @ W: values and weight gradients agree (padding aside)."""
    rng = np.random.default_rng(4)
    w_np, v = rng.standard_normal((7, 4)), rng.standard_normal((2, 5, 4))
    idx = T(rng.integers(0, 7, (2, 5)), device)
    outs = []
    for f in (lambda w: F.embedding(idx, w),
              lambda w: F.one_hot(idx, 7).to(minigen.float64) @ w):
        w = T(w_np, device, grad=True)
        y = f(w)
        y.backward(T(v, device))
        outs.append((y.cpu().numpy(), w.grad.cpu().numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("padding_idx", [2, -1])
def test_embedding_padding_row_gets_no_gradient(padding_idx, device):
    rng = np.random.default_rng(5)
    m = nn.Embedding(5, 3, padding_idx=padding_idx, device=device, dtype=minigen.float64)
    pad = padding_idx % 5
    assert m.padding_idx == pad
    np.testing.assert_array_equal(m.weight.cpu().numpy()[pad], np.zeros(3))  # zero at init
    with minigen.no_grad():
        m.weight.array[pad] = m.weight.xp.asarray(7.0)   # forward still reads the row as it is
    idx_np = np.array([[pad, 0, pad], [1, pad, 4]])
    y = m(T(idx_np, device))
    np.testing.assert_array_equal(y.cpu().numpy()[0, 0], np.full(3, 7.0))
    v = rng.standard_normal((2, 3, 3))
    y.backward(T(v, device))
    g = m.weight.grad.cpu().numpy()
    want = np.zeros((5, 3))
    for (i, j), k in np.ndenumerate(idx_np):
        if k != pad:
            want[k] += v[i, j]
    np.testing.assert_array_equal(g[pad], np.zeros(3))
    np.testing.assert_allclose(g, want, rtol=1e-14)
    # and a second-order pass through the padded lookup keeps the padding row at zero
    w = T(rng.standard_normal((5, 3)), device, grad=True)
    (gw,) = minigen.grad((F.embedding(T(idx_np, device), w, pad) ** 2).sum(), w, create_graph=True)
    (hw,) = minigen.grad((gw * T(rng.standard_normal((5, 3)), device)).sum(), w)
    assert np.all(hw.cpu().numpy()[pad] == 0) and np.any(hw.cpu().numpy() != 0)


@pytest.mark.parametrize("bad", [7, 10, -1])
def test_embedding_index_out_of_range_raises_on_both_devices(bad, device):
    """CuPy would wrap a bad index silently; minigen checks, naming the index and the size."""
    m = nn.Embedding(7, 2, device=device)
    before = m.weight.cpu().numpy()
    with pytest.raises(IndexError, match=rf"index {bad} is out of range.*num_embeddings=7"):
        m(T(np.array([[0, 1], [bad, 3]]), device))
    np.testing.assert_array_equal(m.weight.cpu().numpy(), before)
    with pytest.raises(IndexError, match=rf"index {bad}.*num_embeddings=7"):
        F.embedding(T(np.array([bad]), device), m.weight)


def test_embedding_errors_and_repr(device):
    m = nn.Embedding(65, 128, device=device)
    assert repr(m) == "Embedding(65, 128)"
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    assert repr(nn.Embedding(10, 3, padding_idx=-1)) == "Embedding(10, 3, padding_idx=9)"
    with pytest.raises(RuntimeError, match="integer dtype.*float64"):
        m(T(np.array([1.0]), device))
    with pytest.raises(ValueError, match="padding_idx 10"):
        nn.Embedding(10, 3, padding_idx=10)
    assert repr(nn.Embedding(10, 3, scale_grad_by_freq=True)) == \
        "Embedding(10, 3, scale_grad_by_freq=True)"
    other = "cpu" if device == "cuda" else "cuda"
    with pytest.raises(RuntimeError, match="cpu and cuda"):
        m(T(np.array([1]), other))


def test_embedding_init_is_standard_normal(device):
    """N(0, 1) init: with n samples the mean has standard error 1/sqrt(n) and the variance
    sqrt(2/n); 6 standard errors."""
    m = nn.Embedding(1000, 64, device=device)
    a = m.weight.cpu().numpy().astype(np.float64).ravel()
    n = a.size
    assert abs(a.mean()) < 6 / math.sqrt(n)
    assert abs(a.var() - 1) < 6 * math.sqrt(2 / n)


def test_embedding_from_pretrained(device):
    w = T(np.arange(12.0).reshape(4, 3), device)
    m = nn.Embedding.from_pretrained(w)
    assert not m.weight.requires_grad and m.weight.shape == (4, 3)
    np.testing.assert_array_equal(m(T(np.array([3, 0]), device)).cpu().numpy(), [[9, 10, 11], [0, 1, 2]])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad


def test_embedding_int32_indices_and_any_shape(device):
    m = nn.Embedding(5, 2, device=device)
    idx = T(np.array([[[1], [4]]], dtype=np.int32), device)
    y = m(idx)
    assert y.shape == (1, 2, 1, 2)
    np.testing.assert_array_equal(y.cpu().numpy()[0, 1, 0], m.weight.cpu().numpy()[4])


# ----------------------------------------------------------------------------- one_hot
def test_one_hot(device):
    idx = np.array([[0, 2], [3, 1]])
    y = F.one_hot(T(idx, device), 5)
    assert y.dtype == minigen.int64 and y.shape == (2, 2, 5) and y.device == device
    np.testing.assert_array_equal(y.cpu().numpy(), np.eye(5, dtype=np.int64)[idx])
    assert F.one_hot(T(idx, device)).shape == (2, 2, 4)  # num_classes = max + 1
    with pytest.raises(RuntimeError, match="smaller than num_classes=3, got 3"):
        F.one_hot(T(idx, device), 3)
    with pytest.raises(RuntimeError, match="non-negative, got -1"):
        F.one_hot(T(np.array([-1, 0]), device))
    with pytest.raises(RuntimeError, match="integer"):
        F.one_hot(T(np.array([1.0]), device))


def test_one_hot_against_torch(device):
    torch = pytest.importorskip("torch")
    idx = np.array([4, 0, 2, 2])
    for n in (-1, 6):
        np.testing.assert_array_equal(F.one_hot(T(idx, device), n).cpu().numpy(),
                                      torch.nn.functional.one_hot(torch.tensor(idx), n).cpu().numpy())


# ----------------------------------------------------------------------------- dropout
def test_dropout_scaling_and_keep_fraction(device):
    """Kept entries equal x / (1 - p), the rest are 0; the kept count is Binomial(n, 1 - p),
    standard deviation sqrt(n p (1 - p)): within 6 of them."""
    p, n = 0.3, 200_000
    x_np = np.random.default_rng(6).uniform(1, 2, n)
    y = F.dropout(T(x_np, device), p).cpu().numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], x_np[kept] / (1 - p), rtol=1e-15)
    assert abs(kept.sum() - n * (1 - p)) < 6 * math.sqrt(n * p * (1 - p))
    # float32 stays float32
    assert F.dropout(T(x_np[:10], device, dtype="float32"), p).dtype == minigen.float32


def test_dropout_gradient_is_the_mask(device):
    x = T(np.ones((50, 40)), device, grad=True)
    minigen.manual_seed(3)
    y = F.dropout(x, 0.4)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), y.cpu().numpy())  # x = 1: y is the scaled mask
    np.testing.assert_array_equal(np.unique(y.cpu().numpy()), [0.0, 1 / 0.6])


def test_dropout_gradcheck_gradgradcheck_with_fixed_seed(device):
    def fn(x):
        minigen.manual_seed(11)
        return F.dropout(x, 0.5)
    x = np.random.default_rng(7).standard_normal((3, 4))
    minigen.manual_seed(11)
    mask = F.dropout(T(np.ones((3, 4)), device), 0.5).cpu().numpy()
    check_op(fn, lambda x: x * mask, [x], device, forward_atol=1e-15, name="dropout")


def test_dropout_eval_p0_p1_and_validation(device):
    x = T(np.random.default_rng(8).standard_normal(100), device, grad=True)
    m = nn.Dropout(0.5)
    assert m.training
    m.eval()
    assert m(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(y.cpu().numpy(), np.zeros(100))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.zeros(100))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=f"between 0 and 1, but got {bad}"):
            F.dropout(x, bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(bad)
    assert repr(nn.Dropout()) == "Dropout(p=0.5, inplace=False)"
    assert repr(nn.Dropout(0.1, True)) == "Dropout(p=0.1, inplace=True)"


def test_dropout_inplace_changes_nothing(device):
    x_np = np.random.default_rng(9).standard_normal(50)
    x = T(x_np, device)
    y = nn.Dropout(0.5, inplace=True)(x)
    np.testing.assert_array_equal(x.cpu().numpy(), x_np)
    assert y is not x


def test_dropout_repeats_with_seed_and_differs_between_calls(device):
    x = T(np.ones(1000), device)
    minigen.manual_seed(5)
    a = F.dropout(x, 0.5).cpu().numpy()
    b = F.dropout(x, 0.5).cpu().numpy()
    minigen.manual_seed(5)
    c = F.dropout(x, 0.5).cpu().numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)
    m = nn.Sequential(nn.Dropout(0.5))
    minigen.manual_seed(5)
    np.testing.assert_array_equal(m(x).cpu().numpy(), a)
