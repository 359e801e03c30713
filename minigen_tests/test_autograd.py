"""The graph walk and its contract: accumulation, retain_graph, grad(), grad modes, anomaly
detection, deep graphs, diamonds, in-place rules, aliasing, retain_grad, multi-output ops,
freeing saved tensors, and a WGAN-GP gradient penalty checked by finite differences."""
import numpy as np
import pytest

import minigen
from minigen.autograd import Function, detect_anomaly


def T(a, device, grad=True, dtype=minigen.float64):
    return minigen.tensor(np.asarray(a, dtype=np.float64), dtype=dtype, device=device,
                          requires_grad=grad)


# ----------------------------------------------------------------------------- accumulation
def test_gradients_accumulate_across_backward_calls(device):
    x = T([1.0, -2.0, 3.0], device)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [2.0, -4.0, 6.0])
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [5.0, -1.0, 9.0])
    assert x.grad.device == device and x.grad.dtype == minigen.float64


def test_second_backward_through_released_graph_raises(device):
    x = T([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward(device):
    x = T([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.cpu().numpy()
    y.backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * first)
    np.testing.assert_allclose(first, np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))


def test_saved_tensors_are_freed_after_backward(device):
    x = T([0.5, 1.5], device)
    h = x.exp()
    y = (h * x).sum()
    nodes = [h.creator, y.creator]
    assert all(f.saved is not None for f in nodes)
    y.backward()
    assert all(f.saved is None for f in nodes)
    # and the error names the node and the remedy
    with pytest.raises(RuntimeError, match="retain_graph"):
        h.creator.saved_tensors


def test_saved_tensors_are_kept_with_retain_graph(device):
    x = T([0.5, 1.5], device)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    assert y.creator.saved is not None


def test_backward_on_non_scalar_needs_a_gradient(device):
    x = T(np.ones((2, 3)), device)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\[2, 3\]"):
        y.backward()
    y.backward(minigen.ones(2, 3, dtype=minigen.float64, device=device))
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2.0 * np.ones((2, 3)))


def test_backward_gradient_of_wrong_shape_raises(device):
    x = T(np.ones((2, 3)), device)
    with pytest.raises(RuntimeError, match=r"\[3\].*\[2, 3\]"):
        (x * 2.0).backward(minigen.ones(3, dtype=minigen.float64, device=device))


def test_backward_on_tensor_without_graph_raises(device):
    x = T([1.0], device, grad=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2.0).sum().backward()


# ----------------------------------------------------------------------------- grad()
def test_grad_create_graph_gives_higher_derivatives(device):
    x = T([0.5, -1.0, 2.0], device)
    y = (x ** 3).sum()
    (g1,) = minigen.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g1.cpu().numpy(), 3 * np.array([0.5, -1.0, 2.0]) ** 2)
    assert g1.requires_grad
    (g2,) = minigen.grad(g1.sum(), x, create_graph=True)
    np.testing.assert_allclose(g2.cpu().numpy(), 6 * np.array([0.5, -1.0, 2.0]))  # d2/dx2 x^3 = 6x
    (g3,) = minigen.grad(g2.sum(), x)
    np.testing.assert_allclose(g3.cpu().numpy(), [6.0, 6.0, 6.0])


def test_grad_without_create_graph_is_a_constant(device):
    x = T([0.5, 2.0], device)
    (g,) = minigen.grad((x ** 3).sum(), x)
    assert not g.requires_grad and g.creator is None


def test_grad_leaves_dot_grad_untouched(device):
    x = T([1.0, 2.0], device)
    w = T([3.0, 4.0], device)
    minigen.grad((x * w).sum(), [x])
    assert x.grad is None and w.grad is None
    (x * w).sum().backward()
    before = x.grad.cpu().numpy()
    gx, gw = minigen.grad((x * x * w).sum(), [x, w])
    np.testing.assert_allclose(x.grad.cpu().numpy(), before)
    np.testing.assert_allclose(gx.cpu().numpy(), 2 * np.array([1.0, 2.0]) * np.array([3.0, 4.0]))
    np.testing.assert_allclose(gw.cpu().numpy(), [1.0, 4.0])


def test_grad_allow_unused(device):
    x = T([1.0, 2.0], device)
    z = T([5.0], device)
    y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        minigen.grad(y, [x, z], retain_graph=True)
    gx, gz = minigen.grad(y, [x, z], allow_unused=True)
    assert gz is None
    np.testing.assert_allclose(gx.cpu().numpy(), [2.0, 2.0])


def test_grad_with_respect_to_an_intermediate(device):
    x = T([1.0, 2.0], device)
    h = x * 3.0
    y = (h * h).sum()
    (gh,) = minigen.grad(y, h)
    np.testing.assert_allclose(gh.cpu().numpy(), 2 * 3.0 * np.array([1.0, 2.0]))
    assert x.grad is None


# ----------------------------------------------------------------------------- grad modes
def test_no_grad_and_enable_grad(device):
    x = T([1.0, 2.0], device)
    with minigen.no_grad():
        y = x * 2.0
        assert not minigen.is_grad_enabled()
        with minigen.enable_grad():
            z = x * 2.0
            assert minigen.is_grad_enabled()
        w = x * 2.0
    assert minigen.is_grad_enabled()
    assert not y.requires_grad and y.creator is None
    assert z.requires_grad and z.creator is not None
    assert not w.requires_grad


def test_set_grad_enabled(device):
    x = T([1.0], device)
    with minigen.set_grad_enabled(False):
        assert not (x * 2.0).requires_grad
    with minigen.set_grad_enabled(True):
        assert (x * 2.0).requires_grad
    assert minigen.is_grad_enabled()


def test_grad_modes_as_decorators(device):
    x = T([1.0], device)

    @minigen.no_grad()
    def infer(t):
        return t * 2.0

    @minigen.enable_grad()
    def train(t):
        return t * 2.0

    assert not infer(x).requires_grad
    with minigen.no_grad():
        assert train(x).requires_grad
    assert minigen.is_grad_enabled()


def test_grad_mode_restored_after_an_exception(device):
    with pytest.raises(ValueError):
        with minigen.no_grad():
            raise ValueError("boom")
    assert minigen.is_grad_enabled()


# ----------------------------------------------------------------------------- anomaly
def test_detect_anomaly_names_the_op_in_forward(device):
    x = T([1.0, -1.0], device)
    with np.errstate(all="ignore"):
        assert np.isnan(minigen.log(x).cpu().numpy()[1])  # silent without detection
        with detect_anomaly():
            with pytest.raises(RuntimeError, match="Log.*forward"):
                minigen.log(x)


def test_detect_anomaly_names_the_op_in_backward(device):
    x = T([0.0, 4.0], device)
    with np.errstate(all="ignore"):
        with detect_anomaly():
            y = minigen.sqrt(x).sum()  # sqrt(0) = 0 is fine; its derivative 1/(2*0) is not
            with pytest.raises(RuntimeError, match="Div.*while computing the backward of 'Sqrt'"):
                y.backward()


class NanBackward(Function):
    """y = 2x, with a backward that hands back NaN without calling any op."""

    def forward(self, x):
        return x * 2

    def backward(self, gy):
        from minigen.autograd import _wrap
        return _wrap(gy.xp.full(gy.shape, np.nan))


def test_detect_anomaly_names_a_function_whose_backward_returns_nan(device):
    x = T([1.0, 2.0], device)
    with detect_anomaly():
        y = NanBackward.apply(x).sum()
        with pytest.raises(RuntimeError, match="'NanBackward' returned NaN or inf in its backward"):
            y.backward()
    z = NanBackward.apply(x).sum()
    z.backward()  # without detection the NaN arrives silently
    assert np.isnan(x.grad.cpu().numpy()).all()


# ----------------------------------------------------------------------------- graph shape
def test_deep_chain_backprops_without_recursion_error(device):
    x = T([1.0], device)
    y = x
    for _ in range(20000):
        y = y * 1.00001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [1.00001 ** 20000], rtol=1e-9)
    del y  # freeing the chain must not recurse either


def test_deep_chain_with_grad(device):
    x = T([0.3], device)
    y = x
    for _ in range(20000):
        y = y + x * 1e-4
    (g,) = minigen.grad(y.sum(), x)
    np.testing.assert_allclose(g.cpu().numpy(), [1.0 + 20000 * 1e-4], rtol=1e-9)


class CountingIdentity(Function):
    """y = x; counts how many times backward runs (it must run once per node)."""

    calls = 0

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        CountingIdentity.calls += 1
        return gy


def test_diamond_graph_with_unequal_branches(device):
    CountingIdentity.calls = 0
    x = T([0.3, -0.7], device)
    e = CountingIdentity.apply(x.exp())  # the shared node
    a = e * 2.0                          # short branch
    b = e.sin().cos().tanh()             # long branch
    z = (a + b + e).sum()
    z.backward()
    ex = np.exp([0.3, -0.7])
    # dz/de = 2 + tanh'(cos(sin e)) * (-sin(sin e)) * cos(e) + 1, and de/dx = e
    c = np.cos(np.sin(ex))
    dz_de = 2.0 + (1 - np.tanh(c) ** 2) * (-np.sin(np.sin(ex))) * np.cos(ex) + 1.0
    np.testing.assert_allclose(x.grad.cpu().numpy(), dz_de * ex, rtol=1e-12)
    assert CountingIdentity.calls == 1  # all three gradients were summed before it ran


def test_multi_output_op_partially_used(device):
    x = T(np.arange(6.0).reshape(3, 2), device)
    a, b, c = x.split(1, dim=0)
    (b * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [[0, 0], [2, 2], [0, 0]])
    y = T(np.arange(4.0), device)
    p, q = minigen.chunk(y, 2)
    (q ** 2).sum().backward()
    np.testing.assert_allclose(y.grad.cpu().numpy(), [0, 0, 4, 6])


def test_retain_grad_on_non_leaf(device):
    x = T([1.0, 2.0], device)
    h = x * 3.0
    h.retain_grad()
    k = x * 5.0
    (h * h + k).sum().backward()
    np.testing.assert_allclose(h.grad.cpu().numpy(), 2 * np.array([3.0, 6.0]))
    assert k.grad is None
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * 9.0 * np.array([1.0, 2.0]) + 5.0)


def test_tensor_used_twice_sums_gradients(device):
    x = T([2.0], device)
    (x * x * x).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), [12.0])


# ----------------------------------------------------------------------------- leaves
def test_requires_grad_on_integer_tensor_raises(device):
    with pytest.raises(RuntimeError, match="floating point"):
        minigen.tensor([1, 2], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        minigen.arange(3, device=device).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        minigen.zeros(2, dtype=minigen.int64, device=device, requires_grad=True)


def test_requires_grad_false_on_non_leaf_raises(device):
    x = T([1.0], device)
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2.0).requires_grad_(False)


@pytest.mark.parametrize("op", ["fill_", "zero_", "copy_", "setitem", "add_"])
def test_inplace_on_leaf_requiring_grad(op, device):
    x = T([1.0, 2.0], device)
    src = minigen.tensor([7.0, 8.0], dtype=minigen.float64, device=device)
    run = {"fill_": lambda: x.fill_(3.0), "zero_": lambda: x.zero_(),
           "copy_": lambda: x.copy_(src), "setitem": lambda: x.__setitem__(0, 5.0),
           "add_": lambda: x.add_(1.0)}[op]
    with pytest.raises(RuntimeError, match="in-place"):
        run()
    np.testing.assert_array_equal(x.cpu().numpy(), [1.0, 2.0])  # bad input never changes state
    with minigen.no_grad():
        assert run() is x if op != "setitem" else run() is None
    want = {"fill_": [3.0, 3.0], "zero_": [0.0, 0.0], "copy_": [7.0, 8.0],
            "setitem": [5.0, 2.0], "add_": [2.0, 3.0]}[op]
    np.testing.assert_array_equal(x.cpu().numpy(), want)
    assert x.requires_grad and x.is_leaf


def test_leaf_grad_never_aliases_the_gradient_argument(device):
    x = T([1.0, 2.0], device)
    g = minigen.tensor([10.0, 20.0], dtype=minigen.float64, device=device)
    (x + 0.0).backward(g)  # AddScalar passes the gradient through unchanged
    x.grad.zero_()
    np.testing.assert_array_equal(g.cpu().numpy(), [10.0, 20.0])
    g.fill_(1.0)
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [0.0, 0.0])


def test_leaf_grads_never_alias_each_other(device):
    a = T([1.0, 2.0], device)
    b = T([3.0, 4.0], device)
    (a + b).sum().backward()  # both gradients are the same upstream tensor
    a.grad.zero_()
    np.testing.assert_array_equal(b.grad.cpu().numpy(), [1.0, 1.0])
    c = T([1.0, 2.0], device)
    d = T([3.0, 4.0], device)
    (c - 0.0 + d).backward(minigen.ones(2, dtype=minigen.float64, device=device))
    d.grad.fill_(5.0)
    np.testing.assert_array_equal(c.grad.cpu().numpy(), [1.0, 1.0])


# ----------------------------------------------------------------------------- WGAN-GP
def _critic(x, W1, b1, W2):
    """D(x) = tanh(x W1 + b1) W2: a small MLP from primitive ops."""
    return minigen.tanh(x @ W1 + b1) @ W2


def _gradient_penalty(x, W1, b1, W2):
    """GP = mean_i (||grad_x D(x_i)||_2 - 1)^2 (Gulrajani et al., 2017)."""
    d = _critic(x, W1, b1, W2)
    (gx,) = minigen.grad(d.sum(), x, create_graph=True)
    norm = ((gx * gx).sum(dim=1) + 1e-12).sqrt()
    return ((norm - 1.0) ** 2).mean()


def test_wgan_gp_gradient_penalty_matches_finite_differences(device):
    rng = np.random.default_rng(3)
    x = T(rng.standard_normal((3, 2)), device)
    W1 = T(rng.standard_normal((2, 4)), device)
    b1 = T(0.1 * rng.standard_normal(4), device)
    W2 = T(rng.standard_normal((4, 1)), device)
    # the penalty's gradient with respect to the critic's weights goes through grad_x D:
    # second derivatives of the MLP, checked against finite differences of the penalty
    assert minigen.gradcheck(lambda W1, b1, W2: _gradient_penalty(x, W1, b1, W2), [W1, b1, W2])
    assert minigen.gradgradcheck(_critic, [x, W1, b1, W2])
    # and a training step's worth: the penalty backpropagates into the weights
    gp = _gradient_penalty(x, W1, b1, W2)
    gp.backward()
    assert W1.grad is not None and np.abs(W1.grad.cpu().numpy()).sum() > 0
    assert W1.grad.shape == W1.shape and b1.grad.shape == b1.shape


def test_wgan_gp_matches_a_hand_derived_input_gradient(device):
    rng = np.random.default_rng(4)
    xs, w1, bb, w2 = (rng.standard_normal(s) for s in [(3, 2), (2, 4), (4,), (4, 1)])
    x, W1, b1, W2 = (T(a, device) for a in (xs, w1, bb, w2))
    d = _critic(x, W1, b1, W2)
    (gx,) = minigen.grad(d.sum(), x, create_graph=True)
    # grad_x D = ((1 - tanh^2(x W1 + b1)) * W2^T) W1^T
    h = np.tanh(xs @ w1 + bb)
    np.testing.assert_allclose(gx.cpu().numpy(), ((1 - h ** 2) * w2.T) @ w1.T, rtol=1e-12)
