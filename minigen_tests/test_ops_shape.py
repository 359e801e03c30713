"""Shape ops beyond the registry: split/chunk sizes as in torch, reshape/view/squeeze rules,
concatenation corner cases, padding modes against torch, and errors that name the shapes."""
import numpy as np
import pytest

import minigen


def T(a, device, grad=False):
    return minigen.tensor(np.asarray(a, np.float64), dtype=minigen.float64, device=device,
                          requires_grad=grad)


def sizes(parts, dim=0):
    return [p.shape[dim] for p in parts]


# ----------------------------------------------------------------------------- split / chunk
@pytest.mark.parametrize("n, chunks", [(6, 4), (5, 3), (6, 3), (7, 7), (2, 5), (10, 4), (1, 1),
                                       (0, 2)])
def test_chunk_sizes_like_torch(n, chunks, device):
    torch = pytest.importorskip("torch")
    x = minigen.arange(n, device=device)
    parts = minigen.chunk(x, chunks)
    assert sizes(parts) == [p.shape[0] for p in torch.chunk(torch.arange(n), chunks)]
    if n:
        assert minigen.cat(parts).tolist() == list(range(n))


@pytest.mark.parametrize("n, size", [(5, 2), (6, 3), (4, 4), (3, 5), (0, 2)])
def test_split_sizes_like_torch(n, size, device):
    torch = pytest.importorskip("torch")
    x = minigen.zeros(2, n, device=device)
    parts = x.split(size, dim=1)
    assert sizes(parts, 1) == [p.shape[1] for p in torch.zeros(2, n).split(size, dim=1)]


def test_split_with_sizes_and_errors(device):
    x = T(np.arange(12.0).reshape(6, 2), device, grad=True)
    a, b, c = x.split([1, 3, 2])
    assert sizes((a, b, c)) == [1, 3, 2]
    np.testing.assert_array_equal(c.cpu().numpy(), np.arange(12.0).reshape(6, 2)[4:])
    (a.sum() + 2 * c.sum()).backward()  # b unused: its gradient is zero
    np.testing.assert_array_equal(x.grad.cpu().numpy()[:, 0], [1, 0, 0, 0, 2, 2])
    with pytest.raises(RuntimeError, match=r"sum exactly to 6.*\[1, 2\]"):
        x.split([1, 2])
    with pytest.raises(RuntimeError, match="chunks must be greater than 0"):
        x.chunk(0)


def test_unbind(device):
    x = T(np.arange(6.0).reshape(2, 3), device)
    parts = x.unbind(1)
    assert len(parts) == 3 and all(p.shape == (2,) for p in parts)
    assert parts[2].tolist() == [2.0, 5.0]


# ----------------------------------------------------------------------------- reshape family
def test_reshape_and_view_forms(device):
    x = T(np.arange(24.0), device)
    assert x.reshape(2, 3, 4).shape == (2, 3, 4)
    assert x.reshape((4, -1)).shape == (4, 6)
    assert x.view(-1, 2, 3).shape == (4, 2, 3)
    assert x.reshape(2, 3, 4).view_as(minigen.zeros(6, 4)).shape == (6, 4)
    assert minigen.zeros(0, 3, device=device).reshape(-1, 3).shape == (0, 3)
    assert T(5.0, device).reshape(1, 1).shape == (1, 1)
    np.testing.assert_array_equal(x.reshape(4, 6).cpu().numpy(), np.arange(24.0).reshape(4, 6))


@pytest.mark.parametrize("shape", [(5, 5), (-1, -1), (7, -1), (0, -1)])
def test_reshape_errors_name_shape_and_size(shape, device):
    x = T(np.arange(24.0), device)
    with pytest.raises(RuntimeError,
                       match=r"reshape: shape '\[.*\]' is invalid for input of size 24"):
        x.reshape(*shape)
    with pytest.raises(RuntimeError, match="invalid for input of size 24"):
        x.view(shape)


def test_flatten_unflatten(device):
    x = T(np.zeros((2, 3, 4, 5)), device)
    assert x.flatten().shape == (120,)
    assert x.flatten(1).shape == (2, 60)
    assert minigen.flatten(x, 1, 2).shape == (2, 12, 5)
    assert x.flatten(-2).shape == (2, 3, 20)
    assert T(3.0, device).flatten().shape == (1,)
    assert x.flatten(1).unflatten(1, (3, -1, 5)).shape == (2, 3, 4, 5)
    with pytest.raises(RuntimeError, match="start_dim"):
        x.flatten(2, 1)


def test_squeeze_unsqueeze(device):
    x = T(np.zeros((1, 3, 1, 2)), device)
    assert x.squeeze().shape == (3, 2)
    assert x.squeeze(0).shape == (3, 1, 2)
    assert x.squeeze(1).shape == (1, 3, 1, 2)  # not of size 1: unchanged, as in torch
    assert x.squeeze((0, 2)).shape == (3, 2)
    assert x.unsqueeze(0).shape == (1, 1, 3, 1, 2)
    assert x.unsqueeze(-1).shape == (1, 3, 1, 2, 1)
    assert x.unsqueeze(4).shape == (1, 3, 1, 2, 1)
    with pytest.raises(IndexError, match="unsqueeze: dimension out of range"):
        x.unsqueeze(5)
    with pytest.raises(IndexError, match="dimension out of range"):
        x.squeeze(4)


def test_permute_transpose_movedim(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = T(a, device)
    np.testing.assert_array_equal(x.permute(2, 0, 1).cpu().numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.permute((-1, 0, 1)).cpu().numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.transpose(-1, 0).cpu().numpy(), a.swapaxes(-1, 0))
    np.testing.assert_array_equal(x.movedim(2, 0).cpu().numpy(), np.moveaxis(a, 2, 0))
    np.testing.assert_array_equal(x.mT.cpu().numpy(), a.swapaxes(-1, -2))
    with pytest.raises(RuntimeError, match=r"permute.*\[2, 3, 4\]"):
        x.permute(0, 1)
    with pytest.raises(RuntimeError, match="repeated dim"):
        x.permute(0, 1, 1)
    with pytest.raises(RuntimeError, match="t\\(\\) expects"):
        x.t()


def test_expand_and_broadcast_to(device):
    x = T([[1.0], [2.0]], device, grad=True)
    y = x.expand(3, -1, 4)
    assert y.shape == (3, 2, 4)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[12.0], [12.0]])
    assert minigen.broadcast_to(x, (2, 5)).shape == (2, 5)
    assert x.expand_as(minigen.zeros(2, 2)).shape == (2, 2)
    with pytest.raises(RuntimeError, match=r"expand.*\[3, 4\].*\[2, 1\]"):
        x.expand(3, 4)
    with pytest.raises(RuntimeError, match="number of sizes"):
        x.expand(4)


def test_repeat(device):
    a = np.arange(6.0).reshape(2, 3)
    x = T(a, device)
    np.testing.assert_array_equal(x.repeat(2, 2).cpu().numpy(), np.tile(a, (2, 2)))
    np.testing.assert_array_equal(x.repeat(3, 1, 1).cpu().numpy(), np.tile(a, (3, 1, 1)))
    with pytest.raises(RuntimeError, match="can not be smaller"):
        x.repeat(2)


# ----------------------------------------------------------------------------- cat / stack
def test_cat_and_stack(device):
    a, b = T(np.ones((2, 3)), device), T(np.zeros((2, 1)), device)
    assert minigen.cat([a, b], dim=1).shape == (2, 4)
    assert minigen.cat((a, a), dim=-2).shape == (4, 3)
    assert minigen.stack([a, a, a], dim=1).shape == (2, 3, 3)
    assert minigen.stack([a, a], dim=-1).shape == (2, 3, 2)
    assert minigen.cat([a]).shape == (2, 3)
    # torch's legacy rule: 1-D empty tensors are skipped by cat
    assert minigen.cat([a, minigen.zeros(0, dtype=minigen.float64, device=device)]).shape == (2, 3)


def test_cat_of_one_tensor_is_a_copy_with_gradient(device):
    a = T([1.0, 2.0], device, grad=True)
    c = minigen.cat([a])
    (c * 3.0).sum().backward()
    np.testing.assert_array_equal(a.grad.cpu().numpy(), [3.0, 3.0])
    d = minigen.cat([T([1.0], device)])
    with minigen.no_grad():
        d.fill_(5.0)


def test_cat_stack_errors_name_shapes(device):
    a, b = T(np.ones((2, 3)), device), T(np.ones((3, 2)), device)
    with pytest.raises(RuntimeError, match=r"cat: sizes of tensors must match except in "
                                           r"dimension 0.*\[2, 3\].*\[3, 2\]"):
        minigen.cat([a, b])
    with pytest.raises(RuntimeError, match=r"stack.*\[2, 3\].*\[3, 2\]"):
        minigen.stack([a, b])
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        minigen.cat([T(1.0, device), T(2.0, device)])
    with pytest.raises(RuntimeError, match="non-empty"):
        minigen.cat([])
    with pytest.raises(IndexError, match="dimension out of range"):
        minigen.stack([a, a], dim=3)


# ----------------------------------------------------------------------------- pad
@pytest.mark.parametrize("mode, pad, shape", [
    ("constant", (1, 2), (2, 3)), ("constant", (0, 1, 2, 0), (1, 2, 3)),
    ("constant", (-1, 2), (2, 4)), ("reflect", (2, 1), (1, 2, 4)),
    ("reflect", (1, 1, 2, 0), (1, 1, 3, 3)), ("replicate", (3, 1), (1, 2, 3)),
    ("replicate", (1, 2, 2, 1), (1, 1, 2, 3)), ("circular", (2, 1), (1, 2, 3)),
    ("circular", (1, 1, 1, 2), (1, 1, 3, 3)),
])
def test_pad_matches_torch(mode, pad, shape, device):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal(shape)
    x = T(a, device, grad=True)
    y = minigen.pad(x, pad, mode=mode)
    tx = torch.tensor(a, requires_grad=True)
    ty = torch.nn.functional.pad(tx, pad, mode=mode)
    np.testing.assert_allclose(y.cpu().numpy(), ty.detach().cpu().numpy())
    w = np.random.default_rng(1).standard_normal(ty.shape)
    (y * T(w, device)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.cpu().numpy(), atol=1e-12)


def test_pad_constant_value_and_errors(device):
    x = T([[1.0, 2.0]], device)
    assert minigen.pad(x, (1, 1), value=9.0).tolist() == [[9.0, 1.0, 2.0, 9.0]]
    with pytest.raises(RuntimeError, match="padding length"):
        minigen.pad(x, (1,))
    with pytest.raises(RuntimeError, match=r"padding size should be less.*\(2, 0\)"):
        minigen.pad(x, (2, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="mode"):
        minigen.pad(x, (1, 1), mode="wrap")


# ----------------------------------------------------------------------------- misc
def test_tril_triu_diagonal_argument(device):
    a = np.arange(1.0, 13.0).reshape(3, 4)
    x = T(a, device)
    for k in (-2, -1, 0, 1, 3):
        np.testing.assert_array_equal(x.tril(k).cpu().numpy(), np.tril(a, k))
        np.testing.assert_array_equal(minigen.triu(x, k).cpu().numpy(), np.triu(a, k))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        T([1.0, 2.0], device).tril()


def test_flip_roundtrip_and_gradient(device):
    x = T(np.arange(6.0).reshape(2, 3), device, grad=True)
    np.testing.assert_array_equal(x.flip(1).flip(1).cpu().numpy(), x.cpu().numpy())
    (x.flip(0) * T([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], device)).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[0, 0, 0], [1, 2, 3]])


def test_shape_ops_keep_device_and_dtype(device):
    x = minigen.zeros(2, 3, dtype=minigen.float64, device=device)
    for y in (x.reshape(3, 2), x.T, x.unsqueeze(0), x.flip(0), x.repeat(1, 2),
              minigen.cat([x, x]), minigen.pad(x, (1, 1)), x.expand(4, 2, 3)):
        assert y.device == device and y.dtype == minigen.float64
