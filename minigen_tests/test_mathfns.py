"""minigen/ops/mathfns.py and mathfns_reduce.py: forward against NumPy float64 references and
PyTorch, gradcheck and gradgradcheck, dtypes, dim/keepdim forms, errors, composite twins."""
import math

import numpy as np
import pytest

import minigen as mg

_erf = np.vectorize(math.erf, otypes=[float])
_erfc = np.vectorize(math.erfc, otypes=[float])


def T(a, device, dtype=None, grad=False):
    a = np.asarray(a)
    if dtype is None:
        dtype = mg.float64 if a.dtype.kind == "f" else a.dtype
    return mg.tensor(a, dtype=dtype, device=device, requires_grad=grad)


def _torch():
    return pytest.importorskip("torch")


# ----------------------------------------------------------------------------- unary forward
UNARY = [
    # name, numpy reference, domain sampler
    ("reciprocal", lambda x: 1.0 / x, lambda r: r.uniform(0.5, 2, 20) * r.choice([-1, 1], 20)),
    ("tan", np.tan, lambda r: r.uniform(-1.4, 1.4, 20)),
    ("sinh", np.sinh, lambda r: r.uniform(-5, 5, 20)),
    ("cosh", np.cosh, lambda r: r.uniform(-5, 5, 20)),
    ("atan", np.arctan, lambda r: r.uniform(-10, 10, 20)),
    ("asin", np.arcsin, lambda r: r.uniform(-1, 1, 20)),
    ("acos", np.arccos, lambda r: r.uniform(-1, 1, 20)),
    ("log2", np.log2, lambda r: r.uniform(0.01, 100, 20)),
    ("log10", np.log10, lambda r: r.uniform(0.01, 100, 20)),
    ("exp2", np.exp2, lambda r: r.uniform(-10, 10, 20)),
    ("erf", _erf, lambda r: r.uniform(-6, 6, 40)),
    ("erfc", _erfc, lambda r: r.uniform(-6, 6, 40)),
    ("trunc", np.trunc, lambda r: r.uniform(-5, 5, 20)),
    ("frac", lambda x: x - np.trunc(x), lambda r: r.uniform(-5, 5, 20)),
    ("sgn", np.sign, lambda r: np.r_[r.uniform(-5, 5, 20), 0.0]),
    ("negative", np.negative, lambda r: r.uniform(-5, 5, 20)),
    ("positive", lambda x: x, lambda r: r.uniform(-5, 5, 20)),
    ("logit", lambda x: np.log(x / (1 - x)), lambda r: r.uniform(0.01, 0.99, 20)),
]


@pytest.mark.parametrize("name,ref,draw", UNARY, ids=[u[0] for u in UNARY])
def test_unary_forward_matches_numpy_and_torch(name, ref, draw, device):
    x = draw(np.random.default_rng(0))
    for dtype, rtol in ((mg.float64, 1e-12), (mg.float32, 2e-6)):
        xt = T(x, device, dtype)
        y = getattr(mg, name)(xt)
        assert y.dtype == dtype and y.device.type == device
        np.testing.assert_allclose(y.cpu().numpy(), ref(x.astype(dtype)), rtol=rtol, atol=rtol * 1e-3)
        np.testing.assert_allclose(getattr(xt, name)().cpu().numpy(), y.cpu().numpy())  # the method form
    torch = _torch()
    ours = getattr(mg, name)(T(x, device)).cpu().numpy()
    theirs = getattr(torch, name)(torch.tensor(x)).cpu().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-300)


def test_erfc_keeps_relative_accuracy_in_its_tail(device):
    x = np.array([3.0, 5.0, 8.0, 12.0, 20.0])
    y = mg.erfc(T(x, device)).cpu().numpy()
    np.testing.assert_allclose(y, _erfc(x), rtol=1e-12)
    assert y[-1] > 0  # not 1 - erf(x) = 0
    # and erf stays exactly odd, |erf| <= 1
    w = np.linspace(0, 7, 51)
    z = np.r_[-w[::-1], w]  # exactly symmetric
    e = mg.erf(T(z, device)).cpu().numpy()
    np.testing.assert_array_equal(e, -e[::-1])
    assert np.abs(e).max() <= 1.0


@pytest.mark.parametrize("name", ["reciprocal", "tan", "sinh", "atan", "log2", "exp2", "erf",
                                  "erfc", "logit"])
def test_integer_inputs_promote_to_float32_like_torch(name, device):
    torch = _torch()
    x = np.array([0, 1, 2], np.int64) if name != "logit" else np.array([0, 1], np.int64)
    with np.errstate(all="ignore"):
        y = getattr(mg, name)(T(x, device))
    ty = getattr(torch, name)(torch.tensor(x))
    assert str(y.dtype) == str(ty.dtype).replace("torch.", "")
    np.testing.assert_allclose(y.cpu().numpy(), ty.cpu().numpy(), rtol=1e-6)


def test_trunc_sgn_isclose_are_constants_and_keep_int_dtype(device):
    x = T([1.7, -1.7, 0.0], device, grad=True)
    for y in (mg.trunc(x), mg.sgn(x), mg.isclose(x, x)):
        assert not y.requires_grad
    i = T(np.array([3, -4]), device)
    assert mg.trunc(i).dtype == mg.int64 and mg.trunc(i).cpu().numpy().tolist() == [3, -4]
    assert mg.fix(x).cpu().numpy().tolist() == [1.0, -1.0, 0.0]
    assert mg.positive(x) is x
    with pytest.raises(TypeError, match="positive"):
        mg.positive(T(np.array([True]), device))


# ----------------------------------------------------------------------------- binary forward
def _rem_operands(rng):
    a = rng.uniform(-5, 5, (3, 4))
    b = rng.uniform(0.5, 2, (4,)) * rng.choice([-1, 1], 4)
    return a, b


@pytest.mark.parametrize("name,ref", [("fmod", np.fmod), ("remainder", np.remainder),
                                      ("atan2", np.arctan2), ("logaddexp", np.logaddexp)])
def test_binary_forward_matches_numpy_and_torch(name, ref, device):
    torch = _torch()
    a, b = _rem_operands(np.random.default_rng(1))
    y = getattr(mg, name)(T(a, device), T(b, device))
    np.testing.assert_allclose(y.cpu().numpy(), ref(a, b), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(y.cpu().numpy(), getattr(torch, name)(torch.tensor(a),
                                                              torch.tensor(b)).cpu().numpy(),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(getattr(T(a, device), name)(T(b, device)).cpu().numpy(), y.cpu().numpy())


def test_fmod_and_remainder_signs_scalars_and_ints(device):
    torch = _torch()
    a = np.array([-7.0, -3.0, 3.0, 7.0])
    for name in ("fmod", "remainder"):
        ours = getattr(mg, name)(T(a, device), 2.5).cpu().numpy()
        theirs = getattr(torch, name)(torch.tensor(a), 2.5).cpu().numpy()
        np.testing.assert_array_equal(ours, theirs)
        ai = np.array([-7, -3, 3, 7])
        yi = getattr(mg, name)(T(ai, device), 3)
        assert yi.dtype == mg.int64
        np.testing.assert_array_equal(yi.cpu().numpy(), getattr(torch, name)(torch.tensor(ai), 3))
        # an int tensor and a float scalar give float32, as in PyTorch
        yf = getattr(mg, name)(T(ai, device), 2.5)
        assert yf.dtype == mg.float32
        np.testing.assert_allclose(yf.cpu().numpy(), getattr(torch, name)(torch.tensor(ai), 2.5))
        with pytest.raises(ZeroDivisionError, match=name):
            getattr(mg, name)(T(ai, device), 0)
    np.testing.assert_array_equal(mg.remainder(T(a, device), -2.0).cpu().numpy(), np.remainder(a, -2))


def test_binary_broadcast_error_names_the_op_and_shapes(device):
    with pytest.raises(RuntimeError, match=r"atan2.*\[2, 3\].*\[4\]"):
        mg.atan2(T(np.ones((2, 3)), device), T(np.ones(4), device))
    with pytest.raises(RuntimeError, match=r"isclose.*\[2, 3\].*\[4\]"):
        mg.isclose(T(np.ones((2, 3)), device), T(np.ones(4), device))


def test_lerp_isclose_nan_to_num_xlogy_logaddexp_edges_match_torch(device):
    torch = _torch()
    a, b = np.array([1.0, -2.0, 3.0]), np.array([3.0, 5.0, -1.0])
    w = np.array([0.0, 0.7, 1.0])
    for weight in (0.25, 0.75, 1.0):
        np.testing.assert_allclose(mg.lerp(T(a, device), T(b, device), weight).cpu().numpy(),
                                   torch.lerp(torch.tensor(a), torch.tensor(b), weight).cpu().numpy())
    np.testing.assert_array_equal(mg.lerp(T(a, device), T(b, device), T(w, device)).cpu().numpy(),
                                  torch.lerp(torch.tensor(a), torch.tensor(b),
                                             torch.tensor(w)).cpu().numpy())
    with pytest.raises(RuntimeError, match="lerp"):
        mg.lerp(T(np.array([1]), device), T(np.array([2]), device), 0.5)

    x = np.array([1.0, np.nan, 1.0, 0.0])
    y = np.array([1.0 + 1e-9, np.nan, 1.1, 1e-9])
    for equal_nan in (False, True):
        r = mg.isclose(T(x, device), T(y, device), equal_nan=equal_nan)
        assert r.dtype == mg.bool
        np.testing.assert_array_equal(
            r.cpu().numpy(), torch.isclose(torch.tensor(x), torch.tensor(y), equal_nan=equal_nan))

    v = np.array([np.nan, np.inf, -np.inf, 1.5])
    for kw in ({}, {"nan": 2.0, "posinf": 9.0, "neginf": -9.0}):
        for dt in (mg.float32, mg.float64):
            tt = torch.tensor(v, dtype=getattr(torch, str(dt)))
            np.testing.assert_array_equal(mg.nan_to_num(T(v, device, dt), **kw).cpu().numpy(),
                                          torch.nan_to_num(tt, **kw).cpu().numpy())

    xs = np.array([0.0, 0.0, 0.0, 2.0, -1.0])
    ys = np.array([0.0, np.nan, -1.0, 3.0, 0.5])
    np.testing.assert_allclose(mg.xlogy(T(xs, device), T(ys, device)).cpu().numpy(),
                               torch.xlogy(torch.tensor(xs), torch.tensor(ys)).cpu().numpy())
    np.testing.assert_allclose(mg.xlogy(2.0, T(ys[3:], device)).cpu().numpy(),
                               torch.xlogy(2.0, torch.tensor(ys[3:])).cpu().numpy())

    inf = np.inf
    la, lb = np.array([-inf, inf, 800.0, -800.0]), np.array([-inf, inf, 800.0, 1.0])
    with np.errstate(divide="ignore"):
        ours = mg.logaddexp(T(la, device), T(lb, device)).cpu().numpy()
    np.testing.assert_allclose(ours, torch.logaddexp(torch.tensor(la), torch.tensor(lb)).cpu().numpy())


def test_logit_eps_and_float_power_dtype(device):
    torch = _torch()
    x = np.array([0.0, 0.05, 0.5, 1.0])
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(mg.logit(T(x, device), eps=0.1).cpu().numpy(),
                                   torch.logit(torch.tensor(x), eps=0.1).cpu().numpy())
    y = mg.float_power(T(np.array([2.0, 3.0]), device, mg.float32), 2)
    assert y.dtype == mg.float64
    np.testing.assert_array_equal(y.cpu().numpy(), [4.0, 9.0])
    z = mg.float_power(2, T(np.array([1, 3]), device))
    assert z.dtype == mg.float64 and z.cpu().numpy().tolist() == [2.0, 8.0]


# ----------------------------------------------------------------------------- gradients
def _check(fn, *arrays, device, second=True, **kw):
    xs = [T(a, device, grad=True) for a in arrays]
    before = [x.cpu().numpy().copy() for x in xs]
    assert mg.gradcheck(fn, xs, **kw)
    if second:
        assert mg.gradgradcheck(fn, xs, **kw)
    for x, b in zip(xs, before):
        np.testing.assert_array_equal(x.cpu().numpy(), b)


GRAD_UNARY = [
    ("reciprocal", lambda r: r.uniform(0.5, 2, (2, 3))),
    ("tan", lambda r: r.uniform(-1.2, 1.2, (2, 3))),
    ("sinh", lambda r: r.standard_normal((2, 3))),
    ("cosh", lambda r: r.standard_normal((2, 3))),
    ("atan", lambda r: r.standard_normal((2, 3)) * 2),
    ("asin", lambda r: r.uniform(-0.9, 0.9, (2, 3))),
    ("acos", lambda r: r.uniform(-0.9, 0.9, (2, 3))),
    ("log2", lambda r: r.uniform(0.5, 3, (2, 3))),
    ("log10", lambda r: r.uniform(0.5, 3, (2, 3))),
    ("exp2", lambda r: r.standard_normal((2, 3))),
    ("erf", lambda r: r.standard_normal((2, 3)) * 1.5),
    ("erfc", lambda r: r.standard_normal((2, 3)) * 1.5),
    ("frac", lambda r: r.uniform(0.1, 0.9, (2, 3)) + r.integers(-3, 3, (2, 3))),
    ("logit", lambda r: r.uniform(0.1, 0.9, (2, 3))),
    ("negative", lambda r: r.standard_normal((2, 3))),
]


@pytest.mark.parametrize("name,draw", GRAD_UNARY, ids=[g[0] for g in GRAD_UNARY])
def test_unary_gradcheck_and_gradgradcheck(name, draw, device):
    _check(getattr(mg, name), draw(np.random.default_rng(2)), device=device)


def test_unary_gradients_match_torch(device):
    torch = _torch()
    x = np.random.default_rng(3).uniform(-0.9, 0.9, (5,))
    for name, _ in GRAD_UNARY:
        if name in ("log2", "log10", "logit"):
            xx = np.abs(x) * 0.9 + 0.05
        else:
            xx = x
        xt = T(xx, device, grad=True)
        (g,) = mg.grad(getattr(mg, name)(xt).sum(), [xt])
        tx = torch.tensor(xx, requires_grad=True)
        getattr(torch, name)(tx).sum().backward()
        np.testing.assert_allclose(g.cpu().numpy(), tx.grad.cpu().numpy(), rtol=1e-10, err_msg=name)


@pytest.mark.parametrize("name", ["fmod", "remainder", "atan2", "logaddexp", "xlogy"])
def test_binary_gradcheck_broadcasting(name, device):
    r = np.random.default_rng(4)
    a, b = _rem_operands(r)
    if name in ("fmod", "remainder"):
        q = a / b  # keep a / b away from the quotient's jumps
        a = (np.floor(q) + 0.5) * b
    if name == "xlogy":
        b = np.abs(b)
        a[0, :2] = 0.0
    _check(getattr(mg, name), a, b, device=device)


def test_binary_gradients_match_torch(device):
    torch = _torch()
    r = np.random.default_rng(5)
    a, b = _rem_operands(r)
    a = (np.floor(a / b) + 0.3) * b
    for name in ("fmod", "remainder", "atan2", "logaddexp", "xlogy"):
        bb = np.abs(b) if name == "xlogy" else b
        aa = a.copy()
        aa[1, 1] = 0.0
        at, bt = T(aa, device, grad=True), T(bb, device, grad=True)
        ga, gb = mg.grad(getattr(mg, name)(at, bt).sum(), [at, bt])
        ta = torch.tensor(aa, requires_grad=True)
        tb = torch.tensor(bb, requires_grad=True)
        getattr(torch, name)(ta, tb).sum().backward()
        np.testing.assert_allclose(ga.cpu().numpy(), ta.grad.cpu().numpy(), rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(gb.cpu().numpy(), tb.grad.cpu().numpy(), rtol=1e-10, err_msg=name)


def test_lerp_and_nan_to_num_gradients(device):
    r = np.random.default_rng(6)
    w = np.array([0.1, 0.8, 1.3])
    _check(lambda a, b, w: mg.lerp(a, b, w), r.standard_normal((2, 3)),
           r.standard_normal(3), w, device=device)
    _check(lambda a, b: mg.lerp(a, b, 0.9), r.standard_normal(3), r.standard_normal(3),
           device=device)
    v = np.array([np.nan, 1.0, np.inf, -2.0])
    x = T(v, device, grad=True)
    (g,) = mg.grad(mg.nan_to_num(x).sum(), [x])
    np.testing.assert_array_equal(g.cpu().numpy(), [0.0, 1.0, 0.0, 1.0])


# ----------------------------------------------------------------------------- composite twins
def test_erf_function_matches_its_composite_twin(device):
    """Erf's hand-written derivative against the same function built from primitive ops:
    erf(x) = 2 Phi(x sqrt 2) - 1 with Phi the NormalCdf op (whose derivative is the density)."""
    from minigen.ops.gelu import NormalCdf
    x = np.random.default_rng(7).standard_normal((3, 4))
    a, b = T(x, device, grad=True), T(x, device, grad=True)
    ya = mg.erf(a)
    yb = NormalCdf.apply(b * math.sqrt(2.0)) * 2.0 - 1.0
    np.testing.assert_allclose(ya.cpu().numpy(), yb.cpu().numpy(), atol=1e-15)
    (ga,) = mg.grad(ya.sum(), [a], create_graph=True)
    (gb,) = mg.grad(yb.sum(), [b], create_graph=True)
    np.testing.assert_allclose(ga.cpu().numpy(), gb.cpu().numpy(), rtol=1e-13)
    (gga,) = mg.grad((ga * ga).sum(), [a])
    (ggb,) = mg.grad((gb * gb).sum(), [b])
    np.testing.assert_allclose(gga.cpu().numpy(), ggb.cpu().numpy(), rtol=1e-12)


TWINS = [
    # Function-backed op, the same math from primitive ops, inputs
    (mg.tan, lambda x: mg.sin(x) / mg.cos(x), lambda r: r.uniform(-1, 1, (2, 3))),
    (mg.sinh, lambda x: (mg.exp(x) - mg.exp(-x)) * 0.5, lambda r: r.standard_normal((2, 3))),
    (mg.cosh, lambda x: (mg.exp(x) + mg.exp(-x)) * 0.5, lambda r: r.standard_normal((2, 3))),
    (mg.log2, lambda x: mg.log(x) / math.log(2), lambda r: r.uniform(0.5, 2, (2, 3))),
    (mg.log10, lambda x: mg.log(x) / math.log(10), lambda r: r.uniform(0.5, 2, (2, 3))),
    (mg.exp2, lambda x: 2.0 ** x, lambda r: r.standard_normal((2, 3))),
    (mg.erfc, lambda x: 1.0 - mg.erf(x), lambda r: r.standard_normal((2, 3))),
]


@pytest.mark.parametrize("op,twin,draw", TWINS, ids=[t[0].__name__ for t in TWINS])
def test_function_matches_composite_twin_to_second_order(op, twin, draw, device):
    x = draw(np.random.default_rng(8))
    a, b = T(x, device, grad=True), T(x, device, grad=True)
    ya, yb = op(a), twin(b)
    np.testing.assert_allclose(ya.cpu().numpy(), yb.cpu().numpy(), rtol=1e-12, atol=1e-15)
    (ga,) = mg.grad(ya.sum(), [a], create_graph=True)
    (gb,) = mg.grad(yb.sum(), [b], create_graph=True)
    np.testing.assert_allclose(ga.cpu().numpy(), gb.cpu().numpy(), rtol=1e-12)
    (gga,) = mg.grad((ga * ga).sum(), [a])
    (ggb,) = mg.grad((gb * gb).sum(), [b])
    np.testing.assert_allclose(gga.cpu().numpy(), ggb.cpu().numpy(), rtol=1e-11)


def test_inverse_trig_and_atan2_match_twins(device):
    # atan, asin, acos are inverses: sin(asin x) = x, and their gradients follow
    x = np.random.default_rng(9).uniform(-0.9, 0.9, (2, 3))
    a = T(x, device, grad=True)
    for f, inv in ((mg.asin, mg.sin), (mg.acos, mg.cos), (mg.atan, mg.tan)):
        y = inv(f(a))
        np.testing.assert_allclose(y.cpu().numpy(), x, rtol=1e-12, atol=1e-15)
        (g,) = mg.grad(y.sum(), [a])
        np.testing.assert_allclose(g.cpu().numpy(), np.ones_like(x), rtol=1e-10)
    # atan2(y, x) = atan(y / x) for x > 0, with gradients
    yv, xv = np.random.default_rng(10).standard_normal(4), np.random.default_rng(11).uniform(
        0.5, 2, 4)
    y1, x1, y2, x2 = (T(v, device, grad=True) for v in (yv, xv, yv, xv))
    za, zb = mg.atan2(y1, x1), mg.atan(y2 / x2)
    np.testing.assert_allclose(za.cpu().numpy(), zb.cpu().numpy(), rtol=1e-12)
    ga = mg.grad(za.sum(), [y1, x1])
    gb = mg.grad(zb.sum(), [y2, x2])
    for u, v in zip(ga, gb):
        np.testing.assert_allclose(u.cpu().numpy(), v.cpu().numpy(), rtol=1e-12)


def test_fmod_remainder_match_composite_twins(device):
    a, b = _rem_operands(np.random.default_rng(12))
    a = (np.floor(a / b) + 0.4) * b
    for op, mode in ((mg.fmod, "trunc"), (mg.remainder, "floor")):
        a1, b1, a2, b2 = (T(v, device, grad=True) for v in (a, b, a, b))
        za = op(a1, b1)
        zb = a2 - mg.div(a2, b2, rounding_mode=mode) * b2
        np.testing.assert_allclose(za.cpu().numpy(), zb.cpu().numpy(), atol=1e-12)
        for u, v in zip(mg.grad(za.sum(), [a1, b1]), mg.grad(zb.sum(), [a2, b2])):
            np.testing.assert_allclose(u.cpu().numpy(), v.cpu().numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- reductions
def test_any_all_count_nonzero_dtypes_and_dims_match_torch(device):
    torch = _torch()
    x = np.array([[0.0, 1.5, 0.0], [2.0, -1.0, 3.0]])
    for arr in (x, x.astype(np.int64), x != 0, x.astype(np.uint8)):
        t, tt = T(arr, device), torch.tensor(arr)
        for kw in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": (0, 1)}):
            for name in ("any", "all"):
                ours, theirs = getattr(mg, name)(t, **kw), getattr(torch, name)(tt, **kw)
                assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (name, kw)
                np.testing.assert_array_equal(ours.cpu().numpy(), theirs.cpu().numpy())
                assert not ours.requires_grad
        for dim in (None, 0, -1, (0, 1)):
            c = mg.count_nonzero(t, dim=dim)
            assert c.dtype == mg.int64
            np.testing.assert_array_equal(c.cpu().numpy(), torch.count_nonzero(tt, dim=dim).cpu().numpy())
    assert T(x, device).any().item() is True and T(x, device).all(1).cpu().numpy().tolist() == [False, True]
    assert T(x, device).count_nonzero().item() == 4


NORMS = [("fro", None, False), (2, 1, False), (1, (0, 1), True), (3, -1, True),
         (0.5, 0, False), (float("inf"), None, False), (-float("inf"), 1, False),
         (0, 1, False), ("fro", (0, 1), False), (1.5, None, True)]


@pytest.mark.parametrize("p,dim,keepdim", NORMS)
def test_norm_forward_matches_numpy_and_torch(p, dim, keepdim, device):
    torch = _torch()
    x = np.random.default_rng(13).standard_normal((3, 4))
    x[0, 0] = 0.0
    y = mg.norm(T(x, device), p, dim, keepdim)
    pn = 2 if p == "fro" else p
    axis = dim if not isinstance(dim, tuple) else tuple(dim)
    a = np.abs(x)
    if pn == np.inf:
        ref = a.max(axis=axis, keepdims=keepdim)
    elif pn == -np.inf:
        ref = a.min(axis=axis, keepdims=keepdim)
    elif pn == 0:
        ref = (x != 0).sum(axis=axis, keepdims=keepdim).astype(float)
    else:
        ref = (a ** pn).sum(axis=axis, keepdims=keepdim) ** (1 / pn)
    np.testing.assert_allclose(y.cpu().numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(y.cpu().numpy(), torch.norm(torch.tensor(x), p, dim, keepdim).cpu().numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(T(x, device).norm(p, dim, keepdim).cpu().numpy(), y.cpu().numpy())


def test_norm_dtypes_errors_and_zero_gradient(device):
    torch = _torch()
    with pytest.raises(RuntimeError, match=r"norm.*int64.*\[2\]"):
        mg.norm(T(np.array([1, 2]), device))
    with pytest.raises(RuntimeError):
        torch.norm(torch.tensor([1, 2]))  # torch raises too
    y = mg.norm(T(np.array([3, 4]), device), dtype=mg.float64)
    assert y.dtype == mg.float64 and y.item() == 5.0
    assert mg.norm(T([3.0, 4.0], device, mg.float32)).dtype == mg.float32
    # the nuclear norm: singular values of ones(2, 2) are 2 and 0
    assert abs(mg.norm(T(np.ones((2, 2)), device), "nuc").item() - 2.0) < 1e-12
    with pytest.raises(RuntimeError, match="fro"):
        mg.norm(T(np.ones((2, 2, 2)), device), "fro", dim=(0, 1, 2))
    with pytest.raises(IndexError):
        mg.norm(T(np.ones((2, 2)), device), 2, dim=2)
    # the gradient at zero is 0, as in PyTorch (not NaN)
    z = T(np.zeros(3), device, grad=True)
    (g,) = mg.grad(mg.norm(z), [z])
    np.testing.assert_array_equal(g.cpu().numpy(), np.zeros(3))


@pytest.mark.parametrize("p,dim", [(2, None), (2, 1), (1, 0), (3, (0, 1)), ("fro", -1),
                                   (float("inf"), 1), (1.5, None)])
def test_norm_gradcheck(p, dim, device):
    x = np.random.default_rng(14).permutation(12).reshape(3, 4) * 0.3 - 1.6  # no ties in |x|, no 0
    _check(lambda t: mg.norm(t, p, dim), x, device=device)


def test_median_matches_torch_values_indices_and_gradients(device):
    torch = _torch()
    x = np.array([[0.3, -1.0, 2.0, 0.5], [1.0, 1.0, -2.0, 4.0], [3.0, 2.0, 1.0, 0.0]])
    ours, theirs = mg.median(T(x, device)), torch.median(torch.tensor(x))
    assert ours.shape == () and ours.item() == theirs.item()
    for dim, keepdim in ((1, False), (0, True), (-1, True)):
        o = mg.median(T(x, device), dim, keepdim)
        t = torch.median(torch.tensor(x), dim, keepdim)
        np.testing.assert_array_equal(o.values.cpu().numpy(), t.values.cpu().numpy())
        np.testing.assert_array_equal(o[0].cpu().numpy(), t[0].cpu().numpy())
        assert o.indices.dtype == mg.int64
        np.testing.assert_array_equal(
            np.take_along_axis(x, o.indices.cpu().numpy() if keepdim else
                               np.expand_dims(o.indices.cpu().numpy(), dim), dim).squeeze(),
            o.values.cpu().numpy().squeeze())
    # a full median with ties shares the gradient, as torch's does
    v = np.array([1.0, 2.0, 2.0, 3.0, 2.0])
    xt, tt = T(v, device, grad=True), torch.tensor(v, requires_grad=True)
    (g,) = mg.grad(mg.median(xt), [xt])
    torch.median(tt).backward()
    np.testing.assert_allclose(g.cpu().numpy(), tt.grad.cpu().numpy())
    # with dim, the gradient goes to the selected element
    xt = T(x, device, grad=True)
    r = mg.median(xt, 1)
    (g,) = mg.grad(r.values.sum(), [xt])
    expect = np.zeros_like(x)
    expect[np.arange(3), r.indices.cpu().numpy()] = 1.0
    np.testing.assert_array_equal(g.cpu().numpy(), expect)
    # NaN propagates; ints keep their dtype; an empty dim is an error
    assert np.isnan(mg.median(T([1.0, np.nan, 0.0], device)).item())
    assert np.isnan(mg.median(T([[1.0, np.nan, 0.0]], device), 1).values.cpu().numpy()).all()
    mi = mg.median(T(np.array([5, 1, 3, 2]), device))
    assert mi.dtype == mg.int64 and mi.item() == 2
    with pytest.raises(IndexError, match="median"):
        mg.median(T(np.ones((2, 0)), device), 1)


def test_median_and_aminmax_gradcheck(device):
    x = np.random.default_rng(15).permutation(12).reshape(3, 4) * 0.25
    _check(mg.median, x, device=device)
    _check(lambda t: mg.median(t, 0).values, x, device=device)
    _check(lambda t: tuple(mg.aminmax(t, dim=1, keepdim=True)), x, device=device)
    _check(lambda t: tuple(t.aminmax()), x, device=device)


def test_aminmax_matches_torch(device):
    torch = _torch()
    x = np.array([[3.0, 3.0, 2.0], [-1.0, 5.0, 0.0]])
    for kw in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}):
        o, t = mg.aminmax(T(x, device), **kw), torch.aminmax(torch.tensor(x), **kw)
        np.testing.assert_array_equal(o.min.cpu().numpy(), t.min.cpu().numpy())
        np.testing.assert_array_equal(o.max.cpu().numpy(), t.max.cpu().numpy())
    xt, tt = T(x, device, grad=True), torch.tensor(x, requires_grad=True)
    (g,) = mg.grad(mg.aminmax(xt).max, [xt])
    torch.aminmax(tt).max.backward()
    np.testing.assert_allclose(g.cpu().numpy(), tt.grad.cpu().numpy())


# ----------------------------------------------------------------------------- products
def test_mv_addmm_cdist_forward_match_numpy_and_torch(device):
    torch = _torch()
    r = np.random.default_rng(16)
    m, v = r.standard_normal((3, 4)), r.standard_normal(4)
    np.testing.assert_allclose(mg.mv(T(m, device), T(v, device)).cpu().numpy(), m @ v, rtol=1e-12)
    np.testing.assert_allclose(T(m, device).mv(T(v, device)).cpu().numpy(), m @ v, rtol=1e-12)
    i, a, b = r.standard_normal((1, 2)), r.standard_normal((3, 4)), r.standard_normal((4, 2))
    for kw in ({}, {"beta": 0.5, "alpha": -2.0}, {"beta": 0}):
        ours = mg.addmm(T(i, device), T(a, device), T(b, device), **kw).cpu().numpy()
        theirs = torch.addmm(torch.tensor(i), torch.tensor(a), torch.tensor(b), **kw).cpu().numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    nan_in = np.full((3, 2), np.nan)
    assert not np.isnan(mg.addmm(T(nan_in, device), T(a, device), T(b, device),
                                 beta=0).cpu().numpy()).any()
    x1, x2 = r.standard_normal((2, 5, 3)), r.standard_normal((1, 4, 3))
    for p in (2.0, 1.0, 0.5, 3.0, float("inf"), 0.0):
        ours = mg.cdist(T(x1, device), T(x2, device), p=p).cpu().numpy()
        ref = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
        ref = (ref.max(-1) if p == np.inf else (ref != 0).sum(-1) if p == 0 else
               (ref ** p).sum(-1) ** (1 / p))
        np.testing.assert_allclose(ours, ref, rtol=1e-12)
        np.testing.assert_allclose(
            ours, torch.cdist(torch.tensor(x1), torch.tensor(x2), p=p).cpu().numpy(), rtol=1e-10)


def test_products_gradcheck_and_cdist_zero_distance(device):
    r = np.random.default_rng(17)
    _check(mg.mv, r.standard_normal((2, 3)), r.standard_normal(3), device=device)
    _check(lambda i, a, b: mg.addmm(i, a, b, beta=0.3, alpha=1.7), r.standard_normal(2),
           r.standard_normal((3, 2)), r.standard_normal((2, 2)), device=device)
    _check(lambda a, b: mg.cdist(a, b), r.standard_normal((3, 2)), r.standard_normal((2, 2)),
           device=device)
    _check(lambda a, b: mg.cdist(a, b, p=1.0), r.standard_normal((2, 3, 2)),
           r.standard_normal((2, 2, 2)), device=device)
    x = T(np.array([[1.0, 2.0], [0.0, 0.0]]), device, grad=True)
    (g,) = mg.grad(mg.cdist(x, x).sum(), [x])
    assert np.isfinite(g.cpu().numpy()).all()


def test_product_errors_name_the_op_and_shapes(device):
    z = lambda *s: T(np.zeros(s), device)  # noqa: E731
    with pytest.raises(RuntimeError, match=r"mv.*\[2, 3\].*\[2\]"):
        mg.mv(z(2, 3), z(2))
    with pytest.raises(RuntimeError, match=r"addmm.*2x3 and 2x2"):
        mg.addmm(z(2, 2), z(2, 3), z(2, 2))
    with pytest.raises(RuntimeError, match=r"addmm.*\[3, 2\].*\[2, 2\]"):
        mg.addmm(z(3, 2), z(2, 3), z(3, 2))
    with pytest.raises(RuntimeError, match=r"cdist.*\[2, 3\].*\[2, 2\]"):
        mg.cdist(z(2, 3), z(2, 2))
    with pytest.raises(RuntimeError, match="cdist.*non-negative"):
        mg.cdist(z(2, 3), z(2, 3), p=-1.0)
