"""Convolution: conv1d/conv2d/conv_transpose1d/conv_transpose2d and the Conv modules.

Forward against naive float64 NumPy loops written here (and against PyTorch where installed),
over strides, paddings (int, pairs, 'same', 'valid'), dilations, groups and output_padding;
first and second derivatives by finite differences; a composite twin (pad + slicing + einsum,
no hand-written backward) whose first and second derivatives must match the hand-derived
Functions; argument errors; modules (names, shapes, init, printed form).
"""
import math

import numpy as np
import pytest

import minigen
import minigen.nn as nn
import minigen.nn.functional as F
from minigen.testing import check_op


# ----------------------------------------------------------------------------- references
def _pairs(v, n=2):
    return (v,) * n if isinstance(v, int) else tuple(v)


def ref_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Naive loop: y[n, o, a, c] = sum over the window of x_p times w[o] (+ b[o])."""
    (sh, sw), (dh, dw) = _pairs(stride), _pairs(dilation)
    O, Cg, kh, kw = w.shape
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
    elif padding == "valid":
        pads = ((0, 0), (0, 0))
    else:
        ph, pw = _pairs(padding)
        pads = ((ph, ph), (pw, pw))
    x_p = np.pad(x, ((0, 0), (0, 0)) + pads)
    N, _, Hp, Wp = x_p.shape
    OH, OW = (Hp - dh * (kh - 1) - 1) // sh + 1, (Wp - dw * (kw - 1) - 1) // sw + 1
    Og = O // groups
    y = np.zeros((N, O, OH, OW))
    for o in range(O):
        g = o // Og
        for a in range(OH):
            for c in range(OW):
                patch = x_p[:, g * Cg:(g + 1) * Cg, a * sh:a * sh + dh * (kh - 1) + 1:dh,
                            c * sw:c * sw + dw * (kw - 1) + 1:dw]
                y[:, o, a, c] = (patch * w[o]).sum(axis=(1, 2, 3))
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def ref_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                         dilation=1):
    """Naive loop: every input pixel adds x * w[ci] into the window it maps to, then crop."""
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = (_pairs(stride), _pairs(padding),
                                              _pairs(output_padding), _pairs(dilation))
    N, Cin, H, W = x.shape
    _, Cog, kh, kw = w.shape
    Cig = Cin // groups
    OH = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
    OW = (W - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
    full = np.zeros((N, Cog * groups, max(OH + ph, (H - 1) * sh + dh * (kh - 1) + 1),
                     max(OW + pw, (W - 1) * sw + dw * (kw - 1) + 1)))
    for ci in range(Cin):
        g = ci // Cig
        for a in range(H):
            for c in range(W):
                full[:, g * Cog:(g + 1) * Cog, a * sh:a * sh + dh * (kh - 1) + 1:dh,
                     c * sw:c * sw + dw * (kw - 1) + 1:dw] += x[:, ci, a, c][:, None, None, None] * w[ci]
    y = full[:, :, ph:ph + OH, pw:pw + OW]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def ref_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    pad = padding if isinstance(padding, str) else (0, _pairs(padding, 1)[0])
    return ref_conv2d(x[:, :, None], w[:, :, None], b, (1, _pairs(stride, 1)[0]), pad,
                      (1, _pairs(dilation, 1)[0]), groups)[:, :, 0]


def ref_conv_transpose1d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                         dilation=1):
    return ref_conv_transpose2d(x[:, :, None], w[:, :, None], b, (1, stride), (0, padding),
                                (0, output_padding), groups, (1, dilation))[:, :, 0]


# ----------------------------------------------------------------------------- composite twins
def twin_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d from primitive minigen ops only: pad, strided slices, stack, einsum."""
    (sh, sw), (ph, pw), (dh, dw) = _pairs(stride), _pairs(padding), _pairs(dilation)
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    G = groups
    x_p = F.pad(x, (pw, pw, ph, ph))
    OH = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    taps = [x_p[:, :, i * dh:i * dh + (OH - 1) * sh + 1:sh, j * dw:j * dw + (OW - 1) * sw + 1:sw]
            for i in range(kh) for j in range(kw)]
    P = minigen.stack(taps, dim=2).reshape(N, G, Cg, kh, kw, OH, OW)
    y = minigen.einsum("ngcijab,gocij->ngoab", P, w.reshape(G, O // G, Cg, kh, kw))
    y = y.reshape(N, O, OH, OW)
    return y if b is None else y + b.reshape(1, O, 1, 1)


def _dilate(x, s, dim):
    """Insert s - 1 zeros between neighbours along dim (from pad and reshape)."""
    if s == 1:
        return x
    n = x.shape[dim]
    z = x.unsqueeze(dim + 1)
    widths = [0, 0] * (z.ndim - dim - 2) + [0, s - 1]
    z = F.pad(z, widths)
    shape = list(x.shape)
    shape[dim] = n * s
    z = z.reshape(shape)
    index = [slice(None)] * x.ndim
    index[dim] = slice(0, (n - 1) * s + 1)
    return z[tuple(index)]


def twin_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                          dilation=1):
    """conv_transpose2d as a stride-1 conv of the zero-dilated input with the flipped kernel."""
    (sh, sw), (ph, pw), (oh, ow), (dh, dw) = (_pairs(stride), _pairs(padding),
                                              _pairs(output_padding), _pairs(dilation))
    Cin, Cog, kh, kw = w.shape
    G = groups
    xd = _dilate(_dilate(x, sh, 2), sw, 3)
    lh, lw = dh * (kh - 1) - ph, dw * (kw - 1) - pw
    xd = F.pad(xd, (lw, lw + ow, lh, lh + oh))  # negative widths crop
    wc = w.reshape(G, Cin // G, Cog, kh, kw).transpose(1, 2).reshape(G * Cog, Cin // G, kh, kw)
    wc = wc.flip((2, 3))
    return twin_conv2d(xd, wc, b, 1, 0, (dh, dw), G)


# ----------------------------------------------------------------------------- forward
CONV_CASES = [
    # x shape, w shape, kwargs
    ((2, 3, 7, 6), (4, 3, 3, 3), dict()),
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    ((1, 4, 9, 8), (6, 2, 3, 2), dict(stride=2, padding=(1, 0), groups=2)),
    ((2, 2, 9, 10), (3, 2, 3, 3), dict(stride=(2, 3), padding=2, dilation=(2, 1))),
    ((1, 6, 8, 8), (6, 1, 3, 3), dict(padding=1, groups=6)),  # depthwise
    ((2, 3, 6, 7), (4, 3, 4, 3), dict(padding="same", dilation=(1, 2))),
    ((2, 3, 6, 7), (4, 3, 2, 2), dict(padding="valid", stride=3)),
    ((1, 3, 5, 5), (2, 3, 1, 1), dict(stride=2)),  # 1x1, windows skip the last row and column
]

CONVT_CASES = [
    ((2, 3, 4, 5), (3, 4, 3, 3), dict()),
    ((2, 4, 4, 3), (4, 2, 4, 4), dict(stride=2, padding=1)),
    ((1, 4, 3, 4), (4, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2)),
    ((2, 2, 3, 3), (2, 3, 3, 3), dict(stride=2, dilation=2, output_padding=1)),
    ((1, 2, 5, 4), (2, 2, 3, 3), dict(padding=2, dilation=(1, 2))),
]


@pytest.mark.parametrize("xs,ws,kw", CONV_CASES)
def test_conv2d_forward_matches_reference(device, xs, ws, kw):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y = F.conv2d(minigen.tensor(x, device=device), minigen.tensor(w, device=device),
                 minigen.tensor(b, device=device), **kw)
    assert y.device == device and y.dtype == minigen.float64
    np.testing.assert_allclose(y.cpu().numpy(), ref_conv2d(x, w, b, **kw), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xs,ws,kw", CONVT_CASES)
def test_conv_transpose2d_forward_matches_reference(device, xs, ws, kw):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1))
    y = F.conv_transpose2d(minigen.tensor(x, device=device), minigen.tensor(w, device=device),
                           minigen.tensor(b, device=device), **kw)
    np.testing.assert_allclose(y.cpu().numpy(), ref_conv_transpose2d(x, w, b, **kw), rtol=1e-12, atol=1e-12)


def test_conv1d_and_conv_transpose1d_forward(device):
    rng = np.random.default_rng(3)
    x, b = rng.standard_normal((2, 4, 11)), rng.standard_normal(6)
    for kw in (dict(), dict(stride=2, padding=1, groups=2), dict(padding="same", dilation=3, groups=2)):
        w = rng.standard_normal((6, 4 // kw.get("groups", 1), 3))
        y = F.conv1d(minigen.tensor(x, device=device), minigen.tensor(w, device=device),
                     minigen.tensor(b, device=device), **kw)
        np.testing.assert_allclose(y.cpu().numpy(), ref_conv1d(x, w, b, **kw), atol=1e-12)
    wt = rng.standard_normal((4, 3, 3))
    for kw in (dict(), dict(stride=3, padding=1, output_padding=2), dict(dilation=2, groups=2)):
        wk = wt if kw.get("groups", 1) == 1 else wt[:, :2]
        y = F.conv_transpose1d(minigen.tensor(x, device=device), minigen.tensor(wk, device=device),
                               None, **kw)
        np.testing.assert_allclose(y.cpu().numpy(), ref_conv_transpose1d(x, wk, None, **kw), atol=1e-12)


def test_unbatched_input_float32_and_no_bias(device):
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((3, 6, 5)).astype(np.float32), rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    y = F.conv2d(minigen.tensor(x, device=device), minigen.tensor(w, device=device), padding=1)
    assert y.shape == (2, 6, 5) and y.dtype == minigen.float32
    np.testing.assert_allclose(y.cpu().numpy(), ref_conv2d(x[None].astype(np.float64), w.astype(np.float64),
                                                     padding=1)[0], rtol=1e-4, atol=1e-5)
    wt = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    yt = F.conv_transpose2d(minigen.tensor(x, device=device), minigen.tensor(wt, device=device), stride=2)
    assert yt.shape == (2, 12, 10) and yt.dtype == minigen.float32
    np.testing.assert_allclose(yt.cpu().numpy(), ref_conv_transpose2d(x[None].astype(np.float64),
                                                                wt.astype(np.float64), stride=2)[0],
                               rtol=1e-4, atol=1e-5)
    x1 = rng.standard_normal((3, 9)).astype(np.float32)
    assert F.conv1d(minigen.tensor(x1, device=device), minigen.tensor(w[:, :, 0], device=device)).shape == (2, 7)


def test_channels_last_input_gives_same_result(device):
    # a non-contiguous (transposed) input takes the zero-copy path of the im2col
    rng = np.random.default_rng(5)
    x_last = rng.standard_normal((2, 5, 6, 3))  # (N, H, W, C)
    w = rng.standard_normal((4, 3, 3, 3))
    x = minigen.tensor(x_last, device=device, requires_grad=True)
    y = F.conv2d(x.permute(0, 3, 1, 2), minigen.tensor(w, device=device))
    np.testing.assert_allclose(y.cpu().numpy(), ref_conv2d(x_last.transpose(0, 3, 1, 2), w), atol=1e-12)
    wt = minigen.tensor(rng.standard_normal((3, 2, 2, 2)), device=device, requires_grad=True)
    yt = F.conv_transpose2d(x.permute(0, 3, 1, 2), wt, stride=2)
    np.testing.assert_allclose(yt.cpu().numpy(), ref_conv_transpose2d(x_last.transpose(0, 3, 1, 2), wt.cpu().numpy(),
                                                                stride=2), atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv2d_matches_torch(case):
    torch = pytest.importorskip("torch")
    xs, ws, kw = CONV_CASES[case]
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(g))
    mx, mw, mb = (minigen.tensor(a, requires_grad=True) for a in (x, w, b))
    F.conv2d(mx, mw, mb, **kw).backward(minigen.tensor(g))
    for m, t in ((mx, tx), (mw, tw), (mb, tb)):
        np.testing.assert_allclose(m.grad.cpu().numpy(), t.grad.cpu().numpy(), atol=1e-10)


@pytest.mark.parametrize("case", range(len(CONVT_CASES)))
def test_conv_transpose2d_matches_torch(case):
    torch = pytest.importorskip("torch")
    xs, ws, kw = CONVT_CASES[case]
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv_transpose2d(tx, tw, tb, **kw)
    g = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(g))
    mx, mw, mb = (minigen.tensor(a, requires_grad=True) for a in (x, w, b))
    my = F.conv_transpose2d(mx, mw, mb, **kw)
    np.testing.assert_allclose(my.cpu().numpy(), ty.detach().cpu().numpy(), atol=1e-10)
    my.backward(minigen.tensor(g))
    for m, t in ((mx, tx), (mw, tw), (mb, tb)):
        np.testing.assert_allclose(m.grad.cpu().numpy(), t.grad.cpu().numpy(), atol=1e-10)


def test_products_over_blocks_of_images_match_one_block(device, monkeypatch):
    """On the CPU the products run over blocks of images: one image per block (and an uneven
    last block) must give what one block gives, for values and all gradients."""
    import minigen.ops.im2col as conv_ops
    rng = np.random.default_rng(18)
    x, w, wt = rng.standard_normal((5, 4, 7, 6)), rng.standard_normal((6, 2, 3, 3)), rng.standard_normal((6, 2, 4, 3))
    results = []
    for block_bytes in (1 << 30, 1, 3 * 7 * 6 * 9 * 4 * 8):
        monkeypatch.setattr(conv_ops, "_BLOCK_BYTES", block_bytes)
        tx, tw, twt = (minigen.tensor(a, device=device, requires_grad=True) for a in (x, w, wt))
        h = F.conv2d(tx, tw, stride=(1, 2), padding=1, groups=2)
        y = F.conv_transpose2d(h, twt, stride=2, padding=1, output_padding=(1, 0), groups=2)
        gx, gw, gwt = minigen.grad((y * y).sum(), (tx, tw, twt))
        results.append([t.cpu().numpy() for t in (h, y, gx, gw, gwt)])
    np.testing.assert_allclose(results[0][0], ref_conv2d(x, w, None, (1, 2), 1, 1, 2), atol=1e-12)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(a, b, atol=1e-10)


# ----------------------------------------------------------------------------- derivatives
def _inputs(rng, *shapes):
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, dilation=(1, 2), groups=2)])
def test_conv2d_gradcheck_and_gradgradcheck(device, kw):
    rng = np.random.default_rng(8)
    inputs = _inputs(rng, (1, 2, 5, 5), (2, 2 // kw.get("groups", 1), 3, 2), (2,))
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: ref_conv2d(x, w, b, **kw),
             inputs, device, forward_atol=1e-12)


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1, output_padding=1),
                                dict(dilation=2, groups=2, padding=(0, 1))])
def test_conv_transpose2d_gradcheck_and_gradgradcheck(device, kw):
    rng = np.random.default_rng(9)
    inputs = _inputs(rng, (1, 2, 3, 3), (2, 1, 3, 2), (2 if kw.get("groups") == 2 else 1,))
    check_op(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
             lambda x, w, b: ref_conv_transpose2d(x, w, b, **kw), inputs, device, forward_atol=1e-12)


def test_conv1d_and_conv_transpose1d_gradgradcheck(device):
    rng = np.random.default_rng(10)
    check_op(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding="valid"),
             lambda x, w, b: ref_conv1d(x, w, b, stride=2), _inputs(rng, (2, 2, 7), (3, 2, 3), (3,)),
             device, forward_atol=1e-12)
    check_op(lambda x, w: F.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1),
             lambda x, w: ref_conv_transpose1d(x, w, stride=2, padding=1, output_padding=1),
             _inputs(rng, (2, 2, 4), (2, 3, 3)), device, forward_atol=1e-12)


def test_conv2d_directional_gradcheck_bigger(device):
    rng = np.random.default_rng(11)
    x = minigen.tensor(rng.standard_normal((3, 6, 12, 11)), device=device, requires_grad=True)
    w = minigen.tensor(rng.standard_normal((8, 3, 3, 3)), device=device, requires_grad=True)
    wt = minigen.tensor(rng.standard_normal((8, 2, 4, 4)), device=device, requires_grad=True)
    b = minigen.tensor(rng.standard_normal(8), device=device, requires_grad=True)
    assert minigen.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
                             (x, w, b), mode="directional", n_directions=4)

    def down_up(x, w, wt):
        h = F.conv2d(x, w, padding=1, groups=2).tanh()
        return F.conv_transpose2d(h, wt, stride=2, padding=1, groups=4)

    assert minigen.gradgradcheck(down_up, (x, w, wt), mode="directional", n_directions=3)


def _twin_pairs():
    yield ("conv2d", dict(stride=2, padding=1, dilation=(1, 2), groups=2),
           (1, 4, 7, 8), (4, 2, 3, 3), 4)
    yield ("conv2d", dict(padding=(2, 0)), (2, 3, 5, 6), (2, 3, 2, 3), 2)
    # padding wider than the kernel: whole windows over the padding (col2im drops them)
    yield ("conv2d", dict(stride=(2, 1), padding=3), (1, 2, 4, 5), (3, 2, 2, 2), 3)
    yield ("conv_transpose2d", dict(stride=2, padding=1, output_padding=1, groups=2),
           (1, 4, 3, 4), (4, 3, 4, 3), 6)
    yield ("conv_transpose2d", dict(stride=(1, 2), padding=(3, 0), dilation=2), (2, 2, 6, 3),
           (2, 3, 2, 2), 3)


@pytest.mark.parametrize("op,kw,xs,ws,nb", list(_twin_pairs()))
def test_hand_derived_matches_composite_twin(device, op, kw, xs, ws, nb):
    """First and second derivatives of the hand-derived Functions against the same math built
    from primitive ops (no hand-written backward)."""
    rng = np.random.default_rng(12)
    hand = getattr(F, op)
    twin = twin_conv2d if op == "conv2d" else twin_conv_transpose2d
    arrays = _inputs(rng, xs, ws, (nb,))
    grads = {}
    for name, f in (("hand", hand), ("twin", twin)):
        x, w, b = (minigen.tensor(a, device=device, requires_grad=True) for a in arrays)
        y = f(x, w, b, **kw)
        v = minigen.tensor(np.random.default_rng(13).standard_normal(y.shape), device=device,
                           requires_grad=True)
        gx, gw, gb = minigen.grad((y * v).sum(), (x, w, b), create_graph=True)
        # a scalar of the first derivatives, differentiated again (also with respect to the
        # upstream gradient v, which reaches the weight-gradient Function's second input)
        u = [minigen.tensor(np.random.default_rng(14 + k).standard_normal(t.shape), device=device)
             for k, t in enumerate((gx, gw))]
        s = (gx * u[0]).sum() + (gw * u[1]).sum() + (gx * gx).sum() * 0.1 + (gw * gw).sum() * 0.1
        hx, hw, hv = minigen.grad(s, (x, w, v))
        grads[name] = [y.cpu().numpy()] + [t.cpu().numpy() for t in (gx, gw, gb, hx, hw, hv)]
    for k, (a, b) in enumerate(zip(grads["hand"], grads["twin"])):
        np.testing.assert_allclose(a, b, atol=1e-9, err_msg=f"entry {k}")


@pytest.mark.parametrize("op,kw,xs,ws,nb", list(_twin_pairs()))
@pytest.mark.parametrize("block_bytes", [None, 1])
def test_first_order_fused_backward_matches_composite_twin(device, monkeypatch, op, kw, xs, ws,
                                                           nb, block_bytes):
    """The first-order backward (``_fused_backward``: both products in one loop over blocks of
    images, on raw arrays) against the twin's, for every combination of the inputs that need a
    gradient, in blocks of one image and in the default blocks, from a channels-last input too."""
    import minigen.ops.im2col as conv_ops
    if block_bytes is not None:
        monkeypatch.setattr(conv_ops, "_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(21)
    hand = getattr(F, op)
    twin = twin_conv2d if op == "conv2d" else twin_conv_transpose2d
    x_np, w_np, b_np = _inputs(rng, xs, ws, (nb,))
    x_last = np.ascontiguousarray(x_np.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    for need in ((True, True, True), (True, False, False), (False, True, False),
                 (False, True, True), (False, False, True)):
        for xa in (x_np, x_last):
            res = {}
            for name, f in (("hand", hand), ("twin", twin)):
                x, w, b = (minigen.tensor(a, device=device, requires_grad=r)
                           for a, r in zip((xa, w_np, b_np), need))
                y = f(x, w, b, **kw)
                g = minigen.tensor(np.random.default_rng(22).standard_normal(y.shape), device=device)
                y.backward(g)
                res[name] = [t.grad.cpu().numpy() if r else None for t, r in zip((x, w, b), need)]
            for k, (a, c) in enumerate(zip(res["hand"], res["twin"])):
                if need[k]:
                    np.testing.assert_allclose(a, c, atol=1e-10, err_msg=f"{need} input {k}")
                else:
                    assert a is None and c is None


def test_double_backward_through_the_weight_gradient(device):
    # the gradient penalty pattern: || d out / d x ||^2 differentiated w.r.t. the weights
    rng = np.random.default_rng(15)
    x = minigen.tensor(rng.standard_normal((2, 2, 5, 5)), device=device, requires_grad=True)
    w1 = minigen.tensor(rng.standard_normal((3, 2, 3, 3)), device=device, requires_grad=True)
    w2 = minigen.tensor(rng.standard_normal((3, 2, 2, 2)), device=device, requires_grad=True)

    def penalty(x, w1, w2):
        out = F.conv_transpose2d(F.conv2d(x, w1, padding=1).tanh(), w2, stride=2).sum()
        (gx,) = minigen.grad(out, (x,), create_graph=True)
        return (gx * gx).sum()

    assert minigen.gradcheck(penalty, (x, w1, w2), mode="directional", n_directions=3)


def test_no_grad_for_input_only_weight(device):
    # the first layer: x needs no gradient, only w does (and the other way round)
    rng = np.random.default_rng(16)
    x = minigen.tensor(rng.standard_normal((2, 3, 6, 6)), device=device)
    w = minigen.tensor(rng.standard_normal((4, 3, 3, 3)), device=device, requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None and w.grad.shape == (4, 3, 3, 3)
    x.requires_grad_(True)
    w2 = minigen.tensor(w.cpu().numpy(), device=device)
    F.conv_transpose2d(x, w2.permute(1, 0, 2, 3)).sum().backward()
    assert x.grad.shape == x.shape and w2.grad is None


# ----------------------------------------------------------------------------- errors
def _t(*shape, device="cpu", dtype=None):
    return minigen.zeros(*shape, device=device, dtype=dtype)


def test_errors_name_the_op_and_shapes(device):
    x = _t(8, 1, 28, 28, device=device)
    with pytest.raises(RuntimeError, match=r"conv2d: expected input\[8, 1, 28, 28\] to have 3 channels, but got 1"):
        F.conv2d(x, _t(6, 3, 5, 5, device=device))
    with pytest.raises(RuntimeError, match=r"conv_transpose2d: expected input\[8, 1, 28, 28\] to have 4 channels, but got 1"):
        F.conv_transpose2d(x, _t(4, 2, 3, 3, device=device))
    with pytest.raises(RuntimeError, match=r"conv2d: kernel size \(7, 7\).*padded input size \(6, 6\)"):
        F.conv2d(_t(1, 1, 4, 4, device=device), _t(1, 1, 7, 7, device=device), padding=1)
    with pytest.raises(RuntimeError, match=r"conv2d: .*dilated to \(5, 5\)"):
        F.conv2d(_t(1, 1, 4, 4, device=device), _t(1, 1, 3, 3, device=device), dilation=2)
    with pytest.raises(RuntimeError, match=r"conv2d: given groups=2, expected weight to be divisible by 2"):
        F.conv2d(_t(1, 2, 4, 4, device=device), _t(3, 1, 3, 3, device=device), groups=2)
    with pytest.raises(RuntimeError, match=r"conv2d: non-positive groups"):
        F.conv2d(x, _t(1, 1, 3, 3, device=device), groups=0)
    with pytest.raises(RuntimeError, match=r"conv_transpose2d: output_padding \(2, 2\) must be smaller than either stride \(2, 2\) or dilation \(1, 1\)"):
        F.conv_transpose2d(x, _t(1, 1, 3, 3, device=device), stride=2, output_padding=2)
    with pytest.raises(RuntimeError, match=r"conv2d: padding='same' is not supported for strided"):
        F.conv2d(x, _t(1, 1, 3, 3, device=device), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"conv2d: invalid padding string 'full'"):
        F.conv2d(x, _t(1, 1, 3, 3, device=device), padding="full")
    with pytest.raises(RuntimeError, match=r"conv2d: expected 3-D \(unbatched\) or 4-D \(batched\) input, but got input of size \[28, 28\]"):
        F.conv2d(_t(28, 28, device=device), _t(1, 1, 3, 3, device=device))
    with pytest.raises(RuntimeError, match=r"conv1d: expected a 3-D weight"):
        F.conv1d(_t(1, 1, 9, device=device), _t(1, 1, 3, 3, device=device))
    with pytest.raises(RuntimeError, match=r"conv2d: expected bias of size \[6\], but got bias of size \[3\]"):
        F.conv2d(_t(1, 3, 9, 9, device=device), _t(6, 3, 3, 3, device=device), _t(3, device=device))
    with pytest.raises(RuntimeError, match=r"conv2d: input type \(float32\) and weight type \(float64\)"):
        F.conv2d(_t(1, 3, 9, 9, device=device), _t(6, 3, 3, 3, device=device, dtype=minigen.float64))
    with pytest.raises(RuntimeError, match=r"non-positive stride"):
        F.conv2d(x, _t(1, 1, 3, 3, device=device), stride=0)
    with pytest.raises(RuntimeError, match=r"negative padding"):
        F.conv2d(x, _t(1, 1, 3, 3, device=device), padding=-1)
    with pytest.raises(RuntimeError, match=r"dilation should be greater than zero"):
        F.conv2d(x, _t(1, 1, 3, 3, device=device), dilation=0)


def test_devices_must_match():
    with pytest.raises(RuntimeError, match="cpu and cuda|cuda and cpu"):
        F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3, device="cuda"))


# ----------------------------------------------------------------------------- modules
def test_module_parameters_init_and_forward(device):
    minigen.manual_seed(0)
    m = nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2, device=device)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert m.weight.shape == (8, 2, 3, 3) and m.bias.shape == (8,) and m.weight.device == device
    bound = 1 / math.sqrt(2 * 9)  # fan_in = in_channels / groups * kh * kw
    for p in (m.weight, m.bias):
        a = p.cpu().numpy()
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.5 * bound
    x = minigen.randn(2, 4, 9, 9, device=device)
    np.testing.assert_allclose(m(x).cpu().numpy(), F.conv2d(x, m.weight, m.bias, 2, 1, 1, 2).cpu().numpy())
    t = nn.ConvTranspose2d(6, 4, 4, stride=2, padding=1, bias=False, device=device)
    assert t.weight.shape == (6, 4, 4, 4) and t.bias is None
    assert np.abs(t.weight.cpu().numpy()).max() <= 1 / math.sqrt(4 * 16)  # PyTorch's fan_in: weight.shape[1] * k k
    assert t(minigen.randn(1, 6, 5, 5, device=device)).shape == (1, 4, 10, 10)
    assert nn.Conv1d(3, 5, 4, dtype=minigen.float64).weight.dtype == minigen.float64
    assert nn.ConvTranspose1d(3, 5, 4)(minigen.randn(2, 3, 6)).shape == (2, 5, 9)


def test_module_reprs():
    assert repr(nn.Conv2d(3, 64, 3, padding=1)) == \
        "Conv2d(3, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False)) == \
        "ConvTranspose2d(128, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)"
    assert repr(nn.Conv1d(3, 8, 5, padding="same", dilation=2)) == \
        "Conv1d(3, 8, kernel_size=(5,), stride=(1,), padding=same, dilation=(2,))"
    torch = pytest.importorskip("torch")
    for args, kw in [((4, 8, (3, 5)), dict(stride=2, groups=2, padding_mode="reflect", padding=1)),
                     ((4, 8, 3, 2, 1), dict(output_padding=1, groups=2, dilation=2)),
                     ((2, 6, 1), dict(bias=False))]:
        cls = "ConvTranspose2d" if "output_padding" in kw else "Conv2d"
        assert repr(getattr(nn, cls)(*args, **kw)) == repr(getattr(torch.nn, cls)(*args, **kw))


def test_padding_modes_and_output_size_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 2, 6, 7))
    for mode in ("reflect", "replicate", "circular"):
        for pad in (1, (2, 1), "same"):
            tm = torch.nn.Conv2d(2, 3, 3, padding=pad, padding_mode=mode).double()
            m = nn.Conv2d(2, 3, 3, padding=pad, padding_mode=mode, dtype=minigen.float64)
            m.load_state_dict({k: v.detach().cpu().numpy() for k, v in tm.state_dict().items()})
            np.testing.assert_allclose(m(minigen.tensor(x)).cpu().numpy(),
                                       tm(torch.tensor(x)).detach().cpu().numpy(), atol=1e-12)
    tt = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    mt = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, dtype=minigen.float64)
    mt.load_state_dict({k: v.detach().cpu().numpy() for k, v in tt.state_dict().items()})
    y = mt(minigen.tensor(x), output_size=(12, 14))
    assert y.shape == (2, 3, 12, 14)
    np.testing.assert_allclose(y.cpu().numpy(), tt(torch.tensor(x), output_size=(12, 14)).detach().cpu().numpy(),
                               atol=1e-12)
    with pytest.raises(ValueError, match=r"requested an output size of \[20, 20\], but valid sizes range from \[11, 13\] to \[12, 14\]"):
        mt(minigen.tensor(x), output_size=(20, 20))
