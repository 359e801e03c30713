"""Tests for ops/attention.py (scaled_dot_product_attention) and nn/attention.py
(MultiheadAttention)."""
import math

import numpy as np
import pytest

import minigen
import minigen.nn as nn
import minigen.nn.functional as F
from minigen.ops.attention import scaled_dot_product_attention as sdpa


def T(a, device, requires_grad=False, dtype=None):
    return minigen.tensor(np.asarray(a, dtype=dtype), device=device, requires_grad=requires_grad)


# ----------------------------------------------------------------------------- references
def ref_sdpa(q, k, v, mask=None, is_causal=False, scale=None):
    """float64 NumPy reference; a row with no key taking part gives zeros."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    L, S = q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    keep = np.ones(s.shape, bool)
    if is_causal:
        keep = keep & np.tril(np.ones((L, S), bool))
    if mask is not None and mask.dtype == bool:
        keep = keep & mask
    elif mask is not None:
        s = s + mask
    keep = keep & (s > -np.inf)
    s = np.where(keep, s, -np.inf)
    m = s.max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.where(keep, np.exp(s - m), 0)
    z = e.sum(-1, keepdims=True)
    p = e / np.where(z > 0, z, 1)
    return p @ v, p


def twin_sdpa(q, k, v, mask=None, is_causal=False, scale=None):
    """The composite twin: matmul + masked_fill + softmax + matmul in primitive minigen ops."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = (q @ k.transpose(-2, -1)) * scale
    if is_causal:
        L, S = q.shape[-2], k.shape[-2]
        mask = minigen.tensor(np.tril(np.ones((L, S), bool)), device=q.device)
    if mask is not None and mask.dtype == minigen.bool:
        s = s.masked_fill(~mask, -math.inf)
    elif mask is not None:
        s = s + mask
    return minigen.softmax(s, dim=-1) @ v


def _qkv(device, qs, ks, vs, seed=0, requires_grad=True):
    rng = np.random.default_rng(seed)
    return [T(rng.standard_normal(s), device, requires_grad) for s in (qs, ks, vs)]


# ----------------------------------------------------------------------------- forward
CASES = {
    "plain": ((2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 5), None, False),
    "unbatched": ((4, 8), (6, 8), (6, 3), None, False),
    "broadcast_batch": ((2, 3, 4, 8), (3, 6, 8), (1, 3, 6, 5), None, False),
    "value_has_more_batch": ((3, 4, 8), (3, 6, 8), (2, 3, 6, 5), None, True),
    "bool_mask": ((2, 4, 8), (2, 6, 8), (2, 6, 5), "bool", False),
    "float_mask": ((2, 4, 8), (2, 6, 8), (2, 6, 5), "float", False),
    "causal_square": ((2, 5, 4), (2, 5, 4), (2, 5, 3), None, True),
    "causal_L_lt_S": ((2, 3, 4), (2, 6, 4), (2, 6, 3), None, True),
    "causal_L_gt_S": ((2, 6, 4), (2, 3, 4), (2, 3, 3), None, True),
}


def _mask(kind, L, S, rng, device, batch=()):
    if kind == "bool":
        m = rng.random(batch + (L, S)) > 0.4
        m[..., 0, :] = True  # every row has something, except the fully masked one below
        m[..., 1, :] = False
        return m, T(m, device)
    if kind == "float":
        m = rng.standard_normal(batch + (L, S))
        m[..., 2, 1] = -np.inf
        return m, T(m, device)
    return None, None


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_matches_numpy(device, name):
    qs, ks, vs, kind, causal = CASES[name]
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s) for s in (qs, ks, vs))
    m_np, m = _mask(kind, qs[-2], ks[-2], rng, device)
    for scale in (None, 0.3):
        out = sdpa(T(q, device), T(k, device), T(v, device), attn_mask=m, is_causal=causal,
                   scale=scale)
        ref, _ = ref_sdpa(q, k, v, m_np, causal, scale)
        assert out.shape == ref.shape and out.device.type == device
        np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-10, atol=1e-12)
    out32 = sdpa(T(q, device, dtype=np.float32), T(k, device, dtype=np.float32),
                 T(v, device, dtype=np.float32), attn_mask=m, is_causal=causal)
    assert out32.dtype == minigen.float32
    np.testing.assert_allclose(out32.cpu().numpy(), ref_sdpa(q, k, v, m_np, causal)[0], atol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_grads_match_torch(device, name):
    torch = pytest.importorskip("torch")
    qs, ks, vs, kind, causal = CASES[name]
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in (qs, ks, vs)]
    m_np, m = _mask(kind, qs[-2], ks[-2], rng, device)
    ours = [T(a, device, True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = sdpa(*ours, attn_mask=m, is_causal=causal)
    tout = torch.nn.functional.scaled_dot_product_attention(
        *theirs, attn_mask=None if m_np is None else torch.tensor(m_np), is_causal=causal)
    np.testing.assert_allclose(out.cpu().numpy(), tout.detach().cpu().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(T(g, device))
    tout.backward(torch.tensor(g))
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.cpu().numpy(), t.grad.cpu().numpy(), rtol=1e-9, atol=1e-11)


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", ["plain", "broadcast_batch", "bool_mask", "causal_L_lt_S"])
def test_gradcheck_and_gradgradcheck(device, name):
    qs, ks, vs, kind, causal = CASES[name]
    small = {"plain": ((1, 2, 3, 4), (1, 2, 4, 4), (1, 2, 4, 2)),
             "broadcast_batch": ((2, 1, 3, 2), (2, 4, 2), (1, 2, 4, 2))}
    qs, ks, vs = small.get(name, (qs[-2:], ks[-2:], vs[-2:]))
    rng = np.random.default_rng(3)
    q, k, v = _qkv(device, qs, ks, vs, seed=3)
    _, m = _mask(kind, qs[-2], ks[-2], rng, device)
    fn = lambda q, k, v: sdpa(q, k, v, attn_mask=m, is_causal=causal)  # noqa: E731
    assert minigen.gradcheck(fn, (q, k, v))
    assert minigen.gradgradcheck(fn, (q, k, v))


def test_gradcheck_float_mask_is_differentiable(device):
    """A float mask is an additive bias on the scores: dL/dB = dS (summed to B's shape)."""
    rng = np.random.default_rng(4)
    q, k, v = _qkv(device, (2, 3, 4), (2, 5, 4), (2, 5, 2), seed=4)
    b = rng.standard_normal((3, 5))
    b[1, 2] = -np.inf  # an excluded entry: no gradient reaches it, and none is NaN
    bias = T(b, device, True)
    fn = lambda q, k, v, bias: sdpa(q, k, v, attn_mask=bias)  # noqa: E731
    out = fn(q, k, v, bias)
    out.sum().backward()
    assert np.isfinite(bias.grad.cpu().numpy()).all() and bias.grad.cpu().numpy()[1, 2] == 0
    b[1, 2] = -3.0  # finite differences need finite entries
    bias = T(b, device, True)
    assert minigen.gradcheck(fn, (q, k, v, bias))
    assert minigen.gradgradcheck(fn, (q, k, v, bias))


def test_gradcheck_with_dropout_reseeded(device):
    """With the same seed the dropout mask is the same on every call: a fixed function."""
    q, k, v = _qkv(device, (2, 3, 4), (2, 4, 4), (2, 4, 3), seed=5)

    def fn(q, k, v):
        minigen.manual_seed(7)
        return sdpa(q, k, v, dropout_p=0.4)
    assert minigen.gradcheck(fn, (q, k, v))
    assert minigen.gradgradcheck(fn, (q, k, v))


@pytest.mark.parametrize("name", ["plain", "broadcast_batch", "bool_mask", "float_mask",
                                  "causal_L_gt_S"])
def test_composite_twin_agrees(device, name):
    """Forward, gradients and second derivatives of the Function equal the composite's."""
    qs, ks, vs, kind, causal = CASES[name]
    rng = np.random.default_rng(6)
    m_np, m = _mask(kind, qs[-2], ks[-2], rng, device)
    if kind == "bool":  # the twin gives NaN on a fully masked row; compare on the others
        m_np[..., 1, :] = rng.random(m_np.shape[-1]) > 0.5
        m_np[..., 1, 0] = True
        m = T(m_np, device)
    if kind == "float":
        m_np[..., 2, 1] = -1.0
        m = T(m_np, device, True)
    g = T(rng.standard_normal(ref_sdpa(*(np.zeros(s) for s in (qs, ks, vs)), m_np, causal)[0].shape), device)
    results = []
    for fn in (sdpa, twin_sdpa):
        q, k, v = _qkv(device, qs, ks, vs, seed=6)
        inputs = (q, k, v) + ((m,) if kind == "float" else ())
        out = fn(q, k, v, m, is_causal=causal)
        # first order on its own (the Function's backward then reuses its saved P and O) ...
        grads1 = minigen.grad(out, inputs, g, retain_graph=True)
        # ... and recorded (the backward recomputes P and O), then differentiated again
        grads = minigen.grad(out, inputs, g, create_graph=True)
        s = sum((gi * gi).sum() for gi in grads)
        grads2 = minigen.grad(s, inputs)
        results.append([out.cpu().numpy()] + [t.cpu().numpy() for t in grads1 + grads + grads2])
        if m is not None and m.requires_grad:
            m = T(m_np, device, True)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


# ----------------------------------------------------------------------------- masked rows
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_fully_masked_row_gives_zeros_not_nan(device, kind):
    q, k, v = _qkv(device, (2, 3, 4), (2, 5, 4), (2, 5, 2), seed=8)
    if kind == "bool":
        mask = np.ones((3, 5), bool)
        mask[1] = False
        m = T(mask, device)
    else:
        mask = np.zeros((3, 5))
        mask[1] = -np.inf
        m = T(mask, device, True)
    out = sdpa(q, k, v, attn_mask=m)
    o = out.cpu().numpy()
    np.testing.assert_array_equal(o[:, 1], 0.0)
    assert np.isfinite(o).all()
    np.testing.assert_allclose(o[:, [0, 2]], ref_sdpa(q.cpu().numpy(), k.cpu().numpy(), v.cpu().numpy(),
                                                      mask)[0][:, [0, 2]], rtol=1e-10)
    out.sum().backward()
    for t in (q, k, v) + ((m,) if kind == "float" else ()):
        assert np.isfinite(t.grad.cpu().numpy()).all()
    np.testing.assert_array_equal(q.grad.cpu().numpy()[:, 1], 0.0)
    # second derivatives through the recomputed P stay finite too
    q2, k2, v2 = _qkv(device, (2, 3, 4), (2, 5, 4), (2, 5, 2), seed=8)
    gq, = minigen.grad(sdpa(q2, k2, v2, attn_mask=m).sum(), (q2,), create_graph=True)
    hk, = minigen.grad((gq * gq).sum(), (k2,))
    assert np.isfinite(hk.cpu().numpy()).all()


# ----------------------------------------------------------------------------- dropout
def test_dropout_is_seeded_scaled_and_drops_about_p(device):
    q, k, v = _qkv(device, (4, 16, 8), (4, 32, 8), (4, 32, 8), seed=9, requires_grad=False)
    minigen.manual_seed(3)
    o1, w1 = sdpa(q, k, v, dropout_p=0.25, _need_weights=True)
    minigen.manual_seed(3)
    o2 = sdpa(q, k, v, dropout_p=0.25)
    np.testing.assert_array_equal(o1.cpu().numpy(), o2.cpu().numpy())
    o3 = sdpa(q, k, v, dropout_p=0.25)  # the generator moved on: another mask
    assert not np.allclose(o1.cpu().numpy(), o3.cpu().numpy())
    _, p = ref_sdpa(q.cpu().numpy(), k.cpu().numpy(), v.cpu().numpy())
    w = w1.cpu().numpy()
    kept = w != 0
    # a kept probability is rescaled by 1 / (1 - p); the output is (P * D) V
    np.testing.assert_allclose(w[kept], p[kept] / 0.75, rtol=1e-10)
    assert abs(1 - kept.mean() - 0.25) < 0.03
    np.testing.assert_allclose(o1.cpu().numpy(), w @ v.cpu().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(sdpa(q, k, v, dropout_p=1.0).cpu().numpy(), 0.0)
    np.testing.assert_array_equal(sdpa(q, k, v, dropout_p=0.0).cpu().numpy(), sdpa(q, k, v).cpu().numpy())


def test_inputs_not_mutated(device):
    q, k, v = _qkv(device, (2, 3, 4), (2, 5, 4), (2, 5, 2), seed=10)
    m = T(np.random.default_rng(0).standard_normal((3, 5)), device)
    before = [t.cpu().numpy().copy() for t in (q, k, v, m)]
    sdpa(q, k, v, attn_mask=m, dropout_p=0.3).sum().backward()
    for t, a in zip((q, k, v, m), before):
        np.testing.assert_array_equal(t.cpu().numpy(), a)


def test_errors(device):
    q, k, v = _qkv(device, (2, 3, 4), (2, 5, 4), (2, 5, 2), seed=11, requires_grad=False)
    with pytest.raises(RuntimeError, match=r"query \[2, 3, 4\] and key \[2, 5, 3\] must have "
                                           r"the same last dim"):
        sdpa(q, T(np.zeros((2, 5, 3)), device), v)
    with pytest.raises(RuntimeError, match=r"key \[2, 5, 4\] and value \[2, 4, 2\] must have "
                                           r"the same sequence length"):
        sdpa(q, k, T(np.zeros((2, 4, 2)), device))
    with pytest.raises(RuntimeError, match=r"should not be set when is_causal=True"):
        sdpa(q, k, v, attn_mask=T(np.ones((3, 5), bool), device), is_causal=True)
    with pytest.raises(RuntimeError, match=r"attn_mask dtype to be bool or float.*int64"):
        sdpa(q, k, v, attn_mask=T(np.ones((3, 5), np.int64), device))
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \[4, 5\] cannot be broadcast"):
        sdpa(q, k, v, attn_mask=T(np.ones((4, 5), bool), device))
    # a mask may not add batch dims to the scores (as in PyTorch), bool or float
    for m in (np.ones((2,) + tuple(q.shape[:-1]) + (k.shape[-2],), bool),
              np.zeros((2,) + tuple(q.shape[:-1]) + (k.shape[-2],))):
        with pytest.raises(RuntimeError, match=r"attn_mask of shape \[2, .*cannot be broadcast"):
            sdpa(q, k, v, attn_mask=T(m, device))
    with pytest.raises(ValueError, match=r"dropout_p must be in \[0, 1\], got 1.5"):
        sdpa(q, k, v, dropout_p=1.5)
    with pytest.raises(RuntimeError, match=r"same floating dtype"):
        sdpa(q, k, v.float())
    other = "cuda" if device == "cpu" else "cpu"
    with pytest.raises(RuntimeError, match=r"same device"):
        sdpa(q, k, v.to(other))
    with pytest.raises(RuntimeError, match=r"batch dims .* cannot be broadcast"):
        sdpa(q, T(np.zeros((3, 5, 4)), device), T(np.zeros((3, 5, 2)), device))
    assert F.scaled_dot_product_attention is sdpa


# ----------------------------------------------------------------------------- MultiheadAttention
def _mha_pair(torch, device, E=8, H=2, seed=0, **kw):
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(E, H, **kw).double()
    ours = nn.MultiheadAttention(E, H, **kw).double()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours.load_state_dict(theirs.state_dict())
    return ours.to(device), theirs


def test_mha_parameters_and_init(device):
    m = nn.MultiheadAttention(16, 4).to(device)
    assert [(k, tuple(v.shape)) for k, v in m.named_parameters()] == [
        ("in_proj_weight", (48, 16)), ("in_proj_bias", (48,)),
        ("out_proj.weight", (16, 16)), ("out_proj.bias", (16,))]
    assert m.q_proj_weight is None and m.bias_k is None and m.head_dim == 4
    w = m.in_proj_weight.cpu().numpy()
    bound = math.sqrt(6 / (16 + 48))  # xavier_uniform_ on (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    np.testing.assert_array_equal(m.in_proj_bias.cpu().numpy(), 0)
    np.testing.assert_array_equal(m.out_proj.bias.cpu().numpy(), 0)
    c = nn.MultiheadAttention(16, 4, kdim=6, vdim=10, add_bias_kv=True, bias=False)
    assert [(k, tuple(v.shape)) for k, v in c.named_parameters()] == [
        ("q_proj_weight", (16, 16)), ("k_proj_weight", (16, 6)), ("v_proj_weight", (16, 10)),
        ("bias_k", (1, 1, 16)), ("bias_v", (1, 1, 16)), ("out_proj.weight", (16, 16))]
    assert c.in_proj_weight is None and c.in_proj_bias is None and c.out_proj.bias is None


MHA_CASES = {
    "self": (dict(), dict()),
    "cross": (dict(), dict(cross=True, kpm="bool")),
    "batch_first": (dict(batch_first=True), dict()),
    "unbatched": (dict(), dict(unbatched=True)),
    "cross_kdim_vdim": (dict(kdim=3, vdim=5), dict()),
    "bool_attn_mask": (dict(), dict(attn_mask="bool")),
    "float_attn_mask": (dict(), dict(attn_mask="float")),
    "3d_attn_mask": (dict(), dict(attn_mask="bool3d")),
    "key_padding_bool": (dict(), dict(kpm="bool")),
    "key_padding_float": (dict(), dict(kpm="float")),
    "both_masks": (dict(), dict(attn_mask="bool", kpm="bool")),
    "bias_kv_zero_attn": (dict(add_bias_kv=True, add_zero_attn=True),
                          dict(cross=True, attn_mask="bool", kpm="bool")),
    "no_bias": (dict(bias=False), dict()),
    "per_head_weights": (dict(), dict(average=False, kpm="bool")),
    "no_weights": (dict(), dict(need_weights=False, attn_mask="float")),
    "unbatched_3d_mask": (dict(), dict(unbatched=True, attn_mask="bool3d")),
    "unbatched_cross": (dict(kdim=3, vdim=5), dict(unbatched=True, kpm="bool")),
    "batch_first_cross": (dict(batch_first=True), dict(cross=True, attn_mask="float")),
}


def _mha_inputs(rng, kw, opts, L=4, N=3, E=8, H=2):
    """(query, key, value) as NumPy arrays (the same array three times for self-attention,
    as in x, x, x) and the masks; keys are S = 5 long for cross-attention."""
    kd, vd = kw.get("kdim", E), kw.get("vdim", E)
    unb = opts.get("unbatched")
    n = 1 if unb else N
    q = rng.standard_normal((L, n, E))
    if opts.get("cross") or "kdim" in kw:
        S = 5
        k, v = rng.standard_normal((S, n, kd)), rng.standard_normal((S, n, vd))
    else:
        S, k, v = L, q, q
    masks = {}
    am = opts.get("attn_mask")
    if am == "bool":
        masks["attn_mask"] = rng.random((L, S)) > 0.7       # True = may not attend
        masks["attn_mask"][:, 0] = False
    elif am == "float":
        masks["attn_mask"] = rng.standard_normal((L, S))
    elif am == "bool3d":
        masks["attn_mask"] = rng.random((n * H, L, S)) > 0.7
        masks["attn_mask"][..., 0] = False
    kp = opts.get("kpm")
    if kp == "bool":
        masks["key_padding_mask"] = rng.random((n, S)) > 0.7
        masks["key_padding_mask"][:, 0] = False
    elif kp == "float":
        masks["key_padding_mask"] = rng.standard_normal((n, S))
    if unb:
        q, k, v = q[:, 0], (k[:, 0] if k is not q else None), (v[:, 0] if v is not q else None)
        k, v = (q if k is None else k), (q if v is None else v)
        if "key_padding_mask" in masks:
            masks["key_padding_mask"] = masks["key_padding_mask"][0]
    elif kw.get("batch_first"):
        qt = q.swapaxes(0, 1)
        k, v = (qt if a is q else a.swapaxes(0, 1) for a in (k, v))
        q = qt
    return (q, k, v), masks


def _same_objects(arrays, make):
    """Tensors for arrays, one tensor per distinct array (self-attention passes x, x, x)."""
    made = {}
    return [made.setdefault(id(a), make(a)) for a in arrays]


@pytest.mark.parametrize("name", sorted(MHA_CASES))
def test_mha_matches_torch_outputs_weights_and_grads(device, name):
    torch = pytest.importorskip("torch")
    kw, opts = MHA_CASES[name]
    ours, theirs = _mha_pair(torch, device, **kw)
    rng = np.random.default_rng(20)
    arrays, masks = _mha_inputs(rng, kw, opts)
    call = dict(need_weights=opts.get("need_weights", True),
                average_attn_weights=opts.get("average", True))
    xs = _same_objects(arrays, lambda a: T(a, device, True))
    ts = _same_objects(arrays, lambda a: torch.tensor(a, requires_grad=True))
    o, w = ours(*xs, **call, **{k: T(m, device) for k, m in masks.items()})
    to, tw = theirs(*ts, **call, **{k: torch.tensor(m) for k, m in masks.items()})
    np.testing.assert_allclose(o.cpu().numpy(), to.detach().cpu().numpy(), rtol=1e-9, atol=1e-12)
    if tw is None:
        assert w is None
    else:
        assert w.shape == tuple(tw.shape)
        np.testing.assert_allclose(w.cpu().numpy(), tw.detach().cpu().numpy(), rtol=1e-9, atol=1e-12)
    g = rng.standard_normal(o.shape)
    loss = (o * T(g, device)).sum() + (0 if w is None else (w * w).sum())
    tloss = (to * torch.tensor(g)).sum() + (0 if tw is None else (tw * tw).sum())
    loss.backward()
    tloss.backward()
    for a, t in zip(xs, ts):
        np.testing.assert_allclose(a.grad.cpu().numpy(), t.grad.cpu().numpy(), rtol=1e-8, atol=1e-11)
    tp = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.cpu().numpy(), tp[k].grad.cpu().numpy(), rtol=1e-8, atol=1e-11)


def test_mha_fully_masked_row_gives_zeros_where_torch_gives_nan(device):
    """A query that may attend to nothing: PyTorch returns NaN (output and weights); minigen
    returns attention weights of 0 and an attention result of 0, so the layer's output is
    out_proj(0) = out_proj.bias, and every gradient stays finite."""
    torch = pytest.importorskip("torch")
    ours, theirs = _mha_pair(torch, device)
    rng = np.random.default_rng(21)
    (q, k, v), _ = _mha_inputs(rng, {}, {"cross": True})
    kpm = np.zeros((3, 5), bool)
    kpm[1] = True                     # batch entry 1 sees no key at all
    am = np.zeros((4, 5), bool)
    am[2] = True                      # query 2 sees no key, in every batch entry
    xs = [T(a, device, True) for a in (q, k, v)]
    o, w = ours(*xs, key_padding_mask=T(kpm, device), attn_mask=T(am, device))
    to, tw = theirs(*(torch.tensor(a) for a in (q, k, v)), key_padding_mask=torch.tensor(kpm),
                    attn_mask=torch.tensor(am))
    assert np.isnan(to.detach().cpu().numpy()[:, 1]).all() and np.isnan(tw.detach().cpu().numpy()[1]).all()
    o, w = o.cpu().numpy(), w.cpu().numpy()
    bias = ours.out_proj.bias.cpu().numpy()
    np.testing.assert_array_equal(w[1], 0.0)
    np.testing.assert_array_equal(w[:, 2], 0.0)
    np.testing.assert_allclose(o[:, 1], np.broadcast_to(bias, o[:, 1].shape), rtol=1e-12)
    np.testing.assert_allclose(o[2], np.broadcast_to(bias, o[2].shape), rtol=1e-12)
    ok = np.ones((4, 3), bool)
    ok[:, 1] = False
    ok[2] = False
    np.testing.assert_allclose(o[ok], to.detach().cpu().numpy()[ok], rtol=1e-9, atol=1e-12)
    out, _ = ours(*xs, key_padding_mask=T(kpm, device), attn_mask=T(am, device))
    out.sum().backward()
    for t in xs + list(ours.parameters()):
        assert np.isfinite(t.grad.cpu().numpy()).all()


def test_mha_gradcheck(device):
    m = nn.MultiheadAttention(4, 2, kdim=3, vdim=2).double().to(device)
    rng = np.random.default_rng(22)
    q, k, v = (T(rng.standard_normal(s), device, True) for s in ((2, 2, 4), (3, 2, 3), (3, 2, 2)))
    mask = T(rng.random((2, 3)) > 0.6, device)

    def fn(q, k, v):
        o, w = m(q, k, v, attn_mask=mask)
        return o, w
    assert minigen.gradcheck(fn, (q, k, v))
    assert minigen.gradgradcheck(fn, (q, k, v), mode="directional")


def test_mha_dropout_only_in_training(device):
    m = nn.MultiheadAttention(8, 2, dropout=0.5).to(device)
    x = T(np.random.default_rng(23).standard_normal((4, 2, 8)), device, dtype=np.float32)
    m.eval()
    o1, w1 = m(x, x, x)
    o2, _ = m(x, x, x)
    np.testing.assert_array_equal(o1.cpu().numpy(), o2.cpu().numpy())
    np.testing.assert_allclose(w1.cpu().numpy().sum(-1), 1.0, rtol=1e-5)
    m.train()
    o3, w3 = m(x, x, x, average_attn_weights=False)
    assert not np.allclose(o3.cpu().numpy(), o1.cpu().numpy())
    assert (w3.cpu().numpy() == 0).any() and o3.dtype == minigen.float32


def test_mha_errors(device):
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(3\)"):
        nn.MultiheadAttention(10, 3)
    m = nn.MultiheadAttention(8, 2).to(device)
    x = T(np.zeros((4, 2, 8)), device, dtype=np.float32)
    with pytest.raises(RuntimeError, match=r"expected query with embed_dim 8"):
        m(T(np.zeros((4, 2, 6)), device, dtype=np.float32), x, x)
    with pytest.raises(RuntimeError, match=r"the shape of the 2D attn_mask is \[3, 4\], "
                                           r"but should be \[4, 4\]"):
        m(x, x, x, attn_mask=T(np.zeros((3, 4), bool), device))
    with pytest.raises(RuntimeError, match=r"the shape of the 3D attn_mask is \[2, 4, 4\], "
                                           r"but should be \[4, 4, 4\]"):
        m(x, x, x, attn_mask=T(np.zeros((2, 4, 4), bool), device))
    with pytest.raises(RuntimeError, match=r"expected key_padding_mask of shape \[2, 4\]"):
        m(x, x, x, key_padding_mask=T(np.zeros((4, 2), bool), device))
    with pytest.raises(RuntimeError, match=r"need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"only bool and floating types of attn_mask"):
        m(x, x, x, attn_mask=T(np.zeros((4, 4), np.int64), device))
    with pytest.raises(RuntimeError, match=r"all be 3-D \(batched\) or all 2-D"):
        m(x, x[:, 0], x)


@pytest.mark.parametrize("keys_first", [True, False])
@pytest.mark.parametrize("name", sorted(CASES))
def test_raw_first_order_backward_equals_graph_backward(device, name, keys_first, monkeypatch):
    """The first-order backward runs on raw arrays, keys first (few keys) or keys last; with
    create_graph=True the same gradients come from minigen ops. All must agree, with dropout,
    masks, and the returned weights used in the loss too (their gradient joins dP~); and the
    forward must match the NumPy reference in both layouts."""
    from minigen.ops.attention import _Layout
    monkeypatch.setattr(_Layout, "KEYS_FIRST_MAX", 10 ** 9 if keys_first else 0)
    qs, ks, vs, kind, causal = CASES[name]
    rng0 = np.random.default_rng(1)
    q0, k0, v0 = (rng0.standard_normal(s) for s in (qs, ks, vs))
    m_np, m0 = _mask(kind, qs[-2], ks[-2], rng0, device)
    out = sdpa(T(q0, device), T(k0, device), T(v0, device), attn_mask=m0, is_causal=causal)
    np.testing.assert_allclose(out.cpu().numpy(), ref_sdpa(q0, k0, v0, m_np, causal)[0],
                               rtol=1e-10, atol=1e-12)
    rng = np.random.default_rng(12)
    arrays = [rng.standard_normal(s) for s in (qs, ks, vs)]
    _, m = _mask(kind, qs[-2], ks[-2], rng, device)
    gw_np = rng.standard_normal(np.broadcast_shapes(qs[:-2], ks[:-2]) + (qs[-2], ks[-2]))
    results = []
    for create_graph in (False, True):
        minigen.manual_seed(4)
        ins = [T(a, device, True) for a in arrays]
        o, w = sdpa(*ins, attn_mask=m, is_causal=causal, dropout_p=0.3, _need_weights=True)
        loss = (o * o).sum() + (w * T(gw_np, device)).sum()
        grads = minigen.grad(loss, ins, create_graph=create_graph)
        results.append([g.cpu().numpy() for g in grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
