"""Tests for nn/quantize.py: per-output-channel absmax int8 weights for Linear layers."""
import os

import numpy as np
import pytest

import minigen
import minigen.nn as nn
from minigen.models.gpt import GPT
from minigen.nn.quantize import Int8Linear, int8_linear_names, quantize_int8, quantize_per_channel


def np_quantize(W):
    """NumPy reference: s_o = max|W_o.| / 127, W_q = clip(round(W / s), -127, 127)."""
    W = np.asarray(W, np.float64)
    s = np.abs(W).max(axis=1) / 127
    W_q = np.clip(np.rint(W / np.where(s > 0, s, 1)[:, None]), -127, 127).astype(np.int8)
    return W_q, s


def _gpt(**kw):
    minigen.manual_seed(0)
    return GPT(20, 16, **dict(dict(n_layer=2, n_head=2, n_embd=32), **kw))


# ----------------------------------------------------------------------------- the scheme
def test_per_channel_scales_and_range_match_numpy(device):
    rng = np.random.default_rng(0)
    # rows of very different sizes: one scale per row keeps each row's resolution
    W = rng.standard_normal((6, 10)) * np.array([1e-3, 0.02, 0.5, 1.0, 7.0, 100.0])[:, None]
    W[2] = 0.0  # a zero row: scale 0, all zeros
    W_q, s = quantize_per_channel(minigen.tensor(W.astype(np.float32), device=device))
    assert W_q.dtype == minigen.int8 and s.dtype == minigen.float32
    assert W_q.device.type == device and tuple(W_q.shape) == (6, 10) and tuple(s.shape) == (6,)
    ref_q, ref_s = np_quantize(W.astype(np.float32))
    np.testing.assert_allclose(s.cpu().numpy(), ref_s, rtol=1e-6)
    # the same integers (a value exactly at a rounding boundary may differ in float32: none here)
    assert (np.abs(W_q.cpu().numpy().astype(int) - ref_q.astype(int)) <= 1).all()
    assert (W_q.cpu().numpy() == ref_q).mean() > 0.99
    q = W_q.cpu().numpy().astype(int)
    assert q.min() >= -127 and q.max() <= 127
    # every non-zero row uses its full range: its largest entry maps to +-127
    nz = [0, 1, 3, 4, 5]
    np.testing.assert_array_equal(np.abs(q[nz]).max(axis=1), 127)
    assert (q[2] == 0).all() and s.cpu().numpy()[2] == 0
    # the error is at most half a step per entry
    err = np.abs(q * s.cpu().numpy()[:, None] - W.astype(np.float32))
    assert (err <= s.cpu().numpy()[:, None] / 2 * (1 + 1e-5) + 1e-12).all()


def test_int8_linear_forward_equals_dequantised_float_layer(device):
    minigen.manual_seed(1)
    lin = nn.Linear(12, 7).to(device)
    q = Int8Linear.from_float(lin)
    assert q.weight_q.device.type == device
    x = minigen.randn(4, 3, 12, device=device)
    # y = (x W_q^T) * s + b  ==  x (s W_q)^T + b
    W_hat = q.dequantize()
    want = x.cpu().numpy().astype(np.float64) @ W_hat.cpu().numpy().astype(np.float64).T + lin.bias.cpu().numpy()
    np.testing.assert_allclose(q(x).cpu().numpy(), want, rtol=1e-5, atol=1e-6)
    # and close to the float layer (the weight error is at most s/2 an entry)
    np.testing.assert_allclose(q(x).cpu().numpy(), lin(x).detach().cpu().numpy(), atol=0.03)
    assert list(q.parameters()) == []


def test_int8_linear_float64_input_and_grad_flows_to_input(device):
    lin = nn.Linear(5, 3, bias=False).to(device)
    q = Int8Linear.from_float(lin)
    x = minigen.randn(2, 5, device=device, dtype=minigen.float64, requires_grad=True)
    y = q(x)
    assert y.dtype == minigen.float64
    y.sum().backward()
    # d(sum y)/dx_i = sum_o s_o W_q[o, i]
    np.testing.assert_allclose(x.grad.cpu().numpy()[0], q.dequantize().cpu().numpy().astype(np.float64).sum(0),
                               rtol=1e-6)


# ----------------------------------------------------------------------------- a quantised GPT
def test_quantised_gpt_logits_close_to_float(device):
    model = _gpt().to(device)
    qmodel = quantize_int8(model)
    # a copy: the float model is untouched; every Linear became an Int8Linear
    assert all(type(m) is nn.Linear for m in model.modules() if "Linear" in type(m).__name__)
    names = int8_linear_names(qmodel)
    assert len(names) == 2 * 4 + 1 and "head" in names and "blocks.1.attn.c_attn" in names
    assert not any(isinstance(m, nn.Linear) for m in qmodel.modules())
    idx = minigen.tensor(np.random.default_rng(0).integers(0, 20, (3, 16)), device=device)
    with minigen.no_grad():
        a, b = model(idx)[0].cpu().numpy(), qmodel(idx)[0].cpu().numpy()
    assert np.abs(a - b).max() < 0.02 * np.abs(a).max() + 1e-3
    assert (a.argmax(-1) == b.argmax(-1)).mean() > 0.9


def test_inplace_replaces_layers_and_returns_the_model():
    model = _gpt(n_layer=1)
    out = quantize_int8(model, inplace=True)
    assert out is model and isinstance(model.blocks[0].c_fc, Int8Linear)


def test_checkpoint_round_trip_and_file_size(tmp_path, device):
    model = _gpt(n_layer=2, n_embd=64).to(device)
    qmodel = quantize_int8(model)
    f32, i8 = os.path.join(tmp_path, "f32.ckpt"), os.path.join(tmp_path, "int8.ckpt")
    minigen.save(model.state_dict(), f32)
    minigen.save(qmodel.state_dict(), i8)
    sd = minigen.load(i8, map_location=device)
    assert sd["blocks.0.c_fc.weight_q"].dtype == minigen.int8
    assert sd["blocks.0.c_fc.weight_scale"].dtype == minigen.float32
    # load: quantise a freshly built model of the same config, then load the state dict
    fresh = quantize_int8(GPT(**{k: v for k, v in model.config().items() if k != "class"})).to(device)
    fresh.load_state_dict(sd)
    for k, v in qmodel.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k].cpu().numpy(), v.cpu().numpy())
    idx = minigen.tensor(np.arange(16).reshape(1, 16) % 20, device=device)
    with minigen.no_grad():
        np.testing.assert_array_equal(fresh(idx)[0].cpu().numpy(), qmodel(idx)[0].cpu().numpy())
    # the Linear weights and the embedding tables are 4x smaller (plus one scale a row); the
    # norms and biases stay float: the file shrinks by the ratio of the arrays' bytes, less for
    # the few hundred bytes of .npy and zip headers each array costs (the int8 file has more)
    bytes_of = lambda sd: sum(v.cpu().numpy().nbytes for v in sd.values())  # noqa: E731
    lin = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Embedding))]
    n_lin, rows = sum(m.weight.numel() for m in lin), sum(m.weight.shape[0] for m in lin)
    assert bytes_of(model.state_dict()) - bytes_of(qmodel.state_dict()) == 3 * n_lin - 4 * rows
    linear_only = quantize_int8(model, embeddings=False)
    assert bytes_of(linear_only.state_dict()) > bytes_of(qmodel.state_dict())
    ratio = os.path.getsize(f32) / os.path.getsize(i8)
    expected = bytes_of(model.state_dict()) / bytes_of(qmodel.state_dict())
    assert 0.85 * expected < ratio < expected and ratio > 2.5


def test_int8_embedding_rows_against_numpy(device):
    from minigen.nn.quantize import Int8Embedding
    emb = nn.Embedding(7, 5).to(device)
    q = Int8Embedding.from_float(emb)
    E = emb.weight.detach().cpu().numpy().astype(np.float64)
    s = np.abs(E).max(1) / 127
    Eq = np.clip(np.round(E / s[:, None]), -127, 127)
    idx = minigen.tensor([[3, 0, 6], [6, 6, 1]], device=device)
    got = q(idx).cpu().numpy()
    np.testing.assert_allclose(got, (Eq * s[:, None])[idx.cpu().numpy()], rtol=1e-6, atol=1e-7)
    # every entry within half a step of the float table
    assert np.all(np.abs(got - E[idx.cpu().numpy()]) <= s[idx.cpu().numpy()][..., None] / 2 + 1e-7)
    with pytest.raises(RuntimeError, match="integer indices"):
        q(minigen.zeros(2, device=device))


def test_int8_linear_moves_between_devices():
    q = Int8Linear.from_float(nn.Linear(4, 3))
    q.to("cuda")
    assert q.weight_q.device.type == "cuda" and q.weight_q.dtype == minigen.int8
    assert q(minigen.randn(2, 4, device="cuda")).device.type == "cuda"


# ----------------------------------------------------------------------------- errors
def test_weight_tying_refused_or_skipped():
    tied = _gpt(tie_weights=True)
    with pytest.raises(ValueError, match=r"\['head', 'wte'\] share their weight.*tied='skip'"):
        quantize_int8(tied)
    with pytest.raises(ValueError, match=r"\['head'\] share their weight"):
        quantize_int8(tied, embeddings=False)
    q = quantize_int8(tied, tied="skip")
    assert type(q.head) is nn.Linear and q.head.weight is q.wte.weight
    assert type(q.wte) is nn.Embedding and type(q.wpe).__name__ == "Int8Embedding"
    assert isinstance(q.blocks[0].c_fc, Int8Linear)


def test_errors():
    with pytest.raises(ValueError, match=r"Sequential has no nn.Linear layers"):
        quantize_int8(nn.Sequential(nn.ReLU(), nn.LayerNorm(3)))
    with pytest.raises(TypeError, match=r"expected an nn.Module, got int"):
        quantize_int8(3)
    with pytest.raises(ValueError, match=r"tied must be 'error' or 'skip', got 'maybe'"):
        quantize_int8(_gpt(n_layer=1), tied="maybe")
    with pytest.raises(ValueError, match=r"2-D float weight.*\[3\]"):
        quantize_per_channel(minigen.randn(3))
    with pytest.raises(ValueError, match=r"NaN or inf"):
        quantize_per_channel(minigen.tensor([[1.0, float("nan")]]))
    with pytest.raises(TypeError, match=r"expected an nn.Linear, got ReLU"):
        Int8Linear.from_float(nn.ReLU())
    q = Int8Linear.from_float(nn.Linear(4, 3))
    with pytest.raises(RuntimeError, match=r"expected a float input \[\.\.\., 4\], got shape \[2, 5\]"):
        q(minigen.randn(2, 5))
    # a lone Linear becomes its Int8Linear
    assert isinstance(quantize_int8(nn.Linear(4, 3)), Int8Linear)
