"""Indexing: every form of x[key] against NumPy and torch, gradients that scatter-add over
repeated indices, index_select/gather/masked_fill, __setitem__, and errors."""
import numpy as np
import pytest

import minigen

A = np.arange(24.0).reshape(2, 3, 4)


def T(a, device, grad=False):
    return minigen.tensor(np.asarray(a, np.float64), dtype=minigen.float64, device=device,
                          requires_grad=grad)


def I(a, device):
    return minigen.tensor(np.asarray(a, np.int64), device=device)


def B(a, device):
    return minigen.tensor(np.asarray(a, bool), device=device)


# key builders: (device) -> the key for minigen, and the same key for NumPy
KEYS = {
    "int": (lambda d: 1, lambda: 1),
    "negative_int": (lambda d: -1, lambda: -1),
    "int_int": (lambda d: (1, 2), lambda: (1, 2)),
    "slice": (lambda d: slice(0, 1), lambda: slice(0, 1)),
    "slice_step": (lambda d: (slice(None), slice(None, None, 2)),
                   lambda: (slice(None), slice(None, None, 2))),
    "slices_negative_bounds": (lambda d: (slice(None), slice(-2, None), slice(1, -1)),
                               lambda: (slice(None), slice(-2, None), slice(1, -1))),
    "none": (lambda d: (None, 0), lambda: (None, 0)),
    "ellipsis": (lambda d: (Ellipsis, 1), lambda: (Ellipsis, 1)),
    "ellipsis_none": (lambda d: (0, Ellipsis, None), lambda: (0, Ellipsis, None)),
    "bool_mask_full": (lambda d: B(A > 10, d), lambda: A > 10),
    "bool_mask_leading": (lambda d: B([[True, False, True], [False, False, True]], d),
                          lambda: np.array([[True, False, True], [False, False, True]])),
    "bool_mask_middle": (lambda d: (slice(None), B([True, False, True], d)),
                         lambda: (slice(None), np.array([True, False, True]))),
    "int_tensor_repeats": (lambda d: I([1, 0, 1, 1], d), lambda: np.array([1, 0, 1, 1])),
    "int_list": (lambda d: [1, 1, 0], lambda: [1, 1, 0]),
    "numpy_int_array": (lambda d: np.array([0, -1]), lambda: np.array([0, -1])),
    "int_tensor_2d": (lambda d: I([[0, 1], [1, 1]], d), lambda: np.array([[0, 1], [1, 1]])),
    "two_int_tensors": (lambda d: (I([0, 1, 1], d), I([2, 0, 2], d)),
                        lambda: (np.array([0, 1, 1]), np.array([2, 0, 2]))),
    "two_int_tensors_broadcast": (lambda d: (I([[0], [1]], d), I([0, 2, 2], d)),
                                  lambda: (np.array([[0], [1]]), np.array([0, 2, 2]))),
    "slice_then_int_tensor": (lambda d: (slice(None), slice(None), I([3, 3, 0], d)),
                              lambda: (slice(None), slice(None), np.array([3, 3, 0]))),
    "int_tensor_then_slice": (lambda d: (I([1, 1], d), slice(1, 3)),
                              lambda: (np.array([1, 1]), slice(1, 3))),
    "int_and_int_tensor": (lambda d: (0, I([2, 2, 1], d)), lambda: (0, np.array([2, 2, 1]))),
    "zero_dim_int_tensor": (lambda d: I(1, d), lambda: 1),
    "empty_int_tensor": (lambda d: I(np.zeros(0, np.int64), d), lambda: np.zeros(0, np.int64)),
}


@pytest.mark.parametrize("key", sorted(KEYS))
def test_getitem_forms_and_scatter_add_gradients(key, device):
    ours, theirs = KEYS[key]
    x = T(A, device, grad=True)
    y = x[ours(device)]
    want = A[theirs()]
    assert y.shape == want.shape and y.device == device
    np.testing.assert_array_equal(y.cpu().numpy(), want)
    w = np.random.default_rng(0).standard_normal(want.shape)
    (y * T(w, device)).sum().backward()
    expect = np.zeros_like(A)
    np.add.at(expect, theirs(), w)  # repeated indices add up
    np.testing.assert_allclose(x.grad.cpu().numpy(), expect, rtol=1e-12)


@pytest.mark.parametrize("key", sorted(KEYS))
def test_getitem_matches_torch(key):
    torch = pytest.importorskip("torch")
    ours, theirs = KEYS[key]

    def to_torch(k):
        if isinstance(k, tuple):
            return tuple(to_torch(v) for v in k)
        if isinstance(k, minigen.Tensor):
            return torch.tensor(k.cpu().numpy())
        if isinstance(k, np.ndarray):
            return torch.tensor(k)
        return k
    y = T(A, "cpu")[ours("cpu")]
    ty = torch.tensor(A)[to_torch(ours("cpu"))]
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_array_equal(y.cpu().numpy(), ty.cpu().numpy())


def test_second_order_through_indexing(device):
    x = T([1.0, 2.0, 3.0], device, grad=True)
    idx = I([0, 0, 2], device)
    assert minigen.gradcheck(lambda t: t[idx] ** 2, [x])
    assert minigen.gradgradcheck(lambda t: t[idx] ** 2, [x])


def test_random_repeated_indices_scatter_add(device):
    rng = np.random.default_rng(7)
    for _ in range(5):
        base = rng.standard_normal((5, 3))
        idx = rng.integers(-5, 5, size=rng.integers(1, 12))
        x = T(base, device, grad=True)
        w = rng.standard_normal((idx.size, 3))
        (x[I(idx, device)] * T(w, device)).sum().backward()
        expect = np.zeros_like(base)
        np.add.at(expect, idx, w)
        np.testing.assert_allclose(x.grad.cpu().numpy(), expect, rtol=1e-12)


# ----------------------------------------------------------------------------- named ops
def test_index_select_gather_with_repeats_match_torch(device):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(1).standard_normal((3, 4))
    idx = np.array([[0, 0, 3], [2, 2, 2], [1, 0, 1]])
    cases = [
        (lambda t, d: minigen.index_select(t, 1, I([3, 0, 3], d)),
         lambda t: torch.index_select(t, 1, torch.tensor([3, 0, 3]))),
        (lambda t, d: minigen.gather(t, 1, I(idx, d)),
         lambda t: torch.gather(t, 1, torch.tensor(idx))),
        (lambda t, d: t.gather(0, I([[2, 0, 0, 2]], d)),
         lambda t: t.gather(0, torch.tensor([[2, 0, 0, 2]]))),
        (lambda t, d: minigen.take_along_dim(t, I(idx[:, :2], d), 1),
         lambda t: torch.take_along_dim(t, torch.tensor(idx[:, :2]), 1)),
        (lambda t, d: minigen.take_along_dim(t, I([5, 0, 5, 11], d)),
         lambda t: torch.take_along_dim(t, torch.tensor([5, 0, 5, 11]))),
    ]
    for ours, theirs in cases:
        x = T(a, device, grad=True)
        tx = torch.tensor(a, requires_grad=True)
        y, ty = ours(x, device), theirs(tx)
        np.testing.assert_allclose(y.cpu().numpy(), ty.detach().cpu().numpy())
        w = np.arange(1.0, 1.0 + ty.numel()).reshape(ty.shape)
        (y * T(w, device)).sum().backward()
        (ty * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy())


def test_gather_errors(device):
    x = T(np.zeros((2, 3)), device)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(1, I([0, 1], device))
    with pytest.raises(RuntimeError, match="int64"):
        x.gather(1, T([[0.0]], device))
    with pytest.raises(IndexError, match="out of bounds"):
        x.gather(1, I([[3]], device))


def test_masked_fill_broadcasting_and_tensor_value(device):
    x = T(np.arange(6.0).reshape(2, 3), device, grad=True)
    m = B([[True], [False]], device)
    y = x.masked_fill(m, T(-1.0, device))
    np.testing.assert_array_equal(y.cpu().numpy(), [[-1, -1, -1], [3, 4, 5]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[0, 0, 0], [1, 1, 1]])
    x2 = T(np.zeros((2, 2)), device)
    x2.masked_fill_(B([True, False], device), 7.0)
    np.testing.assert_array_equal(x2.cpu().numpy(), [[7, 0], [7, 0]])


# ----------------------------------------------------------------------------- setitem
def test_setitem_forms(device):
    x = T(np.zeros((3, 4)), device)
    x[0] = 1.0
    x[1, 1:3] = T([2.0, 3.0], device)
    x[:, -1] = T([7.0, 8.0, 9.0], device)
    x[I([2], device), I([0], device)] = 5.0
    x[x == 3.0] = -3.0
    want = np.array([[1, 1, 1, 7], [0, 2, -3, 8], [5, 0, 0, 9]], np.float64)
    np.testing.assert_array_equal(x.cpu().numpy(), want)
    x[...] = 0.5  # everything
    assert set(x.cpu().numpy().ravel()) == {0.5}


def test_setitem_broadcasts_value(device):
    x = T(np.zeros((2, 3)), device)
    x[:] = T([1.0, 2.0, 3.0], device)
    np.testing.assert_array_equal(x.cpu().numpy(), [[1, 2, 3], [1, 2, 3]])


def test_setitem_on_graph_tensors(device):
    leaf = T([1.0, 2.0], device, grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        leaf[0] = 5.0
    h = leaf * 2.0
    h[0] = 5.0  # recorded, as in PyTorch: h = h with h[0] = 5, so dh/dleaf is 0 at 0
    h.sum().backward()
    assert h.tolist() == [5.0, 4.0] and leaf.grad.tolist() == [0.0, 2.0]
    with minigen.no_grad():
        leaf[0] = 5.0
    assert leaf.tolist() == [5.0, 2.0] and leaf.requires_grad


# ----------------------------------------------------------------------------- errors
def test_indexing_errors(device):
    x = T(A, device)
    with pytest.raises(IndexError, match=r"too many indices.*\[2, 3, 4\]"):
        x[0, 0, 0, 0]
    with pytest.raises(IndexError, match=r"mask \[2, 2\].*\[2, 3, 4\]"):
        x[B([[True, False], [False, True]], device)]
    with pytest.raises(IndexError, match="long, int or bool"):
        x[T([0.0], device)]
    with pytest.raises(IndexError, match="index 2 is out of bounds for dimension 0 with size 2"):
        x[2]
    with pytest.raises(IndexError, match="out of bounds for dimension 1 with size 3"):
        x[:, I([3], device)]
    with pytest.raises(IndexError, match="out of bounds for dimension 2 with size 4"):
        x[..., I([-5], device)]
    np.testing.assert_array_equal(x.cpu().numpy(), A)


def test_index_with_tensor_from_another_device_raises(device):
    other = "cuda" if device == "cpu" else "cpu"
    x = T(A, device)
    with pytest.raises(RuntimeError, match="cpu.*cuda|cuda.*cpu"):
        x[I([0], other)]
