"""In-place ops on tensors in the autograd graph, with PyTorch's meaning.

``y.mul_(2)``, ``y[0] = v``, ``h += x``, ``F.relu_(y)``, a write into a view (``y[1:].mul_(3)``
changes ``y``) inside a forward: each is recorded as its out-of-place twin and the tensor takes
on the result (Tensor._rebase); nodes recorded before the write still read the old values.

Each program below is written once against a torch-like ``lib`` and checked three ways: its
gradients against finite differences (gradcheck, and gradgradcheck for the second order: an
independent reference that needs no PyTorch), and its outputs and gradients against PyTorch's
from the same inputs (when PyTorch is installed).
"""
import numpy as np
import pytest

import minigen
import minigen.nn.functional as MF

X0 = np.random.default_rng(0).normal(size=(3, 4)) + 0.1
W = np.random.default_rng(1).normal(size=(3, 4))


def _F(lib):
    return MF if lib is minigen else __import__("torch.nn.functional", fromlist=["x"])


def _idx(lib, values, like):
    return lib.tensor(values, device=like.device) if lib is minigen else lib.tensor(values)


def setitem_row(lib, x):
    y = x * 2
    y[0] = x[1] ** 2
    return y * y


def setitem_mask(lib, x):
    y = x.clone()
    y[y < 0] = 0
    return y * 3


def setitem_after_use(lib, x):
    y = x * 2
    z = y * 3          # a reader of y before the write: its gradient flows to the old y
    y[1, 2] = 5.0
    return z + y


def plain_buffer_filled(lib, x):
    out = lib.zeros(3, 4, dtype=x.dtype, device=x.device)
    out[:, 0] = x[:, 0] * x[:, 1]
    out[:, 1:] = x[:, 1:].exp()
    return out * out


def loop_build(lib, x):
    h = lib.zeros(4, dtype=x.dtype, device=x.device)
    for i in range(4):
        h[i] = (x[:, i] ** 2).sum()
    return h


def chain_of_methods(lib, x):
    y = x * 1
    y.mul_(2).add_(x).div_(3).clamp_(-50.0, 50.0)
    return y * x


def iadd_alias(lib, x):
    y = x * 1.5
    a = y
    a += x             # in place: y is a
    a *= 2
    return y * y


def index_iadd(lib, x):
    y = x * 1
    y[:, 1] += x[:, 0] ** 2
    return y


def view_write(lib, x):
    y = x * 1
    y[1:].mul_(3)      # writes through the view into y
    return y.sin()


def view_of_view(lib, x):
    y = x * 1
    v = y.view(12)
    v[3:5] = x[0, :2] * 10
    y.t()[0].add_(1)
    return y * y


def narrow_view(lib, x):
    y = x * 1
    a = y.narrow(1, 0, 2)
    a.mul_(2)
    return y * a.sum()


def masked_fill_(lib, x):
    y = x * 1
    y.masked_fill_(x > 0.5, 0.0)
    return y * x


def activations_(lib, x):
    y = x * 1
    lib.relu_(y)
    z = y * 2
    z.sigmoid_()
    w = z - 0.6
    _F(lib).leaky_relu_(w, 0.2)
    v = w * 3
    v.tanh_()
    return v


def copy_into_view(lib, x):
    y = x * 1
    y[0].copy_(x[2] * x[1])
    return y * y


def index_add_(lib, x):
    y = x * 1
    y.index_add_(0, _idx(lib, [0, 2], x), x[:2] * 2)
    return y


def scatter_(lib, x):
    y = x * 1
    y.scatter_(1, _idx(lib, [[0, 1], [1, 2], [3, 0]], x), x[:, :2] ** 2)
    return y


def fill_and_zero(lib, x):
    y = x * 1
    y[0].fill_(2.0)
    y[1].zero_()
    return y * x


def reshape_(lib, x):
    y = x * 1
    y.unsqueeze_(0)
    y.mul_(x)
    return y * y


def data_write(lib, x):
    y = x * 1
    y.data.mul_(2)     # off the graph: y's values change, nothing is recorded
    return y * y


PROGRAMS = [setitem_row, setitem_mask, setitem_after_use, plain_buffer_filled, loop_build,
            chain_of_methods, iadd_alias, index_iadd, view_write, view_of_view, narrow_view,
            masked_fill_, activations_, copy_into_view, index_add_, scatter_, fill_and_zero,
            reshape_, data_write]
# y.data.mul_(2) changes values behind the graph's back (as in PyTorch, whose gradient also
# ignores it): not something finite differences can check; PyTorch's gradient is the reference
CHECKABLE = [p for p in PROGRAMS if p is not data_write]


def _mg(x, device):
    return minigen.tensor(x, dtype=minigen.float64, device=device, requires_grad=True)


@pytest.mark.parametrize("prog", CHECKABLE, ids=lambda p: p.__name__)
def test_gradients_match_finite_differences(prog, device):
    x = _mg(X0, device)
    assert minigen.gradcheck(lambda t: prog(minigen, t), (x,))
    assert minigen.gradgradcheck(lambda t: prog(minigen, t), (x,))


@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.__name__)
def test_outputs_and_gradients_match_pytorch(prog, device):
    torch = pytest.importorskip("torch")
    xt = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    yt = prog(torch, xt)
    (yt * torch.tensor(W).reshape(yt.shape) if yt.numel() == 12 else yt).sum().backward()
    x = _mg(X0, device)
    y = prog(minigen, x)
    w = minigen.tensor(W, device=device).reshape(y.shape) if y.numel() == 12 else 1.0
    (y * w).sum().backward()
    np.testing.assert_allclose(y.detach().cpu().numpy(), yt.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_earlier_readers_keep_the_old_values(device):
    x = _mg([1.0, -2.0, 3.0], device)
    y = x * 2
    z = y * y                   # z = 4 x^2, read before the write
    y.add_(1)                   # y = 2 x + 1
    (z + y).sum().backward()    # d/dx = 8 x + 2
    np.testing.assert_allclose(x.grad.cpu().numpy(), [10.0, -14.0, 26.0])
    assert y.tolist() == [3.0, -3.0, 7.0]


def test_grad_of_a_rewritten_tensor(device):
    x = _mg([1.0, 2.0], device)
    y = x * 3
    y[0] = x[1] * x[1]
    (g,) = minigen.grad(y.sum(), x)
    np.testing.assert_allclose(g.cpu().numpy(), [0.0, 7.0])


def test_leaf_and_views_of_leaves_are_refused_and_unchanged(device):
    x = _mg([1.0, 2.0, 3.0], device)
    for write in (lambda: x.add_(1), lambda: x.__setitem__(0, 5.0), lambda: x.mul_(x),
                  lambda: x.__iadd__(1.0), lambda: minigen.relu_(x), lambda: MF.relu_(x)):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            write()
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x[1:].mul_(2)
    assert x.tolist() == [1.0, 2.0, 3.0] and x.is_leaf and x.grad is None
    with minigen.no_grad():
        x[1:].mul_(2)           # an optimizer-style write: allowed, changes the leaf
    assert x.tolist() == [1.0, 4.0, 6.0]


def test_integer_tensor_refuses_a_float_result(device):
    i = minigen.tensor([1, 2], device=device)
    x = _mg([0.5, 0.5], device)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(x)
    assert i.tolist() == [1, 2]


def test_off_the_graph_writes_share_memory_as_pytorch(device):
    b = minigen.zeros(2, 3, device=device)
    v = b[1:]
    v += 1                      # in place: b sees it
    b[0, 0] = 7.0
    assert b.tolist() == [[7.0, 0.0, 0.0], [1.0, 1.0, 1.0]] and v.tolist() == [[1.0, 1.0, 1.0]]


def test_random_refill_on_the_graph_is_refused(device):
    y = _mg([1.0, 2.0], device) * 1
    with pytest.raises(RuntimeError, match="random"):
        y.normal_()
    with pytest.raises(RuntimeError, match="random"):
        y.bernoulli_(0.5)


def test_module_level_and_functional_spellings(device):
    y = minigen.tensor([-1.0, 2.0], device=device)
    assert minigen.relu_(y) is y and y.tolist() == [0.0, 2.0]
    z = minigen.tensor([-1.0, 2.0], device=device)
    assert MF.leaky_relu_(z, 0.5) is z and z.tolist() == [-0.5, 2.0]
    assert minigen.exp_(minigen.tensor([0.0], device=device)).tolist() == [1.0]


def test_one_of_several_views_is_not_written_on_the_graph(device):
    y = _mg(X0, device) * 1
    a, b = y.chunk(2, dim=1)
    with pytest.raises(RuntimeError, match="several views"):
        a.mul_(2)
    np.testing.assert_allclose(y.detach().cpu().numpy(), X0)
    with minigen.no_grad():
        a.mul_(2)               # off the graph it is a plain write into y's memory
    np.testing.assert_allclose(y.detach().cpu().numpy()[:, :2], 2 * X0[:, :2])


def test_a_write_cannot_grow_the_tensor(device):
    y = _mg([1.0, 2.0], device) * 1
    with pytest.raises(RuntimeError, match=r"output with shape \[2\] doesn't match the broadcast shape \[3, 2\]"):
        y.add_(minigen.ones(3, 2, dtype=minigen.float64, device=device))
    assert y.tolist() == [1.0, 2.0]
    z = minigen.ones(2, dtype=minigen.float64, device=device)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        z.add_(minigen.ones(3, 2, dtype=minigen.float64, device=device))


def test_manual_sgd_updates_the_parameters_in_place(device):
    # the tutorial loop `with torch.no_grad(): w -= w.grad * lr` changes w itself
    w = _mg([1.0, -2.0], device)
    (w * w).sum().backward()
    before = w
    with minigen.no_grad():
        w -= w.grad * 0.25
        w.grad.zero_()
    assert w is before and w.tolist() == [0.5, -1.0] and w.is_leaf and w.requires_grad


def test_scatter_reduce_put_and_index_reduce_in_place(device):
    x = minigen.zeros(3, 4, device=device)
    x.scatter_(1, minigen.tensor([[0, 1], [1, 2], [2, 3]], device=device),
               minigen.ones(3, 2, device=device), reduce="add")
    x.scatter_(0, minigen.tensor([[0, 0, 0, 0]], device=device), 2.0, reduce="multiply")
    assert x.tolist() == [[2, 2, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    y = minigen.zeros(5, device=device)
    y.put_(minigen.tensor([1, 3], device=device), minigen.tensor([9.0, 8.0], device=device))
    assert y.tolist() == [0, 9, 0, 8, 0]
    z = minigen.ones(3, 2, device=device)
    z.index_reduce_(0, minigen.tensor([0, 0], device=device),
                    minigen.tensor([[2.0, 3], [4, 5]], device=device), "prod")
    assert z.tolist() == [[8, 15], [1, 1], [1, 1]]


def test_fill_diagonal_on_the_graph(device):
    x = _mg(np.arange(1.0, 7.0).reshape(2, 3), device)
    y = x * 2
    y.fill_diagonal_(0.0)
    (y * y).sum().backward()
    assert y.tolist() == [[0, 4, 6], [8, 0, 12]]
    np.testing.assert_allclose(x.grad.cpu().numpy(), [[0, 16, 24], [32, 0, 48]])
    with pytest.raises(RuntimeError, match=r"fill_diagonal_: needs a 2-D tensor.*\[3\]"):
        (x[0] * 1).fill_diagonal_(0.0)
