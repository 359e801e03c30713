"""Tests for ops/flash_attention.py: tiled attention with the online softmax must give the
outputs and gradients of standard attention (a NumPy float64 reference and minigen's
scaled_dot_product_attention), for any tile size, causal or not, on both devices."""
import math

import numpy as np
import pytest

import minigen
import minigen.nn.functional as F
from minigen.ops.flash_attention import flash_attention


def T(a, device, requires_grad=False):
    return minigen.tensor(np.asarray(a), device=device, requires_grad=requires_grad)


def host(t):
    return minigen.tensor(t).cpu().numpy() if not isinstance(t, minigen.Tensor) else t.cpu().numpy()


# ----------------------------------------------------------------------------- reference
def ref_attention(q, k, v, dout, is_causal=False, scale=None):
    """Standard attention and its gradients in NumPy float64, holding the whole T x T P."""
    q, k, v, dout = (np.asarray(a, np.float64) for a in (q, k, v, dout))
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if is_causal:
        Tq, Tk = s.shape[-2:]
        s = np.where(np.tril(np.ones((Tq, Tk), bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    o = p @ v
    dv = np.swapaxes(p, -1, -2) @ dout
    dp = dout @ np.swapaxes(v, -1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    return o, ds @ k * scale, np.swapaxes(ds, -1, -2) @ q * scale, dv


def _inputs(device, Tq, Tk, d=8, dv=5, batch=(2, 3), seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(batch + s).astype(dtype) for s in ((Tq, d), (Tk, d), (Tk, dv))]
    dout = rng.standard_normal(batch + (Tq, dv)).astype(dtype)
    return arrays, dout


CASES = [  # (T_q, T_k, block_q, block_k): T not a multiple of the tile, tiles of one row,
    (37, 37, 8, 16),      # tiles bigger than T, rectangular (cross-attention) shapes
    (64, 64, 16, 16),
    (33, 33, 1, 7),
    (20, 45, 7, 5),
    (45, 20, 16, 3),
    (10, 10, 128, 128),
]


# ----------------------------------------------------------------------------- forward, grads
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("Tq,Tk,bq,bk", CASES)
def test_matches_float64_reference(device, is_causal, Tq, Tk, bq, bk):
    (q, k, v), dout = _inputs(device, Tq, Tk)
    o_ref, dq_ref, dk_ref, dv_ref = ref_attention(q, k, v, dout, is_causal)
    qt, kt, vt = (T(a, device, True) for a in (q, k, v))
    o = flash_attention(qt, kt, vt, is_causal=is_causal, block_q=bq, block_k=bk)
    o.backward(T(dout, device))
    assert o.device.type == device
    np.testing.assert_allclose(o.cpu().numpy(), o_ref, rtol=0, atol=1e-12)
    for got, want in ((qt.grad, dq_ref), (kt.grad, dk_ref), (vt.grad, dv_ref)):
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("bq,bk", [(4, 4), (5, 11), (64, 64)])
def test_matches_scaled_dot_product_attention(device, is_causal, bq, bk):
    """The same numbers as minigen's standard path, in float64 (to 1e-5 and far better)."""
    (q, k, v), dout = _inputs(device, 29, 29, d=6, dv=6, seed=1)
    a = [T(x, device, True) for x in (q, k, v)]
    b = [T(x, device, True) for x in (q, k, v)]
    o = flash_attention(*a, is_causal=is_causal, scale=0.3, block_q=bq, block_k=bk)
    r = F.scaled_dot_product_attention(*b, is_causal=is_causal, scale=0.3)
    o.backward(T(dout, device))
    r.backward(T(dout, device))
    np.testing.assert_allclose(o.cpu().numpy(), r.cpu().numpy(), rtol=0, atol=1e-12)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.grad.cpu().numpy(), y.grad.cpu().numpy(), rtol=0, atol=1e-12)


def test_composite_twin_agrees(device):
    """The plain composite twin, softmax(Q K^T * scale) V in primitive minigen ops (its
    gradients from autograd through matmul, softmax and the mask): the same to 1e-12."""
    (q, k, v), dout = _inputs(device, 21, 21, d=4, dv=3, seed=3)
    a = [T(x, device, True) for x in (q, k, v)]
    b = [T(x, device, True) for x in (q, k, v)]
    o = flash_attention(*a, is_causal=True, block_q=8, block_k=5)
    s = (b[0] @ b[1].transpose(-2, -1)) * (1 / math.sqrt(4))
    keep = T(np.tril(np.ones((21, 21), bool)), device)
    r = minigen.softmax(s.masked_fill(~keep, -math.inf), dim=-1) @ b[2]
    o.backward(T(dout, device))
    r.backward(T(dout, device))
    np.testing.assert_allclose(o.cpu().numpy(), r.cpu().numpy(), rtol=0, atol=1e-12)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.grad.cpu().numpy(), y.grad.cpu().numpy(), rtol=0, atol=1e-12)


def test_float32_close_to_float64(device):
    (q, k, v), dout = _inputs(device, 70, 70, d=16, dv=16, seed=2, dtype=np.float32)
    o_ref, dq_ref, _, _ = ref_attention(q, k, v, dout, True)
    qt, kt, vt = (T(a, device, True) for a in (q, k, v))
    o = flash_attention(qt, kt, vt, is_causal=True, block_q=16, block_k=32)
    o.backward(T(dout, device))
    assert o.dtype == minigen.float32 and qt.grad.dtype == minigen.float32
    np.testing.assert_allclose(o.cpu().numpy(), o_ref, atol=1e-5)
    np.testing.assert_allclose(qt.grad.cpu().numpy(), dq_ref, atol=1e-4)


def test_no_batch_dims_and_large_scores_stay_finite(device):
    """2-D inputs; scores of hundreds (exp would overflow without the running max)."""
    (q, k, v), dout = _inputs(device, 19, 23, batch=())
    q = q * 60.0
    o_ref, dq_ref, dk_ref, dv_ref = ref_attention(q, k, v, dout)
    qt, kt, vt = (T(a, device, True) for a in (q, k, v))
    o = flash_attention(qt, kt, vt, block_q=4, block_k=6)
    o.backward(T(dout, device))
    assert np.isfinite(o.cpu().numpy()).all()
    np.testing.assert_allclose(o.cpu().numpy(), o_ref, atol=1e-10)
    np.testing.assert_allclose(kt.grad.cpu().numpy(), dk_ref, atol=1e-8)


@pytest.mark.parametrize("is_causal", [False, True])
def test_gradcheck(device, is_causal):
    (q, k, v), _ = _inputs(device, 11, 9, d=3, dv=2, batch=(2,))
    inputs = [T(a, device, True) for a in (q, k, v)]

    def fn(q, k, v):
        return flash_attention(q, k, v, is_causal=is_causal, block_q=4, block_k=3)
    assert minigen.gradcheck(fn, inputs)


def test_only_requested_grads(device):
    (q, k, v), dout = _inputs(device, 9, 9)
    qt, kt, vt = T(q, device, True), T(k, device), T(v, device, True)
    flash_attention(qt, kt, vt, block_q=4, block_k=4).backward(T(dout, device))
    assert qt.grad is not None and vt.grad is not None and kt.grad is None


def test_double_backward_raises_clearly(device):
    (q, k, v), _ = _inputs(device, 6, 6)
    qt, kt, vt = (T(a, device, True) for a in (q, k, v))
    o = flash_attention(qt, kt, vt, block_q=4, block_k=4)
    with pytest.raises(RuntimeError, match="second time"):
        minigen.grad(o.sum(), [qt], create_graph=True)


def test_inputs_not_mutated(device):
    (q, k, v), dout = _inputs(device, 13, 13)
    ts = [T(a, device, True) for a in (q, k, v)]
    flash_attention(*ts, is_causal=True, block_q=4, block_k=4).backward(T(dout, device))
    for t, a in zip(ts, (q, k, v)):
        np.testing.assert_array_equal(t.cpu().numpy(), a)


def test_exported_in_functional():
    assert F.flash_attention is flash_attention


# ----------------------------------------------------------------------------- errors
def test_errors(device):
    (q, k, v), _ = _inputs(device, 8, 8)
    qt, kt, vt = (T(a, device) for a in (q, k, v))
    with pytest.raises(ValueError, match=r"same last dim d"):
        flash_attention(qt, T(k[..., :4], device), vt)
    with pytest.raises(ValueError, match=r"number of keys"):
        flash_attention(qt, kt, T(v[..., :5, :], device))
    with pytest.raises(ValueError, match=r"same batch dims"):
        flash_attention(qt, T(k[:1], device), T(v[:1], device))
    with pytest.raises(ValueError, match=r"at least 2 dims"):
        flash_attention(T(q[0, 0, 0], device), kt, vt)
    with pytest.raises(TypeError, match=r"same floating dtype.*float32"):
        flash_attention(qt, T(k.astype(np.float32), device), vt)
    with pytest.raises(TypeError, match=r"same floating dtype"):
        flash_attention(*(T(a.astype(np.int64), device) for a in (q, k, v)))
    for bad in (0, -3, 2.5, True, None):
        with pytest.raises(ValueError, match=r"block_q must be a positive integer"):
            flash_attention(qt, kt, vt, block_q=bad)
    with pytest.raises(ValueError, match=r"block_k must be a positive integer.*0"):
        flash_attention(qt, kt, vt, block_k=0)
    with pytest.raises(ValueError, match=r"scale must be a finite"):
        flash_attention(qt, kt, vt, scale=float("nan"))
    with pytest.raises(TypeError, match=r"is_causal"):
        flash_attention(qt, kt, vt, is_causal="yes")
    with pytest.raises(TypeError, match=r"expected q to be a Tensor"):
        flash_attention(q, kt, vt)
    with pytest.raises(ValueError, match=r"no keys"):
        flash_attention(qt, T(k[..., :0, :], device), T(v[..., :0, :], device))


def test_device_mismatch():
    (q, k, v), _ = _inputs("cpu", 8, 8)
    with pytest.raises(RuntimeError, match="same device"):
        flash_attention(T(q, "cpu"), T(k, "cuda"), T(v, "cpu"))


# ----------------------------------------------------------------------------- memory
def test_peak_memory_is_linear_not_quadratic():
    """Forward + backward never holds a T x T array: at T = 2048 one is 16 MiB (float32);
    the peak stays near the O(T d) arrays (O, L, dQ, dK, dV: ~0.1 MiB each)."""
    import tracemalloc
    rng = np.random.default_rng(0)
    Tn, d = 2048, 16
    q, k, v, do = (minigen.tensor(rng.standard_normal((1, Tn, d)).astype(np.float32),
                                  requires_grad=i < 3) for i in range(4))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        flash_attention(q, k, v, is_causal=True, block_q=64, block_k=64).backward(do)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert peak < (Tn * Tn * 4) / 8
