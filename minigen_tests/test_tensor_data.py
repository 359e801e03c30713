"""``Tensor.data`` with PyTorch's meaning, and ``.numpy()`` of a GPU tensor (issue 18, items 2, 5).

``t.data`` is a new Tensor over the very same array, cut off from the graph; ``t.data = other``
replaces the array; the raw NumPy/CuPy array is ``t.array``. This file means PyTorch's ``.data``
everywhere.
"""
import numpy as np
import pytest

import minigen
from minigen import nn


# ----------------------------------------------------------------------------- .data itself
def test_data_shares_memory_and_is_detached(device):
    t = minigen.randn(3, 4, requires_grad=True, device=device)
    d = t.data
    assert isinstance(d, minigen.Tensor) and d is not t
    assert d.array is t.array  # the very same array, not a copy
    assert d.requires_grad is False and d.grad_fn is None and d.is_leaf
    assert d.device == t.device and d.dtype == t.dtype and d.shape == t.shape
    d.fill_(1.5)  # an in-place write through .data changes t
    np.testing.assert_array_equal(t.detach().cpu().numpy(), np.full((3, 4), 1.5, np.float32))
    assert t.requires_grad and t.is_leaf  # t itself is untouched otherwise


def test_data_of_a_non_leaf(device):
    x = minigen.randn(5, requires_grad=True, device=device)
    y = x * 2
    d = y.data
    assert y.grad_fn is not None and d.grad_fn is None and d.is_leaf and not d.requires_grad
    assert d.array is y.array
    d.zero_()
    np.testing.assert_array_equal(y.detach().cpu().numpy(), np.zeros(5, np.float32))
    y.sum().backward()  # the graph is not affected: dy/dx is still 2
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.full(5, 2, np.float32))


def test_manual_sgd_step_through_data(device):
    p = minigen.tensor([1.0, -2.0, 3.0], requires_grad=True, device=device)
    (p * p).sum().backward()  # grad = 2p
    lr = 0.1
    p.data.add_(p.grad, alpha=-lr)  # no error: .data does not require grad
    np.testing.assert_allclose(p.detach().cpu().numpy(), [0.8, -1.6, 2.4], rtol=1e-6)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None


def test_init_through_weight_data(device):
    minigen.manual_seed(0)
    m = nn.Linear(200, 100).to(device)
    m.weight.data.normal_(0, 0.02)
    m.bias.data.zero_()
    w = m.weight.detach().cpu().numpy()
    assert abs(w.std() - 0.02) < 0.002 and abs(w.mean()) < 0.002
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    assert float(m.bias.abs().sum()) == 0.0


def test_copy_and_max_through_data(device):
    p = minigen.zeros(2, 3, requires_grad=True, device=device)
    q = minigen.arange(6, dtype=minigen.float32, device=device).reshape(2, 3)
    p.data.copy_(q)
    np.testing.assert_array_equal(p.detach().cpu().numpy(), q.cpu().numpy())
    out = (p * 1.0)
    _, idx = minigen.max(out.data, 1)
    assert idx.cpu().numpy().tolist() == [2, 2]


def test_assigning_data_replaces_the_storage(device):
    m = nn.Linear(3, 2).to(device)
    w = m.weight
    new = minigen.ones(4, 5, device=device)
    m.weight.data = new  # another shape, as PyTorch allows
    assert m.weight is w and isinstance(m.weight, nn.Parameter)
    assert m.weight.shape == (4, 5) and m.weight.requires_grad
    assert m.weight.array is new.array
    assert dict(m.named_parameters())["weight"] is w


def test_assigning_data_needs_a_tensor():
    t = minigen.zeros(2)
    with pytest.raises(TypeError, match="data: assigned data must be a Tensor"):
        t.data = np.ones(2)
    t.array = np.ones(3, dtype=np.float32)  # the raw array is set through .array
    assert t.shape == (3,)


def test_array_is_the_backend_array(device):
    t = minigen.arange(4, device=device)
    assert type(t.array) is type(minigen.zeros(1, device=device).array)
    if device == "cpu":
        assert isinstance(t.array, np.ndarray)


# ----------------------------------------------------------------------------- .numpy() rules
def test_numpy_of_a_gpu_tensor_is_refused(device):
    t = minigen.arange(3, dtype=minigen.float32, device=device)
    if device == "cpu":
        np.testing.assert_array_equal(t.numpy(), [0, 1, 2])
        return
    msg = ("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
           "tensor to host memory first.")
    with pytest.raises(TypeError) as e:
        t.numpy()
    assert str(e.value) == msg
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        np.asarray(t)
    np.testing.assert_array_equal(t.cpu().numpy(), [0, 1, 2])
    np.testing.assert_array_equal(t.numpy(force=True), [0, 1, 2])
    assert t.tolist() == [0.0, 1.0, 2.0] and "tensor(" in repr(t)  # these still work


# ----------------------------------------------------------------------------- against PyTorch
def _run(lib):
    """The same small program on either library: what .data says, and what it changes."""
    lib.manual_seed(0)
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    facts = {}
    for name, t in (("leaf", x), ("non_leaf", y)):
        d = t.data
        facts[name] = (d.requires_grad, d.is_leaf, d.grad_fn is None, t.requires_grad,
                       t.is_leaf, t.grad_fn is None)
    x.data.mul_(2)  # not recorded: y's backward reads the changed x and raises nothing
    y.sum().backward()
    facts["grad"] = x.grad.numpy().tolist()
    facts["x"] = x.detach().numpy().tolist()
    # manual SGD on a linear model from identical weights
    m = lib.nn.Linear(3, 2)
    with lib.no_grad():
        m.weight.copy_(lib.tensor([[0.1, -0.2, 0.3], [0.0, 0.5, -0.4]]))
        m.bias.copy_(lib.tensor([0.05, -0.05]))
    inp = lib.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    for _ in range(3):
        m.zero_grad()
        (m(inp) ** 2).mean().backward()
        for p in m.parameters():
            p.data.add_(p.grad, alpha=-0.1)
    facts["sgd"] = [p.detach().numpy().tolist() for p in m.parameters()]
    m.weight.data = lib.zeros(1, 3)
    facts["assigned"] = (tuple(m.weight.shape), m.weight.requires_grad,
                         isinstance(m.weight, lib.nn.Parameter))
    return facts


def test_semantics_match_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = _run(minigen), _run(torch)
    for key in ("leaf", "non_leaf", "assigned"):
        assert ours[key] == theirs[key], key
    for key in ("grad", "x"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-6)
    for a, b in zip(ours["sgd"], theirs["sgd"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
