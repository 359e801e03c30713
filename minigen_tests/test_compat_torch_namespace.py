"""The torch.* namespace beyond nn.functional, against real PyTorch (float64): the ATen-signature
spellings of functional ops (minigen/torch_functional.py), torch.gradient / histogramdd /
poisson / binomial (minigen/ops/extras_torch_numeric.py), the linalg decompositions and matrix
functions (minigen/linalg_decomp.py) and torch.func / torch.vmap (minigen/func.py).

Values and gradients are compared with PyTorch's; the new differentiable ops are gradchecked
and gradgradchecked with minigen.gradcheck; errors are checked by their messages."""
import warnings

import numpy as np
import pytest

import minigen as mg
import minigen.nn.functional as F

torch = pytest.importorskip("torch")


def _np(t):
    return t.detach().cpu().numpy() if hasattr(t, "cpu") else np.asarray(t)


def _pair(arrays, device="cpu"):
    """The same float64 arrays as PyTorch leaves and as minigen leaves (on ``device``)."""
    tt = [torch.tensor(a, dtype=torch.float64, requires_grad=True) if a.dtype.kind == "f"
          else torch.tensor(a) for a in arrays]
    mm = [mg.tensor(a, dtype=mg.float64, device=device, requires_grad=True)
          if a.dtype.kind == "f" else mg.tensor(a, device=device) for a in arrays]
    return tt, mm


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flat(o)]
    return [out]


def _compare(ft, fm, arrays, device="cpu", atol=1e-10, grad=True):
    """Forward outputs and (for a random weighting of the float outputs) input gradients."""
    tt, mm = _pair(arrays, device)
    ot, om = _flat(ft(*tt)), _flat(fm(*mm))
    assert len(ot) == len(om)
    for a, b in zip(ot, om):
        np.testing.assert_allclose(_np(b), _np(a), atol=atol, rtol=1e-8)
    if not grad:
        return
    rng = np.random.default_rng(1)
    ws = [rng.standard_normal(tuple(a.shape)) for a in ot]
    lt = sum((a * torch.tensor(w)).sum() for a, w in zip(ot, ws) if a.requires_grad)
    lm = sum((b * mg.tensor(w, device=device)).sum() for b, w in zip(om, ws)
             if b.requires_grad)
    if not isinstance(lt, int):
        lt.backward()
    if not isinstance(lm, int):
        lm.backward()
    for a, b in zip(tt, mm):
        if a.requires_grad:
            if a.grad is None or b.grad is None:  # no gradient on one side: zero on the other
                assert a.grad is None or not _np(a.grad).any()
                assert b.grad is None or not _np(b.grad).any()
                continue
            np.testing.assert_allclose(_np(b.grad), _np(a.grad), atol=atol, rtol=1e-8)


R = np.random.default_rng(0)
X3 = R.standard_normal((4, 6, 5))


# ----------------------------------------------------------------------------- ATen spellings
def _bn(t):
    def f(lib, x, w, b):
        rm, rv = lib.zeros_like(w).detach(), lib.ones_like(w).detach()
        y = lib.batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5, False)
        return y, rm, rv
    return f


SPELLINGS = {
    "batch_norm": (lambda L, x, w, b: _bn(L)(L, x, w, b), [X3, R.uniform(.5, 2, 6), R.standard_normal(6)]),
    "instance_norm": (lambda L, x, w, b: L.instance_norm(x, w, b, None, None, True, 0.1, 1e-5,
                                                         False), [X3, R.uniform(.5, 2, 6), R.standard_normal(6)]),
    "layer_norm": (lambda L, x, w, b: L.layer_norm(x, [5], w, b, 1e-5, True),
                   [X3, R.uniform(.5, 2, 5), R.standard_normal(5)]),
    "group_norm": (lambda L, x, w, b: L.group_norm(x, 3, w, b, 1e-5, True),
                   [X3, R.uniform(.5, 2, 6), R.standard_normal(6)]),
    "rms_norm": (lambda L, x, w: L.rms_norm(x, [5], w, 1e-6), [X3, R.uniform(.5, 2, 5)]),
    "embedding": (lambda L, w, i: L.embedding(w, i), [R.standard_normal((7, 3)),
                                                      np.array([[1, 2], [6, 1]])]),
    "conv1d": (lambda L, x, w, b: L.conv1d(x, w, b, 2, 1), [X3, R.standard_normal((3, 6, 3)),
                                                            R.standard_normal(3)]),
    "conv_transpose1d": (lambda L, x, w: L.conv_transpose1d(x, w, None, 2, 1, 1),
                         [X3, R.standard_normal((6, 2, 3))]),
    "max_pool1d": (lambda L, x: L.max_pool1d(x, 2), [X3]),
    "max_pool2d": (lambda L, x: L.max_pool2d(x, 2, 1), [X3]),
    "avg_pool1d": (lambda L, x: L.avg_pool1d(x, 3, 1, 1), [X3]),
    "adaptive_avg_pool1d": (lambda L, x: L.adaptive_avg_pool1d(x, 3), [X3]),
    "adaptive_max_pool1d": (lambda L, x: L.adaptive_max_pool1d(x, 3), [X3]),
    "pixel_shuffle": (lambda L, x: L.pixel_shuffle(x.reshape(2, 12, 5, 1), 2), [X3]),
    "channel_shuffle": (lambda L, x: L.channel_shuffle(x, 3), [X3]),
    "prelu": (lambda L, x, w: L.prelu(x, w), [X3, R.uniform(0, .5, 6)]),
    "selu": (lambda L, x: L.selu(x), [X3]),
    # PyTorch's celu backward takes 1 / alpha in float32 (errors ~1e-8 in float64)
    "celu": (lambda L, x: L.celu(x, 0.7), [X3], 1e-7),
    "threshold": (lambda L, x: L.threshold(x, 0.1, -2.0), [X3]),
    "cosine_similarity": (lambda L, a, b: L.cosine_similarity(a, b, 1), [X3, X3[::-1].copy()]),
    "pairwise_distance": (lambda L, a, b: L.pairwise_distance(a[0], b[0], 1.5),
                          [X3, X3[::-1].copy()]),
    "pdist": (lambda L, a: L.pdist(a[0]), [X3]),
    "kl_div": (lambda L, a, b: L.kl_div(a, b), [X3, R.uniform(.1, 1, (4, 6, 5))]),
    "kl_div_mean": (lambda L, a, b: L.kl_div(a, b, 1), [X3, R.uniform(.1, 1, (4, 6, 5))]),
    "kl_div_sum_log": (lambda L, a, b: L.kl_div(a, b, 2, log_target=True), [X3, X3 * 0.3]),
    "bce_logits": (lambda L, a, b, w: L.binary_cross_entropy_with_logits(a, b, None,
                                                                         w.detach(), 1),
                   [X3, R.uniform(0, 1, (4, 6, 5)), R.uniform(.5, 2, 5)]),
    "margin_ranking": (lambda L, a, b, y: L.margin_ranking_loss(a, b, y, 0.2, 2),
                       [R.standard_normal(5), R.standard_normal(5), np.array([1., -1, 1, 1, -1])]),
    "triplet_margin": (lambda L, a, p, n: L.triplet_margin_loss(a, p, n, 1.0, 2.0, 1e-6, True),
                       [X3[0], X3[1], X3[2]]),
    "hinge_embedding": (lambda L, a, y: L.hinge_embedding_loss(a, y, 0.5, 1),
                        [R.standard_normal(5), np.array([1., -1, 1, 1, -1])]),
    "cosine_embedding": (lambda L, a, b, y: L.cosine_embedding_loss(a, b, y, 0.1, 0),
                         [X3[0, :5], X3[1, :5], np.array([1., -1, 1, 1, -1])]),
    "poisson_nll": (lambda L, a, b: L.poisson_nll_loss(a, b, True, True, 1e-8, 1),
                    [X3, R.uniform(0.5, 3, (4, 6, 5))]),
    "bilinear": (lambda L, a, b, w: L.bilinear(a, b, w), [X3[0], X3[1, :, :4],
                                                          R.standard_normal((3, 5, 4))]),
    "constant_pad_nd": (lambda L, x: L.constant_pad_nd(x, [1, 2], 0.5), [X3]),
    "rsub_scalar_alpha": (lambda L, x: L.rsub(x, 1.5, alpha=2), [X3]),
    "lstm_cell": (lambda L, x, h, c, wi, wh, bi, bh: L.lstm_cell(x, [h, c], wi, wh, bi, bh),
                  [R.standard_normal((2, 3)), R.standard_normal((2, 4)), R.standard_normal((2, 4)),
                   R.standard_normal((16, 3)), R.standard_normal((16, 4)), R.standard_normal(16),
                   R.standard_normal(16)]),
    "gru_cell": (lambda L, x, h, wi, wh: L.gru_cell(x, h, wi, wh),
                 [R.standard_normal((2, 3)), R.standard_normal((2, 4)), R.standard_normal((12, 3)),
                  R.standard_normal((12, 4))]),
    "rnn_tanh_cell": (lambda L, x, h, wi, wh, b: L.rnn_tanh_cell(x, h, wi, wh, b, b),
                      [R.standard_normal((2, 3)), R.standard_normal((2, 4)),
                       R.standard_normal((4, 3)), R.standard_normal((4, 4)), R.standard_normal(4)]),
    "rnn_relu_cell": (lambda L, x, h, wi, wh: L.rnn_relu_cell(x, h, wi, wh),
                      [R.standard_normal((2, 3)), R.standard_normal((2, 4)),
                       R.standard_normal((4, 3)), R.standard_normal((4, 4))]),
    "dropout_eval": (lambda L, x: L.dropout(x, 0.5, False), [X3]),
    "alpha_dropout_eval": (lambda L, x: L.alpha_dropout(x, 0.5, False), [X3]),
    "fill_tensor": (lambda L, x, v: L.fill(x, v.sum()), [X3, R.standard_normal(2)]),
}


@pytest.mark.parametrize("name", list(SPELLINGS))
def test_aten_spelling_matches_torch(name, device):
    fn, arrays, *tol = SPELLINGS[name]
    _compare(lambda *a: fn(torch, *a), lambda *a: fn(mg, *a), arrays, device,
             atol=tol[0] if tol else 1e-10)


def test_inplace_spellings_on_graph_tensors():
    for name, args in (("selu_", ()), ("celu_", (0.5,)), ("threshold_", (0.2, -1.0))):
        a = np.random.default_rng(2).standard_normal((3, 4))
        xt = torch.tensor(a, requires_grad=True)
        xm = mg.tensor(a, requires_grad=True)
        yt, ym = xt * 2.0, xm * 2.0
        rt, rm = getattr(torch, name)(yt, *args), getattr(mg, name)(ym, *args)
        assert rm is ym and rt is yt
        np.testing.assert_allclose(_np(ym), _np(yt), atol=1e-12)
        (yt * yt).sum().backward()
        (ym * ym).sum().backward()
        np.testing.assert_allclose(_np(xm.grad), _np(xt.grad), atol=1e-12)
    x = mg.ones(3, 4)
    assert mg.dropout_(x, 0.5, True) is x and set(np.unique(x.numpy())) <= {0.0, 2.0}


def test_dropout_family_train_statistics():
    x = mg.ones(200, 50)
    y = mg.dropout(x, 0.3, True)
    assert abs(float((y == 0).float().mean()) - 0.3) < 0.03
    z = mg.feature_dropout(mg.ones(40, 30, 4), 0.5, True)
    per_channel = z.numpy().std(-1)
    assert (per_channel == 0).all()  # one mask per (sample, channel)
    a = mg.alpha_dropout(mg.randn(20000), 0.2, True)
    assert abs(float(a.mean())) < 0.05 and abs(float(a.std()) - 1) < 0.05
    with pytest.raises(ValueError, match="between 0 and 1"):
        mg.feature_dropout(x, 1.5, True)
    with pytest.raises(RuntimeError, match="at least 2 dims"):
        mg.feature_dropout(mg.ones(3), 0.5, True)


def test_reduction_integers_and_errors():
    x = mg.randn(3, 4)
    with pytest.raises(ValueError, match="reduction must be 0"):
        mg.hinge_embedding_loss(x, x, 1.0, 5)
    with pytest.raises(TypeError):
        mg.poisson_nll_loss(x, x)  # all six arguments are required, as ATen's
    with pytest.raises(RuntimeError, match="divisible by groups"):
        mg.channel_shuffle(mg.ones(1, 5, 2), 2)
    with pytest.raises(RuntimeError, match="two tensors"):
        mg.lstm_cell(x, [x], x, x)


# ----------------------------------------------------------------------------- utilities
def test_small_utilities_match_torch():
    warnings.simplefilter("ignore")
    for args, kw in (((0, 1, 0.25), {}), ((0, 3), {}), ((5, 1, -2), {}),
                     ((0, 3), {"dtype": "int64"})):
        tkw = {"dtype": torch.int64} if kw else {}
        mkw = {"dtype": mg.int64} if kw else {}
        a, b = torch.range(*args, **tkw), mg.range(*args, **mkw)
        np.testing.assert_array_equal(_np(b), _np(a))
        assert str(b.dtype).split(".")[-1] == str(a.dtype).split(".")[-1]
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        mg.range(0, 3, -1)
    x = mg.randn(2, 3, requires_grad=True)
    d = mg.detach(x)
    assert not d.requires_grad and d is not x
    f = mg.fill(x, 2.5)
    assert f.shape == (2, 3) and (f.numpy() == 2.5).all() and (x.numpy() != 2.5).all()
    with pytest.raises(RuntimeError, match="0-dimension value tensor"):
        mg.fill(x, mg.ones(2))
    assert mg.typename(mg.ones(2)) == torch.typename(torch.ones(2)) == "torch.FloatTensor"
    assert mg.typename(mg.ones(2, dtype=mg.int64)) == "torch.LongTensor"
    assert mg.typename(mg.ones(2, dtype=mg.float64)) == "torch.DoubleTensor"
    assert mg.typename(3) == torch.typename(3) == "int"
    buf = bytearray(np.arange(6, dtype=np.int32).tobytes())
    np.testing.assert_array_equal(_np(mg.frombuffer(buf, dtype=mg.int32, count=3, offset=4)),
                                  _np(torch.frombuffer(buf, dtype=torch.int32, count=3, offset=4)))
    with pytest.raises(ValueError, match="multiple of the element size"):
        mg.frombuffer(bytearray(7), dtype=mg.int32)
    e = mg.empty_strided((2, 3), (1, 2), dtype=mg.float64)
    assert e.shape == (2, 3) and e.dtype == mg.float64
    with pytest.raises(RuntimeError, match="mismatch in length"):
        mg.empty_strided((2, 3), (1,))
    t = mg.ones(3)
    assert mg.asarray(t) is t and mg.asarray(t, copy=True) is not t
    assert mg.asarray([1, 2]).dtype == mg.int64 and mg.asarray([1.5]).dtype == mg.float32
    assert mg.asarray(t, dtype=mg.float64).dtype == mg.float64
    with pytest.raises(ValueError, match="copy=False"):
        mg.asarray(t, dtype=mg.float64, copy=False)
    assert not mg.is_conj(t) and not mg.is_neg(t) and not mg.is_inference(t)


def test_seed_default_device_and_modes(device):
    mg.manual_seed(123)
    assert mg.initial_seed() == 123
    mg.set_default_device(device)
    try:
        assert mg.get_default_device().type == device
        assert mg.zeros(2).device.type == device and mg.randn(2).device.type == device
        assert mg.tensor([1.0]).device.type == device
    finally:
        mg.set_default_device(None)
    assert mg.get_default_device().type == "cpu" and mg.ones(1).device.type == "cpu"
    with mg.device(device):
        assert mg.zeros(2).device.type == device
        with mg.device("cpu"):
            assert mg.zeros(2).device.type == "cpu"
        assert mg.arange(3).device.type == device
    assert mg.ones(1).device.type == "cpu"
    assert not mg.is_inference_mode_enabled()
    with mg.inference_mode():
        assert mg.is_inference_mode_enabled() and not mg.is_grad_enabled()
        with mg.inference_mode(False):
            assert not mg.is_inference_mode_enabled()
    assert not mg.is_inference_mode_enabled()

    @mg.inference_mode
    def f(x):
        return x * 2, mg.is_inference_mode_enabled()
    y, on = f(mg.ones(1, requires_grad=True))
    assert on and not y.requires_grad and not mg.is_inference_mode_enabled()
    assert not mg.is_anomaly_enabled()
    with mg.autograd.detect_anomaly():
        assert mg.is_anomaly_enabled()
    mg.set_anomaly_enabled(True)
    assert mg.is_anomaly_enabled()
    mg.set_anomaly_enabled(False)
    assert not mg.is_anomaly_enabled()


def test_removed_functions_raise_as_torch():
    for name in ("matrix_rank", "lstsq", "eig", "symeig"):
        with pytest.raises(RuntimeError) as t_err:
            getattr(torch, name)(torch.eye(2), torch.eye(2)) if name == "lstsq" else \
                getattr(torch, name)(torch.eye(2))
        with pytest.raises(RuntimeError, match="deprecated") as m_err:
            getattr(mg, name)(mg.eye(2))
        assert str(m_err.value) == str(t_err.value)


# ----------------------------------------------------------------------------- numeric
GRADIENT_CASES = [
    ({}, {}),
    ({"spacing": 0.5}, {"spacing": 0.5}),
    ({"dim": 1, "edge_order": 2}, {"dim": 1, "edge_order": 2}),
    ({"spacing": [1.0, 2.0], "dim": [0, 2]}, {"spacing": [1.0, 2.0], "dim": [0, 2]}),
    ("coords", "coords"),
    ("coords2", "coords2"),
]


@pytest.mark.parametrize("case", range(len(GRADIENT_CASES)))
def test_gradient_matches_torch(case, device):
    kt, km = GRADIENT_CASES[case]
    xs = np.sort(np.random.default_rng(3).uniform(0, 3, 6))
    if kt in ("coords", "coords2"):
        eo = 2 if kt == "coords2" else 1
        kt = {"spacing": [torch.tensor(xs)], "dim": 1, "edge_order": eo}
        km = {"spacing": [mg.tensor(xs, device=device)], "dim": 1, "edge_order": eo}
    _compare(lambda f: torch.gradient(f, **kt), lambda f: mg.gradient(f, **km),
             [X3[:, :, :4].copy()], device)


def test_gradient_gradcheck_and_errors():
    x = mg.tensor(X3[:2, :, :3], dtype=mg.float64, requires_grad=True)
    xs = mg.tensor(np.array([0.0, 0.3, 1.0, 1.2, 2.0, 3.1]), dtype=mg.float64)
    assert mg.gradcheck(lambda v: mg.gradient(v, spacing=[xs], dim=1, edge_order=2), (x,))
    np.testing.assert_allclose(_np(mg.gradient(mg.tensor([1, 4, 9, 16]))[0]), [3, 4, 6, 7])
    with pytest.raises(RuntimeError, match="edge_order"):
        mg.gradient(x, edge_order=3)
    with pytest.raises(RuntimeError, match="at least edge_order"):
        mg.gradient(mg.ones(2, 3), dim=0, edge_order=2)
    with pytest.raises(RuntimeError, match="spacing"):
        mg.gradient(x, spacing=[1.0, 2.0])


def test_histogramdd_matches_torch(device):
    pts = np.random.default_rng(4).standard_normal((60, 2))
    w = np.random.default_rng(5).uniform(size=60)
    for kw in (dict(bins=4), dict(bins=[3, 5], range=[-1.0, 1.0, -2.0, 2.0]),
               dict(bins=3, density=True)):
        a = torch.histogramdd(torch.tensor(pts), **kw, weight=torch.tensor(w))
        b = mg.histogramdd(mg.tensor(pts, device=device), **kw, weight=mg.tensor(w, device=device))
        np.testing.assert_allclose(_np(b.hist), _np(a.hist), atol=1e-12)
        for ea, eb in zip(a.bin_edges, b.bin_edges):
            np.testing.assert_allclose(_np(eb), _np(ea), atol=1e-12)
    edges = ([-3.0, 0.0, 3.0], [-1.0, 1.0])
    a = torch.histogramdd(torch.tensor(pts), bins=[torch.tensor(e, dtype=torch.float64)
                                                   for e in edges])
    b = mg.histogramdd(mg.tensor(pts, device=device), bins=[mg.tensor(e, dtype=mg.float64,
                                                                       device=device)
                                                            for e in edges])
    np.testing.assert_array_equal(_np(b.hist), _np(a.hist))
    assert b.hist.device.type == device
    with pytest.raises(RuntimeError, match="floating"):
        mg.histogramdd(mg.ones(3, 2, dtype=mg.int64), bins=2)


def test_poisson_binomial_samples(device):
    mg.manual_seed(0)
    r = mg.poisson(mg.full((20000,), 3.0, device=device))
    assert r.dtype == mg.float32 and r.device.type == device
    assert abs(float(r.mean()) - 3) < 0.1 and abs(float(r.var()) - 3) < 0.2
    assert (r.cpu().numpy() == np.round(r.cpu().numpy())).all()
    b = mg.binomial(mg.full((20000,), 10.0, device=device), mg.tensor([0.3], device=device))
    assert abs(float(b.mean()) - 3) < 0.1 and abs(float(b.var()) - 2.1) < 0.15
    assert float(b.max()) <= 10
    for fn in (lambda g: mg.poisson(mg.full((6,), 3.0), generator=g),
               lambda g: mg.binomial(mg.full((6,), 9.0), mg.full((6,), 0.4), generator=g)):
        np.testing.assert_array_equal(_np(fn(mg.Generator().manual_seed(5))),
                                      _np(fn(mg.Generator().manual_seed(5))))
    with pytest.raises(RuntimeError, match="non-negative"):
        mg.poisson(mg.tensor([-1.0]))
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        mg.binomial(mg.tensor([2.0]), mg.tensor([1.5]))


# ----------------------------------------------------------------------------- linalg
A43 = R.standard_normal((4, 3))
A34 = R.standard_normal((3, 5))
S244 = R.standard_normal((2, 4, 4))
SPD = S244 @ np.swapaxes(S244, -1, -2) + np.eye(4)
L_SPD = np.linalg.cholesky(SPD)


def _sq(r):
    return r[0] ** 2, r[1], r[2] ** 2


LINALG = {
    "svd_thin": (lambda L, a: _sq(L.linalg.svd(a, full_matrices=False)), [A43]),
    "svd_wide": (lambda L, a: _sq(L.linalg.svd(a, full_matrices=False)), [A34]),
    "svd_full_recon": (lambda L, a: L.linalg.svd(a)[0][:, :3] ** 2, [A43]),
    "torch_svd": (lambda L, a: _sq(L.svd(a)), [A43]),
    "svdvals": (lambda L, a: L.linalg.svdvals(a), [S244]),
    "qr_tall": (lambda L, a: tuple(L.linalg.qr(a)), [A43]),
    "qr_wide": (lambda L, a: tuple(L.linalg.qr(a)), [A34]),
    "qr_batch": (lambda L, a: tuple(L.qr(a)), [S244]),
    "qr_r": (lambda L, a: L.linalg.qr(a, mode="r")[1].detach(), [A43]),
    "eigh": (lambda L, a: (lambda r: (r[0], r[1] ** 2))(L.linalg.eigh(a + a.mT)), [S244]),
    "eigh_raw_lower": (lambda L, a: (lambda r: (r[0], r[1] ** 2))(L.linalg.eigh(a)), [S244]),
    "eigvalsh_upper": (lambda L, a: L.linalg.eigvalsh(a, "U"), [S244]),
    "matrix_exp": (lambda L, a: L.linalg.matrix_exp(a), [S244 * 1.5]),
    "torch_matrix_exp": (lambda L, a: L.matrix_exp(a), [A43[:3] * 0.1]),
    "pinv": (lambda L, a: L.linalg.pinv(a), [A43]),
    "pinv_wide": (lambda L, a: L.linalg.pinv(a), [A34]),
    "pinverse": (lambda L, a: L.pinverse(a), [SPD]),
    "lstsq": (lambda L, a, b: L.linalg.lstsq(a, b).solution, [R.standard_normal((5, 3)),
                                                               R.standard_normal((5, 2))]),
    "lstsq_gelsd": (lambda L, a, b: tuple(L.linalg.lstsq(a, b, driver="gelsd"))[:2] +
                    (tuple(L.linalg.lstsq(a, b, driver="gelsd"))[3],),
                    [R.standard_normal((5, 3)), R.standard_normal((5, 2))]),
    "cond": (lambda L, a: L.linalg.cond(a), [SPD]),
    "norm_2": (lambda L, a: L.linalg.norm(a, 2), [A43]),
    "norm_dims": (lambda L, a: L.linalg.norm(a, dim=(0, 2), keepdim=True), [S244]),
    "nuclear_norm": (lambda L, a: L.nuclear_norm(a), [A43]),
    "frobenius_norm": (lambda L, a: L.frobenius_norm(a, (0, 1)), [S244]),
    "cholesky_solve": (lambda L, b, l: L.cholesky_solve(b, l.tril()), [R.standard_normal((2, 4, 2)),
                                                                      L_SPD]),
    "cholesky_solve_upper": (lambda L, b, l: L.cholesky_solve(b, l.tril().mT, upper=True),
                             [R.standard_normal((2, 4, 2)), L_SPD]),
    "cholesky_inverse": (lambda L, l: L.cholesky_inverse(l.tril()), [L_SPD[0]]),
    "torch_cholesky": (lambda L, a: L.cholesky(a + a.mT), [SPD]),
    "triangular_solve": (lambda L, b, a: tuple(L.triangular_solve(b, a.triu())),
                         [R.standard_normal((4, 2)), L_SPD[0].T.copy()]),
    "triangular_solve_t": (lambda L, b, a: L.triangular_solve(b, a, False, True)[0],
                           [R.standard_normal((4, 2)), L_SPD[0]]),
    "multi_dot": (lambda L, a, b, c: L.linalg.multi_dot([a, b, c]),
                  [R.standard_normal(4), A43, R.standard_normal(3)]),
    "linalg_cross": (lambda L, a, b: L.linalg.cross(a, b), [A43, A43[:1].copy()]),
    "vecdot": (lambda L, a, b: L.linalg.vecdot(a, b, dim=0), [A43, A43[::-1].copy()]),
    "linalg_vander": (lambda L, x: L.linalg.vander(x, N=4), [A43]),
    "matrix_power": (lambda L, a: L.linalg.matrix_power(a, 3), [S244 * 0.5]),
    "householder": (lambda L, a, t: L.linalg.householder_product(a, t),
                    [A43, R.standard_normal(2)]),
    "tensorinv": (lambda L, a: L.linalg.tensorinv(a, 1), [S244[0].reshape(4, 2, 2)]),
    "solve_ex": (lambda L, a, b: L.linalg.solve_ex(a, b)[0], [SPD, R.standard_normal((2, 4))]),
    "eig": (lambda L, a: (lambda r: (L.real(r[0]), L.imag(r[0]), L.abs(r[1]) ** 2))(
        L.linalg.eig(a)), [S244]),
    "eigvals": (lambda L, a: L.real(L.linalg.eigvals(a)) + L.imag(L.linalg.eigvals(a)), [S244]),
}
for _o in ("fro", "nuc", 2, -2, 1, -1, float("inf"), -float("inf")):
    LINALG[f"matrix_norm_{_o}"] = (lambda L, a, o=_o: L.linalg.matrix_norm(a, o), [S244])


@pytest.mark.parametrize("name", list(LINALG))
def test_linalg_matches_torch(name, device):
    fn, arrays = LINALG[name]
    _compare(lambda *a: fn(torch, *a), lambda *a: fn(mg, *a), arrays, device, atol=1e-9)


def test_lstsq_rank_residuals_and_empty_outputs():
    a, b = R.standard_normal((5, 3)), R.standard_normal((5, 2))
    for driver in (None, "gelsy", "gelsd", "gelss", "gels"):
        rt = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        rm = mg.linalg.lstsq(mg.tensor(a), mg.tensor(b), driver=driver)
        for x, y in zip(rt, rm):
            assert tuple(x.shape) == tuple(y.shape), driver
            np.testing.assert_allclose(_np(y), _np(x), atol=1e-10)
    with pytest.raises(RuntimeError, match="driver"):
        mg.linalg.lstsq(mg.tensor(a), mg.tensor(b), driver="bad")
    low = A43 @ A34[:, :3]
    assert int(mg.linalg.matrix_rank(mg.tensor(low))) == int(torch.linalg.matrix_rank(
        torch.tensor(low)))
    np.testing.assert_array_equal(_np(mg.linalg.matrix_rank(mg.tensor(S244), hermitian=False)),
                                  _np(torch.linalg.matrix_rank(torch.tensor(S244))))


def test_linalg_gradcheck_and_gradgradcheck():
    def t(a):
        return mg.tensor(a, dtype=mg.float64, requires_grad=True)
    fns = [
        (lambda a: _sq(mg.linalg.svd(a, full_matrices=False)), A43),
        (lambda a: tuple(mg.linalg.qr(a)), A34),
        (lambda a: (lambda r: (r[0], r[1] ** 2))(mg.linalg.eigh(a + a.mT)), S244[0]),
        (mg.linalg.matrix_exp, S244[0] * 0.6),
        (mg.linalg.pinv, A43),
        (lambda l: mg.cholesky_inverse(l.tril()), L_SPD[0]),
    ]
    for fn, a in fns:
        assert mg.gradcheck(fn, (t(a),))
        assert mg.gradgradcheck(fn, (t(a),))


def test_matrix_exp_large_norm_and_svd_full_shapes():
    a = R.standard_normal((3, 3)) * 4
    np.testing.assert_allclose(_np(mg.linalg.matrix_exp(mg.tensor(a))),
                               _np(torch.linalg.matrix_exp(torch.tensor(a))), rtol=1e-10)
    U, S, Vh = mg.linalg.svd(mg.tensor(A43))
    assert U.shape == (4, 4) and S.shape == (3,) and Vh.shape == (3, 3)
    r = mg.svd(mg.tensor(A43), compute_uv=False)
    assert r.U.shape == (4, 4) and not r.U.numpy().any()
    Q, R_ = mg.linalg.qr(mg.tensor(A43), mode="complete")
    assert Q.shape == (4, 4) and R_.shape == (4, 3)
    np.testing.assert_allclose(_np(Q @ R_), A43, atol=1e-12)
    assert mg.tensor(A43).pinverse().shape == (3, 4)
    with pytest.raises(RuntimeError, match="unrecognized mode"):
        mg.linalg.qr(mg.tensor(A43), mode="full")
    with pytest.raises(RuntimeError, match="UPLO"):
        mg.linalg.eigh(mg.tensor(SPD), "X")
    with pytest.raises(RuntimeError, match="square"):
        mg.linalg.matrix_exp(mg.tensor(A43))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        mg.linalg.svd(mg.ones(3))
    with pytest.raises(RuntimeError, match="not supported"):
        mg.linalg.matrix_norm(mg.tensor(A43), 3)


# ----------------------------------------------------------------------------- torch.func
def test_vmap_matches_torch():
    x, W = R.standard_normal((5, 3)), R.standard_normal((4, 3))
    tW, mW = torch.tensor(W), mg.tensor(W)
    a = torch.vmap(lambda v: tW @ v)(torch.tensor(x))
    b = mg.vmap(lambda v: mW @ v)(mg.tensor(x))
    np.testing.assert_allclose(_np(b), _np(a), atol=1e-12)
    a = torch.vmap(lambda u, s: (u * s, u.sum()), in_dims=(1, None), out_dims=(1, 0))(
        torch.tensor(x), torch.tensor(2.0))
    b = mg.vmap(lambda u, s: (u * s, u.sum()), in_dims=(1, None), out_dims=(1, 0))(
        mg.tensor(x), mg.tensor(2.0))
    for p, q in zip(a, b):
        np.testing.assert_allclose(_np(q), _np(p), atol=1e-12)
    a = torch.func.vmap(lambda d: d["a"] + d["b"])({"a": torch.tensor(x), "b": torch.tensor(x)})
    b = mg.func.vmap(lambda d: d["a"] + d["b"])({"a": mg.tensor(x), "b": mg.tensor(x)})
    np.testing.assert_allclose(_np(b), _np(a))
    # the gradient flows through the loop
    xm = mg.tensor(x, requires_grad=True)
    mg.vmap(lambda v: (v * v).sum())(xm).sum().backward()
    np.testing.assert_allclose(_np(xm.grad), 2 * x)


def test_vmap_errors_and_randomness():
    f = mg.vmap(lambda a, b: a + b)
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        f(mg.ones(3, 2), mg.ones(4, 2))
    with pytest.raises(ValueError, match="at least one"):
        mg.vmap(lambda a: a, in_dims=None)(mg.ones(3))
    with pytest.raises(ValueError, match="in_dims is not compatible"):
        mg.vmap(lambda a: a, in_dims=(0, 0))(mg.ones(3))
    with pytest.raises(ValueError, match="in_dim to satisfy"):
        mg.vmap(lambda a: a, in_dims=2)(mg.ones(3, 2))
    with pytest.raises(RuntimeError, match="randomness"):
        mg.vmap(lambda a: a, randomness="maybe")
    same = mg.vmap(lambda a: a + mg.randn(2), randomness="same")(mg.zeros(3, 2)).numpy()
    assert np.allclose(same, same[0])
    diff = mg.vmap(lambda a: a + mg.randn(2), randomness="different")(mg.zeros(3, 2)).numpy()
    assert not np.allclose(diff, diff[0])


def test_func_transforms_match_torch():
    from torch import func as tf
    x, W = R.standard_normal((5, 3)), R.standard_normal((4, 3))

    def loss_t(w, v):
        return (torch.tanh(w @ v) ** 2).sum()

    def loss_m(w, v):
        return (mg.tanh(w @ v) ** 2).sum()
    a = tf.vmap(tf.grad(loss_t), in_dims=(None, 0))(torch.tensor(W), torch.tensor(x))
    b = mg.vmap(mg.func.grad(loss_m), in_dims=(None, 0))(mg.tensor(W), mg.tensor(x))
    np.testing.assert_allclose(_np(b), _np(a), atol=1e-12)
    ga, va = tf.grad_and_value(loss_t, argnums=(0, 1))(torch.tensor(W), torch.tensor(x[0]))
    gb, vb = mg.func.grad_and_value(loss_m, argnums=(0, 1))(mg.tensor(W), mg.tensor(x[0]))
    np.testing.assert_allclose(float(vb), float(va))
    for p, q in zip(ga, gb):
        np.testing.assert_allclose(_np(q), _np(p), atol=1e-12)
    g, aux = mg.func.grad(lambda v: ((v ** 2).sum(), v.mean()), has_aux=True)(mg.tensor(x))
    np.testing.assert_allclose(_np(g), 2 * x)
    assert abs(float(aux) - x.mean()) < 1e-12
    gg_t = tf.grad(lambda v: tf.grad(lambda u: (u ** 3).sum())(v).sum())(torch.tensor(x))
    gg_m = mg.func.grad(lambda v: mg.func.grad(lambda u: (u ** 3).sum())(v).sum())(mg.tensor(x))
    np.testing.assert_allclose(_np(gg_m), _np(gg_t), atol=1e-12)
    for name in ("jacrev", "jacfwd"):
        a = getattr(tf, name)(lambda v: torch.sin(torch.tensor(W) @ v))(torch.tensor(x[0]))
        b = getattr(mg.func, name)(lambda v: mg.sin(mg.tensor(W) @ v))(mg.tensor(x[0]))
        np.testing.assert_allclose(_np(b), _np(a), atol=1e-12)
    a = tf.hessian(lambda v: (v ** 3).prod())(torch.tensor(x[0]))
    b = mg.func.hessian(lambda v: (v ** 3).prod())(mg.tensor(x[0]))
    np.testing.assert_allclose(_np(b), _np(a), atol=1e-10)
    o1, f1 = tf.vjp(lambda u, v: u.sin() * v, torch.tensor(x), torch.tensor(x[::-1].copy()))
    o2, f2 = mg.func.vjp(lambda u, v: u.sin() * v, mg.tensor(x), mg.tensor(x[::-1].copy()))
    ct = R.standard_normal((5, 3))
    for p, q in zip(f1(torch.tensor(ct)), f2(mg.tensor(ct))):
        np.testing.assert_allclose(_np(q), _np(p), atol=1e-12)
    with pytest.raises(RuntimeError, match="scalar"):
        mg.func.grad(lambda v: v * 2)(mg.tensor(x))
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        f2(mg.ones(2))


def test_functional_call_per_sample_gradients():
    from torch import func as tf
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    mm = mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.Tanh(), mg.nn.Linear(4, 2)).double()
    mm.load_state_dict({k: mg.tensor(_np(v)) for k, v in tm.state_dict().items()})
    pt = {k: v.detach() for k, v in tm.named_parameters()}
    pm = {k: v.detach() for k, v in mm.named_parameters()}
    x = R.standard_normal((6, 3))

    def lt(p, s):
        return tf.functional_call(tm, p, (s.unsqueeze(0),)).pow(2).sum()

    def lm(p, s):
        return mg.func.functional_call(mm, p, (s.unsqueeze(0),)).pow(2).sum()
    a = tf.vmap(tf.grad(lt), in_dims=(None, 0))(pt, torch.tensor(x))
    b = mg.vmap(mg.func.grad(lm), in_dims=(None, 0))(pm, mg.tensor(x))
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_allclose(_np(b[k]), _np(a[k]), atol=1e-12)
    assert isinstance(mm[0].weight, mg.nn.Parameter)  # the module's own are back
    with pytest.raises(RuntimeError, match="Missing key"):
        mg.func.functional_call(mm, {"0.weight": pm["0.weight"]}, (mg.tensor(x),), strict=True)
    with pytest.raises(RuntimeError, match="not parameters or buffers"):
        mg.func.functional_call(mm, {"nope": pm["0.weight"]}, (mg.tensor(x),))


def test_functional_call_ties_shared_weights():
    lin = mg.nn.Linear(3, 3, bias=False)
    net = mg.nn.Sequential(lin, lin)
    w = mg.eye(3) * 2.0
    out = mg.func.functional_call(net, {"0.weight": w}, (mg.ones(1, 3),))
    np.testing.assert_allclose(_np(out), 4 * np.ones((1, 3)))
    assert net[1].weight is lin.weight and isinstance(lin.weight, mg.nn.Parameter)


# ----------------------------------------------------------------------------- more ATen ops
X263 = R.standard_normal((2, 3, 6))
MORE = {
    "conv_tbc": (lambda L, x, w, b: L.conv_tbc(x, w, b, 1), [R.standard_normal((5, 2, 3)),
                                                           R.standard_normal((3, 3, 4)),
                                                           R.standard_normal(4)]),
    "convolution": (lambda L, x, w: L.convolution(x, w, None, [2], [1], [1], False, [0], 1),
                    [X263, R.standard_normal((4, 3, 2))]),
    "convolution_t": (lambda L, x, w: L.convolution(x, w, None, [2], [1], [1], True, [1], 1),
                      [X263, R.standard_normal((3, 4, 2))]),
    "native_layer_norm": (lambda L, x, w: L.native_layer_norm(x, [6], w, None, 1e-5),
                          [X263, R.uniform(.5, 2, 6)]),
    "native_batch_norm": (lambda L, x: L.native_batch_norm(x, None, None, None, None, True,
                                                           0.1, 1e-5)[0], [X263]),
    "native_group_norm": (lambda L, x: L.native_group_norm(x, None, None, 2, 3, 6, 3, 1e-5),
                          [X263]),
    "norm_except_dim": (lambda L, x: (L.norm_except_dim(x, 2, 1), L.norm_except_dim(x, 3, -1)),
                        [X263]),
    "ctc_loss": (lambda L, lp, t: L.ctc_loss(lp.log_softmax(-1), t, [6, 5], [2, 2]),
                 [R.standard_normal((6, 2, 4)), np.array([[1, 2], [1, 1]])]),
    "ctc_loss_sum": (lambda L, lp, t: L.ctc_loss(lp.log_softmax(-1), t, [6, 5], [2, 2], 0, 2),
                     [R.standard_normal((6, 2, 4)), np.array([[1, 2], [1, 1]])]),
    "igamma": (lambda L, a, x: (L.igamma(a.detach(), x), L.igammac(a.detach(), x)),
               [np.array([0.5, 2.0, 3.0]), np.array([1.0, 1.5, 4.0])], 1e-7),
    "slice_copy": (lambda L, x: L.slice_copy(x, 2, 1, 5, 2), [X263]),
    "transpose_copy": (lambda L, x: L.transpose_copy(x, 0, 2), [X263]),
    "split_with_sizes_copy": (lambda L, x: L.split_with_sizes_copy(x, [2, 4], 2), [X263]),
}


@pytest.mark.parametrize("name", list(MORE))
def test_more_aten_ops_match_torch(name):
    fn, arrays, *tol = MORE[name]
    _compare(lambda *a: fn(torch, *a), lambda *a: fn(mg, *a), arrays,
             atol=tol[0] if tol else 1e-10)


@pytest.mark.parametrize("kw", [{}, {"adjoint": True}, {"left": False}])
def test_lu_solve_matches_torch(kw):
    a, b = R.standard_normal((2, 3, 3)), R.standard_normal((2, 3, 3))

    def run(L, A, B):
        LU, piv = L.linalg.lu_factor(A)
        return L.linalg.lu_solve(LU, piv, B, **kw)
    _compare(lambda A, B: run(torch, A, B), lambda A, B: run(mg, A, B), [a, b])
    LU, piv = mg.linalg.lu_factor(mg.tensor(a))
    np.testing.assert_allclose(_np(mg.lu_solve(mg.tensor(b), LU, piv)),
                               np.linalg.solve(a, b), atol=1e-10)


def test_lowrank_control_flow_and_flags():
    y = R.standard_normal((10, 5))
    U, S, V = mg.pca_lowrank(mg.tensor(y), q=3)
    yc = y - y.mean(0)
    np.testing.assert_allclose(_np(S), np.linalg.svd(yc, compute_uv=False)[:3], atol=1e-10)
    assert U.shape == (10, 3) and V.shape == (5, 3)
    U, S, V = mg.svd_lowrank(mg.tensor(y))
    np.testing.assert_allclose(_np(U * S @ V.mT), y, atol=1e-10)  # rank 5 = full here
    assert float(mg.cond(mg.tensor(True), lambda a: a + 1, lambda a: a - 1, (mg.tensor(1.),))) == 2
    assert int(mg.while_loop(lambda i: i < 3, lambda i: (i + 1,), (mg.tensor(0),))[0]) == 3
    mg.set_default_tensor_type(mg.DoubleTensor)
    try:
        assert mg.ones(1).dtype == mg.float64
    finally:
        mg.set_default_tensor_type("torch.FloatTensor")
    assert mg.ones(1).dtype == mg.float32
    with pytest.raises(TypeError, match="floating-point"):
        mg.set_default_tensor_type(mg.LongTensor)
    mg.set_deterministic_debug_mode("warn")
    assert mg.get_deterministic_debug_mode() == 1
    assert mg.is_deterministic_algorithms_warn_only_enabled()
    mg.set_deterministic_debug_mode(0)
    assert mg.get_deterministic_debug_mode() == 0 and not mg.are_deterministic_algorithms_enabled()
    mg.set_warn_always(True)
    assert mg.is_warn_always_enabled()
    mg.set_warn_always(False)
    assert mg.get_device(mg.ones(1)) == torch.get_device(torch.ones(1)) == -1
    np.testing.assert_array_equal(_np(mg.from_dlpack(torch.arange(3))), [0, 1, 2])
    np.testing.assert_array_equal(_np(torch.from_dlpack(mg.to_dlpack(mg.arange(3)))), [0, 1, 2])
    with pytest.raises(RuntimeError) as t_err:
        torch.solve(torch.eye(2), torch.eye(2))
    with pytest.raises(RuntimeError) as m_err:
        mg.solve(mg.eye(2), mg.eye(2))
    assert str(m_err.value) == str(t_err.value)
    with pytest.raises(RuntimeError, match="input channels"):
        mg.conv_tbc(mg.ones(4, 2, 3), mg.ones(3, 2, 4), mg.ones(4))


def test_jvp_linearize_and_ensembles_match_torch():
    from torch import func as tf
    x, t, W = R.standard_normal(4), R.standard_normal(4), R.standard_normal((3, 4))
    a = tf.jvp(lambda v: torch.sin(torch.tensor(W) @ v), (torch.tensor(x),), (torch.tensor(t),))
    b = mg.func.jvp(lambda v: mg.sin(mg.tensor(W) @ v), (mg.tensor(x),), (mg.tensor(t),))
    for p, q in zip(a, b):
        np.testing.assert_allclose(_np(q), _np(p), atol=1e-12)
    _, f = mg.func.linearize(lambda v: mg.sin(v) * v, mg.tensor(x))
    np.testing.assert_allclose(_np(f(mg.tensor(t))), (np.cos(x) * x + np.sin(x)) * t, atol=1e-12)
    with pytest.raises(RuntimeError, match="same shape"):
        mg.func.jvp(lambda v: v, (mg.tensor(x),), (mg.ones(2),))
    tms = [torch.nn.Linear(4, 2).double() for _ in range(3)]
    mms = [mg.nn.Linear(4, 2).double() for _ in range(3)]
    for tm, mm in zip(tms, mms):
        mm.load_state_dict({k: mg.tensor(_np(v)) for k, v in tm.state_dict().items()})
    pt, bt = tf.stack_module_state(tms)
    pm, bm = mg.func.stack_module_state(mms)
    yt = tf.vmap(lambda p, b, v: tf.functional_call(tms[0], (p, b), (v,)),
                 in_dims=(0, 0, None))(pt, bt, torch.tensor(x))
    ym = mg.vmap(lambda p, b, v: mg.func.functional_call(mms[0], (p, b), (v,)),
                 in_dims=(0, 0, None))(pm, bm, mg.tensor(x))
    np.testing.assert_allclose(_np(ym), _np(yt), atol=1e-12)
    assert pm["weight"].requires_grad and pm["weight"].shape == (3, 2, 4)
    from minigen.nn.utils.stateless import functional_call
    assert functional_call is mg.func.functional_call


def test_torch_norm_nuclear_matches_torch():
    _compare(lambda a: (torch.norm(a, "nuc", dim=(1, 2)), torch.norm(a[0], "nuc"),
                        a.norm(p="nuc", dim=(0, 2), keepdim=True)),
             lambda a: (mg.norm(a, "nuc", dim=(1, 2)), mg.norm(a[0], "nuc"),
                        a.norm(p="nuc", dim=(0, 2), keepdim=True)), [S244[:, :, :3].copy()])
    with pytest.raises(RuntimeError, match="2-D"):
        mg.norm(mg.ones(2, 2, 2), "nuc")


def test_dtype_and_layout_type_objects():
    assert isinstance(mg.float32, mg.dtype) and isinstance(mg.ones(1).dtype, mg.dtype)
    assert isinstance(torch.float32, torch.dtype)
    assert not isinstance("float32", mg.dtype)
    assert mg.ones(1).layout == mg.strided and torch.ones(1).layout == torch.strided
    assert isinstance(mg.strided, mg.layout) and str(mg.strided) == str(torch.strided)
    assert mg.sparse_coo != mg.strided


def test_tensor_method_spellings():
    xt, xm = torch.tensor([1.0, 2.0, -3.0]), mg.tensor([1.0, 2.0, -3.0])
    xt.apply_(lambda v: v * v + 1)
    xm.apply_(lambda v: v * v + 1)
    xt.map_(torch.tensor([1.0]), lambda a, b: a - b)
    xm.map_(mg.tensor([1.0]), lambda a, b: a - b)
    np.testing.assert_array_equal(_np(xm), _np(xt))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        mg.ones(2, requires_grad=True).apply_(lambda v: v)
    assert mg.ones(2).cdouble().dtype == mg.complex128 and mg.ones(2).cfloat().dtype == mg.complex64
    a, x = np.array([0.5, 2.0]), np.array([1.0, 3.0])
    np.testing.assert_allclose(_np(mg.tensor(a).igamma(mg.tensor(x))),
                               _np(torch.tensor(a).igamma(torch.tensor(x))), atol=1e-7)
    for name in ("eig", "symeig", "lstsq", "solve"):
        with pytest.raises(RuntimeError, match="removed"):
            getattr(mg.eye(2), name)(mg.eye(2)) if name in ("lstsq", "solve") else \
                getattr(mg.eye(2), name)()
    assert not mg.ones(1).is_distributed()


def test_func_grad_stays_on_the_outer_graph():
    from torch import func as tf
    w, wt = mg.tensor([2.0, -1.0], requires_grad=True), torch.tensor([2.0, -1.0],
                                                                     requires_grad=True)
    g = mg.func.grad(lambda v: (w * v * v).sum())(mg.tensor([3.0, 0.5]))
    gt = tf.grad(lambda v: (wt * v * v).sum())(torch.tensor([3.0, 0.5]))
    assert g.requires_grad and gt.requires_grad
    (g * g).sum().backward()
    (gt * gt).sum().backward()
    np.testing.assert_allclose(_np(w.grad), _np(wt.grad))
    assert not mg.func.grad(lambda v: (v * v).sum())(mg.tensor([1.0])).requires_grad
    j = mg.func.jacrev(lambda v: w * v)(mg.tensor([1.0, 2.0]))
    assert j.requires_grad


def test_replace_batch_norm_and_functionalize():
    from torch import func as tf
    x = R.standard_normal((3, 1, 5, 5))
    tn = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)).double()
    mn = mg.nn.Sequential(mg.nn.Conv2d(1, 2, 3), mg.nn.BatchNorm2d(2)).double()
    mn.load_state_dict({k: mg.tensor(_np(v)) for k, v in tn.state_dict().items()})
    tf.replace_all_batch_norm_modules_(tn).eval()
    assert mg.func.replace_all_batch_norm_modules_(mn) is mn
    mn.eval()
    assert list(mn.state_dict()) == list(tn.state_dict())
    np.testing.assert_allclose(_np(mn(mg.tensor(x))), _np(tn(torch.tensor(x))), atol=1e-12)
    f = lambda v: v * 2  # noqa: E731
    assert mg.func.functionalize(f) is f


def test_autograd_backward_and_gradcheck_names():
    a = R.standard_normal(3)
    grads = []
    for L in (torch, mg):
        x = L.tensor(a, requires_grad=True)
        L.autograd.backward([x * x, x.sin().sum()], [L.ones(3, dtype=L.float64) * 2, None])
        grads.append(_np(x.grad))
    np.testing.assert_allclose(grads[1], grads[0], atol=1e-12)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        mg.autograd.backward(mg.ones(2, requires_grad=True) * 2)
    assert mg.autograd.gradcheck(lambda v: v.sin(), (mg.tensor(a, requires_grad=True),))


SPECIAL = {
    "ndtri": [np.array([0.1, 0.5, 0.9, 0.3])],
    "xlog1py": [np.array([0.0, 1.5, -0.5, 3.0]), np.array([0.1, 0.5, 0.9, 0.3])],
    "i0e": [np.array([-3.0, -0.5, 0.2, 4.0])],
    "i1e": [np.array([-3.0, -0.5, 0.2, 4.0])],
    "gammainc": [np.array([0.6, 1.0, 1.4, 0.8]), np.array([0.1, 1.6, 0.1, 3.1])],
    "gammaincc": [np.array([0.6, 1.0, 1.4, 0.8]), np.array([0.1, 1.6, 0.1, 3.1])],
}


@pytest.mark.parametrize("name", list(SPECIAL))
def test_special_additions_match_torch(name):
    first_only = name.startswith("gammainc")  # no gradient in a (PyTorch has none either)
    fn_t = getattr(torch.special, name)
    fn_m = getattr(mg.special, name)
    if first_only:
        _compare(lambda a, x: fn_t(a.detach(), x), lambda a, x: fn_m(a.detach(), x),
                 SPECIAL[name], atol=1e-9)
    else:
        _compare(fn_t, fn_m, SPECIAL[name], atol=1e-10)
    np.testing.assert_array_equal(_np(mg.special.round(mg.tensor([1.234, -2.5]), decimals=1)),
                                  _np(torch.special.round(torch.tensor([1.234, -2.5]),
                                                          decimals=1)))


@pytest.mark.parametrize("name,kw", [("hfft", {}), ("hfft", {"n": 9, "norm": "ortho"}),
                                     ("ihfft", {}), ("ihfft", {"norm": "forward"}),
                                     ("hfft2", {}), ("ihfftn", {}), ("ihfft2", {"norm": "ortho"})])
def test_hermitian_ffts_match_torch(name, kw):
    r = np.random.default_rng(6)
    x = r.standard_normal((3, 5)) + 1j * r.standard_normal((3, 5)) if name.startswith("hfft") \
        else r.standard_normal((3, 8))
    xt = torch.tensor(x, requires_grad=True)
    xm = mg.tensor(x, requires_grad=True)
    a, b = getattr(torch.fft, name)(xt, **kw), getattr(mg.fft, name)(xm, **kw)
    np.testing.assert_allclose(_np(b), a.detach().resolve_conj().numpy(), atol=1e-12)
    (a.abs() ** 2).sum().backward()
    (b.abs() ** 2).sum().backward()
    np.testing.assert_allclose(_np(xm.grad), xt.grad.resolve_conj().numpy(), atol=1e-10)


@pytest.mark.parametrize("interp,pad", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_grid_sampler_spellings_match_torch(interp, pad):
    x = R.standard_normal((1, 2, 5, 5))
    th = np.array([[[0.9, 0.1, 0.05], [-0.1, 1.1, 0.0]]])

    def run(L, a, t):
        g = L.affine_grid_generator(t, [1, 2, 4, 4], False)
        return L.grid_sampler(a, g, interp, pad, False)
    _compare(lambda a, t: run(torch, a, t), lambda a, t: run(mg, a, t), [x, th])


def test_fork_and_wait():
    fut = mg.jit.fork(lambda a, k=1: a * 2 + k, mg.ones(2), k=3)
    assert fut.done() and mg.jit.wait(fut).tolist() == [5.0, 5.0]
    assert mg.wait(mg.fork(lambda: 3)) == 3
    bad = mg.jit.fork(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        bad.wait()


def test_grid_sample_border_gradient_is_zero_on_the_edge():
    # iy = ((0.8 + 1) 5 - 1) / 2 = 4 = H - 1 exactly: PyTorch's clip passes no gradient there
    x = R.standard_normal((1, 1, 5, 5))
    g = np.array([[[[0.35, 0.8], [1.3, -0.2]], [[-0.1, 0.1], [-1.0, -1.2]]]])
    _compare(lambda a, b: torch.nn.functional.grid_sample(a, b, padding_mode="border",
                                                          align_corners=False),
             lambda a, b: F.grid_sample(a, b, padding_mode="border", align_corners=False), [x, g])


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_reflection_matches_torch(mode, align_corners):
    x = R.standard_normal((2, 2, 5, 6))
    g = np.random.default_rng(8).uniform(-3.1, 3.1, (2, 4, 5, 2))  # several reflections
    _compare(lambda a, b: torch.nn.functional.grid_sample(
        a, b, mode=mode, padding_mode="reflection", align_corners=align_corners),
        lambda a, b: F.grid_sample(a, b, mode=mode, padding_mode="reflection",
                                   align_corners=align_corners), [x, g])
    with pytest.raises(ValueError, match="expected padding_mode"):
        F.grid_sample(mg.ones(1, 1, 2, 2), mg.zeros(1, 1, 1, 2), padding_mode="wrap")


def test_autocast_state_answers():
    with mg.autocast("cpu", dtype=mg.float16):
        assert not mg.is_autocast_enabled() and not mg.is_autocast_enabled("cpu")
    assert mg.get_autocast_gpu_dtype() == mg.float16 == mg.get_autocast_dtype("cuda")
    mg.set_autocast_dtype("cpu", mg.float16)
    assert mg.get_autocast_cpu_dtype() == mg.float16
    assert mg.autocast_increment_nesting() == 1 and mg.autocast_decrement_nesting() == 0
    assert mg.is_autocast_cache_enabled()


def test_householder_family_matches_torch():
    a, c = R.standard_normal((5, 3)), R.standard_normal((5, 2))
    at, taut = torch.geqrf(torch.tensor(a))
    am, taum = mg.tensor(a).geqrf()
    np.testing.assert_allclose(_np(am), _np(at), atol=1e-12)
    np.testing.assert_allclose(_np(taum), _np(taut), atol=1e-12)
    for kw in ({}, {"transpose": True}):
        np.testing.assert_allclose(_np(mg.ormqr(am, taum, mg.tensor(c), **kw)),
                                   _np(torch.ormqr(at, taut, torch.tensor(c), **kw)), atol=1e-12)
    np.testing.assert_allclose(_np(mg.ormqr(am, taum, mg.tensor(c.T.copy()), left=False)),
                               _np(torch.ormqr(at, taut, torch.tensor(c.T.copy()), left=False)),
                               atol=1e-12)
    np.testing.assert_allclose(_np(am.orgqr(taum)), _np(torch.orgqr(at, taut)), atol=1e-12)
    assert mg.get_device_module("cuda") is mg.cuda
    assert float(mg.native_norm(mg.tensor([3.0, 4.0]))) == 5.0
    assert mg.compiled_with_cxx11_abi() and not mg.is_vulkan_available()


def test_torch_cpu_module():
    assert mg.get_device_module("cpu") is mg.cpu
    assert mg.cpu.is_available() and mg.cpu.device_count() == torch.cpu.device_count() == 1
    assert mg.cpu.current_device() == torch.cpu.current_device() == "cpu"
    with mg.cpu.amp.autocast():
        y = mg.ones(2, dtype=mg.float64) * 2
    assert y.dtype == mg.float64  # full precision, as PyTorch with enabled=False
    with mg.cpu.stream(mg.cpu.current_stream()):
        mg.cpu.synchronize()


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_bicubic_matches_torch(padding_mode, align_corners):
    x = R.standard_normal((2, 2, 5, 6))
    g = np.random.default_rng(9).uniform(-1.6, 1.6, (2, 4, 5, 2))
    _compare(lambda a, b: torch.nn.functional.grid_sample(
        a, b, mode="bicubic", padding_mode=padding_mode, align_corners=align_corners),
        lambda a, b: F.grid_sample(a, b, mode="bicubic", padding_mode=padding_mode,
                                   align_corners=align_corners), [x, g], atol=1e-9)
    with pytest.raises(ValueError, match="expected mode"):
        F.grid_sample(mg.ones(1, 1, 2, 2), mg.zeros(1, 1, 1, 2), mode="area")
