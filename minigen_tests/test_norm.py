"""Tests for ops/norm.py (layer_norm, group_norm), ops/batch_norm.py and nn/normalization.py."""
import numpy as np
import pytest

import minigen
import minigen.nn as nn
import minigen.nn.functional as F
from minigen.ops.batch_norm import batch_norm
from minigen.ops.norm import layer_norm, group_norm


def T(a, device, requires_grad=False, dtype=None):
    return minigen.tensor(np.asarray(a, dtype=dtype), device=device, requires_grad=requires_grad)


# ----------------------------------------------------------------------------- references
def ref_normalize(x, axes, eps):
    """float64 NumPy: (x - mean) / sqrt(biased var + eps) over ``axes``."""
    x = x.astype(np.float64)
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def ref_batch_norm(x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    y = ref_normalize(x, axes, eps)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if w is not None:
        y = y * w.reshape(shape)
    if b is not None:
        y = y + b.reshape(shape)
    return y


def ref_group_norm(x, G, w, b, eps=1e-5):
    N, C = x.shape[:2]
    y = ref_normalize(x.reshape(N, G, -1), (2,), eps).reshape(x.shape)
    shape = (1, C) + (1,) * (x.ndim - 2)
    if w is not None:
        y = y * w.reshape(shape)
    if b is not None:
        y = y + b.reshape(shape)
    return y


# the composite twins: the same math from primitive minigen ops (autograd does the backward)
def twin_normalize(x, stat_shape, axes, eps):
    xv = x.reshape(stat_shape)
    mu = xv.mean(dim=axes, keepdim=True)
    var = ((xv - mu) * (xv - mu)).mean(dim=axes, keepdim=True)
    return ((xv - mu) / (var + eps).sqrt()).reshape(x.shape)


def twin_batch_norm(x, w, b, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = twin_normalize(x, x.shape, (0,) + tuple(range(2, x.ndim)), eps)
    return y * w.reshape(shape) + b.reshape(shape)


def twin_layer_norm(x, ns, w, b, eps=1e-5):
    k = len(ns)
    return twin_normalize(x, x.shape, tuple(range(x.ndim - k, x.ndim)), eps) * w + b


def twin_group_norm(x, G, w, b, eps=1e-5):
    N, C = x.shape[:2]
    shape = (1, C) + (1,) * (x.ndim - 2)
    y = twin_normalize(x, (N, G, -1), (2,), eps)
    return y * w.reshape(shape) + b.reshape(shape)


# ----------------------------------------------------------------------------- forward
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_train_forward_matches_numpy(device, shape, affine):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 3 + 1
    C = shape[1]
    w, b = (rng.standard_normal(C), rng.standard_normal(C)) if affine else (None, None)
    xt = T(x, device, dtype=np.float32)
    y = batch_norm(xt, None, None, None if w is None else T(w, device, dtype=np.float32),
                   None if b is None else T(b, device, dtype=np.float32), training=True)
    assert y.dtype == minigen.float32 and y.device.type == device
    np.testing.assert_allclose(y.cpu().numpy(), ref_batch_norm(x, w, b), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 5)])
def test_batch_norm_eval_forward_uses_running_stats(device, shape):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    C = shape[1]
    rm, rv = rng.standard_normal(C), rng.random(C) + 0.5
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    y = batch_norm(T(x, device), T(rm, device), T(rv, device), T(w, device), T(b, device),
                   training=False, eps=1e-3)
    s = (1, C) + (1,) * (len(shape) - 2)
    ref = (x - rm.reshape(s)) / np.sqrt(rv.reshape(s) + 1e-3) * w.reshape(s) + b.reshape(s)
    np.testing.assert_allclose(y.cpu().numpy(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ns", [(5,), (4, 5)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_forward_matches_numpy(device, ns, affine):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 5)) * 2 - 1
    w, b = (rng.standard_normal(ns), rng.standard_normal(ns)) if affine else (None, None)
    y = layer_norm(T(x, device), ns, None if w is None else T(w, device),
                   None if b is None else T(b, device), eps=1e-4)
    ref = ref_normalize(x, tuple(range(3 - len(ns), 3)), 1e-4)
    if affine:
        ref = ref * w + b
    np.testing.assert_allclose(y.cpu().numpy(), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("G", [1, 2, 6])
def test_group_norm_forward_matches_numpy(device, G):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 3, 2))
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    y = group_norm(T(x, device), G, T(w, device), T(b, device))
    np.testing.assert_allclose(y.cpu().numpy(), ref_group_norm(x, G, w, b), rtol=1e-10, atol=1e-12)
    y0 = group_norm(T(x, device), G)
    np.testing.assert_allclose(y0.cpu().numpy(), ref_group_norm(x, G, None, None), rtol=1e-10, atol=1e-12)


def test_forward_and_grads_match_torch(device):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)
    w, b = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    wl, bl = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    cases = [
        (lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
         lambda x, w, b: tF.batch_norm(x, None, None, w, b, training=True), (w, b)),
        (lambda x, w, b: layer_norm(x, (3,), w, b), lambda x, w, b: tF.layer_norm(x, (3,), w, b),
         (wl, bl)),
        (lambda x, w, b: group_norm(x, 3, w, b), lambda x, w, b: tF.group_norm(x, 3, w, b), (w, b)),
    ]
    for ours, theirs, (wa, ba) in cases:
        xs = [T(a, device, True) for a in (x, wa, ba)]
        ts = [torch.tensor(a, requires_grad=True) for a in (x, wa, ba)]
        y, ty = ours(*xs), theirs(*ts)
        np.testing.assert_allclose(y.cpu().numpy(), ty.detach().cpu().numpy(), atol=1e-5, rtol=1e-5)
        y.backward(T(g, device))
        ty.backward(torch.tensor(g))
        for a, t in zip(xs, ts):
            np.testing.assert_allclose(a.grad.cpu().numpy(), t.grad.cpu().numpy(), atol=1e-4, rtol=1e-4)


# ----------------------------------------------------------------------------- gradients
def _params(device, x_shape, p_shape, seed):
    rng = np.random.default_rng(seed)
    return (T(rng.standard_normal(x_shape) * 2 + 0.5, device, True),
            T(rng.standard_normal(p_shape), device, True),
            T(rng.standard_normal(p_shape), device, True))


NORMS = {
    "batch_norm_train": ((4, 3, 2), (3,), lambda x, w, b: batch_norm(x, None, None, w, b, training=True)),
    "batch_norm_2d": ((3, 2), (2,), lambda x, w, b: batch_norm(x, None, None, w, b, training=True)),
    "layer_norm": ((3, 2, 4), (2, 4), lambda x, w, b: layer_norm(x, (2, 4), w, b)),
    "layer_norm_1d_input": ((5,), (5,), lambda x, w, b: layer_norm(x, (5,), w, b)),
    "group_norm": ((2, 4, 3), (4,), lambda x, w, b: group_norm(x, 2, w, b)),
}


@pytest.mark.parametrize("name", sorted(NORMS))
def test_gradcheck_and_gradgradcheck(device, name):
    xs, ps, fn = NORMS[name]
    x, w, b = _params(device, xs, ps, 6)
    assert minigen.gradcheck(fn, (x, w, b))
    assert minigen.gradgradcheck(fn, (x, w, b))


def test_gradcheck_batch_norm_eval_and_without_affine(device):
    rng = np.random.default_rng(7)
    x, w, b = _params(device, (3, 2, 2), (2,), 7)
    rm, rv = T(rng.standard_normal(2), device), T(rng.random(2) + 0.5, device)
    ev = lambda x, w, b: batch_norm(x, rm, rv, w, b, training=False)  # noqa: E731
    assert minigen.gradcheck(ev, (x, w, b))
    assert minigen.gradgradcheck(ev, (x, w, b))
    for fn in (lambda x: batch_norm(x, None, None, training=True),
               lambda x: layer_norm(x, (2,)), lambda x: group_norm(x, 1)):
        assert minigen.gradcheck(fn, (x,))
        assert minigen.gradgradcheck(fn, (x,))


def test_gradients_only_for_what_requires_grad(device):
    x, w, b = _params(device, (4, 3), (3,), 8)
    x.requires_grad = False
    y = batch_norm(x, None, None, w, b, training=True)
    y.sum().backward()
    assert x.grad is None and w.grad is not None and b.grad is not None
    # dL/dbeta = sum(dL/dy) = N for a sum loss; dL/dgamma = sum(x_hat) = 0
    np.testing.assert_allclose(b.grad.cpu().numpy(), np.full(3, 4.0))
    np.testing.assert_allclose(w.grad.cpu().numpy(), np.zeros(3), atol=1e-12)


@pytest.mark.parametrize("name", ["batch_norm", "layer_norm", "group_norm"])
def test_composite_twin_agrees_to_second_order(device, name):
    """The hand-derived backward (and its own derivative) equals autograd through the twin."""
    rng = np.random.default_rng(9)
    x_shape, p_shape = {"batch_norm": ((4, 3, 5), (3,)), "layer_norm": ((4, 3, 5), (3, 5)),
                        "group_norm": ((2, 6, 5), (6,))}[name]
    ours = {"batch_norm": lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
            "layer_norm": lambda x, w, b: layer_norm(x, p_shape, w, b),
            "group_norm": lambda x, w, b: group_norm(x, 3, w, b)}[name]
    twin = {"batch_norm": twin_batch_norm,
            "layer_norm": lambda x, w, b: twin_layer_norm(x, p_shape, w, b),
            "group_norm": lambda x, w, b: twin_group_norm(x, 3, w, b)}[name]
    g = T(rng.standard_normal(x_shape), device)
    v = [T(rng.standard_normal(s), device) for s in (x_shape, p_shape, p_shape)]
    results = []
    for fn in (ours, twin):
        x, w, b = _params(device, x_shape, p_shape, 10)
        y = fn(x, w, b)
        grads = minigen.grad(y, (x, w, b), g, create_graph=True)
        # second order: d/d(x, w, b) of <grads, v>
        s = sum((gi * vi).sum() for gi, vi in zip(grads, v))
        grads2 = minigen.grad(s, (x, w, b), allow_unused=True)
        results.append((y.cpu().numpy(), [t.cpu().numpy() for t in grads],
                        [None if t is None else t.cpu().numpy() for t in grads2]))
    (y1, g1, h1), (y2, g2, h2) = results
    np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    for a, c in zip(g1, g2):
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-11)
    for a, c, shape in zip(h1, h2, (x_shape, p_shape, p_shape)):
        # an input the gradient does not depend on (beta) may come back as None: zeros
        a = np.zeros(shape) if a is None else a
        c = np.zeros(shape) if c is None else c
        np.testing.assert_allclose(a, c, rtol=1e-8, atol=1e-10)


def test_inputs_not_mutated(device):
    x, w, b = _params(device, (4, 3, 2), (3,), 11)
    before = [t.cpu().numpy().copy() for t in (x, w, b)]
    for y in (batch_norm(x, None, None, w, b, training=True), layer_norm(x, (2,)),
              group_norm(x, 3, w, b)):
        y.sum().backward()
    for t, a in zip((x, w, b), before):
        np.testing.assert_array_equal(t.cpu().numpy(), a)


# ----------------------------------------------------------------------------- running stats
def _ref_trajectory(batches, momentum):
    C = batches[0].shape[1]
    rm, rv = np.zeros(C), np.ones(C)
    out = []
    for i, x in enumerate(batches, start=1):
        axes = (0,) + tuple(range(2, x.ndim))
        m = x.size // C
        factor = 1.0 / i if momentum is None else momentum
        # running = (1 - factor) running + factor stat, with the UNBIASED variance
        rm = (1 - factor) * rm + factor * x.mean(axis=axes)
        rv = (1 - factor) * rv + factor * x.var(axis=axes) * m / (m - 1)
        out.append((rm.copy(), rv.copy()))
    return out


@pytest.mark.parametrize("momentum", [0.1, None])
def test_running_stats_trajectory_matches_numpy(device, momentum):
    rng = np.random.default_rng(12)
    batches = [rng.standard_normal((3, 4, 2, 2)) * (i + 1) + i for i in range(5)]
    bn = nn.BatchNorm2d(4, momentum=momentum).to(device).double()
    for (rm, rv), x in zip(_ref_trajectory(batches, momentum), batches):
        bn(T(x, device))
        np.testing.assert_allclose(bn.running_mean.cpu().numpy(), rm, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.cpu().numpy(), rv, rtol=1e-12)
    assert bn.num_batches_tracked.dtype == minigen.int64 and bn.num_batches_tracked.item() == 5


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("cls", ["BatchNorm1d", "BatchNorm2d"])
def test_running_stats_and_eval_match_torch(device, momentum, cls):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    shape = {"BatchNorm1d": (5, 3, 4), "BatchNorm2d": (4, 3, 2, 3)}[cls]
    ours = getattr(nn, cls)(3, momentum=momentum).to(device)
    theirs = getattr(torch.nn, cls)(3, momentum=momentum)
    for i in range(4):
        x = (rng.standard_normal(shape) * (i + 2) - i).astype(np.float32)
        y, ty = ours(T(x, device)), theirs(torch.tensor(x))
        np.testing.assert_allclose(y.cpu().numpy(), ty.detach().cpu().numpy(), atol=1e-5, rtol=1e-5)
        for k, v in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[k].cpu().numpy(), v.cpu().numpy(), rtol=1e-5, atol=1e-6)
    ours.eval(), theirs.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(ours(T(x, device)).cpu().numpy(), theirs(torch.tensor(x)).detach().cpu().numpy(),
                               atol=1e-5, rtol=1e-5)
    assert ours.num_batches_tracked.item() == 4  # eval does not count


def test_batch_norm_1d_two_dim_input_and_track_false(device):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((6, 3))
    bn = nn.BatchNorm1d(3, track_running_stats=False).double().to(device)
    assert bn.running_mean is None and list(bn.state_dict()) == ["weight", "bias"]
    bn.eval()  # no running stats: batch statistics in eval too
    np.testing.assert_allclose(bn(T(x, device)).cpu().numpy(), ref_batch_norm(x, None, None), rtol=1e-10)
    bn2 = nn.BatchNorm1d(3, affine=False).double().to(device)
    assert list(bn2.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    np.testing.assert_allclose(bn2(T(x, device)).cpu().numpy(), ref_batch_norm(x, None, None), rtol=1e-10)


def test_module_state_dicts_load_from_torch(device):
    torch = pytest.importorskip("torch")
    pairs = [(nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)),
             (nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4))),
             (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4))]
    rng = np.random.default_rng(15)
    for ours, theirs in pairs:
        with torch.no_grad():
            for p in theirs.parameters():
                p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
        assert list(ours.state_dict()) == list(theirs.state_dict())
        ours.load_state_dict(theirs.state_dict())
        ours.to(device)
        x = rng.standard_normal((2, 4, 3, 4)).astype(np.float32)
        np.testing.assert_allclose(ours(T(x, device)).cpu().numpy(),
                                   theirs(torch.tensor(x)).detach().cpu().numpy(), atol=1e-5, rtol=1e-5)


def test_layer_norm_module_and_group_norm_module(device):
    rng = np.random.default_rng(16)
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    ln = nn.LayerNorm(6).to(device)
    assert ln.weight.shape == (6,) and ln.bias.shape == (6,)
    np.testing.assert_allclose(ln(T(x, device)).cpu().numpy(), ref_normalize(x, (2,), 1e-5), atol=1e-5)
    assert nn.LayerNorm(6, bias=False).bias is None
    assert nn.LayerNorm(6, elementwise_affine=False).weight is None
    gn = nn.GroupNorm(2, 4, affine=False).to(device)
    assert list(gn.state_dict()) == []
    np.testing.assert_allclose(gn(T(x, device)).cpu().numpy(), ref_group_norm(x, 2, None, None), atol=1e-5)
    assert F.layer_norm is layer_norm and F.batch_norm is batch_norm and F.group_norm is group_norm


def test_reprs():
    # the strings PyTorch 2.13 prints (it added `bias=` to all three)
    assert repr(nn.BatchNorm2d(64)) == \
        "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    assert repr(nn.BatchNorm1d(8, momentum=None, affine=False)) == \
        "BatchNorm1d(8, eps=1e-05, momentum=None, affine=False, bias=False, track_running_stats=True)"
    assert repr(nn.LayerNorm(128)) == "LayerNorm((128,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(nn.LayerNorm(128, bias=False)) == \
        "LayerNorm((128,), eps=1e-05, elementwise_affine=True, bias=False)"
    assert repr(nn.GroupNorm(4, 64)) == "GroupNorm(4, 64, eps=1e-05, affine=True, bias=True)"
    assert repr(nn.MultiheadAttention(16, 2)) == (
        "MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=16, "
        "out_features=16, bias=True)\n)")


def test_reprs_match_installed_torch():
    torch = pytest.importorskip("torch")
    for make in (lambda L: L.nn.BatchNorm2d(64), lambda L: L.nn.BatchNorm1d(3, affine=False),
                 lambda L: L.nn.LayerNorm(128), lambda L: L.nn.LayerNorm((4, 5), bias=False),
                 lambda L: L.nn.LayerNorm(3, elementwise_affine=False),
                 lambda L: L.nn.GroupNorm(4, 64), lambda L: L.nn.GroupNorm(2, 4, affine=False),
                 lambda L: L.nn.MultiheadAttention(16, 2)):
        assert repr(make(minigen)) == repr(make(torch))


# ----------------------------------------------------------------------------- errors
def test_one_value_per_channel_in_training_raises_and_changes_nothing(device):
    bn = nn.BatchNorm1d(4).to(device)
    bn.running_mean.fill_(0.5)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, "
                                         r"got input size \[1, 4\]"):
        bn(T(np.ones((1, 4)), device, dtype=np.float32))
    np.testing.assert_array_equal(bn.running_mean.cpu().numpy(), np.full(4, 0.5))
    assert bn.num_batches_tracked.item() == 0
    bn.eval()  # a single sample is fine in eval
    assert bn(T(np.ones((1, 4)), device, dtype=np.float32)).shape == (1, 4)


def test_shape_errors(device):
    x = T(np.zeros((2, 3, 4)), device)
    with pytest.raises(RuntimeError, match=r"running_mean should contain 3 elements not 5"):
        batch_norm(x, T(np.zeros(5), device), T(np.ones(5), device), training=True)
    with pytest.raises(RuntimeError, match=r"batch_norm: expected weight of shape \[3\]"):
        batch_norm(x, None, None, T(np.ones(2), device), training=True)
    with pytest.raises(RuntimeError, match=r"must be defined in evaluation mode"):
        batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 3D input"):
        nn.BatchNorm2d(3).to(device)(x)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input \(got 4D"):
        nn.BatchNorm1d(3).to(device)(T(np.zeros((2, 3, 4, 5)), device))
    with pytest.raises(RuntimeError, match=r"layer_norm: given normalized_shape=\[5\], expected "
                                           r"input with shape \[\*, 5\], but got input of size "
                                           r"\[2, 3, 4\]"):
        layer_norm(x, (5,))
    with pytest.raises(RuntimeError, match=r"group_norm: expected the number of channels in "
                                           r"input \(3\) to be divisible by num_groups \(2\)"):
        group_norm(x, 2)
    with pytest.raises(ValueError, match=r"num_channels \(64\) must be divisible by num_groups \(5\)"):
        nn.GroupNorm(5, 64)
    with pytest.raises(TypeError, match=r"momentum must be a float"):
        batch_norm(x, T(np.zeros(3), device), T(np.ones(3), device), training=True, momentum=None)


def test_device_mismatch_is_an_error(device):
    other = "cuda" if device == "cpu" else "cpu"
    x = T(np.zeros((2, 3)), device)
    with pytest.raises(RuntimeError, match="same device"):
        batch_norm(x, T(np.zeros(3), other), T(np.ones(3), other))
    with pytest.raises(RuntimeError, match="same device"):
        layer_norm(x, (3,), T(np.ones(3), other))


LN_FAST_CASES = [(affine, needs) for affine in ("both", "weight", "bias", "none")
                 for needs in ("all", "x", "params") if (affine, needs) != ("none", "params")]


@pytest.mark.parametrize("affine,needs", LN_FAST_CASES)
def test_layer_norm_first_order_fast_path_equals_twin(device, affine, needs):
    """LayerNorm's first-order backward runs on raw arrays with a rearranged formula (never
    rebuilding x_hat); it must give the composite twin's gradients, for every combination of
    affine parameters and of what requires grad, with rows whose mean is far from 0."""
    rng = np.random.default_rng(11)
    x_np = rng.standard_normal((6, 5, 8)) * 3 + 20
    w_np, b_np = rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    g_np = rng.standard_normal(x_np.shape)

    def twin(x, w, b):
        y = twin_normalize(x, x.shape, (1, 2), 1e-5)
        y = y * w if w is not None else y
        return y + b if b is not None else y
    results = []
    for fn in (lambda x, w, b: layer_norm(x, (5, 8), w, b), twin):
        x = T(x_np, device, needs in ("all", "x"))
        w = T(w_np, device, needs in ("all", "params")) if affine in ("both", "weight") else None
        b = T(b_np, device, needs in ("all", "params")) if affine in ("both", "bias") else None
        fn(x, w, b).backward(T(g_np, device))
        results.append([None if t is None or t.grad is None else t.grad.cpu().numpy() for t in (x, w, b)])
    for ours, want in zip(*results):
        assert (ours is None) == (want is None)
        if ours is not None:
            np.testing.assert_allclose(ours, want, rtol=1e-9, atol=1e-10)


def test_integer_input_is_a_clear_error(device):
    """As in PyTorch, the norms have no integer version; each says so, naming itself."""
    x = minigen.tensor(np.arange(12).reshape(2, 3, 2), device=device)
    for fn, name in ((lambda t: batch_norm(t, None, None, training=True), "batch_norm"),
                     (lambda t: layer_norm(t, (2,)), "layer_norm"),
                     (lambda t: group_norm(t, 3), "group_norm")):
        with pytest.raises(RuntimeError, match=rf"{name}: expected a floating point input, got int64"):
            fn(x)


# ----------------------------------------------------------------------------- channels-last
def _channels_last(x, device, requires_grad=True):
    """A leaf tensor with x's values held channels-last in memory (as convolutions return)."""
    last = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    t = T(last, device).permute(0, x.ndim - 1, *range(1, x.ndim - 1)).detach()
    return t.requires_grad_(requires_grad)


@pytest.mark.parametrize("shape", [(3, 5, 7, 3), (8, 4, 16, 16), (2, 3, 1, 1), (4, 6, 5)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("gy_layout", ["contiguous", "channels_last"])
def test_batch_norm_first_order_path_equals_composite_twin(device, shape, affine, gy_layout):
    """The first-order forward and backward, in both of its layouts (channels-last memory as
    the (M, C) matrix, channels-first as (N, C, L)) and with dL/dy in either, against autograd
    through the composite twin and the float64 reference: y, dL/dx, dL/dgamma, dL/dbeta, and
    the running statistics. y keeps x's layout (channels-first with under 64 pixels per image
    is taken channels-last)."""
    from minigen.ops.batch_norm import _to_last
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape) * 3 + 1.5
    g = rng.standard_normal(shape)
    C = shape[1]
    wv, bv = (rng.random(C) + 0.5, rng.standard_normal(C)) if affine else (np.ones(C), np.zeros(C))
    # the twin: plain minigen ops, autograd's backward
    xt, w, b = T(x, device, True), T(wv, device, True), T(bv, device, True)
    twin_batch_norm(xt, w, b).backward(T(g, device))
    want = [ref_batch_norm(x, wv, bv), xt.grad.cpu().numpy(), w.grad.cpu().numpy(), b.grad.cpu().numpy()]
    m = x.size // C
    want_running = [0.7 * 0 + 0.3 * x.mean(axis=(0, *range(2, x.ndim))),
                    0.7 * 1 + 0.3 * x.var(axis=(0, *range(2, x.ndim))) * m / (m - 1)]
    for layout in ("contiguous", "channels_last"):
        xt = _channels_last(x, device) if layout == "channels_last" else T(x, device, True)
        w = T(wv, device, True) if affine else None
        b = T(bv, device, True) if affine else None
        rm, rv = T(np.zeros(C), device), T(np.ones(C), device)
        y = batch_norm(xt, rm, rv, w, b, training=True, momentum=0.3)
        pixels = x.size // (shape[0] * C)
        keeps = layout == "channels_last" or pixels < 64  # short rows are taken channels-last
        assert (_to_last(y.array) if keeps else y.array).flags.c_contiguous
        y.backward(_channels_last(g, device, False) if gy_layout == "channels_last" else T(g, device))
        got = [y.cpu().numpy(), xt.grad.cpu().numpy()] + ([w.grad.cpu().numpy(), b.grad.cpu().numpy()] if affine else [])
        for a, c in zip(got, want):
            np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-10)
        for a, c in zip((rm.cpu().numpy(), rv.cpu().numpy()), want_running):
            np.testing.assert_allclose(a, c, rtol=1e-12)


def test_batch_norm_channels_last_gradcheck(device):
    rng = np.random.default_rng(21)
    x = _channels_last(rng.standard_normal((3, 4, 2, 5)), device)
    w, b = T(rng.random(4) + 0.5, device, True), T(rng.standard_normal(4), device, True)
    fn = lambda x, w, b: batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    assert minigen.gradcheck(fn, (x, w, b))
    assert minigen.gradgradcheck(fn, (x, w, b))


def test_inputs_with_fewer_than_two_dims_are_refused_as_pytorch_does(device):
    x = T(np.ones(4), device)
    with pytest.raises(ValueError, match=r"batch_norm: expected input with at least 2 dims .* \[4\]"):
        batch_norm(x, None, None, training=True)
    with pytest.raises(RuntimeError, match=r"group_norm: expected input with at least 2 dims .* \[4\]"):
        group_norm(x, 1)
