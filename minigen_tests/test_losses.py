"""Losses (minigen/ops/loss.py, minigen/nn/loss.py) against float64 NumPy references written
here, against PyTorch where it is installed, and by gradcheck / gradgradcheck on both devices.
The hand-derived SoftmaxCrossEntropy is checked against its composite twin (log-softmax and a
weighted sum, built from primitive ops): values, gradients and gradients of gradients."""
import math
import warnings

import numpy as np
import pytest

import minigen
import minigen.nn as nn
import minigen.nn.functional as F

REDUCTIONS = ["none", "mean", "sum"]


def T(a, device, requires_grad=False):
    return minigen.tensor(np.asarray(a), device=device, requires_grad=requires_grad)


def close(t, ref, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(t.cpu().numpy() if isinstance(t, minigen.Tensor) else t, ref,
                               rtol=rtol, atol=atol)


def reduce_np(per, reduction):
    return {"none": per, "sum": per.sum(), "mean": per.mean() if per.size else np.nan}[reduction]


# ----------------------------------------------------------------------------- references
def np_log_softmax(z, axis):
    s = z - z.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def ref_cross_entropy(z, y, w=None, ignore_index=-100, reduction="mean", eps=0.0):
    cdim = 0 if z.ndim == 1 else 1
    C = z.shape[cdim]
    logp = np.moveaxis(np_log_softmax(z, cdim), cdim, -1)  # classes last
    w = np.ones(C) if w is None else w
    if y.dtype.kind == "f":  # class probabilities
        t = (1 - eps) * np.moveaxis(y, cdim, -1) + eps / C
        per = -(t * w * logp).sum(-1)
        if reduction == "mean":
            return per.sum() / per.size if per.size else np.nan
        return reduce_np(per, reduction)
    valid = y != ignore_index
    ys = np.where(valid, y, 0)
    logp_y = np.take_along_axis(logp, ys[..., None], -1)[..., 0]
    nll = -w[ys] * logp_y * valid
    smooth = -(w * logp).sum(-1) * valid
    per = (1 - eps) * nll + eps / C * smooth
    if reduction == "mean":
        return per.sum() / (w[ys] * valid).sum()
    return reduce_np(per, reduction)


def ref_nll(logp, y, w=None, ignore_index=-100, reduction="mean"):
    cdim = 0 if logp.ndim == 1 else 1
    lp = np.moveaxis(logp, cdim, -1)
    w = np.ones(lp.shape[-1]) if w is None else w
    valid = y != ignore_index
    ys = np.where(valid, y, 0)
    per = -np.take_along_axis(lp, ys[..., None], -1)[..., 0] * w[ys] * valid
    if reduction == "mean":
        return per.sum() / (w[ys] * valid).sum()
    return reduce_np(per, reduction)


def ref_bce(x, y, w=None):
    per = -(y * np.maximum(np.log(np.where(x > 0, x, 1e-300)), -100)
            + (1 - y) * np.maximum(np.log(np.where(x < 1, 1 - x, 1e-300)), -100))
    return per if w is None else per * w


def ref_bce_logits(x, y, w=None, pw=None):
    log_sig = -np.logaddexp(0, -x)        # log sigmoid(x)
    log_1msig = -np.logaddexp(0, x)       # log(1 - sigmoid(x))
    pw = 1.0 if pw is None else pw
    per = -(pw * y * log_sig + (1 - y) * log_1msig)
    return per if w is None else per * w


# ----------------------------------------------------------------------------- the composite twin
def composite_cross_entropy(z, q, dim):
    """-sum_c q_c log softmax(z)_c, from primitive ops only (max, exp, sum, log, mul)."""
    m = z.max(dim, keepdim=True).values.detach()
    logp = (z - m) - ((z - m).exp().sum(dim, keepdim=True)).log()
    return -(q * logp).sum(dim)


def dense_q(y, C, cdim, w, eps, ignore_index, ndim):
    """The target weighting q of SoftmaxCrossEntropy, built in NumPy."""
    valid = y != ignore_index
    onehot = np.moveaxis(np.eye(C)[np.where(valid, y, 0)], -1, cdim)
    shape = [1] * ndim
    shape[cdim] = C
    wc = (np.ones(C) if w is None else w).reshape(shape)
    return wc * ((1 - eps) * onehot + eps / C) * np.expand_dims(valid, cdim)


CE_CASES = [  # (input shape, class dim)
    ((6, 4), 1),
    ((3, 4, 2, 3), 1),
    ((5,), 0),
]


def make_ce(shape, cdim, rng, ignore=True):
    z = rng.standard_normal(shape) * 2
    C = shape[cdim]
    tshape = tuple(s for i, s in enumerate(shape) if i != cdim)
    y = rng.integers(0, C, size=tshape).astype(np.int64)
    if ignore and y.size > 1:
        y.reshape(-1)[1] = -100
    w = rng.uniform(0.5, 2.0, size=C)
    return z, y, w


# ----------------------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("shape,cdim", CE_CASES)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_indices_forward_and_grad(device, shape, cdim, use_weight, eps, reduction):
    rng = np.random.default_rng(1)
    z, y, w = make_ce(shape, cdim, rng)
    w = w if use_weight else None
    x = T(z, device, requires_grad=True)
    out = F.cross_entropy(x, T(y, device), weight=None if w is None else T(w, device),
                          reduction=reduction, label_smoothing=eps)
    close(out, ref_cross_entropy(z, y, w, reduction=reduction, eps=eps))
    # gradient against the composite twin (an independent derivation through autograd)
    q = dense_q(y, shape[cdim], cdim, w, eps, -100, len(shape))
    x2 = T(z, device, requires_grad=True)
    twin = composite_cross_entropy(x2, T(q, device), cdim)
    if reduction == "sum":
        twin = twin.sum()
    elif reduction == "mean":
        denom = (w if w is not None else np.ones(shape[cdim]))[np.where(y != -100, y, 0)]
        twin = twin.sum() / float((denom * (y != -100)).sum())
    v = rng.standard_normal(out.shape)
    out.backward(T(v, device))
    twin.backward(T(v, device))
    close(x.grad, x2.grad.cpu().numpy())


@pytest.mark.parametrize("shape,cdim", CE_CASES)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(shape, cdim, use_weight, eps, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    z, y, w = make_ce(shape, cdim, rng)
    w = w if use_weight else None
    x = T(z, "cpu", requires_grad=True)
    out = F.cross_entropy(x, T(y, "cpu"), None if w is None else T(w, "cpu"), ignore_index=-100,
                          reduction=reduction, label_smoothing=eps)
    xt = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(xt, torch.tensor(y), None if w is None else
                                            torch.tensor(w), reduction=reduction,
                                            label_smoothing=eps)
    close(out, ref.detach().cpu().numpy())
    v = rng.standard_normal(out.shape)
    out.backward(T(v, "cpu"))
    ref.backward(torch.tensor(v))
    close(x.grad, xt.grad.cpu().numpy())


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4), (3,)])
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities(device, shape, use_weight, eps, reduction):
    rng = np.random.default_rng(3)
    z = rng.standard_normal(shape)
    cdim = 0 if len(shape) == 1 else 1
    t = np.exp(np_log_softmax(rng.standard_normal(shape), cdim))
    w = rng.uniform(0.5, 2.0, size=shape[cdim]) if use_weight else None
    x, tt = T(z, device, True), T(t, device, True)
    out = F.cross_entropy(x, tt, weight=None if w is None else T(w, device), reduction=reduction,
                          label_smoothing=eps)
    close(out, ref_cross_entropy(z, t, w, reduction=reduction, eps=eps))
    # dL/dz and dL/dt through the twin, with q built from t in ops
    x2, t2 = T(z, device, True), T(t, device, True)
    q = t2 * (1 - eps) + eps / shape[cdim]
    if w is not None:
        q = q * T(w.reshape([-1] + [1] * (len(shape) - cdim - 1)), device)
    twin = composite_cross_entropy(x2, q, cdim)
    twin = {"none": twin, "sum": twin.sum(), "mean": twin.sum() / (twin.numel())}[reduction]
    v = rng.standard_normal(out.shape)
    out.backward(T(v, device))
    twin.backward(T(v, device))
    close(x.grad, x2.grad.cpu().numpy())
    close(tt.grad, t2.grad.cpu().numpy())


def test_cross_entropy_probabilities_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    z, t = rng.standard_normal((3, 5, 2)), rng.uniform(0, 1, (3, 5, 2))
    w = rng.uniform(0.5, 2, 5)
    for reduction in REDUCTIONS:
        x, tt = T(z, "cpu", True), T(t, "cpu", True)
        out = F.cross_entropy(x, tt, T(w, "cpu"), reduction=reduction, label_smoothing=0.1)
        xt, ttt = torch.tensor(z, requires_grad=True), torch.tensor(t, requires_grad=True)
        ref = torch.nn.functional.cross_entropy(xt, ttt, torch.tensor(w), reduction=reduction,
                                                label_smoothing=0.1)
        close(out, ref.detach().cpu().numpy())
        out.sum().backward()
        ref.sum().backward()
        close(x.grad, xt.grad.cpu().numpy())
        close(tt.grad, ttt.grad.cpu().numpy())


@pytest.mark.parametrize("probabilities", [False, True])
def test_cross_entropy_gradcheck_and_gradgradcheck(device, probabilities):
    rng = np.random.default_rng(5)
    z = rng.standard_normal((3, 4, 2))
    w = T(rng.uniform(0.5, 2, 4), device)
    if probabilities:
        tgt = T(rng.uniform(0, 1, (3, 4, 2)), device, True)
    else:
        y = rng.integers(0, 4, (3, 2))
        y[0, 1] = -100
        tgt = T(y, device)
    x = T(z, device, True)

    def fn(x, t):
        return F.cross_entropy(x, t, weight=w, label_smoothing=0.1)

    def fn_none(x, t):
        return F.cross_entropy(x, t, weight=w, label_smoothing=0.1, reduction="none")

    assert minigen.gradcheck(fn, (x, tgt))
    assert minigen.gradgradcheck(fn, (x, tgt))
    assert minigen.gradgradcheck(fn_none, (x, tgt))


def test_cross_entropy_second_derivative_matches_twin(device):
    """Hessian-vector products through the Function and through the composite twin agree."""
    rng = np.random.default_rng(6)
    z, y, w = make_ce((4, 5), 1, rng)
    q = T(dense_q(y, 5, 1, w, 0.1, -100, 2), device)
    u = T(rng.standard_normal((4, 5)), device)
    hv = []
    for f in (lambda x: F.cross_entropy(x, T(y, device), T(w, device), reduction="sum",
                                        label_smoothing=0.1),
              lambda x: composite_cross_entropy(x, q, 1).sum()):
        x = T(z, device, True)
        (g,) = minigen.grad(f(x), x, create_graph=True)
        (h,) = minigen.grad((g * u).sum(), x)
        hv.append(h.cpu().numpy())
    np.testing.assert_allclose(hv[0], hv[1], rtol=1e-10, atol=1e-12)


def test_cross_entropy_masked_logits_and_all_ignored(device):
    z = np.array([[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf]])
    out = F.cross_entropy(T(z, device), T(np.array([0, 1]), device), reduction="none")
    close(out, ref_cross_entropy(np.where(np.isinf(z), -1e300, z), np.array([0, 1]),
                                 reduction="none"))
    # every target ignored: 'mean' is 0 / 0 = nan, as in PyTorch; 'sum' is 0
    y = T(np.array([-100, -100]), device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0 / 0
        assert math.isnan(F.cross_entropy(T(np.ones((2, 3)), device), y).item())
    assert F.cross_entropy(T(np.ones((2, 3)), device), y, reduction="sum").item() == 0.0


def test_cross_entropy_custom_ignore_index_and_float32(device):
    rng = np.random.default_rng(7)
    z = rng.standard_normal((5, 3)).astype(np.float32)
    y = np.array([0, 2, 7, 1, 7])
    out = F.cross_entropy(T(z, device), T(y, device), ignore_index=7)
    assert out.dtype == minigen.float32
    close(out, ref_cross_entropy(z.astype(np.float64), y, ignore_index=7), rtol=1e-6, atol=1e-6)


def test_cross_entropy_does_not_mutate_inputs(device):
    rng = np.random.default_rng(8)
    z, y, w = make_ce((4, 3), 1, rng)
    x, yt, wt = T(z, device, True), T(y, device), T(w, device)
    F.cross_entropy(x, yt, wt, label_smoothing=0.2).backward()
    np.testing.assert_array_equal(x.cpu().numpy(), z)
    np.testing.assert_array_equal(yt.cpu().numpy(), y)
    np.testing.assert_array_equal(wt.cpu().numpy(), w)


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
def test_class_target_out_of_range_raises_on_every_device(device, fn):
    x = T(np.zeros((3, 5)), device)
    with pytest.raises(IndexError, match=r"target 5 is out of bounds for 5 classes"):
        fn(x, T(np.array([0, 5, 1]), device))
    with pytest.raises(IndexError, match=r"target -1 is out of bounds for 5 classes"):
        fn(x, T(np.array([0, -1, 1]), device))
    with pytest.raises(IndexError, match=r"target 9 is out of bounds for 5 classes"):
        fn(T(np.zeros((2, 5, 3)), device), T(np.array([[0, 1, 2], [3, 9, 4]]), device))


def test_cross_entropy_errors(device):
    x = T(np.zeros((3, 4)), device)
    with pytest.raises(ValueError, match=r"expected target of shape \[3\].*got target of shape \[2\]"):
        F.cross_entropy(x, T(np.array([0, 1]), device))
    with pytest.raises(RuntimeError, match="int64"):
        F.cross_entropy(x, T(np.array([0, 1, 2], dtype=np.int32), device))
    with pytest.raises(RuntimeError, match="Long"):
        F.cross_entropy(x, T(np.array([0.0, 1.0, 2.0]), device))
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        F.cross_entropy(x, T(np.full((3, 4), 0.25), device), ignore_index=1)
    with pytest.raises(RuntimeError, match="floating point type"):
        F.cross_entropy(x, T(np.zeros((3, 4), dtype=np.int64), device))
    with pytest.raises(RuntimeError, match="weight tensor should be defined .* 4 classes"):
        F.cross_entropy(x, T(np.array([0, 1, 2]), device), weight=T(np.ones(3), device))
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        F.cross_entropy(x, T(np.array([0, 1, 2]), device), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, T(np.array([0, 1, 2]), device), label_smoothing=1.5)
    with pytest.raises(ValueError, match="0-d"):
        F.cross_entropy(T(np.array(1.0), device), T(np.array(0), device))


def test_losses_reject_a_target_on_another_device():
    x = T(np.zeros((2, 3)), "cuda")
    for fn, tgt in ((F.cross_entropy, T(np.array([0, 1]), "cpu")),
                    (F.nll_loss, T(np.array([0, 1]), "cpu")),
                    (F.cross_entropy, T(np.full((2, 3), 1 / 3), "cpu")),
                    (F.mse_loss, T(np.zeros((2, 3)), "cpu")),
                    (F.binary_cross_entropy_with_logits, T(np.zeros((2, 3)), "cpu"))):
        with pytest.raises(RuntimeError, match=r"target on the input's device \(cuda\).*on cpu"):
            fn(x, tgt)
    with pytest.raises(RuntimeError, match="weight is on cpu but input is on cuda"):
        F.cross_entropy(x, T(np.array([0, 1]), "cuda"), weight=T(np.ones(3), "cpu"))


# ----------------------------------------------------------------------------- nll_loss
@pytest.mark.parametrize("shape,cdim", CE_CASES)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(device, shape, cdim, use_weight, reduction):
    rng = np.random.default_rng(9)
    z, y, w = make_ce(shape, cdim, rng)
    w = w if use_weight else None
    logp = np_log_softmax(z, cdim)
    x = T(logp, device, True)
    out = F.nll_loss(x, T(y, device), None if w is None else T(w, device), reduction=reduction)
    close(out, ref_nll(logp, y, w, reduction=reduction))
    def fn(a):
        return F.nll_loss(a, T(y, device), None if w is None else T(w, device), reduction=reduction)
    assert minigen.gradcheck(fn, (x,))
    assert minigen.gradgradcheck(fn, (x,))
    # cross_entropy = nll_loss(log_softmax(z)) (no smoothing)
    ce = F.cross_entropy(T(z, device), T(y, device), None if w is None else T(w, device),
                         reduction=reduction)
    close(ce, out.cpu().numpy())


def test_nll_loss_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    z, y, w = make_ce((3, 4, 5), 1, rng)
    for reduction in REDUCTIONS:
        out = F.nll_loss(T(z, "cpu"), T(y, "cpu"), T(w, "cpu"), ignore_index=-100,
                         reduction=reduction)
        ref = torch.nn.functional.nll_loss(torch.tensor(z), torch.tensor(y), torch.tensor(w),
                                           reduction=reduction)
        close(out, ref.cpu().numpy())


# ----------------------------------------------------------------------------- regression losses
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_mse_and_l1(device, name, reduction, use_weight):
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    w = rng.uniform(0.1, 2, (3, 4)) if use_weight else None
    per = (a - b) ** 2 if name == "mse_loss" else np.abs(a - b)
    if w is not None:
        per = per * w
    ref = per.sum() / w.sum() if (w is not None and reduction == "mean") else reduce_np(per, reduction)
    fn = getattr(F, name)
    x, y = T(a, device, True), T(b, device, True)
    kw = {} if w is None else {"weight": T(w, device)}
    close(fn(x, y, reduction=reduction, **kw), ref)
    assert minigen.gradcheck(lambda p, q: fn(p, q, reduction=reduction, **kw), (x, y))
    if name == "mse_loss":
        assert minigen.gradgradcheck(lambda p, q: fn(p, q, reduction=reduction, **kw), (x, y))


def test_mse_l1_match_torch_and_broadcast_warning():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    a, b, w = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.uniform(0.1, 1, (2, 3))
    for name in ("mse_loss", "l1_loss"):
        for reduction in REDUCTIONS:
            out = getattr(F, name)(T(a, "cpu"), T(b, "cpu"), reduction=reduction, weight=T(w, "cpu"))
            ref = getattr(torch.nn.functional, name)(torch.tensor(a), torch.tensor(b),
                                                     reduction=reduction, weight=torch.tensor(w))
            close(out, ref.cpu().numpy())
    with pytest.warns(UserWarning, match="different to the input size"):
        out = F.mse_loss(T(a, "cpu"), T(b[0], "cpu"))
    close(out, ((a - b[0]) ** 2).mean())
    # l1 at x == y: gradient 0, as PyTorch
    x = T(np.array([1.0, 2.0]), "cpu", True)
    F.l1_loss(x, T(np.array([1.0, 0.0]), "cpu"), reduction="sum").backward()
    close(x.grad, [0.0, 1.0])


@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), "float"])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_loss(device, var_shape, full, reduction):
    rng = np.random.default_rng(13)
    mu, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    if var_shape == "float":
        var_np, var = np.full((4, 3), 0.7), 0.7
    else:
        var_np = rng.uniform(0.1, 2, var_shape)
        var_np.reshape(-1)[0] = 1e-9  # clamped to eps
        var = T(var_np, device, True)
        var_np = var_np if var_np.shape == (4, 3) else var_np.reshape(4, -1)
    v = np.maximum(var_np, 1e-6)
    per = 0.5 * (np.log(v) + (mu - y) ** 2 / v) + (0.5 * np.log(2 * np.pi) if full else 0)
    x = T(mu, device, True)
    out = F.gaussian_nll_loss(x, T(y, device), var, full=full, reduction=reduction)
    close(out, reduce_np(np.broadcast_to(per, (4, 3)), reduction))
    if var_shape != "float":
        def fn(a, s):
            return F.gaussian_nll_loss(a, T(y, device), s, full=full, reduction=reduction)
        ok_var = T(np.abs(var_np.reshape(var.shape)) + 0.5, device, True)  # away from the clamp
        assert minigen.gradcheck(fn, (x, ok_var))
        assert minigen.gradgradcheck(fn, (x, ok_var))


def test_gaussian_nll_matches_torch_including_clamped_var_gradient():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    mu, y = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    var = rng.uniform(0.1, 2, (5, 1))
    var[0, 0] = 1e-9
    x, s = T(mu, "cpu", True), T(var, "cpu", True)
    out = F.gaussian_nll_loss(x, T(y, "cpu"), s, eps=1e-4)
    xt, st = torch.tensor(mu, requires_grad=True), torch.tensor(var, requires_grad=True)
    ref = torch.nn.functional.gaussian_nll_loss(xt, torch.tensor(y), st, eps=1e-4)
    close(out, ref.detach().cpu().numpy())
    out.backward()
    ref.backward()
    close(x.grad, xt.grad.cpu().numpy())
    close(s.grad, st.grad.cpu().numpy())


def test_gaussian_nll_errors(device):
    x = T(np.zeros((4, 3)), device)
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(x, x, T(-np.ones((4, 3)), device))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(x, x, -1.0)
    with pytest.raises(ValueError, match=r"incorrect size .*\[4, 3\]"):
        F.gaussian_nll_loss(x, x, T(np.ones((2, 3)), device))
    with pytest.raises(ValueError, match="not valid"):
        F.gaussian_nll_loss(x, x, T(np.ones((4, 3)), device), reduction="batchmean")


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_gaussian_kl(device, reduction):
    rng = np.random.default_rng(15)
    mu, logvar = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    per = -0.5 * (1 + logvar - mu ** 2 - np.exp(logvar))
    ref = per.sum() / 4 if reduction == "batchmean" else reduce_np(per, reduction)
    m, lv = T(mu, device, True), T(logvar, device, True)
    close(F.gaussian_kl(m, lv, reduction=reduction), ref)
    assert minigen.gradcheck(lambda a, b: F.gaussian_kl(a, b, reduction=reduction), (m, lv))
    assert minigen.gradgradcheck(lambda a, b: F.gaussian_kl(a, b, reduction=reduction), (m, lv))
    # KL(N(0, 1) || N(0, 1)) = 0, and the closed form is a true KL: per-dimension Monte Carlo
    zero = F.gaussian_kl(T(np.zeros(3), device), T(np.zeros(3), device))
    assert zero.item() == 0.0
    with pytest.raises(ValueError, match="same shape"):
        F.gaussian_kl(m, T(np.zeros(3), device))


def test_gaussian_kl_is_the_kl_divergence():
    """Monte Carlo check of the closed form: E_q[log q(z) - log p(z)]."""
    rng = np.random.default_rng(16)
    mu, logvar = np.array([0.5, -1.0]), np.array([0.3, -0.7])
    sd = np.exp(0.5 * logvar)
    z = mu + sd * rng.standard_normal((400000, 2))
    log_q = -0.5 * (((z - mu) / sd) ** 2 + logvar + np.log(2 * np.pi))
    log_p = -0.5 * (z ** 2 + np.log(2 * np.pi))
    mc = (log_q - log_p).sum(1).mean()
    closed = F.gaussian_kl(T(mu, "cpu"), T(logvar, "cpu")).item()
    assert abs(mc - closed) < 0.01


# ----------------------------------------------------------------------------- binary
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_binary_cross_entropy(device, reduction, use_weight):
    rng = np.random.default_rng(17)
    p = rng.uniform(0.05, 0.95, (3, 4))
    y = rng.uniform(0, 1, (3, 4))
    w = rng.uniform(0.5, 2, (4,)) if use_weight else None
    x, t = T(p, device, True), T(y, device, True)
    kw = {} if w is None else {"weight": T(w, device)}
    out = F.binary_cross_entropy(x, t, reduction=reduction, **kw)
    close(out, reduce_np(ref_bce(p, y, w), reduction))
    assert minigen.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction, **kw), (x, t))
    assert minigen.gradgradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction, **kw), (x, t))


def test_binary_cross_entropy_twin_and_edges(device):
    """Against the composite -(y log x + (1 - y) log(1 - x)) inside (0, 1); at x = 0 and 1 the
    clamped value (100 per element) and PyTorch's clamped gradient, both finite."""
    rng = np.random.default_rng(18)
    p, y = rng.uniform(0.05, 0.95, (5,)), rng.uniform(0, 1, (5,))
    x1, x2 = T(p, device, True), T(p, device, True)
    F.binary_cross_entropy(x1, T(y, device), reduction="sum").backward()
    (-(T(y, device) * x2.log() + (1 - T(y, device)) * (1 - x2).log())).sum().backward()
    close(x1.grad, x2.grad.cpu().numpy())
    x = T(np.array([0.0, 1.0, 0.0, 1.0]), device, True)
    yy = T(np.array([1.0, 0.0, 0.0, 1.0]), device)
    out = F.binary_cross_entropy(x, yy, reduction="none")
    close(out, [100.0, 100.0, 0.0, 0.0])
    out.sum().backward()
    eps = float(np.float32(1e-12))  # PyTorch's clamp of x (1 - x), a float32 constant
    close(x.grad, [-1 / eps, 1 / eps, 0.0, 0.0])


def test_binary_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    p = np.array([0.0, 1e-14, 0.3, 0.999, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.2, 1.0, 0.3, 0.5])
    w = np.linspace(0.5, 1.5, 6)
    for reduction in REDUCTIONS:
        x, t = T(p, "cpu", True), T(y, "cpu", True)
        out = F.binary_cross_entropy(x, t, T(w, "cpu"), reduction=reduction)
        xt, tt = torch.tensor(p, requires_grad=True), torch.tensor(y, requires_grad=True)
        ref = torch.nn.functional.binary_cross_entropy(xt, tt, torch.tensor(w), reduction=reduction)
        close(out, ref.detach().cpu().numpy())
        out.sum().backward()
        ref.sum().backward()
        close(x.grad, xt.grad.cpu().numpy())
        # the target gradient: PyTorch's unclamped logs give +-inf at x = 0 and 1; minigen's is
        # the derivative of the clamped loss, w (log(1 - x) - log x) with logs clamped at -100
        inside = (p > 0) & (p < 1)
        close(t.grad.cpu().numpy()[inside], tt.grad.cpu().numpy()[inside])
        k = {"mean": 6, "sum": 1, "none": 1}[reduction]
        close(t.grad.cpu().numpy()[~inside], w[~inside] * np.array([100.0, -100.0]) / k)


def test_binary_cross_entropy_errors(device):
    x = T(np.array([0.5, 1.2]), device)
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(x, T(np.array([0.5, 0.5]), device))
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(T(np.array([0.5, 0.5]), device), T(np.array([0.5, 1.5]), device))
    with pytest.raises(ValueError, match=r"target size \(\[2, 1\]\).*input size \(\[2\]\)"):
        F.binary_cross_entropy(T(np.array([0.5, 0.5]), device), T(np.ones((2, 1)) * 0.5, device))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("use_pos_weight", [False, True])
def test_bce_with_logits(device, reduction, use_weight, use_pos_weight):
    rng = np.random.default_rng(19)
    z = rng.standard_normal((3, 4)) * 3
    z[0, 0], z[0, 1], z[1, 1] = 0.0, 60.0, -60.0  # x = 0 (gradient must be right) and large |x|
    y = rng.uniform(0, 1, (3, 4))
    w = rng.uniform(0.5, 2, (3, 4)) if use_weight else None
    pw = rng.uniform(0.5, 3, (4,)) if use_pos_weight else None
    x, t = T(z, device, True), T(y, device, True)
    kw = dict(weight=None if w is None else T(w, device),
              pos_weight=None if pw is None else T(pw, device, True))
    out = F.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw)
    close(out, reduce_np(ref_bce_logits(z, y, w, pw), reduction))
    # analytic gradient: w (sigmoid(x) (1 + (p - 1) y) - p y)
    out.sum().backward() if reduction != "none" else out.backward(T(np.ones((3, 4)), device))
    s, pwv = 1 / (1 + np.exp(-z)), (1.0 if pw is None else pw)
    g = (s * (1 + (pwv - 1) * y) - pwv * y) * (1.0 if w is None else w)
    close(x.grad, g / (12 if reduction == "mean" else 1))
    args = (T(z, device, True), T(y, device, True)) + ((kw["pos_weight"],) if pw is not None else ())

    def fn(a, b, *p):
        return F.binary_cross_entropy_with_logits(a, b, kw["weight"], reduction=reduction,
                                                  pos_weight=p[0] if p else None)
    assert minigen.gradcheck(fn, args)
    assert minigen.gradgradcheck(fn, args)


def test_bce_with_logits_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(20)
    z = np.concatenate([rng.standard_normal(6) * 4, [0.0, 50.0, -50.0]])
    y, w, pw = rng.uniform(0, 1, 9), rng.uniform(0.5, 2, 9), rng.uniform(0.5, 3, 9)
    for reduction in REDUCTIONS:
        x, t = T(z, "cpu", True), T(y, "cpu", True)
        out = F.binary_cross_entropy_with_logits(x, t, T(w, "cpu"), reduction=reduction,
                                                 pos_weight=T(pw, "cpu"))
        xt, tt = torch.tensor(z, requires_grad=True), torch.tensor(y, requires_grad=True)
        ref = torch.nn.functional.binary_cross_entropy_with_logits(
            xt, tt, torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(pw))
        close(out, ref.detach().cpu().numpy())
        out.sum().backward()
        ref.sum().backward()
        close(x.grad, xt.grad.cpu().numpy())
        close(t.grad, tt.grad.cpu().numpy())
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(T(z, "cpu"), T(y[:3], "cpu"))


# ----------------------------------------------------------------------------- kl_div
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(device, reduction, log_target):
    rng = np.random.default_rng(21)
    logq = np_log_softmax(rng.standard_normal((4, 5)), 1)
    p = np.exp(np_log_softmax(rng.standard_normal((4, 5)), 1))
    p[0, 0] = 0.0  # 0 log 0 = 0
    tgt = np.log(np.where(p > 0, p, 1e-300)) if log_target else p
    per = np.exp(tgt) * (tgt - logq) if log_target else \
        np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0) - p * logq
    ref = per.sum() / 4 if reduction == "batchmean" else reduce_np(per, reduction)
    x = T(logq, device, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        close(F.kl_div(x, T(tgt, device), reduction=reduction, log_target=log_target), ref)
        t = T(rng.uniform(0.1, 1.0, (4, 5)), device, True)  # > 0: t log t is smooth there
        assert minigen.gradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction,
                                                       log_target=log_target), (x, t))
        assert minigen.gradgradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction,
                                                           log_target=log_target), (x, t))


def test_kl_div_matches_torch_and_warns():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(22)
    logq = np_log_softmax(rng.standard_normal((3, 4)), 1)
    p = np.exp(np_log_softmax(rng.standard_normal((3, 4)), 1))
    for reduction in ("sum", "none", "batchmean"):
        for log_target in (False, True):
            tgt = np.log(p) if log_target else p
            out = F.kl_div(T(logq, "cpu"), T(tgt, "cpu"), reduction=reduction, log_target=log_target)
            ref = torch.nn.functional.kl_div(torch.tensor(logq), torch.tensor(tgt),
                                             reduction=reduction, log_target=log_target)
            close(out, ref.cpu().numpy())
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(T(logq, "cpu"), T(p, "cpu"))


# ----------------------------------------------------------------------------- legacy and modules
def test_legacy_size_average_and_reduce():
    a, b = T(np.array([1.0, 2.0, 4.0]), "cpu"), T(np.array([0.0, 0.0, 0.0]), "cpu")
    assert F.mse_loss(a, b, size_average=False).item() == 21.0
    assert F.mse_loss(a, b, reduce=False).shape == (3,)
    assert F.mse_loss(a, b, size_average=True).item() == 7.0


def test_loss_modules_equal_functional_and_register_buffers(device):
    rng = np.random.default_rng(23)
    z, y, w = make_ce((4, 3), 1, rng)
    crit = nn.CrossEntropyLoss(weight=T(w, "cpu"), label_smoothing=0.1, reduction="sum")
    assert "weight" in crit.state_dict()
    crit.to(device)
    assert crit.weight.device == device
    close(crit(T(z, device), T(y, device)),
          ref_cross_entropy(z, y, w, reduction="sum", eps=0.1))
    nll = nn.NLLLoss(weight=T(w, device), ignore_index=-100)
    close(nll(T(np_log_softmax(z, 1), device), T(y, device)), ref_nll(np_log_softmax(z, 1), y, w))
    bcel = nn.BCEWithLogitsLoss(pos_weight=T(np.array([2.0, 1.0, 0.5]), "cpu"))
    assert set(bcel.state_dict()) == {"pos_weight"}
    bcel.to(device)
    pr = rng.uniform(0, 1, (4, 3))
    close(bcel(T(z, device), T(pr, device)), ref_bce_logits(z, pr, None, np.array([2.0, 1.0, 0.5])).mean())
    close(nn.BCELoss(reduction="none")(T(pr, device), T(pr, device)), ref_bce(pr, pr))
    close(nn.MSELoss()(T(z, device), T(pr, device)), ((z - pr) ** 2).mean())
    close(nn.L1Loss(reduction="sum")(T(z, device), T(pr, device)), np.abs(z - pr).sum())
    close(nn.KLDivLoss(reduction="batchmean", log_target=True)(T(z, device), T(pr, device)),
          (np.exp(pr) * (pr - z)).sum() / 4)
    close(nn.GaussianNLLLoss(full=True)(T(z, device), T(pr, device), T(pr + 0.5, device)),
          (0.5 * (np.log(pr + 0.5) + (z - pr) ** 2 / (pr + 0.5)) + 0.5 * np.log(2 * np.pi)).mean())
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
