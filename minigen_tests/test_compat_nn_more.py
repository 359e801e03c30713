"""torch.nn features checked against real PyTorch (float64, same weights and inputs): the 3-d
family (conv3d, conv_transpose3d, max/avg/adaptive pooling, BatchNorm3d), fold, max_unpool,
lp_pool, channel_shuffle, hard/softshrink, alpha dropout, pdist, the multi-margin losses,
triplet_margin_with_distance_loss, AdaptiveLogSoftmaxWithLoss, the Lazy modules,
SyncBatchNorm and nn.Buffer. Forward, every gradient, printed forms, state-dict keys, errors;
gradcheck of the new differentiable compositions."""
import numpy as np
import pytest

import minigen as mg
import minigen.nn as mnn
import minigen.nn.functional as MF

torch = pytest.importorskip("torch")
F = torch.nn.functional
tnn = torch.nn


def _np(t):
    """A minigen or torch tensor as a NumPy array (from any device)."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t.detach().cpu().tolist() if t.device != "cpu" else t.detach().numpy())


def _close(t, m, tol=1e-10):
    a, b = _np(t), _np(m)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


def _compare(tf, mf, arrays, device, consts=(), tol=1e-10, seed=0):
    """Run tf on torch tensors and mf on minigen tensors (float64, requires_grad) of the same
    arrays (+ non-differentiable ``consts``); compare the outputs (and an integer second output)
    and the gradients of sum(out * g) for a random g."""
    rng = np.random.default_rng(seed)
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    mt = [mg.tensor(a, device=device, requires_grad=True) for a in arrays]
    tc = [torch.tensor(c) for c in consts]
    mc = [mg.tensor(c, device=device) for c in consts]
    yt, ym = tf(*tt, *tc), mf(*mt, *mc)
    if isinstance(yt, tuple):
        assert isinstance(ym, tuple) and len(ym) == len(yt)
        for a, b in zip(yt[1:], ym[1:]):
            np.testing.assert_array_equal(_np(b), _np(a))
        yt, ym = yt[0], ym[0]
    _close(yt, ym, tol)
    g = rng.standard_normal(tuple(yt.shape))
    (yt * torch.tensor(g)).sum().backward()
    (ym * mg.tensor(g, device=device)).sum().backward()
    for a, b in zip(tt, mt):
        _close(a.grad, b.grad, tol)


def _copy_weights(tm, mm, device):
    mm.load_state_dict({k: mg.tensor(v.detach().numpy(), device=device)
                        for k, v in tm.state_dict().items()})


def _module_compare(tm, mm, x, device, tol=1e-10):
    """Same weights; compare the output, the input gradient and every parameter gradient."""
    tm, mm = tm.double(), mm.double().to(device)
    assert repr(mm) == repr(tm)
    assert list(mm.state_dict()) == list(tm.state_dict())
    _copy_weights(tm, mm, device)
    xt = torch.tensor(x, requires_grad=True)
    xm = mg.tensor(x, device=device, requires_grad=True)
    yt, ym = tm(xt), mm(xm)
    _close(yt, ym, tol)
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    (yt * torch.tensor(g)).sum().backward()
    (ym * mg.tensor(g, device=device)).sum().backward()
    _close(xt.grad, xm.grad, tol)
    tp, mp = dict(tm.named_parameters()), dict(mm.named_parameters())
    assert tp.keys() == mp.keys()
    for k in tp:
        _close(tp[k].grad, mp[k].grad, tol)


R = np.random.default_rng(0)
X5 = R.standard_normal((2, 4, 5, 6, 7))


# ----------------------------------------------------------------------------- conv3d
@pytest.mark.parametrize("kw", [
    dict(stride=(2, 1, 2), padding=(1, 0, 2), dilation=(2, 1, 1), groups=2),
    dict(padding="same", dilation=(2, 1, 2), groups=2),
    dict(padding="valid", stride=3),
])
def test_conv3d(device, kw):
    w = R.standard_normal((6, 4 // kw.get("groups", 1), 3, 2, 3))
    b = R.standard_normal(6)
    _compare(lambda x, w, b: F.conv3d(x, w, b, **kw), lambda x, w, b: MF.conv3d(x, w, b, **kw),
             [X5, w, b], device)


def test_conv3d_unbatched_no_bias(device):
    w = R.standard_normal((3, 4, 2, 2, 2))
    _compare(lambda x, w: F.conv3d(x, w), lambda x, w: mg.conv3d(x, w), [X5[0], w], device)


@pytest.mark.parametrize("kw", [
    dict(stride=(2, 1, 2), padding=(1, 0, 1), output_padding=(1, 0, 1), dilation=(1, 2, 1),
         groups=2),
    dict(stride=3, padding=2, dilation=2, output_padding=2, groups=2),
    dict(),
])
def test_conv_transpose3d(device, kw):
    w = R.standard_normal((4, 3, 3, 2, 3))
    b = R.standard_normal(3 * kw.get("groups", 1))
    _compare(lambda x, w, b: F.conv_transpose3d(x, w, b, **kw),
             lambda x, w, b: MF.conv_transpose3d(x, w, b, **kw), [X5[:, :, :3, :4, :4], w, b],
             device)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv3d_module(device, mode):
    torch.manual_seed(0)
    tm = tnn.Conv3d(4, 6, (3, 2, 3), stride=(1, 2, 1), padding=1, groups=2, padding_mode=mode)
    _module_compare(tm, mnn.Conv3d(4, 6, (3, 2, 3), stride=(1, 2, 1), padding=1, groups=2,
                                   padding_mode=mode), X5, device)


def test_conv_transpose3d_module(device):
    torch.manual_seed(0)
    tm = tnn.ConvTranspose3d(4, 2, 3, stride=2, padding=1, bias=False)
    mm = mnn.ConvTranspose3d(4, 2, 3, stride=2, padding=1, bias=False)
    _module_compare(tm, mm, X5[:1, :, :3, :3, :3], device)
    # output_size picks the output padding
    _copy_weights(tm.float(), mm.float(), "cpu")
    x = X5[:1, :, :3, :3, :3].astype(np.float32)
    yt = tm(torch.tensor(x), output_size=(6, 6, 5))
    ym = mm.to("cpu")(mg.tensor(x), output_size=(6, 6, 5))
    _close(yt, ym, 1e-5)


def test_conv3d_gradcheck():
    x = mg.tensor(R.standard_normal((1, 2, 3, 4, 3)), requires_grad=True)
    w = mg.tensor(R.standard_normal((2, 1, 2, 2, 2)), requires_grad=True)
    b = mg.tensor(R.standard_normal(2), requires_grad=True)
    f = lambda x, w, b: MF.conv3d(x, w, b, stride=(2, 1, 1), padding=1, groups=2)
    assert mg.gradcheck(f, (x, w, b))
    assert mg.gradgradcheck(f, (x, w, b), mode="directional")
    wt = mg.tensor(R.standard_normal((2, 2, 2, 2, 2)), requires_grad=True)
    g = lambda x, w: MF.conv_transpose3d(x, w, stride=2, padding=(1, 0, 0), output_padding=1)
    assert mg.gradcheck(g, (x, wt))


def test_conv3d_errors():
    x, w = mg.randn(1, 4, 3, 3, 3), mg.randn(2, 4, 2, 2, 2)
    with pytest.raises(RuntimeError, match="conv3d: padding='same' is not supported for strided"):
        MF.conv3d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="invalid padding string"):
        MF.conv3d(x, w, padding="full")
    with pytest.raises(RuntimeError, match="expected input.*to have 4 channels"):
        MF.conv3d(mg.randn(1, 3, 3, 3, 3), w)
    with pytest.raises(RuntimeError, match="can't be greater than the padded input depth"):
        MF.conv3d(mg.randn(1, 4, 1, 3, 3), w)
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        MF.conv_transpose3d(x, mg.randn(4, 2, 2, 2, 2), output_padding=1)


# ----------------------------------------------------------------------------- 3-d pooling
@pytest.mark.parametrize("kw", [
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3, 2), stride=(1, 2, 3), padding=(1, 0, 1), dilation=(2, 1, 2),
         ceil_mode=True),
])
def test_max_pool3d(device, kw):
    x = np.round(X5 * 2) / 2  # ties: the gradient goes to the first maximum, as PyTorch's
    _compare(lambda x: F.max_pool3d(x, return_indices=True, **kw),
             lambda x: MF.max_pool3d(x, return_indices=True, **kw), [x], device)
    _compare(lambda x: F.max_pool3d(x, **kw), lambda x: MF.max_pool3d(x, **kw), [x[0]], device)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3, 2), stride=(1, 2, 3), padding=1, ceil_mode=True,
         count_include_pad=False),
    dict(kernel_size=2, divisor_override=3),
])
def test_avg_pool3d(device, kw):
    _compare(lambda x: F.avg_pool3d(x, **kw), lambda x: MF.avg_pool3d(x, **kw), [X5], device)


@pytest.mark.parametrize("size", [(3, None, 4), 2, (5, 6, 7)])
def test_adaptive_pool3d(device, size):
    x = np.round(X5 * 2) / 2
    _compare(lambda x: F.adaptive_avg_pool3d(x, size), lambda x: MF.adaptive_avg_pool3d(x, size),
             [X5], device)
    _compare(lambda x: F.adaptive_max_pool3d(x, size, return_indices=True),
             lambda x: MF.adaptive_max_pool3d(x, size, return_indices=True), [x], device)


def test_adaptive_max_pool_with_indices_1d_2d(device):
    x = np.round(X5[0, :, 0] * 2) / 2  # (4, 6, 7) with ties
    _compare(lambda x: F.adaptive_max_pool2d_with_indices(x, (4, 5)),
             lambda x: MF.adaptive_max_pool2d_with_indices(x, (4, 5)), [x[None]], device)
    _compare(lambda x: F.adaptive_max_pool1d_with_indices(x, 3),
             lambda x: MF.adaptive_max_pool1d_with_indices(x, 3), [x], device)
    # return_indices on the plain functions, and the one-argmax gradient with ties
    _compare(lambda x: F.adaptive_max_pool2d(x, 3), lambda x: MF.adaptive_max_pool2d(x, 3),
             [np.zeros((1, 2, 6, 6))], device)
    _compare(lambda x: F.adaptive_max_pool1d(x, 2, return_indices=True),
             lambda x: MF.adaptive_max_pool1d(x, 2, return_indices=True), [x], device)


def test_pool3d_modules(device):
    x = np.round(X5 * 2) / 2
    for tm, mm in [
        (tnn.MaxPool3d(3, 2, 1), mnn.MaxPool3d(3, 2, 1)),
        (tnn.AvgPool3d((2, 3, 2), stride=1, padding=1, ceil_mode=True, count_include_pad=False),
         mnn.AvgPool3d((2, 3, 2), stride=1, padding=1, ceil_mode=True, count_include_pad=False)),
        (tnn.AdaptiveAvgPool3d((2, None, 3)), mnn.AdaptiveAvgPool3d((2, None, 3))),
        (tnn.AdaptiveMaxPool3d(2), mnn.AdaptiveMaxPool3d(2)),
        (tnn.LPPool3d(2, 2), mnn.LPPool3d(2, 2)),
    ]:
        _module_compare(tm, mm, np.abs(x) + 0.5, device)
    tm, mm = tnn.MaxPool3d(2, return_indices=True), mnn.MaxPool3d(2, return_indices=True)
    yt, it = tm(torch.tensor(x))
    ym, im = mm(mg.tensor(x, device=device))
    _close(yt, ym)
    np.testing.assert_array_equal(_np(im), _np(it))


def test_batchnorm3d_instancenorm3d(device):
    torch.manual_seed(0)
    tm, mm = tnn.BatchNorm3d(4), mnn.BatchNorm3d(4)
    with torch.no_grad():
        tm.weight.uniform_(0.5, 1.5)
        tm.bias.uniform_(-1, 1)
    _module_compare(tm, mm, X5, device)
    _close(tm.running_var, mm.running_var)
    tm.eval(), mm.eval()
    _close(tm(torch.tensor(X5)), mm(mg.tensor(X5, device=device)))
    with pytest.raises(ValueError, match="expected 5D input"):
        mm(mg.randn(2, 4, 3, 3, device=device))
    _module_compare(tnn.InstanceNorm3d(4, affine=True), mnn.InstanceNorm3d(4, affine=True), X5,
                    device)


def test_pool3d_gradcheck():
    x = mg.tensor(R.standard_normal((1, 2, 4, 3, 5)), requires_grad=True)
    assert mg.gradcheck(lambda x: MF.max_pool3d(x, 2, stride=1, padding=1), (x,))
    assert mg.gradcheck(lambda x: MF.avg_pool3d(x, (2, 2, 3), stride=2, padding=1,
                                                ceil_mode=True, count_include_pad=False), (x,))
    assert mg.gradcheck(lambda x: MF.adaptive_max_pool3d(x, (3, 2, 2)), (x,))
    assert mg.gradcheck(lambda x: MF.adaptive_avg_pool3d(x, (3, 2, 4)), (x,))
    assert mg.gradgradcheck(lambda x: MF.max_pool3d(x, 2, stride=1), (x,))


def test_pool3d_errors():
    with pytest.raises(RuntimeError, match="max_pool3d: expected 4-D .*or 5-D"):
        MF.max_pool3d(mg.randn(2, 3, 4), 2)
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        MF.avg_pool3d(mg.randn(1, 1, 4, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match="too small"):
        MF.max_pool3d(mg.randn(1, 1, 1, 4, 4), 2)


# ----------------------------------------------------------------------------- unpool, lp, fold
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_unpool(device, nd):
    x = X5[:, :, 0, 0] if nd == 1 else X5[:, :, 0] if nd == 2 else X5
    pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1]
    y, i = pool(torch.tensor(x), 3, stride=2, padding=1, return_indices=True)
    out = x.shape[2:]
    tf = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[nd - 1]
    mf = getattr(MF, f"max_unpool{nd}d")
    _compare(lambda v, i: tf(v, i, 3, 2, 1, output_size=out),
             lambda v, i: mf(v, i, 3, 2, 1, output_size=out), [y.numpy()], device,
             consts=[i.numpy()])
    tm = getattr(tnn, f"MaxUnpool{nd}d")(3, 2, 1)
    mm = getattr(mnn, f"MaxUnpool{nd}d")(3, 2, 1)
    assert repr(mm) == repr(tm)
    _close(tm(y, i, output_size=out), mm(mg.tensor(y.numpy(), device=device),
                                         mg.tensor(i.numpy(), device=device), output_size=out))


def test_max_unpool_errors_and_gradcheck():
    y, i = MF.max_pool2d(mg.randn(1, 2, 4, 4), 2, return_indices=True)
    with pytest.raises(RuntimeError, match="Found an invalid max index"):
        MF.max_unpool2d(y, i + 100, 2)
    with pytest.raises(RuntimeError, match="dtype int64"):
        MF.max_unpool2d(y, i.double(), 2)
    with pytest.raises(ValueError, match="output_size"):
        MF.max_unpool2d(y, i, 2, output_size=(9, 9))
    v = mg.tensor(R.standard_normal((1, 2, 2, 2)), requires_grad=True)
    assert mg.gradcheck(lambda v: MF.max_unpool2d(v, i, 2), (v,))


@pytest.mark.parametrize("nd,p,kw", [(1, 2, dict(kernel_size=3, stride=2)),
                                     (2, 1.5, dict(kernel_size=(2, 3), stride=2, ceil_mode=True)),
                                     (3, 3, dict(kernel_size=2))])
def test_lp_pool(device, nd, p, kw):
    x = np.abs(X5[:, :, 0, 0] if nd == 1 else X5[:, :, 0] if nd == 2 else X5) + 0.1
    tf, mf = getattr(F, f"lp_pool{nd}d"), getattr(MF, f"lp_pool{nd}d")
    _compare(lambda x: tf(x, p, **kw), lambda x: mf(x, p, **kw), [x], device)
    tm, mm = getattr(tnn, f"LPPool{nd}d")(p, **kw), getattr(mnn, f"LPPool{nd}d")(p, **kw)
    _module_compare(tm, mm, x, device)
    xm = mg.tensor(x[:1, :2], requires_grad=True)
    assert mg.gradcheck(lambda x: mf(x, p, **kw), (xm,))


@pytest.mark.parametrize("args,shape", [
    (dict(output_size=(5, 7), kernel_size=(2, 3), dilation=(1, 2), padding=(1, 0), stride=(2, 1)),
     (2, 18, 9)),
    (dict(output_size=(4, 5), kernel_size=2, stride=(2, 1)), (8, 8)),
])
def test_fold(device, args, shape):
    c = R.standard_normal(shape)
    _compare(lambda c: F.fold(c, **args), lambda c: MF.fold(c, **args), [c], device)
    tm, mm = tnn.Fold(**args), mnn.Fold(**args)
    assert repr(mm) == repr(tm)
    _close(tm(torch.tensor(c)), mm(mg.tensor(c, device=device)))
    # fold is unfold's adjoint: <fold(c), x> = <c, unfold(x)>
    k = args["kernel_size"]
    kk = k * k if isinstance(k, int) else int(np.prod(k))
    x = R.standard_normal(((2,) if len(shape) == 3 else ()) + (shape[-2] // kk,)
                          + args["output_size"])
    uk = {k: v for k, v in args.items() if k != "output_size"}
    lhs = (MF.fold(mg.tensor(c), **args) * mg.tensor(x)).sum().item()
    rhs = (mg.tensor(c) * MF.unfold(mg.tensor(x), **uk)).sum().item()
    assert abs(lhs - rhs) < 1e-9
    assert mg.gradcheck(lambda c: MF.fold(c, **args), (mg.tensor(c, requires_grad=True),))


def test_fold_errors():
    with pytest.raises(RuntimeError, match="calculated number of sliding blocks 3 \\* 3 = 9"):
        MF.fold(mg.randn(1, 18, 12), (5, 7), (2, 3), dilation=(1, 2), padding=(1, 0),
                stride=(2, 1))
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        MF.fold(mg.randn(1, 5, 9), (4, 4), 2)


# ----------------------------------------------------------------------------- small functions
def test_channel_shuffle_shrink(device):
    x = R.standard_normal((2, 6, 3, 4))
    _compare(lambda x: F.channel_shuffle(x, 3), lambda x: MF.channel_shuffle(x, 3), [x], device)
    _compare(lambda x: F.softshrink(x, 0.7), lambda x: MF.softshrink(x, 0.7), [x], device)
    _compare(lambda x: F.hardshrink(x, 0.7), lambda x: MF.hardshrink(x, 0.7), [x], device)
    for tm, mm in [(tnn.ChannelShuffle(2), mnn.ChannelShuffle(2)), (tnn.Hardshrink(), mnn.Hardshrink()),
                   (tnn.Softshrink(0.3), mnn.Softshrink(0.3))]:
        assert repr(mm) == repr(tm)
        _close(tm(torch.tensor(x)), mm(mg.tensor(x, device=device)))
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups"):
        MF.channel_shuffle(mg.randn(2, 5, 3), 2)
    with pytest.raises(RuntimeError, match="expects input with > 2 dims"):
        MF.channel_shuffle(mg.randn(5), 5)
    with pytest.raises(RuntimeError, match="lambda must be in range"):
        MF.softshrink(mg.randn(3), -1.0)


def test_alpha_dropout(device):
    mg.manual_seed(0)
    x = mg.randn(4000, 50, device=device)
    assert MF.alpha_dropout(x, 0.2) is x  # training=False is the default
    assert float(MF.alpha_dropout(x, 1.0, True).abs().sum()) == 0.0
    for f in (MF.alpha_dropout, MF.feature_alpha_dropout):
        y = f(x, 0.2, True)
        # mean and variance kept (SELU's self-normalisation)
        assert abs(float(y.mean())) < 0.03 and abs(float(y.std()) - 1) < 0.03
    def floor(p):  # the value every dropped element takes: a alpha' (p - 1)
        al = 1.7580993408473766
        return ((al * al * p + 1) * (1 - p)) ** -0.5 * al * (p - 1)

    y = _np(MF.alpha_dropout(x, 0.3, True))
    assert np.isclose(y, floor(0.3)).mean() == pytest.approx(0.3, abs=0.02)
    z = np.isclose(_np(MF.feature_alpha_dropout(mg.randn(64, 8, 5, device=device), 0.5, True)),
                   floor(0.5))
    assert (z.all(-1) | ~z.any(-1)).all() and 0.3 < z.all(-1).mean() < 0.7  # whole channels
    for tm, mm in [(tnn.AlphaDropout(), mnn.AlphaDropout()),
                   (tnn.FeatureAlphaDropout(0.2, inplace=True), mnn.FeatureAlphaDropout(0.2, True))]:
        assert repr(mm) == repr(tm)
        mm.eval()
        assert mm(x) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        MF.alpha_dropout(x, 1.5, True)
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
        MF.feature_alpha_dropout(mg.randn(5), 0.5, True)


@pytest.mark.parametrize("p", [2, 1, 0.5, 3, 0, float("inf")])
def test_pdist(device, p):
    x = R.standard_normal((5, 4))
    x[3] = x[1]  # a zero distance: gradient 0 there, as PyTorch's
    x[4, 2] = x[0, 2]  # a zero coordinate difference
    _compare(lambda x: F.pdist(x, p), lambda x: MF.pdist(x, p), [x], device)
    _compare(lambda x: torch.pdist(x, p), lambda x: mg.pdist(x, p), [x], device)
    if p not in (0, float("inf")):
        xm = mg.tensor(R.standard_normal((4, 3)), requires_grad=True)
        assert mg.gradcheck(lambda x: MF.pdist(x, p), (xm,))


def test_pdist_errors():
    with pytest.raises(RuntimeError, match="pdist only supports 2D tensors, got: 3D"):
        MF.pdist(mg.randn(2, 3, 4))


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("kw", [dict(), dict(p=2, margin=0.7, reduction="sum"),
                                dict(reduction="none", weight=True)])
def test_multi_margin_loss(device, kw):
    x = R.standard_normal((4, 5))
    t = np.array([1, 0, 4, 2])
    w = R.random(5)
    tkw = dict(kw, weight=torch.tensor(w)) if kw.get("weight") else kw
    mkw = dict(kw, weight=mg.tensor(w, device=device)) if kw.get("weight") else kw
    _compare(lambda x, t: F.multi_margin_loss(x, t, **tkw),
             lambda x, t: MF.multi_margin_loss(x, t, **mkw), [x], device, consts=[t])
    tm = tnn.MultiMarginLoss(**tkw)
    mm = mnn.MultiMarginLoss(**mkw)
    assert repr(mnn.MultiMarginLoss()) == repr(tnn.MultiMarginLoss())
    assert list(mm.state_dict()) == list(tm.state_dict())
    _close(tm(torch.tensor(x), torch.tensor(t)),
           mm(mg.tensor(x, device=device), mg.tensor(t, device=device)))
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        MF.multi_margin_loss(mg.randn(2, 3), mg.tensor([0, 1]), p=3)
    xm = mg.tensor(x, requires_grad=True)
    assert mg.gradcheck(lambda x: MF.multi_margin_loss(x, mg.tensor(t), p=2), (xm,))


def test_multilabel_margin_loss(device):
    x = R.standard_normal((4, 5))
    t = np.array([[1, 3, -1, 0, 2], [0, 0, 0, -1, 1], [4, 3, 2, 1, 0], [-1, 2, 2, 2, 2]])
    for red in ("mean", "sum", "none"):
        _compare(lambda x, t: F.multilabel_margin_loss(x, t, reduction=red),
                 lambda x, t: MF.multilabel_margin_loss(x, t, reduction=red), [x], device,
                 consts=[t])
    _compare(lambda x, t: F.multilabel_margin_loss(x, t), lambda x, t: MF.multilabel_margin_loss(x, t),
             [x[0]], device, consts=[t[0]])
    assert repr(mnn.MultiLabelMarginLoss()) == repr(tnn.MultiLabelMarginLoss())
    _close(tnn.MultiLabelMarginLoss()(torch.tensor(x), torch.tensor(t)),
           mnn.MultiLabelMarginLoss()(mg.tensor(x, device=device), mg.tensor(t, device=device)))
    with pytest.raises(RuntimeError, match="expected scalar type Long"):
        MF.multilabel_margin_loss(mg.randn(2, 5), mg.zeros(2, 5))
    with pytest.raises(RuntimeError, match="inconsistent target size"):
        MF.multilabel_margin_loss(mg.randn(2, 5), mg.tensor([[1, 2, -1, 0]]))
    xm = mg.tensor(x, requires_grad=True)
    assert mg.gradcheck(lambda x: MF.multilabel_margin_loss(x, mg.tensor(t)), (xm,))


def test_triplet_margin_with_distance_loss(device):
    a, p, n = (R.standard_normal((4, 5)) for _ in range(3))
    _compare(lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n, swap=True),
             lambda a, p, n: MF.triplet_margin_with_distance_loss(a, p, n, swap=True),
             [a, p, n], device)
    l1 = lambda u, v: (u - v).abs().sum(-1)  # noqa: E731
    _compare(lambda a, p, n: F.triplet_margin_with_distance_loss(
                 a, p, n, distance_function=l1, margin=2.0, reduction="none"),
             lambda a, p, n: MF.triplet_margin_with_distance_loss(
                 a, p, n, distance_function=l1, margin=2.0, reduction="none"), [a, p, n], device)
    tm = tnn.TripletMarginWithDistanceLoss(distance_function=tnn.PairwiseDistance(), swap=True)
    mm = mnn.TripletMarginWithDistanceLoss(distance_function=mnn.PairwiseDistance(), swap=True)
    assert repr(mm) == repr(tm)
    assert repr(mnn.TripletMarginWithDistanceLoss()) == repr(tnn.TripletMarginWithDistanceLoss())
    _close(tm(*map(torch.tensor, (a, p, n))), mm(*(mg.tensor(v, device=device) for v in (a, p, n))))
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        MF.triplet_margin_with_distance_loss(mg.randn(2), mg.randn(2), mg.randn(2), margin=-1.0)
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        mnn.TripletMarginWithDistanceLoss(margin=0)


def test_adaptive_log_softmax(device):
    torch.manual_seed(0)
    tm = tnn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0, head_bias=True).double()
    mm = mnn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0, head_bias=True).double()
    mm.to(device)
    assert repr(mm) == repr(tm)
    assert list(mm.state_dict()) == list(tm.state_dict())
    _copy_weights(tm, mm, device)
    x = R.standard_normal((7, 8))
    t = np.array([0, 9, 4, 2, 5, 7, 1])
    _compare(lambda x, t: (lambda o: o.output * 2 + o.loss)(tm(x, t)),
             lambda x, t: (lambda o: o.output * 2 + o.loss)(mm(x, t)), [x], device, consts=[t])
    for k, p in mm.named_parameters():
        _close(dict(tm.named_parameters())[k].grad, p.grad)
    xt, xm = torch.tensor(x), mg.tensor(x, device=device)
    _close(tm.log_prob(xt), mm.log_prob(xm))
    np.testing.assert_array_equal(_np(mm.predict(xm)), _np(tm.predict(xt)))
    o1, o2 = tm(xt[0], torch.tensor(t[0])), mm(xm[0], mg.tensor(t[0], device=device))
    _close(o1.output, o2.output)
    _close(o1.loss, o2.loss)
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 9\]"):
        mm(xm[:2], mg.tensor([0, 10], device=device))
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique"):
        mnn.AdaptiveLogSoftmaxWithLoss(8, 10, [6, 3])


# ----------------------------------------------------------------------------- Lazy, Sync, Buffer
@pytest.mark.parametrize("name,args,kw,shape", [
    ("LazyLinear", (3,), {}, (2, 4)),
    ("LazyConv1d", (4, 3), dict(padding=1), (2, 2, 6)),
    ("LazyConv2d", (4, 3), dict(groups=2, padding=1), (2, 2, 5, 5)),
    ("LazyConv3d", (4, 2), {}, (2, 5, 5, 5)),
    ("LazyConvTranspose1d", (4, 3), dict(stride=2, bias=False), (2, 2, 5)),
    ("LazyConvTranspose2d", (4, 3), dict(stride=2), (2, 2, 3, 3)),
    ("LazyConvTranspose3d", (4, 2), {}, (1, 2, 3, 3, 3)),
    ("LazyBatchNorm1d", (), dict(affine=False), (5, 3)),
    ("LazyBatchNorm2d", (), {}, (2, 3, 4, 4)),
    ("LazyBatchNorm3d", (), {}, (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 6)),
    ("LazyInstanceNorm2d", (), dict(track_running_stats=False), (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), dict(bias=False), (2, 3, 2, 3, 2)),
])
def test_lazy_modules(device, name, args, kw, shape):
    tm, mm = getattr(tnn, name)(*args, **kw), getattr(mnn, name)(*args, **kw)
    assert repr(mm) == repr(tm)
    assert mm.has_uninitialized_params()
    kinds = {k: type(v).__name__ for k, v in mm.state_dict(keep_vars=True).items()}
    assert kinds == {k: type(v).__name__ for k, v in tm.state_dict(keep_vars=True).items()}
    params = list(mm.parameters())  # held across the initialisation (an optimizer's list)
    x = R.standard_normal(shape)
    tm(torch.tensor(x, dtype=torch.float32))
    mm.to(device)(mg.tensor(x, dtype=mg.float32, device=device))
    assert type(mm).__name__ == type(tm).__name__ == name[4:]
    assert not hasattr(mm, "has_uninitialized_params") or not mm.has_uninitialized_params()
    assert all(type(p) is mnn.Parameter for p in params)
    assert [p is q for p, q in zip(params, mm.parameters())] == [True] * len(params)
    tm, mm = tm.double(), mm.double()
    _module_compare(tm, mm, x, device)


def test_lazy_load_state_dict_and_errors():
    m = mnn.LazyLinear(3)
    p = m.weight
    assert repr(p) == "<UninitializedParameter>" and isinstance(p, mnn.Parameter)
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        p.shape
    t = tnn.Linear(4, 3)
    m.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    assert type(m.weight) is mnn.Parameter and m.weight.shape == (3, 4)
    m(mg.randn(2, 4))
    assert type(m) is mnn.Linear and repr(m) == repr(t)
    import copy
    c = copy.deepcopy(mnn.LazyConv2d(3, 2, dtype=mg.float64))  # copies stay lazy, dtype kept
    assert c.has_uninitialized_params()
    c(mg.randn(1, 2, 4, 4, dtype=mg.float64))
    assert type(c) is mnn.Conv2d and c.weight.dtype == mg.float64 and c.weight.shape == (3, 2, 2, 2)
    b = mnn.UninitializedBuffer()
    b.materialize((2, 3))
    assert type(b) is mg.Tensor and b.shape == (2, 3)
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        mnn.LazyConv2d(4, 3, groups=2)(mg.randn(1, 3, 5, 5))


def test_sync_batchnorm(device):
    torch.manual_seed(0)
    tm, mm = tnn.SyncBatchNorm(4), mnn.SyncBatchNorm(4)
    x = R.standard_normal((3, 4, 5, 2))
    _module_compare(tm, mm, x, device)
    _close(tm.running_mean, mm.running_mean)
    tm.eval(), mm.eval()
    _close(tm(torch.tensor(x)), mm(mg.tensor(x, device=device)))
    with pytest.raises(ValueError, match="expected at least 2D input"):
        mm(mg.randn(4, device=device))
    net = mnn.Sequential(mnn.Conv2d(2, 4, 1), mnn.BatchNorm2d(4),
                         mnn.Sequential(mnn.BatchNorm1d(4).eval()))
    ref = tnn.Sequential(tnn.Conv2d(2, 4, 1), tnn.BatchNorm2d(4),
                         tnn.Sequential(tnn.BatchNorm1d(4).eval()))
    w = net[1].weight
    out = mnn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert repr(out) == repr(tnn.SyncBatchNorm.convert_sync_batchnorm(ref))
    assert type(out[1]) is mnn.SyncBatchNorm and out[1].weight is w
    assert not out[2][0].training and out[1].training


def test_buffer():
    class M(mnn.Module):
        def __init__(self):
            super().__init__()
            self.a = mnn.Buffer(mg.ones(2))
            self.b = mnn.Buffer(mg.zeros(1), persistent=False)
            self.w = mnn.Parameter(mg.ones(1))

    class T(tnn.Module):
        def __init__(self):
            super().__init__()
            self.a = tnn.Buffer(torch.ones(2))
            self.b = tnn.Buffer(torch.zeros(1), persistent=False)
            self.w = tnn.Parameter(torch.ones(1))

    m, t = M(), T()
    assert list(m.state_dict()) == list(t.state_dict()) == ["w", "a"]
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in t.named_buffers()] == ["a", "b"]
    assert [n for n, _ in m.named_parameters()] == ["w"]
    with pytest.raises(TypeError, match="cannot assign .* as parameter 'w'"):
        m.w = mnn.Buffer(mg.ones(1))
    m.a = mg.zeros(3)  # a plain tensor to a buffer's name stays a buffer
    m.b = mnn.Buffer(mg.zeros(1))  # re-declared persistent
    assert list(m.state_dict()) == ["w", "a", "b"]
    m.double()
    assert m.a.dtype == mg.float64


# ----------------------------------------------------------------------------- fractional max pool
@pytest.mark.parametrize("nd,shape,k,kw", [
    (2, (2, 3, 9, 11), (2, 3), dict(output_size=(4, 5))),
    (2, (3, 7, 8), 3, dict(output_ratio=(0.5, 0.5))),
    (3, (2, 2, 6, 7, 8), 2, dict(output_size=(3, 4, 5))),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fractional_max_pool(device, nd, shape, k, kw, dtype):
    x = R.standard_normal(shape).astype(dtype)
    n = 1 if len(shape) == nd + 1 else shape[0]
    # the same samples: the window placement is then PyTorch's exactly (computed in the input's
    # float type, so float32 truncations agree too)
    s = R.random((n, shape[-nd - 1], nd)).astype(dtype)
    tf, mf = getattr(F, f"fractional_max_pool{nd}d"), getattr(MF, f"fractional_max_pool{nd}d")
    tol = 1e-10 if dtype == np.float64 else 1e-6
    _compare(lambda x, s: tf(x, k, return_indices=True, _random_samples=s, **kw),
             lambda x, s: mf(x, k, return_indices=True, _random_samples=s, **kw),
             [x], device, consts=[s], tol=tol)
    tm = getattr(tnn, f"FractionalMaxPool{nd}d")(k, _random_samples=torch.tensor(s), **kw)
    mm = getattr(mnn, f"FractionalMaxPool{nd}d")(k, _random_samples=mg.tensor(s), **kw)
    assert repr(mm) == repr(tm) and list(mm.state_dict()) == list(tm.state_dict())
    _close(tm(torch.tensor(x)), mm.to(device)(mg.tensor(x, device=device)), tol)
    # without samples: drawn from minigen's generator, the output size is still the asked one
    assert mf(mg.tensor(x, device=device), k, **kw).shape == tf(torch.tensor(x), k, **kw).shape


def test_fractional_max_pool_errors_and_gradcheck():
    with pytest.raises(RuntimeError, match="pool height 3 too large relative to input height 4"):
        MF.fractional_max_pool2d(mg.randn(1, 2, 4, 4), 3, output_size=3)
    with pytest.raises(ValueError, match="requires specifying either an output_size"):
        MF.fractional_max_pool2d(mg.randn(1, 2, 4, 4), 2)
    with pytest.raises(RuntimeError, match="Expect _random_samples.size\\(1\\) equals to input"):
        MF.fractional_max_pool2d(mg.randn(1, 2, 4, 4), 2, output_size=3,
                                 _random_samples=mg.rand(1, 3, 2))
    with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
        mnn.FractionalMaxPool2d(2, output_ratio=1.5)
    with pytest.raises(ValueError, match="requires specifying either an output size"):
        mnn.FractionalMaxPool2d(2)
    x = mg.tensor(R.standard_normal((1, 2, 5, 6)), requires_grad=True)
    s = mg.tensor(R.random((1, 2, 2)))
    assert mg.gradcheck(lambda x: MF.fractional_max_pool2d(x, 2, output_size=(3, 4),
                                                           _random_samples=s), (x,))


# ----------------------------------------------------------------------------- conv_tbc, deprecated
@pytest.mark.parametrize("pad", [0, 2, -1])
def test_conv_tbc(device, pad):
    x, w, b = R.standard_normal((5, 2, 3)), R.standard_normal((3, 3, 4)), R.standard_normal(4)
    _compare(lambda x, w, b: torch.conv_tbc(x, w, b, pad), lambda x, w, b: mg.conv_tbc(x, w, b, pad),
             [x, w, b], device)
    _compare(lambda x, w, b: F.conv_tbc(x, w, b, pad), lambda x, w, b: MF.conv_tbc(x, w, b, pad),
             [x, w, b], device)
    with pytest.raises(RuntimeError, match="Input dim 2 \\(input channels\\) is not == dim 1"):
        mg.conv_tbc(mg.randn(5, 2, 2), mg.randn(3, 3, 4), mg.randn(4))
    with pytest.raises(RuntimeError, match="Input must have 3 dims"):
        mg.conv_tbc(mg.randn(5, 2), mg.randn(3, 3, 4), mg.randn(4))


def test_deprecated_nllloss2d_container():
    x, t = R.standard_normal((2, 3, 4, 4)), R.integers(0, 3, (2, 4, 4))
    with pytest.warns(FutureWarning, match="NLLLoss2d` has been deprecated"):
        mm = mnn.NLLLoss2d(ignore_index=1)
    with pytest.warns(FutureWarning):
        tm = tnn.NLLLoss2d(ignore_index=1)
    assert repr(mm) == repr(tm)
    _close(tm(torch.tensor(x).log_softmax(1), torch.tensor(t)),
           mm(mg.tensor(x).log_softmax(1), mg.tensor(t)))
    with pytest.warns(FutureWarning, match="nn.Container` is deprecated"):
        c = mnn.Container(a=mnn.Linear(2, 3), b=mnn.ReLU())
    with pytest.warns(FutureWarning):
        tc = tnn.Container(a=tnn.Linear(2, 3), b=tnn.ReLU())
    assert repr(c) == repr(tc) and list(c.state_dict()) == list(tc.state_dict())


# ----------------------------------------------------------------------------- linear_cross_entropy
@pytest.mark.parametrize("kw,out_features,tshape", [
    (dict(bias=True, label_smoothing=0.1), (), (6,)),
    (dict(reduction="none", ignore_index=2), (3,), (6, 3)),
    (dict(reduction="sum", weight=True), (), (6,)),
])
def test_linear_cross_entropy(device, kw, out_features, tshape):
    torch.manual_seed(0)
    w = R.random(5)
    tkw = dict(kw, weight=torch.tensor(w)) if kw.get("weight") else kw
    mkw = dict(kw, weight=mg.tensor(w, device=device)) if kw.get("weight") else kw
    tm = tnn.LinearCrossEntropyLoss(4, 5, out_features=out_features, **tkw).double()
    mm = mnn.LinearCrossEntropyLoss(4, 5, out_features=out_features, **mkw).double().to(device)
    assert repr(mm) == repr(tm) and list(mm.state_dict()) == list(tm.state_dict())
    _copy_weights(tm, mm, device)
    x, t = R.standard_normal((6, 4)), R.integers(0, 5, tshape)
    _compare(lambda x, t: tm(x, t), lambda x, t: mm(x, t), [x], device, consts=[t])
    for k, p in mm.named_parameters():
        _close(dict(tm.named_parameters())[k].grad, p.grad)
    # the functional form, with class probabilities as targets, and unbatched
    W, p = R.standard_normal((5, 4)), R.dirichlet(np.ones(5), 6)
    _compare(lambda x, W, p: F.linear_cross_entropy(x, W, p),
             lambda x, W, p: MF.linear_cross_entropy(x, W, p), [x, W, p], device)
    _compare(lambda x, W: F.linear_cross_entropy(x, W, torch.tensor(3)),
             lambda x, W: MF.linear_cross_entropy(x, W, mg.tensor(3, device=device)), [x[0], W],
             device)
    assert repr(mnn.LinearCrossEntropyOptions()) == repr(tnn.LinearCrossEntropyOptions())
    with pytest.raises(RuntimeError, match="expected equal input and linear_weight last"):
        MF.linear_cross_entropy(mg.randn(2, 3), mg.randn(5, 4), mg.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="ignore_index cannot be specified when target contains"):
        MF.linear_cross_entropy(mg.randn(2, 4), mg.randn(5, 4), mg.rand(2, 5), ignore_index=1)


# ----------------------------------------------------------------------------- torch.nn.grad
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_nn_grad_conv(device, nd):
    shape, wshape = (2, 4) + (6,) * nd, (6, 2) + (3,) * nd
    x, w = R.standard_normal(shape), R.standard_normal(wshape)
    kw = dict(stride=2, padding=1, groups=2)
    g = R.standard_normal(tuple(getattr(F, f"conv{nd}d")(torch.tensor(x), torch.tensor(w),
                                                         **kw).shape))
    ti, mi = getattr(torch.nn.grad, f"conv{nd}d_input"), getattr(mnn.grad, f"conv{nd}d_input")
    tw, mw = getattr(torch.nn.grad, f"conv{nd}d_weight"), getattr(MF.grad, f"conv{nd}d_weight")
    # differentiable in the other operand and in grad_output, as PyTorch's
    _compare(lambda w, g: ti(shape, w, g, **kw), lambda w, g: mi(shape, w, g, **kw), [w, g],
             device)
    _compare(lambda x, g: tw(x, wshape, g, **kw), lambda x, g: mw(x, wshape, g, **kw), [x, g],
             device)


def test_overrides_module():
    from minigen.overrides import (handle_torch_function, has_torch_function,
                                   has_torch_function_unary, has_torch_function_variadic)
    x = mg.randn(2)
    assert not has_torch_function((x,)) and not has_torch_function_unary(x)
    assert not has_torch_function_variadic(x, x)
    with pytest.raises(NotImplementedError, match="no __torch_function__ dispatch"):
        handle_torch_function(MF.relu, (x,), x)
