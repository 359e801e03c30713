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
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-12)
    out32 = sdpa(T(q, device, dtype=np.float32), T(k, device, dtype=np.float32),
                 T(v, device, dtype=np.float32), attn_mask=m, is_causal=causal)
    assert out32.dtype == minigen.float32
    np.testing.assert_allclose(out32.numpy(), ref_sdpa(q, k, v, m_np, causal)[0], atol=1e-5)


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
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(T(g, device))
    tout.backward(torch.tensor(g))
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-11)


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
    assert np.isfinite(bias.grad.numpy()).all() and bias.grad.numpy()[1, 2] == 0
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
        grads = minigen.grad(out, inputs, g, create_graph=True)
        s = sum((gi * gi).sum() for gi in grads)
        grads2 = minigen.grad(s, inputs)
        results.append([out.numpy()] + [t.numpy() for t in grads] + [t.numpy() for t in grads2])
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
    o = out.numpy()
    np.testing.assert_array_equal(o[:, 1], 0.0)
    assert np.isfinite(o).all()
    np.testing.assert_allclose(o[:, [0, 2]], ref_sdpa(q.numpy(), k.numpy(), v.numpy(),
                                                      mask)[0][:, [0, 2]], rtol=1e-10)
    out.sum().backward()
    for t in (q, k, v) + ((m,) if kind == "float" else ()):
        assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_array_equal(q.grad.numpy()[:, 1], 0.0)
    # second derivatives through the recomputed P stay finite too
    q2, k2, v2 = _qkv(device, (2, 3, 4), (2, 5, 4), (2, 5, 2), seed=8)
    gq, = minigen.grad(sdpa(q2, k2, v2, attn_mask=m).sum(), (q2,), create_graph=True)
    hk, = minigen.grad((gq * gq).sum(), (k2,))
    assert np.isfinite(hk.numpy()).all()


# ----------------------------------------------------------------------------- dropout
def test_dropout_is_seeded_scaled_and_drops_about_p(device):
    q, k, v = _qkv(device, (4, 16, 8), (4, 32, 8), (4, 32, 8), seed=9, requires_grad=False)
    minigen.manual_seed(3)
    o1, w1 = sdpa(q, k, v, dropout_p=0.25, _need_weights=True)
    minigen.manual_seed(3)
    o2 = sdpa(q, k, v, dropout_p=0.25)
    np.testing.assert_array_equal(o1.numpy(), o2.numpy())
    o3 = sdpa(q, k, v, dropout_p=0.25)  # the generator moved on: another mask
    assert not np.allclose(o1.numpy(), o3.numpy())
    _, p = ref_sdpa(q.numpy(), k.numpy(), v.numpy())
    w = w1.numpy()
    kept = w != 0
    # a kept probability is rescaled by 1 / (1 - p); the output is (P * D) V
    np.testing.assert_allclose(w[kept], p[kept] / 0.75, rtol=1e-10)
    assert abs(1 - kept.mean() - 0.25) < 0.03
    np.testing.assert_allclose(o1.numpy(), w @ v.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(sdpa(q, k, v, dropout_p=1.0).numpy(), 0.0)
    np.testing.assert_array_equal(sdpa(q, k, v, dropout_p=0.0).numpy(), sdpa(q, k, v).numpy())


def test_inputs_not_mutated(device):
    q, k, v = _qkv(device, (2, 3, 4), (2, 5, 4), (2, 5, 2), seed=10)
    m = T(np.random.default_rng(0).standard_normal((3, 5)), device)
    before = [t.numpy().copy() for t in (q, k, v, m)]
    sdpa(q, k, v, attn_mask=m, dropout_p=0.3).sum().backward()
    for t, a in zip((q, k, v, m), before):
        np.testing.assert_array_equal(t.numpy(), a)


def test_errors(device):
    q, k, v = _qkv(device, (2, 3, 4), (2, 5, 4), (2, 5, 2), seed=11, requires_grad=False)
    with pytest.raises(RuntimeError, match=r"query \[2, 3, 4\] and key \[2, 5, 3\] must have the same last dim"):
        sdpa(q, T(np.zeros((2, 5, 3)), device), v)
    with pytest.raises(RuntimeError, match=r"key \[2, 5, 4\] and value \[2, 4, 2\] must have the same sequence length"):
        sdpa(q, k, T(np.zeros((2, 4, 2)), device))
    with pytest.raises(RuntimeError, match=r"should not be set when is_causal=True"):
        sdpa(q, k, v, attn_mask=T(np.ones((3, 5), bool), device), is_causal=True)
    with pytest.raises(RuntimeError, match=r"attn_mask dtype to be bool or float.*int64"):
        sdpa(q, k, v, attn_mask=T(np.ones((3, 5), np.int64), device))
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \[4, 5\] cannot be broadcast"):
        sdpa(q, k, v, attn_mask=T(np.ones((4, 5), bool), device))
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
