"""Rotary position embedding (minigen/nn/rope.py) and the GPT that uses it (pos='rope'):
a NumPy float64 reference, the relative-offset property, gradcheck, the KV cache, overfitting,
checkpoints, the registry's --quick run and the PyTorch twin."""
import math

import numpy as np
import pytest

import minigen
from minigen import optim
from minigen.models.gpt import GPT
from minigen.nn.rope import RotaryEmbedding, apply_rotary, rotary_angles


def rope_reference(x, offset=0, base=10000.0):
    """NumPy float64: pairs (x_2i, x_2i+1) as complex numbers z, times e^{i t theta_i}."""
    x = np.asarray(x, np.float64)
    T, d = x.shape[-2], x.shape[-1]
    theta = base ** (-np.arange(0, d, 2) / d)
    t = np.arange(offset, offset + T)[:, None]
    z = (x[..., 0::2] + 1j * x[..., 1::2]) * np.exp(1j * t * theta)
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = z.real, z.imag
    return out


@pytest.mark.parametrize("offset", [0, 5, 1000])
def test_rotary_matches_the_numpy_reference(device, offset):
    x = np.random.randn(2, 3, 7, 8)
    got = apply_rotary(minigen.tensor(x, device=device), offset=offset).cpu().numpy()
    np.testing.assert_allclose(got, rope_reference(x, offset), rtol=1e-12, atol=1e-12)
    got32 = apply_rotary(minigen.tensor(x, dtype=minigen.float32, device=device), offset=offset)
    assert got32.dtype == minigen.float32
    np.testing.assert_allclose(got32.cpu().numpy(), rope_reference(x, offset), atol=2e-5)


def test_rotation_keeps_norms_and_position_zero_is_identity():
    x = np.random.randn(4, 6, 16)
    y = apply_rotary(minigen.tensor(x)).cpu().numpy()
    np.testing.assert_allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(y[:, 0], x[:, 0], rtol=0, atol=0)


def test_scores_depend_only_on_the_offset(device):
    """q_m . k_n after rotation is a function of m - n: shifting both positions by s (the KV
    cache's offset) leaves every score unchanged, and one q against one k placed at all
    positions gives a Toeplitz matrix of scores."""
    d, T = 16, 9
    q = np.random.randn(T, d)
    k = np.random.randn(T, d)
    rope = RotaryEmbedding(d)
    for s in (0, 3, 250):
        qr, kr = rope(minigen.tensor(q, device=device), minigen.tensor(k, device=device), offset=s)
        scores = (qr @ kr.transpose(0, 1)).cpu().numpy()
        ref = rope_reference(q, s) @ rope_reference(k, s).T
        np.testing.assert_allclose(scores, ref, rtol=1e-10, atol=1e-10)
        if s == 0:
            first = scores
        else:
            np.testing.assert_allclose(scores, first, rtol=1e-10, atol=1e-10)
    # the same q and k at every position: S[m, n] = f(m - n)
    one_q, one_k = np.tile(np.random.randn(1, d), (T, 1)), np.tile(np.random.randn(1, d), (T, 1))
    qr, kr = rope(minigen.tensor(one_q), minigen.tensor(one_k))
    S = (qr @ kr.transpose(0, 1)).cpu().numpy()
    for m in range(1, T):
        for n in range(1, T):
            assert S[m, n] == pytest.approx(S[m - 1, n - 1], abs=1e-10)
    # and the scores do change with the offset (the positions matter)
    assert abs(S[0, 3] - S[0, 0]) > 1e-3


def test_gradcheck_and_gradgradcheck():
    x = minigen.tensor(np.random.randn(2, 5, 6), requires_grad=True)
    assert minigen.gradcheck(lambda x: apply_rotary(x, offset=2), (x,))
    assert minigen.gradgradcheck(lambda x: apply_rotary(x, offset=2), (x,))


def test_angles_and_errors():
    cos, sin = rotary_angles(3, 4, offset=1, base=100.0)
    np.testing.assert_allclose(cos.cpu().numpy(), np.cos(np.arange(1, 4)[:, None] * 100.0 ** (-np.arange(0, 4, 2) / 4)), rtol=1e-6)
    assert sin.shape == (3, 2)
    with pytest.raises(ValueError, match="must be even"):
        apply_rotary(minigen.randn(2, 5))
    with pytest.raises(ValueError, match="offset must be a non-negative integer"):
        apply_rotary(minigen.randn(2, 4), offset=-1)
    with pytest.raises(ValueError, match="rotated dimension must be even"):
        RotaryEmbedding(7)
    with pytest.raises(ValueError, match="head size 8"):
        RotaryEmbedding(8)(minigen.randn(1, 2, 3, 6), minigen.randn(1, 2, 3, 6))
    with pytest.raises(ValueError, match="head size n_embd / n_head = 12 / 4 = 3 must be even"):
        GPT(10, 8, n_layer=1, n_head=4, n_embd=12, pos="rope")
    with pytest.raises(ValueError, match="pos must be 'learned' or 'rope'"):
        GPT(10, 8, pos="sinusoidal")


# ----------------------------------------------------------------------------- the GPT with RoPE
def small_rope_gpt(device="cpu", seed=0, **kw):
    minigen.manual_seed(seed)
    return GPT(11, 12, n_layer=2, n_head=2, n_embd=16, pos="rope", **kw).to(device)


def test_rope_gpt_has_no_position_table_and_its_cache_matches_the_full_pass(device):
    m = small_rope_gpt(device)
    assert "wpe.weight" not in m.state_dict()
    assert m.config()["pos"] == "rope"
    assert "pos" not in GPT(11, 12, n_layer=1, n_head=2, n_embd=16).config()   # the default unchanged
    x = minigen.randint(0, 11, (2, 10), device=device)
    full = m(x)[0].cpu().numpy()
    # 4 tokens, then 3, then one at a time: each piece rotated at positions P..P+T-1
    logits, cache = m(x[:, :4])
    pieces = [logits.cpu().numpy()]
    logits, cache = m(x[:, 4:7], cache)
    pieces.append(logits.cpu().numpy())
    for t in range(7, 10):
        logits, cache = m(x[:, t:t + 1], cache)
        pieces.append(logits.cpu().numpy())
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="exceed block_size 12"):
        m(minigen.randint(0, 11, (1, 3), device=device), cache)


def test_rope_gpt_overfits_a_tiny_batch(device):
    m = small_rope_gpt(device)
    x = minigen.randint(0, 11, (4, 12), device=device)
    y = minigen.randint(0, 11, (4, 12), device=device)
    opt = optim.Adam(m.parameters(), lr=1e-2)
    first = m.loss(x, y).item()
    assert abs(first - math.log(11)) < 0.5
    for _ in range(150):
        opt.zero_grad()
        loss = m.loss(x, y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 < first


def test_rope_gpt_seed_and_checkpoint_round_trip(tmp_path):
    from minigen.models.gpt import build_gpt
    from minigen.train import load_checkpoint, save_checkpoint
    x = minigen.randint(0, 11, (2, 12))
    a, b = small_rope_gpt(seed=3), small_rope_gpt(seed=3)
    assert a.loss(x, x).item() == b.loss(x, x).item()
    save_checkpoint(str(tmp_path / "c.npz"), a, None, meta={"model": "gpt", "config": a.config()})
    c = small_rope_gpt(seed=5)
    load_checkpoint(str(tmp_path / "c.npz"), c)
    np.testing.assert_array_equal(c(x)[0].cpu().numpy(), a(x)[0].cpu().numpy())
    # the registry's builder makes the same architecture
    assert build_gpt("shakespeare", "rope", n_layer=2, n_head=2, n_embd=16, block_size=12).config() == \
        {**a.config(), "vocab_size": 80}


def test_quick_run_through_the_registry(tmp_path):
    from minigen.train import train_model
    r = train_model("gpt", variant="rope", quick=True, out=str(tmp_path / "r"), progress=False,
                    pictures=False, log=lambda *a: None)
    assert math.isfinite(r["metrics"]["test_nats_per_char"])


def test_the_pytorch_twin_computes_the_same_logits():
    torch = pytest.importorskip("torch")
    from minigen.bench.torch_twins import torch_gpt_mechanisms
    m = small_rope_gpt().to(dtype=minigen.float64)
    t = torch_gpt_mechanisms(m.config()).double()
    sd = {k.replace(".c_fc.", ".mlp.c_fc.").replace("blocks.0.c_proj", "blocks.0.mlp.c_proj")
          .replace("blocks.1.c_proj", "blocks.1.mlp.c_proj"): torch.tensor(v.cpu().numpy()) for k, v in m.state_dict().items()}
    t.load_state_dict(sd)
    x = np.random.randint(0, 11, (3, 12))
    np.testing.assert_allclose(t(torch.tensor(x)).detach().cpu().numpy(), m(minigen.tensor(x))[0].cpu().numpy(), rtol=1e-10, atol=1e-12)
