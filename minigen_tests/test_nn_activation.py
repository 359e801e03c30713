"""Activations (minigen/ops/activation.py, minigen/nn/activation.py): forward against float64
NumPy references and torch, gradcheck and gradgradcheck on both devices, the hand-derived
Functions against composite twins to second order, numerical edge cases, modules and reprs."""
import math

import numpy as np
import pytest

import minigen
import minigen.nn as nn
import minigen.nn.functional as F
from minigen.testing import check_op

_erfc = np.vectorize(math.erfc, otypes=[np.float64])
SQRT2PI = math.sqrt(2 * math.pi)


def T(a, device, dtype=None, grad=False):
    return minigen.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def away(rng, shape, points, lo=-3.0, hi=3.0, gap=0.05):
    """Samples in [lo, hi] at least ``gap`` from every kink in ``points`` (finite differences
    with eps = 1e-6 are exact away from kinks)."""
    x = rng.uniform(lo, hi, size=shape)
    for p in points:
        near = np.abs(x - p) < gap
        x[near] = p + np.sign(x[near] - p + 1e-12) * gap * 2
    return x


# ----------------------------------------------------------------------------- references
def np_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


def np_gelu(x):
    return x * 0.5 * _erfc(-x / math.sqrt(2))


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def np_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# name -> (minigen fn, numpy reference, torch fn name and kwargs, kink points, d/dx reference)
CASES = {
    "relu": (F.relu, lambda x: np.maximum(x, 0), ("relu", {}), [0.0],
             lambda x: (x > 0) * 1.0),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
                   ("leaky_relu", {"negative_slope": 0.2}), [0.0],
                   lambda x: np.where(x > 0, 1.0, 0.2)),
    "leaky_relu_default": (F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x),
                           ("leaky_relu", {}), [0.0], lambda x: np.where(x > 0, 1.0, 0.01)),
    "gelu": (F.gelu, np_gelu, ("gelu", {}), [],
             lambda x: 0.5 * _erfc(-x / math.sqrt(2)) + x * np.exp(-x * x / 2) / SQRT2PI),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), np_gelu_tanh,
                  ("gelu", {"approximate": "tanh"}), [], None),
    "silu": (F.silu, lambda x: x * np_sigmoid(x), ("silu", {}), [],
             lambda x: np_sigmoid(x) * (1 + x * (1 - np_sigmoid(x)))),
    "softplus": (F.softplus, np_softplus, ("softplus", {}), [], np_sigmoid),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                      lambda x: np_softplus(x, 2.0, 3.0),
                      ("softplus", {"beta": 2.0, "threshold": 3.0}), [1.5],
                      lambda x: np.where(2 * x > 3, 1.0, np_sigmoid(2 * x))),
    "elu": (F.elu, np_elu, ("elu", {}), [0.0], lambda x: np.where(x > 0, 1.0, np.exp(x))),
    "elu_alpha": (lambda x: F.elu(x, alpha=0.7), lambda x: np_elu(x, 0.7),
                  ("elu", {"alpha": 0.7}), [0.0], lambda x: np.where(x > 0, 1.0, 0.7 * np.exp(x))),
    "hardtanh": (F.hardtanh, lambda x: np.clip(x, -1, 1), ("hardtanh", {}), [-1.0, 1.0],
                 lambda x: ((x > -1) & (x < 1)) * 1.0),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6), ("relu6", {}), [0.0, 6.0],
              lambda x: ((x > 0) & (x < 6)) * 1.0),
    "tanh": (F.tanh, np.tanh, ("tanh", {}), [], lambda x: 1 - np.tanh(x) ** 2),
    "sigmoid": (F.sigmoid, np_sigmoid, ("sigmoid", {}), [],
                lambda x: np_sigmoid(x) * (1 - np_sigmoid(x))),
}
SMOOTH_SECOND = {"gelu", "gelu_tanh", "silu", "softplus", "softplus_beta", "elu", "elu_alpha",
                 "tanh", "sigmoid"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_gradcheck_gradgradcheck(name, device):
    fn, ref, _, kinks, _ = CASES[name]
    x = away(np.random.default_rng(1), (3, 4), kinks, lo=-7 if name == "relu6" else -3,
             hi=7 if name == "relu6" else 3)
    check_op(fn, ref, [x], device, second_order=True, forward_atol=1e-14, forward_rtol=1e-13,
             name=name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_forward_keeps_dtype(name, device):
    fn, ref, _, _, _ = CASES[name]
    x = np.random.default_rng(2).normal(0, 3, (64,)).astype(np.float32)
    y = fn(T(x, device))
    assert y.dtype == minigen.float32 and y.device == device
    np.testing.assert_allclose(y.cpu().numpy(), ref(x.astype(np.float64)), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name", sorted(c for c in CASES if CASES[c][4] is not None))
def test_first_derivative_against_closed_form(name, device):
    """The gradient from backward equals the derivative written out by hand in NumPy
    (at the kinks too: PyTorch's conventions, e.g. relu'(0) = 0, leaky_relu'(0) = slope,
    hardtanh'(+-1) = 0, elu'(0) = alpha)."""
    fn, _, _, kinks, dref = CASES[name]
    x = np.concatenate([np.linspace(-8, 8, 41), np.array(kinks)])
    xt = T(x, device, grad=True)
    fn(xt).sum().backward()
    np.testing.assert_allclose(xt.grad.cpu().numpy(), dref(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_torch_to_second_order(name, device):
    """Values, first and second derivatives against torch in float64, kinks included."""
    torch = pytest.importorskip("torch")
    fn, _, (tname, kw), kinks, _ = CASES[name]
    x = np.concatenate([np.linspace(-9, 9, 37), np.array(kinks, dtype=np.float64)])
    xt = torch.tensor(x, requires_grad=True)
    yt = getattr(torch.nn.functional, tname)(xt, **kw)
    (g1t,) = torch.autograd.grad(yt.sum(), xt, create_graph=True)
    g2t = torch.autograd.grad(g1t.sum(), xt, allow_unused=True)[0] if g1t.requires_grad else None
    xm = T(x, device, grad=True)
    ym = fn(xm)
    (g1m,) = minigen.grad(ym.sum(), xm, create_graph=True)
    np.testing.assert_allclose(ym.cpu().numpy(), yt.detach().cpu().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(g1m.cpu().numpy(), g1t.detach().cpu().numpy(), rtol=1e-12, atol=1e-15)
    want2 = np.zeros_like(x) if g2t is None else g2t.cpu().numpy()
    g2m = minigen.grad(g1m.sum(), xm, allow_unused=True)[0] if g1m.requires_grad else None
    got2 = np.zeros_like(x) if g2m is None else g2m.cpu().numpy()
    np.testing.assert_allclose(got2, want2, rtol=1e-11, atol=1e-14)


# ----------------------------------------------------------------------------- composite twins
def twin_leaky_relu(x, s):
    return minigen.where(x > 0, x, x * s)


def twin_elu(x, a):
    return minigen.where(x > 0, x, (x.exp() - 1.0) * a)


def twin_softplus(x, beta, threshold):
    return minigen.where(x * beta > threshold, x, (1.0 + (x * beta).exp()).log() / beta)


def twin_hardtanh(x, lo, hi):
    return minigen.clamp(x, lo, hi)


TWINS = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.3), lambda x: twin_leaky_relu(x, 0.3), [0.0]),
    "elu": (lambda x: F.elu(x, 1.3), lambda x: twin_elu(x, 1.3), [0.0]),
    "softplus": (lambda x: F.softplus(x, 1.5, 4.0), lambda x: twin_softplus(x, 1.5, 4.0),
                 [4.0 / 1.5]),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: twin_hardtanh(x, -0.5, 2.0),
                 [-0.5, 2.0]),
}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_function_matches_composite_twin_to_second_order(name, device):
    fn, twin, kinks = TWINS[name]
    x_np = away(np.random.default_rng(3), (5, 4), kinks)
    v_np = np.random.default_rng(4).standard_normal((5, 4))
    results = []
    for f in (fn, twin):
        x = T(x_np, device, grad=True)
        v = T(v_np, device)
        y = f(x)
        (g,) = minigen.grad(y, x, grad_outputs=v, create_graph=True)
        (h,) = minigen.grad((g * g).sum(), x, allow_unused=True) if g.requires_grad else (None,)
        results.append((y.cpu().numpy(), g.cpu().numpy(), np.zeros_like(x_np) if h is None else h.cpu().numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_gelu_twin_series(device):
    """GELU's hand-built Phi against an independent composite: for |x| <= 1,
    Phi(x) = 1/2 + phi(x) sum_n x^(2n+1) / (1 3 5 ... (2n+1)) (all terms positive), built from
    primitive ops; values, first and second derivatives must agree."""
    x_np = np.linspace(-1, 1, 21)

    def twin(x):
        phi = (x * x * -0.5).exp() * (1 / SQRT2PI)
        term, acc = x, x
        for n in range(1, 30):
            term = term * x * x / (2 * n + 1)
            acc = acc + term
        return x * (phi * acc + 0.5)
    outs = []
    for f in (F.gelu, twin):
        x = T(x_np, device, grad=True)
        y = f(x)
        (g,) = minigen.grad(y.sum(), x, create_graph=True)
        (h,) = minigen.grad(g.sum(), x)
        outs.append((y.cpu().numpy(), g.cpu().numpy(), h.cpu().numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------- GELU's erfc
def test_normal_cdf_accuracy_against_math_erfc():
    """Phi (the heart of GELU) against math.erfc on a dense grid: float64 absolute error
    below 8 ulp of 1, relative error below 1e-13 wherever Phi > 1e-28; float32 within its
    precision (the tail's relative error there is set by float32's rounding of z^2)."""
    from minigen.ops.gelu import _normal_cdf
    x = np.linspace(-11, 11, 40001)
    want = 0.5 * _erfc(-x / math.sqrt(2))
    got = _normal_cdf(np, x)
    assert np.abs(got - want).max() < 8 * 2.0 ** -52
    assert (np.abs(got - want) / want).max() < 1e-13
    x32 = x.astype(np.float32)
    want32 = 0.5 * _erfc(-x32.astype(np.float64) / math.sqrt(2))
    got32 = _normal_cdf(np, x32)
    assert got32.dtype == np.float32
    assert np.abs(got32 - want32).max() < 2.5e-7
    inner = np.abs(x32) < 5
    assert (np.abs(got32 - want32) / want32)[inner].max() < 2e-6


@pytest.mark.filterwarnings("ignore:invalid value")
def test_gelu_special_values(device):
    x = T([float("inf"), -float("inf"), float("nan"), 0.0, -40.0, 40.0], device)
    y = F.gelu(x).cpu().numpy()
    # as PyTorch: gelu(-inf) = -inf * Phi(-inf) = -inf * 0 is NaN
    assert y[0] == np.inf and np.isnan(y[1]) and np.isnan(y[2]) and y[3] == 0
    assert -1e-300 < y[4] <= 0 and y[5] == 40.0


# ----------------------------------------------------------------------------- stability
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_no_overflow_or_nan_in_discarded_branches(device, dtype):
    """Where a composite would compute exp of a large number in the branch it throws away
    (and 0 * inf = NaN in its gradient), the Functions stay finite."""
    x_np = np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0])
    for fn, want in [(F.softplus, np_softplus(x_np)), (F.elu, np_elu(x_np)),
                     (lambda t: F.softplus(t, beta=0.5, threshold=1000), None),
                     (F.silu, x_np * np_sigmoid(x_np)), (F.gelu, np_gelu(x_np))]:
        x = T(x_np, device, dtype=dtype, grad=True)
        y = fn(x)
        y.sum().backward()
        assert np.isfinite(y.cpu().numpy()).all() and np.isfinite(x.grad.cpu().numpy()).all()
        if want is not None:
            np.testing.assert_allclose(y.cpu().numpy(), want, rtol=1e-6, atol=1e-30)


def test_softplus_tail_keeps_precision(device):
    """log(1 + e^z) for z = -40 is e^-40 ~ 4e-18, not 0 (log1p, not log of 1 + tiny)."""
    y = F.softplus(T([-40.0], device, dtype="float64")).cpu().numpy()
    np.testing.assert_allclose(y, [math.exp(-40.0)], rtol=1e-14)


# ----------------------------------------------------------------------------- inplace
@pytest.mark.parametrize("make", [
    lambda: nn.ReLU(inplace=True), lambda: nn.LeakyReLU(0.1, inplace=True),
    lambda: nn.SiLU(inplace=True), lambda: nn.ELU(inplace=True), lambda: nn.ReLU6(inplace=True),
    lambda: nn.Hardtanh(inplace=True)])
def test_inplace_flag_changes_nothing(make, device):
    x_np = np.linspace(-3, 8, 12)
    x = T(x_np, device, grad=True)
    m = make()
    y = m(x)
    y.sum().backward()
    assert y is not x
    np.testing.assert_array_equal(x.cpu().numpy(), x_np)
    assert x.grad is not None


def test_functional_inplace_flag_changes_nothing(device):
    x_np = np.linspace(-2, 2, 9)
    for fn in (F.relu, F.leaky_relu, F.elu, F.silu, F.hardtanh, F.relu6):
        x = T(x_np, device)
        fn(x, inplace=True)
        np.testing.assert_array_equal(x.cpu().numpy(), x_np)


# ----------------------------------------------------------------------------- modules
MODULES = [
    (lambda: nn.ReLU(), F.relu), (lambda: nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
    (lambda: nn.GELU(), F.gelu), (lambda: nn.GELU("tanh"), lambda x: F.gelu(x, "tanh")),
    (lambda: nn.SiLU(), F.silu), (lambda: nn.Tanh(), minigen.tanh),
    (lambda: nn.Sigmoid(), minigen.sigmoid),
    (lambda: nn.Softplus(2, 5), lambda x: F.softplus(x, 2, 5)),
    (lambda: nn.ELU(0.5), lambda x: F.elu(x, 0.5)), (lambda: nn.ReLU6(), F.relu6),
    (lambda: nn.Hardtanh(-2, 2), lambda x: F.hardtanh(x, -2, 2)),
    (lambda: nn.Softmax(dim=1), lambda x: minigen.softmax(x, 1)),
    (lambda: nn.LogSoftmax(dim=0), lambda x: minigen.log_softmax(x, 0)),
]


@pytest.mark.parametrize("i", range(len(MODULES)))
def test_module_equals_functional(i, device):
    make, fn = MODULES[i]
    x = T(np.random.default_rng(i).normal(0, 3, (4, 5)), device)
    m = make()
    assert list(m.parameters()) == []
    np.testing.assert_array_equal(m(x).cpu().numpy(), fn(x).cpu().numpy())


def test_softmax_modules_against_numpy(device):
    x_np = np.random.default_rng(5).normal(0, 2, (3, 4, 5))
    x = T(x_np, device)
    np.testing.assert_allclose(nn.Softmax(dim=-1)(x).cpu().numpy(), np_softmax(x_np, -1), rtol=1e-13)
    np.testing.assert_allclose(nn.LogSoftmax(dim=1)(x).cpu().numpy(), np.log(np_softmax(x_np, 1)),
                               rtol=1e-12, atol=1e-14)
    # dim=None: PyTorch's legacy implicit dim, 0 for a 3-d input
    np.testing.assert_allclose(nn.Softmax()(x).cpu().numpy(), np_softmax(x_np, 0), rtol=1e-13)


REPRS = [
    (lambda m: m.ReLU(), "ReLU()"), (lambda m: m.ReLU(inplace=True), "ReLU(inplace=True)"),
    (lambda m: m.LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
    (lambda m: m.LeakyReLU(0.2, True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
    (lambda m: m.GELU(), "GELU(approximate='none')"),
    (lambda m: m.GELU("tanh"), "GELU(approximate='tanh')"),
    (lambda m: m.SiLU(), "SiLU()"), (lambda m: m.Tanh(), "Tanh()"),
    (lambda m: m.Sigmoid(), "Sigmoid()"),
    (lambda m: m.Softplus(), "Softplus(beta=1.0, threshold=20.0)"),
    (lambda m: m.Softplus(2, 10), "Softplus(beta=2, threshold=10)"),
    (lambda m: m.ELU(), "ELU(alpha=1.0)"),
    (lambda m: m.ELU(0.5, True), "ELU(alpha=0.5, inplace=True)"),
    (lambda m: m.Softmax(), "Softmax(dim=None)"), (lambda m: m.Softmax(dim=-1), "Softmax(dim=-1)"),
    (lambda m: m.LogSoftmax(1), "LogSoftmax(dim=1)"),
    (lambda m: m.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
    (lambda m: m.ReLU6(), "ReLU6()"), (lambda m: m.ReLU6(True), "ReLU6(inplace=True)"),
]


@pytest.mark.parametrize("i", range(len(REPRS)))
def test_repr_is_pytorchs(i):
    make, want = REPRS[i]
    assert repr(make(nn)) == want


def test_reprs_against_torch():
    torch = pytest.importorskip("torch")
    for make, want in REPRS:
        assert repr(make(torch.nn)) == repr(make(nn)) == want


# ----------------------------------------------------------------------------- errors
def test_errors():
    x = minigen.ones(3)
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match=r"min_val \(2\).*max_val \(1\)"):
        F.hardtanh(x, 2, 1)
    with pytest.raises(ValueError, match="min_val"):
        nn.Hardtanh(2, 1)


@pytest.mark.parametrize("slope", [-0.5, 0.0, 0.01, 0.2, 1.0, 1.5, 3.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_any_slope_and_special_values(device, slope, dtype):
    """max(x, s x) for s <= 1, min(x, s x) above, and the plain formula at s = 0: every slope
    gives x > 0 ? x : s x, at +-inf, nan and signed zeros too (as PyTorch's kernel)."""
    x = np.array([-np.inf, -3.5, -1e-30, -0.0, 0.0, 1e-30, 2.25, np.inf, np.nan], dtype=dtype)
    x = np.concatenate([x, np.random.default_rng(1).standard_normal(40).astype(dtype)])
    with np.errstate(invalid="ignore"):
        want = np.where(x > 0, x, x * dtype(slope))
    xt = minigen.tensor(x, device=device, requires_grad=True)
    y = F.leaky_relu(xt, slope)
    np.testing.assert_array_equal(y.detach().cpu().numpy(), want)
    y.backward(minigen.ones_like(y))
    np.testing.assert_array_equal(xt.grad.cpu().numpy(), np.where(x > 0, 1.0, dtype(slope)).astype(dtype))


def test_gelu_tanh_is_one_node_whose_slope_matches_the_composite(device):
    """GeluTanh computes y and dy/dx in one pass; its backward (one GeluTanhBackward node)
    must equal the gradient of the plain composite 0.5 x (1 + tanh(C (x + A x^3))), to first
    and second order (the spec in op_specs_nn also runs gradcheck and gradgradcheck)."""
    from minigen.ops.gelu import GeluTanh, GeluTanhBackward

    x = minigen.tensor(np.linspace(-6, 6, 41), dtype=minigen.float64, device=device).requires_grad_(True)
    y = GeluTanh.apply(x)
    assert isinstance(y.grad_fn, GeluTanh)
    (g,) = minigen.grad(y.sum(), x, create_graph=True)
    assert isinstance(g.grad_fn, GeluTanhBackward)
    (g2,) = minigen.grad(g.sum(), x)
    xr = x.detach().requires_grad_(True)
    u = (xr + xr * xr * xr * 0.044715) * math.sqrt(2 / math.pi)
    yr = xr * 0.5 * (u.tanh() + 1.0)
    (gr,) = minigen.grad(yr.sum(), xr, create_graph=True)
    (gr2,) = minigen.grad(gr.sum(), xr)
    np.testing.assert_allclose(y.cpu().numpy(), yr.cpu().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g.cpu().numpy(), gr.cpu().numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(g2.cpu().numpy(), gr2.cpu().numpy(), rtol=1e-9, atol=1e-13)
