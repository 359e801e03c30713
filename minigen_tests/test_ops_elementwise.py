"""Elementwise semantics beyond the registry: PyTorch's dtype promotion, gradients at the
points PyTorch defines by convention (relu and abs at 0, ties in maximum, clamp at its bounds,
0 ** b), reflected operators, numerical stability, and errors."""
import numpy as np
import pytest

import minigen


def T(a, device, dtype=None, grad=False):
    return minigen.tensor(a, dtype=dtype, device=device, requires_grad=grad)


# ----------------------------------------------------------------------------- promotion
# (left, right, op) built by lambdas of a module (minigen or torch), and the expected dtype
PROMOTION = {
    "int_tensor_plus_float_scalar": (lambda m: m.tensor([1, 2]) + 1.5, "float32"),
    "int_tensor_plus_int_scalar": (lambda m: m.tensor([1, 2]) + 3, "int64"),
    "int_tensor_times_float_scalar": (lambda m: m.tensor([1, 2]) * 0.5, "float32"),
    "float32_times_python_float": (lambda m: m.ones(2) * 2.0, "float32"),
    "float64_plus_python_float": (lambda m: m.ones(2, dtype=m.float64) + 1.0, "float64"),
    "float32_plus_python_int": (lambda m: m.ones(2) + 1, "float32"),
    "int_div_int_tensor": (lambda m: m.tensor([3, 4]) / m.tensor([2, 2]), "float32"),
    "int_div_int_scalar": (lambda m: m.tensor([3, 4]) / 2, "float32"),
    "int_scalar_div_int_tensor": (lambda m: 1 / m.tensor([3, 4]), "float32"),
    "float32_plus_float64_0d": (lambda m: m.ones(2) + m.tensor(1.0, dtype=m.float64),
                                "float32"),
    "float64_0d_plus_float32": (lambda m: m.tensor(1.0, dtype=m.float64) + m.ones(2),
                                "float32"),
    "float32_0d_plus_float64_0d": (lambda m: m.tensor(1.0) + m.tensor(1.0, dtype=m.float64),
                                   "float64"),
    "float32_plus_float64": (lambda m: m.ones(2) + m.ones(2, dtype=m.float64), "float64"),
    "int_plus_float32": (lambda m: m.tensor([1, 2]) + m.ones(2), "float32"),
    "int32_plus_int64": (lambda m: m.tensor([1], dtype=m.int32) + m.tensor([1]), "int64"),
    "bool_plus_int_scalar": (lambda m: m.tensor([True, False]) + 1, "int64"),
    "bool_times_float_scalar": (lambda m: m.tensor([True, False]) * 2.5, "float32"),
    "bool_plus_float64": (lambda m: m.tensor([True]) + m.ones(1, dtype=m.float64), "float64"),
    "float16_times_float": (lambda m: m.ones(2, dtype=m.float16) * 3.0, "float16"),
    "exp_of_int": (lambda m: m.exp(m.tensor([0, 1])), "float32"),
    "sqrt_of_int": (lambda m: m.sqrt(m.tensor([4, 9])), "float32"),
    "maximum_int_float": (lambda m: m.maximum(m.tensor([1, 5]), m.tensor([2.0, 3.0])),
                          "float32"),
    "where_int_float64": (lambda m: m.where(m.tensor([True, False]), m.tensor([1, 2]),
                                            m.ones(2, dtype=m.float64)), "float64"),
    "float32_pow_python_float": (lambda m: m.ones(2) ** 2.0, "float32"),
    "int_pow_int": (lambda m: m.tensor([2, 3]) ** 2, "int64"),
    "python_float_pow_int_tensor": (lambda m: 2.0 ** m.tensor([1, 2]), "float32"),
    "cat_float32_float64": (lambda m: m.cat([m.ones(1), m.ones(1, dtype=m.float64)]),
                            "float64"),
}


@pytest.mark.parametrize("case", sorted(PROMOTION))
def test_dtype_promotion(case, device):
    make, want = PROMOTION[case]
    out = make(minigen)
    assert out.dtype.name == want, f"{case}: got {out.dtype}, PyTorch gives {want}"


@pytest.mark.parametrize("case", sorted(PROMOTION))
def test_dtype_promotion_matches_torch(case):
    torch = pytest.importorskip("torch")
    make, want = PROMOTION[case]
    ours, theirs = make(minigen), make(torch)
    assert str(theirs.dtype) == "torch." + want  # the table itself is right
    np.testing.assert_allclose(ours.cpu().numpy().astype(np.float64),
                               theirs.cpu().numpy().astype(np.float64), rtol=1e-3)


def test_promotion_keeps_the_device(device):
    a = T([1, 2], device)
    b = T([1.0, 2.0], device, dtype=minigen.float64)
    assert (a + b).device == device and (a / a).device == device and (a * 0.5).device == device


def test_gradient_flows_through_promotion(device):
    x = T([1.0, 2.0], device, dtype=minigen.float32, grad=True)
    y = T([3.0, 4.0], device, dtype=minigen.float64, grad=True)
    z = (x * y).sum()
    assert z.dtype == minigen.float64
    z.backward()
    assert x.grad.dtype == minigen.float32 and y.grad.dtype == minigen.float64
    np.testing.assert_allclose(x.grad.cpu().numpy(), [3.0, 4.0])
    np.testing.assert_allclose(y.grad.cpu().numpy(), [1.0, 2.0])


# ----------------------------------------------------------------------------- conventions
def _grad_of(fn, values, device, *others):
    x = T(np.asarray(values, np.float64), device, dtype=minigen.float64, grad=True)
    fn(x, *others).sum().backward()
    return x.grad.cpu().numpy()


def test_relu_and_abs_gradient_at_zero_is_zero(device):
    np.testing.assert_array_equal(_grad_of(minigen.relu, [-1.0, 0.0, 2.0], device), [0, 0, 1])
    np.testing.assert_array_equal(_grad_of(minigen.abs, [-1.0, 0.0, 2.0], device), [-1, 0, 1])


def test_maximum_minimum_ties_split_the_gradient(device):
    a = T([1.0, 2.0, 3.0], device, dtype=minigen.float64, grad=True)
    b = T([1.0, 5.0, 0.0], device, dtype=minigen.float64, grad=True)
    minigen.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.cpu().numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.cpu().numpy(), [0.5, 1.0, 0.0])
    a.grad = b.grad = None
    minigen.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.cpu().numpy(), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(b.grad.cpu().numpy(), [0.5, 0.0, 1.0])


def test_clamp_gradient_passes_at_the_bounds(device):
    g = _grad_of(lambda x: x.clamp(-1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0], device)
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 0])
    lo = T([-1.0] * 5, device, dtype=minigen.float64)
    g = _grad_of(lambda x, lo: minigen.clamp(x, min=lo), [-2.0, -1.0, 0.0, 1.0, 2.0], device, lo)
    np.testing.assert_array_equal(g, [0, 0.5, 1, 1, 1])  # a tensor bound is a maximum: ties split


def test_conventions_match_torch(device):
    torch = pytest.importorskip("torch")
    v = [-2.0, -1.0, 0.0, 1.0, 2.0]
    for ours, theirs in [(minigen.relu, torch.relu), (minigen.abs, torch.abs),
                         (lambda x: x.clamp(-1.0, 1.0), lambda x: x.clamp(-1.0, 1.0)),
                         (lambda x: minigen.maximum(x, x * 0 + 1.0),
                          lambda x: torch.maximum(x, x * 0 + 1.0))]:
        tx = torch.tensor(v, dtype=torch.float64, requires_grad=True)
        theirs(tx).sum().backward()
        np.testing.assert_array_equal(_grad_of(ours, v, device), tx.grad.cpu().numpy())


def test_pow_gradient_at_zero_base(device):
    a = T([0.0, 0.0, 2.0], device, dtype=minigen.float64, grad=True)
    b = T([2.0, 0.0, 3.0], device, dtype=minigen.float64, grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0^-1 inside, masked out
        (a ** b).sum().backward()
    # d(a^b)/db = a^b log a, defined as 0 at a == 0 (b >= 0), as in PyTorch
    np.testing.assert_allclose(b.grad.cpu().numpy(), [0.0, 0.0, 8.0 * np.log(2.0)])
    np.testing.assert_allclose(a.grad.cpu().numpy(), [0.0, 0.0, 12.0])
    x = T([0.0, 3.0], device, dtype=minigen.float64, grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [0.0, 0.0])


def test_reflected_operators(device):
    x = T([1.0, 2.0, 4.0], device, dtype=minigen.float64, grad=True)
    y = (3.0 - x) + (8.0 / x) + (2.0 ** x) + (2 * x)
    np.testing.assert_allclose(y.cpu().numpy(), 3 - np.array([1, 2, 4.0]) + 8 / np.array([1, 2, 4.0])
                               + 2.0 ** np.array([1, 2, 4.0]) + 2 * np.array([1, 2, 4.0]))
    y.sum().backward()
    xs = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(x.grad.cpu().numpy(), -1 - 8 / xs ** 2 + np.log(2) * 2 ** xs + 2)
    assert minigen.gradgradcheck(lambda t: 3.0 - t + 8.0 / t + 2.0 ** t, [x])


def test_numpy_scalar_on_the_left_gives_a_tensor(device):
    x = T([1.0, 2.0], device)
    y = np.float32(2.0) * x
    assert isinstance(y, minigen.Tensor) and y.tolist() == [2.0, 4.0]


def test_sigmoid_is_stable_for_large_inputs(device):
    x = T([-1000.0, -50.0, 0.0, 50.0, 1000.0], device, dtype=minigen.float64, grad=True)
    with np.errstate(over="raise", invalid="raise"):  # no overflow anywhere (underflow is fine)
        y = minigen.sigmoid(x)
        y.sum().backward()
    np.testing.assert_allclose(y.cpu().numpy(), [0.0, 1 / (1 + np.exp(50.0)), 0.5,
                                           1 / (1 + np.exp(-50.0)), 1.0], rtol=1e-12)
    assert np.isfinite(x.grad.cpu().numpy()).all()


def test_division_by_zero_gives_inf_not_an_error(device):
    with np.errstate(all="ignore"):
        y = T([1.0, -1.0, 0.0], device) / T([0.0, 0.0, 0.0], device)
    out = y.cpu().numpy()
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2])


def test_floor_divide_and_mod(device):
    a = T([7, -7], device)
    assert (a // 2).tolist() == [3, -4] and (a % 3).tolist() == [1, 2]


def test_integer_floor_divide_and_mod_stay_integer(device):
    # PyTorch: int64 // int, int64 % int and div(..., rounding_mode=...) of integers are int64
    a_np = np.arange(-7, 8)
    a = minigen.tensor(a_np, device=device)
    for out, ref in ((a % 3, a_np % 3), (a % -3, a_np % -3), (a // 3, a_np // 3), (a // -3, a_np // -3),
                     (7 % (a * 0 + 4), np.full(15, 3)), (20 // (a * 0 + 6), np.full(15, 3)),
                     (minigen.div(a, 4, rounding_mode="floor"), np.floor(a_np / 4)),
                     (minigen.div(a, 4, rounding_mode="trunc"), np.trunc(a_np / 4)),
                     (minigen.div(a, minigen.tensor(-4, device=device), rounding_mode="trunc"), np.trunc(a_np / -4))):
        assert out.dtype == minigen.int64 and out.device == device
        np.testing.assert_array_equal(out.cpu().numpy(), ref)
    assert (a.float() % 2.5).dtype == minigen.float32 and (a // 2.5).dtype == minigen.float32
    with pytest.raises(ZeroDivisionError, match="integer division by zero"):
        a // 0
    # float remainder keeps its gradient d/da = 1
    x = minigen.tensor([1.5, -2.5], device=device, requires_grad=True)
    (x % 2.0).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round"])
def test_piecewise_constant_ops_have_no_gradient(name, device):
    x = T([-1.5, 0.4, 2.6], device, dtype=minigen.float64, grad=True)
    y = getattr(minigen, name)(x)
    assert not y.requires_grad
    ref = {"sign": np.sign, "floor": np.floor, "ceil": np.ceil, "round": np.round}[name]
    np.testing.assert_array_equal(y.cpu().numpy(), ref(np.array([-1.5, 0.4, 2.6])))


def test_comparisons_return_bool_without_graph(device):
    x = T([1.0, 2.0, 3.0], device, grad=True)
    for y in (x > 2.0, x == x, x <= 1.0, minigen.ne(x, 2.0), x < T([3.0], device)):
        assert y.dtype == minigen.bool and not y.requires_grad and y.device == device
    assert (x > 1.5).tolist() == [False, True, True]
    assert ((x > 1.5) & (x < 2.5)).tolist() == [False, True, False]
    assert (~(x > 1.5)).tolist() == [True, False, False]


def test_zero_dim_comparisons_and_logical_ops(device):
    a, b = T(1.0, device), T(2.0, device)
    for y in (a < b, a == b, minigen.isnan(a), minigen.logical_not(a < b), a.sign()):
        assert y.shape == () and y.device == device
    assert bool(a < b) and not bool(a == b)


def test_where_with_scalar_operands_and_gradient(device):
    x = T([1.0, -2.0, 3.0], device, dtype=minigen.float64, grad=True)
    y = minigen.where(x > 0, x * 2.0, 0.0)
    assert y.dtype == minigen.float64
    np.testing.assert_array_equal(y.cpu().numpy(), [2.0, 0.0, 6.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [2.0, 0.0, 2.0])


def test_masked_fill_keeps_dtype_and_blocks_gradient(device):
    x = T([[1.0, 2.0], [3.0, 4.0]], device, dtype=minigen.float64, grad=True)
    m = T([True, False], device)
    y = x.masked_fill(m, -1.0)
    assert y.dtype == minigen.float64
    np.testing.assert_array_equal(y.cpu().numpy(), [[-1.0, 2.0], [-1.0, 4.0]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[0.0, 1.0], [0.0, 1.0]])
    with pytest.raises(RuntimeError, match="bool"):
        x.masked_fill(T([1, 0], device), 0.0)


def test_inplace_methods_off_the_graph(device):
    x = T([1.0, -2.0, 3.0], device)
    x.mul_(2.0).add_(1.0).clamp_(-1.0, 5.0)
    np.testing.assert_array_equal(x.cpu().numpy(), [3.0, -1.0, 5.0])
    i = T([1, 2], device)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.mul_(0.5)
    assert i.tolist() == [1, 2]


def test_bad_operands_raise_type_error(device):
    x = T([1.0], device)
    with pytest.raises(TypeError):
        x + "a"
    with pytest.raises(TypeError):
        minigen.exp([1.0, 2.0])


def test_where_with_the_condition_alone_is_nonzero(device):
    c = minigen.tensor([[True, False], [False, True]], device=device)
    rows, cols = minigen.where(c)
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1]
