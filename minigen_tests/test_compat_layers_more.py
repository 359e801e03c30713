"""PyTorch features checked against real PyTorch (float64, same weights and inputs): packed
sequences through RNN/LSTM/GRU, EmbeddingBag, CTC loss, gumbel_softmax, local response norm,
bicubic interpolation, weight normalisation (hook and parametrization)."""
import numpy as np
import pytest

import minigen as mg
import minigen.nn as mnn
import minigen.nn.functional as MF
from minigen.nn.utils import rnn as mrnn

torch = pytest.importorskip("torch")
F = torch.nn.functional
trnn = torch.nn.utils.rnn


def _np(t):
    """A minigen or torch tensor as a NumPy array (from any device)."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t.detach().cpu().tolist() if t.device != "cpu" else t.detach().numpy())


def _pair(a, device, grad=True):
    """The same float64 array as (torch tensor, minigen tensor on ``device``)."""
    a = np.asarray(a, dtype=np.float64)
    return (torch.tensor(a, requires_grad=grad),
            mg.tensor(a, device=device, requires_grad=grad))


def _close(t, m, tol=1e-10):
    a, b = _np(t), _np(m)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(b, a, rtol=tol, atol=tol)


def _copy_weights(tm, mm, device):
    mm.load_state_dict({k: mg.tensor(v.detach().numpy(), device=device)
                        for k, v in tm.state_dict().items()})


def _grads_close(tm, mm, tol=1e-10):
    tp, mp = dict(tm.named_parameters()), dict(mm.named_parameters())
    assert tp.keys() == mp.keys()
    for k in tp:
        _close(tp[k].grad, mp[k].grad, tol)


# ----------------------------------------------------------------------------- packed sequences
@pytest.mark.parametrize("cls,num_layers,bidirectional,batch_first,enforce_sorted", [
    ("RNN", 1, False, False, True), ("RNN", 2, True, True, False),
    ("LSTM", 1, False, False, True), ("LSTM", 2, True, True, False),
    ("LSTM", 3, True, False, False),
    ("GRU", 1, True, False, True), ("GRU", 2, False, True, False),
])
def test_rnn_packed_sequence_matches_torch(cls, num_layers, bidirectional, batch_first,
                                           enforce_sorted, device):
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls)(3, 4, num_layers=num_layers, bidirectional=bidirectional,
                                batch_first=batch_first).double()
    mm = getattr(mnn, cls)(3, 4, num_layers=num_layers, bidirectional=bidirectional,
                           batch_first=batch_first).to(device).double()
    _copy_weights(tm, mm, device)
    rng = np.random.default_rng(1)
    lens = [5, 4, 2, 2] if enforce_sorted else [3, 5, 1, 5]
    xt, xm = _pair(rng.standard_normal((4, 5, 3) if batch_first else (5, 4, 3)), device)
    D = 2 if bidirectional else 1
    ht, hm = _pair(rng.standard_normal((num_layers * D, 4, 4)), device)
    ct, cm = _pair(rng.standard_normal((num_layers * D, 4, 4)), device)
    pt = trnn.pack_padded_sequence(xt, lens, batch_first=batch_first, enforce_sorted=enforce_sorted)
    pm = mrnn.pack_padded_sequence(xm, lens, batch_first=batch_first, enforce_sorted=enforce_sorted)
    _close(pt.data, pm.data)
    assert pt.batch_sizes.tolist() == pm.batch_sizes.tolist()
    if enforce_sorted:
        assert pm.sorted_indices is None and pm.unsorted_indices is None
    else:
        assert pt.sorted_indices.tolist() == pm.sorted_indices.tolist()
        assert pt.unsorted_indices.tolist() == pm.unsorted_indices.tolist()
    lstm = cls == "LSTM"
    ot, hnt = tm(pt, (ht, ct) if lstm else ht)
    om, hnm = mm(pm, (hm, cm) if lstm else hm)
    assert isinstance(om, mrnn.PackedSequence)
    _close(ot.data, om.data)
    yt, lt = trnn.pad_packed_sequence(ot, batch_first=batch_first, padding_value=-2.0,
                                      total_length=7)
    ym, lm = mrnn.pad_packed_sequence(om, batch_first=batch_first, padding_value=-2.0,
                                      total_length=7)
    _close(yt, ym)
    assert lt.tolist() == lm.tolist() == lens
    hs_t = list(hnt) if lstm else [hnt]
    hs_m = list(hnm) if lstm else [hnm]
    for a, b in zip(hs_t, hs_m):
        _close(a, b)
    w = rng.standard_normal(tuple(yt.shape))
    loss_t = (yt * torch.tensor(w)).sum() + sum((h ** 2).sum() for h in hs_t)
    loss_m = (ym * mg.tensor(w, device=device)).sum() + sum((h ** 2).sum() for h in hs_m)
    loss_t.backward()
    loss_m.backward()
    _grads_close(tm, mm)
    _close(xt.grad, xm.grad)
    _close(ht.grad, hm.grad)
    if lstm:
        _close(ct.grad, cm.grad)


def test_rnn_packed_without_hx_and_final_state_at_own_length(device):
    torch.manual_seed(0)
    tm, mm = torch.nn.GRU(2, 3).double(), mnn.GRU(2, 3).to(device).double()
    _copy_weights(tm, mm, device)
    seqs = [np.random.randn(n, 2) for n in (2, 4, 3)]
    pt = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    pm = mrnn.pack_sequence([mg.tensor(s, device=device) for s in seqs], enforce_sorted=False)
    _, ht = tm(pt)
    _, hm = mm(pm)
    _close(ht, hm)
    # sequence 0 alone: its final state is the batch's h_n[:, 0]
    _, h0 = mm(mg.tensor(seqs[0], device=device).unsqueeze(1))
    _close(h0[:, 0], hm[:, 0])


def test_pack_sequence_unpack_and_unpad(device):
    seqs = [np.random.randn(n, 2) for n in (3, 1, 4)]
    ts = [torch.tensor(s, requires_grad=True) for s in seqs]
    ms = [mg.tensor(s, device=device, requires_grad=True) for s in seqs]
    pt = trnn.pack_sequence(ts, enforce_sorted=False)
    pm = mrnn.pack_sequence(ms, enforce_sorted=False)
    _close(pt.data, pm.data)
    w = np.random.randn(*pt.data.shape)
    (pt.data * torch.tensor(w)).sum().backward()
    (pm.data * mg.tensor(w, device=device)).sum().backward()
    for a, b in zip(ts, ms):
        _close(a.grad, b.grad)
    for a, b in zip(trnn.unpack_sequence(pt), mrnn.unpack_sequence(pm)):
        _close(a, b)
    padded = np.random.randn(4, 3, 2)
    for bf in (False, True):
        x = padded if not bf else padded.transpose(1, 0, 2)
        ut = trnn.unpad_sequence(torch.tensor(x), torch.tensor([4, 2, 3]), batch_first=bf)
        um = mrnn.unpad_sequence(mg.tensor(x, device=device), mg.tensor([4, 2, 3]), batch_first=bf)
        for a, b in zip(ut, um):
            _close(a, b)
    # a namedtuple, as PyTorch's
    data, batch_sizes, sorted_indices, unsorted_indices = pm
    assert batch_sizes.tolist() == [3, 2, 2, 1] and sorted_indices.tolist() == [2, 0, 1]
    assert pm.to(mg.float32).data.dtype == mg.float32
    assert pm.double().data.dtype == mg.float64


def test_pack_padded_sequence_errors():
    x = mg.zeros(5, 4, 2)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        mrnn.pack_padded_sequence(x, [5, 3, 4, 3])
    with pytest.raises(RuntimeError, match="greater than 0"):
        mrnn.pack_padded_sequence(x, [5, 3, 1, 0])
    with pytest.raises(RuntimeError, match="equal to batch_size"):
        mrnn.pack_padded_sequence(x, [5, 3, 2])
    with pytest.raises(RuntimeError, match="larger than the padded"):
        mrnn.pack_padded_sequence(x, [6, 3, 2, 1])
    with pytest.raises(RuntimeError, match="empty list"):
        mrnn.pack_sequence([])
    p = mrnn.pack_padded_sequence(x, [5, 3, 2, 1])
    with pytest.raises(ValueError, match="total_length"):
        mrnn.pad_packed_sequence(p, total_length=3)
    with pytest.raises(RuntimeError, match="hidden"):
        mnn.LSTM(2, 3)(p, (mg.zeros(1, 3, 3), mg.zeros(1, 3, 3)))


def test_torch_alias_reaches_packed_sequences():
    import subprocess
    import sys
    code = ("import sys, minigen; sys.modules['torch'] = minigen\n"
            "import torch.nn.utils.rnn as R, torch.nn as nn\n"
            "from torch.nn.utils.parametrizations import weight_norm\n"
            "from torch.nn.utils import weight_norm, remove_weight_norm\n"
            "print(R.PackedSequence.__module__, nn.EmbeddingBag.__name__, nn.CTCLoss.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "minigen.nn.utils.rnn EmbeddingBag CTCLoss" in out.stdout
    mod = mrnn
    for name in ("PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence",
                 "unpack_sequence", "unpad_sequence", "pad_sequence", "invert_permutation"):
        assert hasattr(mod, name), name


# ----------------------------------------------------------------------------- CTC
CTC_CASES = [
    ([[1, 2, 2], [3, 1, 0], [4, 4, 4]], [7, 5, 7], [3, 2, 2]),       # padded, repeats
    ([1, 2, 2, 3, 1, 4], [7, 5, 6], [3, 2, 1]),                      # concatenated
    ([[1, 1, 1], [2, 2, 0], [1, 0, 0]], [3, 7, 2], [3, 2, 0]),       # impossible, empty target
    ([[1, 2], [3, 0], [0, 0]], [7, 0, 0], [2, 1, 0]),                # no frames
]


@pytest.mark.parametrize("case", range(len(CTC_CASES)))
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("normalized", [True, False])
def test_ctc_loss_matches_torch(case, reduction, normalized, device):
    tg, il, tl = CTC_CASES[case]
    rng = np.random.default_rng(case)
    z = rng.standard_normal((7, 3, 5))
    if normalized:
        z = z - np.log(np.exp(z).sum(-1, keepdims=True))
    for zero_infinity in (False, True):
        at, am = _pair(z, device)
        lt = F.ctc_loss(at, torch.tensor(tg), torch.tensor(il), torch.tensor(tl),
                        reduction=reduction, zero_infinity=zero_infinity)
        lm = MF.ctc_loss(am, mg.tensor(tg, device=device), mg.tensor(il), tl,
                         reduction=reduction, zero_infinity=zero_infinity)
        a, b = _np(lt), _np(lm)
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10)  # inf where torch's is inf
        w = rng.standard_normal(tuple(lt.shape))
        (lt * torch.tensor(w)).sum().backward()
        (lm * mg.tensor(w, device=device)).sum().backward()
        ga, gb = _np(at.grad), _np(am.grad)
        assert np.array_equal(np.isnan(ga), np.isnan(gb))  # NaN for an impossible alignment
        np.testing.assert_allclose(np.nan_to_num(gb), np.nan_to_num(ga), rtol=1e-10, atol=1e-10)


def test_ctc_loss_blank_module_unbatched_and_gradcheck(device):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 2, 4))
    at, am = _pair(z, device)
    lt = torch.nn.CTCLoss(blank=3)(at.log_softmax(2), torch.tensor([[0, 1], [2, 2]]),
                                   (6, 5), (2, 2))
    lm = mnn.CTCLoss(blank=3)(am.log_softmax(2), mg.tensor([[0, 1], [2, 2]], device=device),
                              (6, 5), (2, 2))
    _close(lt, lm)
    lt.backward()
    lm.backward()
    _close(at.grad, am.grad)
    # unbatched: (T, C), targets (S,)
    ut = F.ctc_loss(torch.tensor(z[:, 0]).log_softmax(1), torch.tensor([1, 2]), torch.tensor(6),
                    torch.tensor(2))
    um = MF.ctc_loss(mg.tensor(z[:, 0], device=device).log_softmax(1), mg.tensor([1, 2]), 6, 2)
    _close(ut, um)
    # through log_softmax the gradient is the exact one
    x = mg.tensor(z[:5], device=device, requires_grad=True)
    assert mg.gradcheck(lambda v: MF.ctc_loss(v.log_softmax(2), mg.tensor([[1, 2], [3, 3]]),
                                              [5, 4], [2, 2]), [x])


def test_ctc_loss_errors():
    lp = mg.zeros(6, 2, 4)
    tg = mg.tensor([[1, 2, 2], [3, 1, 0]])
    with pytest.raises(RuntimeError, match="input_lengths to have value at most 6"):
        MF.ctc_loss(lp, tg, [7, 4], [3, 2])
    with pytest.raises(RuntimeError, match="input_lengths must be of size batch_size"):
        MF.ctc_loss(lp, tg, [6, 4, 3], [3, 2])
    with pytest.raises(RuntimeError, match="target_lengths must be of size batch_size"):
        MF.ctc_loss(lp, tg, [6, 4], [3, 2, 1])
    with pytest.raises(RuntimeError, match="size at least 4 at dimension 1"):
        MF.ctc_loss(lp, tg, [6, 4], [4, 2])
    with pytest.raises(RuntimeError, match="blank must be in label range"):
        MF.ctc_loss(lp, tg, [6, 4], [3, 2], blank=4)
    with pytest.raises(RuntimeError, match="target_lengths to have value at least 0"):
        MF.ctc_loss(lp, tg, [6, 4], [3, -1])
    with pytest.raises(RuntimeError, match="size 6 at dimension 0"):
        MF.ctc_loss(lp, mg.tensor([1, 2, 2, 3, 1]), [6, 4], [3, 3])
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        MF.ctc_loss(lp, tg, [6, 4], [3, 2], reduction="foo")


# ----------------------------------------------------------------------------- EmbeddingBag
BAG_IDX = [1, 2, 4, 5, 4, 3, 2, 9, 2]


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("layout", ["offsets", "last_offset", "2d", "empty_bag"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_matches_torch(mode, layout, padding_idx, device):
    rng = np.random.default_rng(3)
    wt, wm = _pair(rng.standard_normal((10, 3)), device)
    idx = BAG_IDX[:8] if layout == "2d" else BAG_IDX
    kw = dict(mode=mode, padding_idx=padding_idx)
    if layout == "offsets":
        offs = [0, 3, 5]
    elif layout == "last_offset":
        offs, kw["include_last_offset"] = [0, 3, 6, 9], True
    elif layout == "empty_bag":
        offs = [0, 4, 4, 8]
    psw = None
    if mode == "sum":
        psw = rng.standard_normal(len(idx))
    it = torch.tensor(idx).view(2, 4) if layout == "2d" else torch.tensor(idx)
    im = mg.tensor(idx, device=device)
    im = im.reshape(2, 4) if layout == "2d" else im
    ot_ = None if layout == "2d" else torch.tensor(offs)
    om_ = None if layout == "2d" else mg.tensor(offs, device=device)
    pt = pm = None
    if psw is not None:
        pt, pm = _pair(psw.reshape(tuple(it.shape)), device)
    yt = F.embedding_bag(it, wt, ot_, per_sample_weights=pt, **kw)
    ym = MF.embedding_bag(im, wm, om_, per_sample_weights=pm, **kw)
    _close(yt, ym)
    g = rng.standard_normal(tuple(yt.shape))
    (yt * torch.tensor(g)).sum().backward()
    (ym * mg.tensor(g, device=device)).sum().backward()
    _close(wt.grad, wm.grad)
    if psw is not None:
        _close(pt.grad, pm.grad)


def test_embedding_bag_module_and_gradcheck(device):
    torch.manual_seed(0)
    tm = torch.nn.EmbeddingBag(10, 4, mode="max", padding_idx=-1).double()
    mm = mnn.EmbeddingBag(10, 4, mode="max", padding_idx=-1).to(device).double()
    assert mm.padding_idx == 9 and float(abs(mm.weight[9]).sum()) == 0.0
    _copy_weights(tm, mm, device)
    x = [[1, 2, 9], [3, 3, 0]]
    yt, ym = tm(torch.tensor(x)), mm(mg.tensor(x, device=device))
    _close(yt, ym)
    yt.sum().backward()
    ym.sum().backward()
    _grads_close(tm, mm)
    assert repr(mm) == repr(tm)
    pre = mnn.EmbeddingBag.from_pretrained(mg.ones(4, 2, device=device), mode="sum")
    assert not pre.weight.requires_grad
    _close(torch.ones(1, 2) * 2, pre(mg.tensor([[0, 1]], device=device)))
    w = mg.tensor(np.random.randn(6, 3), device=device, requires_grad=True)
    p = mg.tensor(np.random.randn(5), device=device, requires_grad=True)
    i, o = mg.tensor([0, 2, 2, 5, 1], device=device), mg.tensor([0, 2], device=device)
    assert mg.gradcheck(lambda w, p: MF.embedding_bag(i, w, o, mode="sum", per_sample_weights=p),
                        [w, p])
    assert mg.gradcheck(lambda w: MF.embedding_bag(i, w, o, mode="mean", padding_idx=2), [w])


def test_embedding_bag_errors():
    w, i = mg.zeros(10, 3), mg.tensor(BAG_IDX[:8])
    with pytest.raises(RuntimeError, match=r"offsets\[0\] has to be 0"):
        MF.embedding_bag(i, w, mg.tensor([1, 4]))
    with pytest.raises(RuntimeError, match="can not be greater than input's length 8"):
        MF.embedding_bag(i, w, mg.tensor([0, 4, 9]))
    with pytest.raises(ValueError, match="offsets has to be None"):
        MF.embedding_bag(i.reshape(2, 4), w, mg.tensor([0, 4]))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        MF.embedding_bag(i, w)
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        MF.embedding_bag(i, w, mg.tensor([0, 4]), mode="foo")
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        MF.embedding_bag(i, w, mg.tensor([0, 4]), per_sample_weights=mg.ones(8))
    with pytest.raises(ValueError, match="same shape as the input"):
        MF.embedding_bag(i, w, mg.tensor([0, 4]), mode="sum", per_sample_weights=mg.ones(7))
    with pytest.raises(RuntimeError, match="integer dtype"):
        MF.embedding_bag(i.float(), w, mg.tensor([0, 4]))


# ----------------------------------------------------------------------------- weight norm
@pytest.mark.parametrize("dim", [0, 1, None, -1, -2, 2])
@pytest.mark.parametrize("kind", ["hook", "parametrization"])
def test_weight_norm_matches_torch(dim, kind, device):
    torch.manual_seed(0)
    tm = torch.nn.Conv1d(3, 4, 5).double()
    mm = mnn.Conv1d(3, 4, 5).to(device).double()
    _copy_weights(tm, mm, device)
    if kind == "hook":
        with pytest.warns(FutureWarning):
            torch.nn.utils.weight_norm(tm, dim=dim)
        with pytest.warns(FutureWarning, match="deprecated"):
            mnn.utils.weight_norm(mm, dim=dim)
    else:
        torch.nn.utils.parametrizations.weight_norm(tm, dim=dim)
        mnn.utils.parametrizations.weight_norm(mm, dim=dim)
    assert list(tm.state_dict()) == list(mm.state_dict())
    assert [n for n, _ in tm.named_parameters()] == [n for n, _ in mm.named_parameters()]
    for k, v in tm.state_dict().items():
        _close(v, mm.state_dict()[k])
    # move g and v away from their initial values, the same way in both
    sd = {k: v * 1.3 + 0.1 for k, v in tm.state_dict().items()}
    tm.load_state_dict(sd)
    mm.load_state_dict({k: mg.tensor(v.numpy(), device=device) for k, v in sd.items()})
    xt, xm = _pair(np.random.randn(2, 3, 7), device)
    yt, ym = tm(xt), mm(xm)
    _close(yt, ym)
    w = np.random.randn(*yt.shape)
    (yt * torch.tensor(w)).sum().backward()
    (ym * mg.tensor(w, device=device)).sum().backward()
    _grads_close(tm, mm)
    _close(xt.grad, xm.grad)
    _close(tm.weight, mm.weight)


def test_weight_norm_remove_and_errors(device):
    import warnings
    m = mnn.Linear(3, 4).to(device).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        mnn.utils.weight_norm(m)
        assert tuple(m.weight_g.shape) == (4, 1)
        with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
            mnn.utils.weight_norm(m)
    m.weight_g.data = m.weight_g.data * 2.0
    x = mg.randn(2, 3, device=device, dtype=mg.float64)
    y = m(x)
    mnn.utils.remove_weight_norm(m)
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight"]
    _close(y, m(x))
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        mnn.utils.remove_weight_norm(m)
    p = mnn.utils.parametrizations.weight_norm(mnn.Linear(3, 4).to(device).double())
    with pytest.raises(ValueError, match="sequence of tensors"):
        mnn.utils.parametrize.remove_parametrizations(p, "weight", leave_parametrized=False)
    w = p.weight
    mnn.utils.parametrize.remove_parametrizations(p, "weight")
    _close(w, p.weight)
    with pytest.raises(ValueError, match="does not have a parameter"):
        mnn.utils.parametrizations.weight_norm(mnn.Linear(3, 4), name="foo")
    from minigen.nn.utils.weight_norm import _weight_norm
    g = mg.tensor(np.random.rand(4, 1) + 0.5, device=device, requires_grad=True)
    v = mg.tensor(np.random.randn(4, 3), device=device, requires_grad=True)
    assert mg.gradcheck(lambda g, v: _weight_norm(v, g, 0), [g, v])
    assert mg.gradgradcheck(lambda g, v: _weight_norm(v, g, 0), [g, v])


# ----------------------------------------------------------------------------- gumbel_softmax
@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("dim", [-1, 0])
def test_gumbel_softmax_matches_torch_given_the_same_noise(hard, dim, device):
    from minigen.ops.activation import _gumbel_noise
    x = np.random.randn(4, 5)
    xt, xm = _pair(x, device)
    mg.manual_seed(3)
    g = _np(_gumbel_noise(xm.detach()))
    mg.manual_seed(3)
    ym = MF.gumbel_softmax(xm, tau=0.6, hard=hard, dim=dim)
    # PyTorch's function with its exponential noise replaced by the same draw
    y_soft = ((xt + torch.tensor(g)) / 0.6).softmax(dim)
    if hard:
        index = y_soft.max(dim, keepdim=True)[1]
        yt = torch.zeros_like(xt).scatter_(dim, index, 1.0) - y_soft.detach() + y_soft
        assert set(np.unique(_np(ym))) <= {0.0, 1.0} and np.allclose(_np(ym).sum(dim), 1.0)
    else:
        yt = y_soft
    _close(yt, ym, 1e-12)
    w = np.random.randn(4, 5)
    (yt * torch.tensor(w)).sum().backward()
    (ym * mg.tensor(w, device=device)).sum().backward()
    _close(xt.grad, xm.grad, 1e-12)


def test_gumbel_softmax_samples_the_softmax_and_warns_on_eps():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    x = mg.tensor(np.tile(np.log(p), (20000, 1)))
    freq = _np(MF.gumbel_softmax(x, tau=0.5, hard=True)).mean(0)
    np.testing.assert_allclose(freq, p, atol=0.015)
    soft = MF.gumbel_softmax(x[:10], tau=2.0)
    np.testing.assert_allclose(_np(soft).sum(-1), 1.0)
    with pytest.warns(UserWarning, match="eps"):
        MF.gumbel_softmax(x[:2], eps=1e-3)


# ----------------------------------------------------------------------------- local response norm
@pytest.mark.parametrize("shape", [(2, 6, 5), (2, 7, 3, 4), (1, 4, 2, 2, 3)])
@pytest.mark.parametrize("size", [1, 2, 5, 8])
def test_local_response_norm_matches_torch(shape, size, device):
    xt, xm = _pair(np.random.randn(*shape), device)
    yt = torch.nn.LocalResponseNorm(size, alpha=0.3, beta=0.6, k=1.5)(xt)
    ym = mnn.LocalResponseNorm(size, alpha=0.3, beta=0.6, k=1.5)(xm)
    _close(yt, ym)
    w = np.random.randn(*shape)
    (yt * torch.tensor(w)).sum().backward()
    (ym * mg.tensor(w, device=device)).sum().backward()
    _close(xt.grad, xm.grad)


def test_local_response_norm_defaults_and_errors():
    assert repr(mnn.LocalResponseNorm(3)) == repr(torch.nn.LocalResponseNorm(3))
    x = np.random.randn(2, 5, 3)
    _close(F.local_response_norm(torch.tensor(x), 2), MF.local_response_norm(mg.tensor(x), 2))
    with pytest.raises(ValueError, match=r"Expected 3D or higher dimensionality input \(got 2"):
        MF.local_response_norm(mg.zeros(2, 3), 2)


# ----------------------------------------------------------------------------- bicubic / trilinear
@pytest.mark.parametrize("kw", [dict(size=(7, 9)), dict(size=(3, 2)), dict(scale_factor=2.5),
                                dict(scale_factor=(0.6, 1.7)),
                                dict(scale_factor=1.5, recompute_scale_factor=True),
                                dict(size=(4, 1))])
@pytest.mark.parametrize("align_corners", [False, True])
def test_interpolate_bicubic_matches_torch(kw, align_corners, device):
    xt, xm = _pair(np.random.randn(2, 3, 5, 4), device)
    yt = F.interpolate(xt, mode="bicubic", align_corners=align_corners, **kw)
    ym = MF.interpolate(xm, mode="bicubic", align_corners=align_corners, **kw)
    _close(yt, ym)
    w = np.random.randn(*yt.shape)
    (yt * torch.tensor(w)).sum().backward()
    (ym * mg.tensor(w, device=device)).sum().backward()
    _close(xt.grad, xm.grad)


def test_interpolate_bicubic_float32_module_and_gradcheck(device):
    x = np.random.randn(1, 2, 6, 5).astype(np.float32)
    yt = torch.nn.Upsample(scale_factor=2, mode="bicubic")(torch.tensor(x))
    ym = mnn.Upsample(scale_factor=2, mode="bicubic")(mg.tensor(x, device=device))
    assert ym.dtype == mg.float32
    _close(yt, ym, 2e-5)
    v = mg.tensor(np.random.randn(1, 1, 3, 4), device=device, requires_grad=True)
    assert mg.gradcheck(lambda v: MF.interpolate(v, size=(5, 2), mode="bicubic"), [v])
    with pytest.raises(NotImplementedError, match="bicubic"):
        MF.interpolate(mg.zeros(1, 1, 4), size=5, mode="bicubic")


@pytest.mark.parametrize("kw", [dict(size=(4, 2, 7)), dict(scale_factor=1.7)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_interpolate_trilinear_matches_torch(kw, align_corners, device):
    xt, xm = _pair(np.random.randn(1, 2, 3, 4, 5), device)
    yt = F.interpolate(xt, mode="trilinear", align_corners=align_corners, **kw)
    ym = MF.interpolate(xm, mode="trilinear", align_corners=align_corners, **kw)
    _close(yt, ym)
    w = np.random.randn(*yt.shape)
    (yt * torch.tensor(w)).sum().backward()
    (ym * mg.tensor(w, device=device)).sum().backward()
    _close(xt.grad, xm.grad)


def test_embedding_max_norm_and_sparse_as_torch(device):
    w = np.random.randn(6, 3) * 3
    for cls_t, cls_m, kw in [(torch.nn.Embedding, mnn.Embedding, {}),
                             (torch.nn.EmbeddingBag, mnn.EmbeddingBag, dict(mode="sum"))]:
        tm = cls_t.from_pretrained(torch.tensor(w), freeze=False, max_norm=1.5, norm_type=1.0,
                                   sparse=True, **kw)
        mm = cls_m.from_pretrained(mg.tensor(w, device=device), freeze=False, max_norm=1.5,
                                   norm_type=1.0, sparse=True, **kw)
        assert repr(tm) == repr(mm)
        i = [[0, 2, 2], [5, 1, 0]]
        yt, ym = tm(torch.tensor(i)), mm(mg.tensor(i, device=device))
        _close(yt, ym)
        _close(tm.weight, mm.weight)  # the picked rows were rescaled in place, the others not
        g = np.random.randn(*yt.shape)
        (yt * torch.tensor(g)).sum().backward()
        (ym * mg.tensor(g, device=device)).sum().backward()
        _close(tm.weight.grad.to_dense(), mm.weight.grad)
    assert repr(mnn.EmbeddingBag(10, 3)) == repr(torch.nn.EmbeddingBag(10, 3))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("kw", [dict(size=(3, 5)), dict(size=(12, 4)), dict(scale_factor=0.37),
                                dict(size=(20, 30))])
def test_interpolate_antialias_matches_torch(mode, align_corners, kw, device):
    xt, xm = _pair(np.random.randn(1, 2, 9, 11), device)
    yt = F.interpolate(xt, mode=mode, align_corners=align_corners, antialias=True, **kw)
    ym = MF.interpolate(xm, mode=mode, align_corners=align_corners, antialias=True, **kw)
    _close(yt, ym)
    w = np.random.randn(*yt.shape)
    (yt * torch.tensor(w)).sum().backward()
    (ym * mg.tensor(w, device=device)).sum().backward()
    _close(xt.grad, xm.grad)


def test_interpolate_antialias_errors():
    with pytest.raises(ValueError, match="Anti-alias option is restricted to bilinear, bicubic"):
        MF.interpolate(mg.zeros(1, 1, 4, 4), size=2, mode="nearest", antialias=True)
    with pytest.raises(ValueError, match="requires a 4-D tensor"):
        MF.interpolate(mg.zeros(1, 1, 4), size=2, mode="linear", antialias=True)


@pytest.mark.parametrize("mode,shape,kw", [
    ("area", (1, 2, 9), dict(size=4)), ("area", (1, 2, 9), dict(size=13)),
    ("area", (2, 3, 7, 9), dict(size=(3, 4))), ("area", (2, 3, 7, 9), dict(scale_factor=0.5)),
    ("area", (1, 2, 4, 5, 6), dict(size=(2, 3, 4))),
    ("nearest", (1, 2, 4, 5, 6), dict(scale_factor=(1.5, 0.5, 3))),
    ("nearest-exact", (1, 2, 4, 5, 6), dict(size=(2, 7, 4))),
])
def test_interpolate_area_and_3d_nearest_match_torch(mode, shape, kw, device):
    xt, xm = _pair(np.random.randn(*shape), device)
    yt, ym = F.interpolate(xt, mode=mode, **kw), MF.interpolate(xm, mode=mode, **kw)
    _close(yt, ym)
    w = np.random.randn(*yt.shape)
    (yt * torch.tensor(w)).sum().backward()
    (ym * mg.tensor(w, device=device)).sum().backward()
    _close(xt.grad, xm.grad)
    if mode == "area":
        with pytest.raises(ValueError, match="align_corners option can only be set"):
            MF.interpolate(xm, mode=mode, align_corners=False, **kw)


@pytest.mark.parametrize("padding_idx", [None, 0])
def test_embedding_scale_grad_by_freq_matches_torch(padding_idx, device):
    w = np.random.randn(7, 3)
    wt, wm = _pair(w, device)
    i = [[1, 2, 2, 0], [5, 2, 0, 6]]
    yt = F.embedding(torch.tensor(i), wt, padding_idx=padding_idx, scale_grad_by_freq=True)
    ym = MF.embedding(mg.tensor(i, device=device), wm, padding_idx=padding_idx,
                      scale_grad_by_freq=True)
    _close(yt, ym)
    g = np.random.randn(*yt.shape)
    (yt * torch.tensor(g)).sum().backward()
    (ym * mg.tensor(g, device=device)).sum().backward()
    _close(wt.grad, wm.grad)
    # second order as PyTorch's (its double backward ignores the frequency scaling)
    wt, wm = _pair(w, device)
    yt = F.embedding(torch.tensor(i), wt, scale_grad_by_freq=True)
    ym = MF.embedding(mg.tensor(i, device=device), wm, scale_grad_by_freq=True)
    (gt,) = torch.autograd.grad((yt ** 3).sum(), wt, create_graph=True)
    (gm,) = mg.autograd.grad((ym ** 3).sum(), wm, create_graph=True)
    _close(gt, gm)
    (gt ** 2).sum().backward()
    (gm ** 2).sum().backward()
    _close(wt.grad, wm.grad)


def test_embedding_bag_scale_grad_by_freq_is_one_over_the_count(device):
    w = mg.tensor(np.random.randn(7, 2), device=device, requires_grad=True)
    i, o = mg.tensor([1, 2, 2, 5, 2, 0, 5], device=device), mg.tensor([0, 3, 5], device=device)
    MF.embedding_bag(i, w, o, mode="sum", scale_grad_by_freq=True).sum().backward()
    # every picked row's gradient: (times picked) / (times picked) = 1
    np.testing.assert_allclose(_np(w.grad)[:, 0], [1, 1, 1, 0, 0, 1, 0])
    with pytest.raises(ValueError, match="max mode does not support scaling"):
        MF.embedding_bag(i, w, o, mode="max", scale_grad_by_freq=True)


def test_gradcheck_packed_lstm_lrn_and_gumbel(device):
    rng = np.random.default_rng(5)
    lstm = mnn.LSTM(2, 2, bidirectional=True).to(device).double()
    x = mg.tensor(rng.standard_normal((4, 3, 2)), device=device, requires_grad=True)

    def packed(x):
        p = mrnn.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        out, (h, c) = lstm(p)
        y, _ = mrnn.pad_packed_sequence(out, padding_value=0.5)
        return y.sum(-1) + h.sum() * c.mean()
    assert mg.gradcheck(packed, [x])
    v = mg.tensor(rng.standard_normal((2, 5, 3)), device=device, requires_grad=True)
    assert mg.gradcheck(lambda v: MF.local_response_norm(v, 3, alpha=0.5, k=1.2), [v])
    assert mg.gradgradcheck(lambda v: MF.local_response_norm(v, 2, alpha=0.5, k=1.2), [v])

    def gumbel(v):
        mg.manual_seed(11)
        return MF.gumbel_softmax(v, tau=0.8, dim=1)
    assert mg.gradcheck(gumbel, [v])


# ----------------------------------------------------------------------------- LSTM proj_size
@pytest.mark.parametrize("num_layers,bidirectional,batch_first,packed,with_hx", [
    (1, False, False, False, True), (2, True, True, False, False), (2, True, False, True, True),
    (3, False, True, True, False)])
def test_lstm_proj_size_matches_torch(num_layers, bidirectional, batch_first, packed, with_hx,
                                      device):
    torch.manual_seed(0)
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
              proj_size=2)
    tm = torch.nn.LSTM(3, 5, **kw).double()
    mm = mnn.LSTM(3, 5, **kw).to(device).double()
    assert [n for n, _ in tm.named_parameters()] == [n for n, _ in mm.named_parameters()]
    assert repr(tm) == repr(mm)
    _copy_weights(tm, mm, device)
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(2)
    xt, xm = _pair(rng.standard_normal((4, 6, 3) if batch_first else (6, 4, 3)), device)
    ht, hm = _pair(rng.standard_normal((num_layers * D, 4, 2)), device)
    ct, cm = _pair(rng.standard_normal((num_layers * D, 4, 5)), device)
    it, im = xt, xm
    if packed:
        it = trnn.pack_padded_sequence(xt, [6, 2, 5, 3], batch_first=batch_first,
                                       enforce_sorted=False)
        im = mrnn.pack_padded_sequence(xm, [6, 2, 5, 3], batch_first=batch_first,
                                       enforce_sorted=False)
    ot, (hnt, cnt) = tm(it, (ht, ct) if with_hx else None)
    om, (hnm, cnm) = mm(im, (hm, cm) if with_hx else None)
    if packed:
        ot = trnn.pad_packed_sequence(ot, batch_first=batch_first)[0]
        om = mrnn.pad_packed_sequence(om, batch_first=batch_first)[0]
    for a, b in ((ot, om), (hnt, hnm), (cnt, cnm)):
        _close(a, b)
    w = rng.standard_normal(tuple(ot.shape))
    ((ot * torch.tensor(w)).sum() + (hnt ** 2).sum() + (cnt ** 3).sum()).backward()
    ((om * mg.tensor(w, device=device)).sum() + (hnm ** 2).sum() + (cnm ** 3).sum()).backward()
    _grads_close(tm, mm)
    _close(xt.grad, xm.grad)
    if with_hx:
        _close(ht.grad, hm.grad)
        _close(ct.grad, cm.grad)


def test_lstm_proj_size_errors():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        mnn.LSTM(3, 5, proj_size=5)
    with pytest.raises(ValueError, match="positive integer or zero"):
        mnn.LSTM(3, 5, proj_size=-1)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        mnn.GRU(3, 5, proj_size=2)
    m = mnn.LSTM(3, 5, proj_size=2)
    assert len(m.all_weights) == 1 and len(m.all_weights[0]) == 5
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 2\)"):
        m(mg.zeros(4, 2, 3), (mg.zeros(1, 2, 5), mg.zeros(1, 2, 5)))
