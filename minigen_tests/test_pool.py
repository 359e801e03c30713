"""Pooling and upsampling: max/avg/adaptive pooling, interpolate, and their modules.

Forward against naive float64 NumPy loops written here (and PyTorch where installed); gradients
by finite differences, first and second order; composite twins (stacked window slices + max /
mean, no hand-written backward) against the hand-derived Functions; errors; module reprs.
"""
import math

import numpy as np
import pytest

import minigen
import minigen.nn as nn
import minigen.nn.functional as F
from minigen.testing import check_op


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _out_size(n, k, s, p, d, ceil_mode):
    span = n + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


# ----------------------------------------------------------------------------- references
def ref_max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Loop over output positions; returns (values, flat argmax h * W + w, first max wins)."""
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(stride if stride is not None else kernel_size)
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    N, C, H, W = x.shape
    OH, OW = _out_size(H, kh, sh, ph, dh, ceil_mode), _out_size(W, kw, sw, pw, dw, ceil_mode)
    y = np.empty((N, C, OH, OW))
    idx = np.empty((N, C, OH, OW), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for a in range(OH):
                for b in range(OW):
                    best, arg = -np.inf, -1
                    for i in range(kh):
                        for j in range(kw):
                            h, w = a * sh - ph + i * dh, b * sw - pw + j * dw
                            if 0 <= h < H and 0 <= w < W and x[n, c, h, w] > best:
                                best, arg = x[n, c, h, w], h * W + w
                    y[n, c, a, b], idx[n, c, a, b] = best, arg
    return y, idx


def ref_avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                   divisor_override=None):
    (kh, kw) = _pair(kernel_size)
    (sh, sw) = _pair(stride if stride is not None else kernel_size)
    (ph, pw) = _pair(padding)
    N, C, H, W = x.shape
    OH, OW = _out_size(H, kh, sh, ph, 1, ceil_mode), _out_size(W, kw, sw, pw, 1, ceil_mode)
    y = np.empty((N, C, OH, OW))
    for a in range(OH):
        for b in range(OW):
            h0, w0 = a * sh - ph, b * sw - pw
            h1, w1 = min(h0 + kh, H + ph), min(w0 + kw, W + pw)  # window within the padded input
            size_pad = (h1 - h0) * (w1 - w0)
            hs, ws, he, we = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            total = x[:, :, hs:he, ws:we].sum(axis=(2, 3))
            div = divisor_override or (size_pad if count_include_pad else (he - hs) * (we - ws))
            y[:, :, a, b] = total / div
    return y


def ref_adaptive_avg_pool2d(x, output_size):
    OH, OW = _pair(output_size)
    OH, OW = OH or x.shape[2], OW or x.shape[3]
    H, W = x.shape[2:]
    y = np.empty(x.shape[:2] + (OH, OW))
    for a in range(OH):
        for b in range(OW):
            hs, he = (a * H) // OH, math.ceil((a + 1) * H / OH)
            ws, we = (b * W) // OW, math.ceil((b + 1) * W / OW)
            y[:, :, a, b] = x[:, :, hs:he, ws:we].mean(axis=(2, 3))
    return y


def ref_nearest(x, out_hw):
    H, W = x.shape[2:]
    OH, OW = out_hw
    rows = [min(int(math.floor(a * H / OH)), H - 1) for a in range(OH)]
    cols = [min(int(math.floor(b * W / OW)), W - 1) for b in range(OW)]
    return x[:, :, rows][:, :, :, cols]


def ref_bilinear(x, out_hw, align_corners):
    H, W = x.shape[2:]
    OH, OW = out_hw
    y = np.empty(x.shape[:2] + (OH, OW))

    def src(o, n, m):
        if align_corners:
            return o * (n - 1) / (m - 1) if m > 1 else 0.0
        return max((o + 0.5) * n / m - 0.5, 0.0)

    for a in range(OH):
        for b in range(OW):
            sh, sw = src(a, H, OH), src(b, W, OW)
            h0, w0 = min(int(sh), H - 1), min(int(sw), W - 1)
            h1, w1 = min(h0 + 1, H - 1), min(w0 + 1, W - 1)
            th, tw = sh - h0, sw - w0
            y[:, :, a, b] = ((1 - th) * (1 - tw) * x[:, :, h0, w0] + (1 - th) * tw * x[:, :, h0, w1]
                             + th * (1 - tw) * x[:, :, h1, w0] + th * tw * x[:, :, h1, w1])
    return y


# ----------------------------------------------------------------------------- forward
MAX_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1)),
    dict(kernel_size=2, stride=1),
]
AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), divisor_override=4),
]


@pytest.mark.parametrize("kw", MAX_CASES)
def test_max_pool2d_forward_and_indices(device, kw):
    x = np.random.default_rng(0).permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8) / 10.0
    y, idx = F.max_pool2d(minigen.tensor(x, device=device), return_indices=True, **kw)
    ry, ridx = ref_max_pool2d(x, **kw)
    np.testing.assert_array_equal(y.cpu().numpy(), ry)
    np.testing.assert_array_equal(idx.cpu().numpy(), ridx)
    assert idx.dtype == minigen.int64 and y.device == device


def test_max_pool_ties_first_wins_and_nan_propagates(device):
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 1] = np.nan
    y, idx = F.max_pool2d(minigen.tensor(x, device=device), 2, return_indices=True)
    assert np.isnan(y.cpu().numpy()[0, 0, 0, 0]) and y.cpu().numpy()[0, 0, 0, 1] == 0
    assert idx.cpu().numpy().tolist() == [[[[5, 2]]]]  # the NaN; the first of four equal zeros


@pytest.mark.parametrize("kw", AVG_CASES)
def test_avg_pool2d_forward(device, kw):
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 8))
    y = F.avg_pool2d(minigen.tensor(x, device=device), **kw)
    np.testing.assert_allclose(y.cpu().numpy(), ref_avg_pool2d(x, **kw), atol=1e-12)


@pytest.mark.parametrize("size", [1, (3, 4), (5, None), (7, 8), (4, 6)])
def test_adaptive_avg_pool2d_forward(device, size):
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 8))
    y = F.adaptive_avg_pool2d(minigen.tensor(x, device=device), size)
    np.testing.assert_allclose(y.cpu().numpy(), ref_adaptive_avg_pool2d(x, size), atol=1e-12)


@pytest.mark.parametrize("kw,out", [(dict(scale_factor=2), (10, 12)), (dict(size=(7, 3)), (7, 3)),
                                    (dict(size=(9, 13)), (9, 13))])
def test_interpolate_nearest_forward(device, kw, out):
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 6))
    y = F.interpolate(minigen.tensor(x, device=device), **kw)
    np.testing.assert_array_equal(y.cpu().numpy(), ref_nearest(x, out))


@pytest.mark.parametrize("out,align", [((10, 12), False), ((7, 3), False), ((9, 13), True), ((1, 4), True)])
def test_interpolate_bilinear_forward(device, out, align):
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 6))
    y = F.interpolate(minigen.tensor(x, device=device), size=out, mode="bilinear", align_corners=align)
    np.testing.assert_allclose(y.cpu().numpy(), ref_bilinear(x, out, align), atol=1e-12)


def test_1d_and_unbatched_variants(device):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 11))
    t = minigen.tensor(x, device=device)
    np.testing.assert_array_equal(F.max_pool1d(t, 3, 2, 1).cpu().numpy(),
                                  ref_max_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1))[0][:, :, 0])
    np.testing.assert_allclose(F.avg_pool1d(t, 3, 2, 1, count_include_pad=False).cpu().numpy(),
                               ref_avg_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1),
                                              count_include_pad=False)[:, :, 0], atol=1e-12)
    np.testing.assert_allclose(F.adaptive_avg_pool1d(t, 4).cpu().numpy(),
                               ref_adaptive_avg_pool2d(x[:, :, None], (1, 4))[:, :, 0], atol=1e-12)
    np.testing.assert_allclose(F.interpolate(t, size=7, mode="linear", align_corners=True).cpu().numpy(),
                               ref_bilinear(x[:, :, None], (1, 7), True)[:, :, 0], atol=1e-12)
    x3 = rng.standard_normal((3, 6, 6)).astype(np.float32)
    y = F.max_pool2d(minigen.tensor(x3, device=device), 2)
    assert y.shape == (3, 3, 3) and y.dtype == minigen.float32
    np.testing.assert_array_equal(y.cpu().numpy(), ref_max_pool2d(x3[None], 2)[0][0].astype(np.float32))
    assert F.avg_pool2d(minigen.tensor(x3, device=device), 3).shape == (3, 2, 2)
    assert F.adaptive_avg_pool2d(minigen.tensor(x3, device=device), 1).shape == (3, 1, 1)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 9, 8))
    g_cases = [
        (lambda m, t: m.max_pool2d(t, 3, 2, 1, ceil_mode=True), None),
        (lambda m, t: m.max_pool2d(t, (2, 3), 1, (1, 1), dilation=2), None),
        (lambda m, t: m.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False), None),
        (lambda m, t: m.avg_pool2d(t, 2, 3, 1, divisor_override=3), None),
        (lambda m, t: m.adaptive_avg_pool2d(t, (4, 5)), None),
        (lambda m, t: m.interpolate(t, scale_factor=1.7), None),
        (lambda m, t: m.interpolate(t, scale_factor=2.3, mode="nearest-exact"), None),
        (lambda m, t: m.interpolate(t, scale_factor=(1.5, 0.6), mode="bilinear"), None),
        (lambda m, t: m.interpolate(t, size=(4, 11), mode="bilinear", align_corners=True), None),
        (lambda m, t: m.interpolate(t, scale_factor=1.5, mode="bilinear", recompute_scale_factor=True), None),
    ]
    for f, _ in g_cases:
        tx = torch.tensor(x, requires_grad=True)
        ty = f(tf, tx)
        g = rng.standard_normal(tuple(ty.shape))
        ty.backward(torch.tensor(g))
        mx = minigen.tensor(x, requires_grad=True)
        my = f(F, mx)
        my.backward(minigen.tensor(g))
        np.testing.assert_allclose(my.cpu().numpy(), ty.detach().cpu().numpy(), atol=1e-12)
        np.testing.assert_allclose(mx.grad.cpu().numpy(), tx.grad.cpu().numpy(), atol=1e-12)


# ----------------------------------------------------------------------------- derivatives
def _distinct(rng, shape):
    """Values far apart, so no finite-difference step can change which element is the max."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(2, 3), stride=1, dilation=(1, 2), ceil_mode=True)])
def test_max_pool2d_gradcheck_and_gradgradcheck(device, kw):
    x = _distinct(np.random.default_rng(7), (1, 2, 5, 6))
    check_op(lambda t: F.max_pool2d(t, **kw), lambda a: ref_max_pool2d(a, **kw)[0], [x], device)


@pytest.mark.parametrize("kw", AVG_CASES[1:])
def test_avg_pool2d_gradcheck_and_gradgradcheck(device, kw):
    x = np.random.default_rng(8).standard_normal((1, 2, 5, 6))
    check_op(lambda t: F.avg_pool2d(t, **kw), lambda a: ref_avg_pool2d(a, **kw), [x], device,
             forward_atol=1e-12)


def test_adaptive_and_interpolate_gradcheck_and_gradgradcheck(device):
    x = np.random.default_rng(9).standard_normal((1, 2, 5, 6))
    check_op(lambda t: F.adaptive_avg_pool2d(t, (3, 4)), lambda a: ref_adaptive_avg_pool2d(a, (3, 4)),
             [x], device, forward_atol=1e-12)
    check_op(lambda t: F.interpolate(t, size=(7, 4)), lambda a: ref_nearest(a, (7, 4)), [x], device)
    check_op(lambda t: F.interpolate(t, size=(8, 9), mode="bilinear", align_corners=False),
             lambda a: ref_bilinear(a, (8, 9), False), [x], device, forward_atol=1e-12)
    check_op(lambda t: F.max_pool1d(t, 2), lambda a: ref_max_pool2d(a[:, :, None], (1, 2))[0][:, :, 0],
             [_distinct(np.random.default_rng(10), (2, 2, 7))], device)
    check_op(lambda t: F.avg_pool1d(t, 3, 2, 1), lambda a: ref_avg_pool2d(a[:, :, None], (1, 3), (1, 2), (0, 1))[:, :, 0],
             [np.random.default_rng(11).standard_normal((2, 2, 7))], device, forward_atol=1e-12)


def test_pooling_directional_gradcheck_bigger(device):
    rng = np.random.default_rng(12)
    x = minigen.tensor(_distinct(rng, (4, 8, 16, 16)), device=device, requires_grad=True)

    def net(x):
        h = F.max_pool2d(x, 3, 2, 1)
        h = F.interpolate(h.tanh(), scale_factor=2) + F.avg_pool2d(x, 2, 1, 1, ceil_mode=True)[:, :, :16, :16]
        return F.adaptive_avg_pool2d(h * h, 5)

    assert minigen.gradcheck(net, (x,), mode="directional", n_directions=4)
    assert minigen.gradgradcheck(net, (x,), mode="directional", n_directions=3)


def _windows(x, k, s, p, fill):
    """All kh*kw window taps stacked on a new last dim: primitive ops only (pad, slice, stack)."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(k), _pair(s), _pair(p)
    H, W = x.shape[2:]
    x_p = F.pad(x, (pw, pw, ph, ph), value=fill)
    OH, OW = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    taps = [x_p[:, :, i:i + (OH - 1) * sh + 1:sh, j:j + (OW - 1) * sw + 1:sw]
            for i in range(kh) for j in range(kw)]
    return minigen.stack(taps, dim=-1)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_hand_derived_matches_composite_twin(device, kind):
    rng = np.random.default_rng(13)
    arr = _distinct(rng, (2, 3, 7, 6))
    grads = {}
    for name in ("hand", "twin"):
        x = minigen.tensor(arr, device=device, requires_grad=True)
        if kind == "max":
            y = F.max_pool2d(x, 3, 2, 1) if name == "hand" else \
                _windows(x, 3, 2, 1, -1e30).max(dim=-1).values
        else:
            y = F.avg_pool2d(x, 3, 2, 1) if name == "hand" else _windows(x, 3, 2, 1, 0.0).mean(dim=-1)
        v = minigen.tensor(np.random.default_rng(14).standard_normal(y.shape), device=device,
                           requires_grad=True)
        (gx,) = minigen.grad((y * y * v).sum(), (x,), create_graph=True)
        hx, hv = minigen.grad((gx * gx).sum(), (x, v))
        grads[name] = [y.cpu().numpy(), gx.cpu().numpy(), hx.cpu().numpy(), hv.cpu().numpy()]
    for k, (a, b) in enumerate(zip(grads["hand"], grads["twin"])):
        np.testing.assert_allclose(a, b, atol=1e-9, err_msg=f"entry {k}")


def test_overlapping_windows_add_gradients(device):
    # one maximum shared by four windows gets four gradients
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0
    t = minigen.tensor(x, device=device, requires_grad=True)
    F.max_pool2d(t, 2, stride=1).sum().backward()
    assert t.grad.cpu().numpy()[0, 0, 1, 1] == 4.0 and t.grad.cpu().numpy().sum() == 4.0


# ----------------------------------------------------------------------------- errors, modules
def test_errors(device):
    x = minigen.zeros(1, 2, 5, 5, device=device)
    with pytest.raises(RuntimeError, match=r"max_pool2d: pad should be at most half of effective kernel size"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match=r"avg_pool2d: pad should be at most half"):
        F.avg_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match=r"max_pool2d: given input size \(2x5x5\), the calculated output size \(2x0x0\) is too small"):
        F.max_pool2d(x, 7)
    with pytest.raises(RuntimeError, match=r"max_pool2d: kernel_size must be greater than zero"):
        F.max_pool2d(x, 0)
    with pytest.raises(RuntimeError, match=r"avg_pool2d: stride must be greater than zero"):
        F.avg_pool2d(x, 2, stride=0)
    with pytest.raises(RuntimeError, match=r"max_pool2d: expected 3-D \(unbatched\) or 4-D \(batched\) input, but got input of size \[5\]"):
        F.max_pool2d(minigen.zeros(5, device=device), 2)
    with pytest.raises(ValueError, match=r"interpolate: align_corners option can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match=r"interpolate: either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"interpolate: only one of size or scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(NotImplementedError, match=r"interpolate: mode 'bilinear' expects 4-D input"):
        F.interpolate(minigen.zeros(1, 2, 5, device=device), size=3, mode="bilinear")
    with pytest.raises(RuntimeError, match=r"avg_pool2d: divisor must be not zero"):
        F.avg_pool2d(x, 2, divisor_override=0)


def test_no_input_mutation(device):
    arr = np.random.default_rng(14).standard_normal((1, 2, 6, 6))
    x = minigen.tensor(arr, device=device, requires_grad=True)
    for y in (F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 2), F.interpolate(x, scale_factor=2),
              F.adaptive_avg_pool2d(x, 4)):
        y.sum().backward()
    np.testing.assert_array_equal(x.cpu().numpy(), arr)


def test_modules(device):
    x = minigen.tensor(np.random.default_rng(15).standard_normal((2, 3, 8, 8)), device=device)
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).cpu().numpy(), F.max_pool2d(x, 2).cpu().numpy())
    y, idx = nn.MaxPool2d(3, 2, 1, return_indices=True)(x)
    assert y.shape == idx.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(nn.AvgPool2d(3, 2, 1, count_include_pad=False)(x).cpu().numpy(),
                                  F.avg_pool2d(x, 3, 2, 1, count_include_pad=False).cpu().numpy())
    assert nn.AdaptiveAvgPool2d((2, None))(x).shape == (2, 3, 2, 8)
    assert nn.Upsample(scale_factor=2)(x).shape == (2, 3, 16, 16)
    assert nn.Upsample(size=(5, 7), mode="bilinear", align_corners=False)(x).shape == (2, 3, 5, 7)
    x1 = x.reshape(2, 3, 64)
    assert nn.MaxPool1d(4)(x1).shape == nn.AvgPool1d(4)(x1).shape == nn.AdaptiveAvgPool1d(16)(x1).shape == (2, 3, 16)
    assert list(nn.MaxPool2d(2).parameters()) == []


def test_module_reprs():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AdaptiveAvgPool2d((5, None))) == "AdaptiveAvgPool2d(output_size=(5, None))"
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    torch = pytest.importorskip("torch")
    for expr in ["MaxPool2d((2, 3), stride=1, padding=1, dilation=2, ceil_mode=True)", "MaxPool1d(3)",
                 "AvgPool2d(3, 2, 1, ceil_mode=True)", "AvgPool1d(2)", "AdaptiveAvgPool1d(4)",
                 "Upsample(size=(4, 5), mode='bilinear', align_corners=True)",
                 "Upsample(scale_factor=(2, 3))", "UpsamplingNearest2d(scale_factor=2)"]:
        assert repr(eval("nn." + expr)) == repr(eval("torch.nn." + expr)), expr
