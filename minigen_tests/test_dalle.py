"""The DALL-E-style text-to-image model (minigen/models/dalle.py): the sequence layout and its
offsets, the loss mask (image tokens only; text_weight), generation keeps the prompt and draws
only image tokens, CLIP's ranking order, tiny overfit, determinism, checkpoints, devices, the
registry's --quick run, the CLI, and the errors."""
import os

import numpy
import pytest

import minigen
from minigen.data import load_mnist
from minigen.models import dalle as D
from minigen.train import load_checkpoint, save_checkpoint, training_step


def small(**kw):
    return D.build_dalle(**dict(D.QUICK, **kw))


def test_sequence_layout_and_offsets():
    m = small()
    V_t = len(m.tokenizer)
    assert m.sep == V_t and m.offset == V_t + 1 and m.vocab_size == V_t + 1 + m.num_codes
    assert m.seq_len == m.text_len + 1 + m.n_image
    text = m.text_ids("a handwritten seven")
    tok = m.tokenizer
    assert text[:4] == [tok.bos, tok.stoi["a"], tok.stoi["handwritten"], tok.stoi["seven"]]
    assert text[4:] == [tok.pad] * (m.text_len - 4) and len(text) == m.text_len
    codes = minigen.from_numpy(numpy.arange(2 * m.n_image).reshape(2, *m.grid) % m.num_codes)
    seq = m.layout(minigen.from_numpy(numpy.array([text, text])), codes).cpu().numpy()
    assert seq.shape == (2, m.seq_len)
    assert (seq[:, :m.text_len] == text).all() and (seq[:, m.text_len] == m.sep).all()
    # image token i at position text_len + 1 + i, offset by V_t + 1
    numpy.testing.assert_array_equal(seq[:, m.text_len + 1:], codes.cpu().numpy().reshape(2, -1) + m.offset)


def test_loss_mask_is_the_image_tokens_and_matches_a_hand_computation():
    minigen.manual_seed(0)
    m = small()
    x, y = load_mnist("train")
    text = m.caption_table[minigen.from_numpy(numpy.array([0, 3])), y[:2]]
    seq = m.layout(text, m.vqvae.encode_codes(x[:2]))
    w = m.loss_weights(seq).cpu().numpy()
    # predicted token t + 1: weight 1 exactly where seq[t + 1] is an image token
    expected = (numpy.arange(1, m.seq_len) > m.text_len).astype(float)
    numpy.testing.assert_array_equal(w[0], expected)
    assert w.shape[1] == m.seq_len - 1 and w.sum(1).tolist() == [m.n_image] * 2
    # the loss: the mean cross-entropy over the 49 image targets, by hand
    logits, _ = m.prior(seq[:, :-1])
    L = logits.cpu().numpy().astype(numpy.float64)
    L = L - L.max(-1, keepdims=True)
    logp = L - numpy.log(numpy.exp(L).sum(-1, keepdims=True))
    tgt = seq.cpu().numpy()[:, 1:]
    ce = -numpy.take_along_axis(logp, tgt[..., None], -1)[..., 0]
    assert abs(m.sequence_loss(seq).item() - ce[:, m.text_len:].mean()) < 1e-5
    # text_weight adds the caption's words (never PAD or SEP)
    mw = small(text_weight=0.5)
    ww = mw.loss_weights(seq).cpu().numpy()
    words = (tgt > m.tokenizer.eos) & (tgt < m.sep)
    numpy.testing.assert_array_equal(ww, expected[None] + 0.5 * words)


def test_loss_gradient_never_reaches_the_frozen_parts():
    minigen.manual_seed(0)
    m = small()
    x, y = load_mnist("train")
    m.loss(x[:4], y[:4]).backward()
    assert all(p.grad is None for p in m.clip.parameters())
    assert all(p.grad is None for p in m.vqvae.parameters())
    assert all(p.grad is not None for p in m.prior.parameters())
    m.train()
    assert not m.vqvae.training and not m.clip.training     # no codebook restarts while the prior trains


def test_generation_keeps_the_prompt_and_draws_only_image_tokens():
    minigen.manual_seed(0)
    m = small()
    seen = []
    forward = m.prior.forward

    def spy(idx, cache=None):
        seen.append(idx.cpu().numpy().copy())
        return forward(idx, cache)
    m.prior.forward = spy
    codes = m.sample_codes("the digit 7", 3)
    assert codes.shape == (3, *m.grid) and codes.dtype == minigen.int64
    c = codes.cpu().numpy()
    assert c.min() >= 0 and c.max() < m.num_codes
    # the first read is [prompt, SEP] for every candidate; then one image token at a time
    numpy.testing.assert_array_equal(seen[0], numpy.array([m.text_ids("the digit 7") + [m.sep]] * 3))
    assert len(seen) == m.n_image and all(s.shape == (3, 1) for s in seen[1:])
    assert all((s >= m.offset).all() for s in seen[1:])
    # the tokens fed back are the codes drawn, in order
    numpy.testing.assert_array_equal(numpy.concatenate(seen[1:], 1), c.reshape(3, -1)[:, :-1] + m.offset)


def test_top_k_1_is_greedy_and_temperature_does_not_matter_then():
    minigen.manual_seed(0)
    m = small()
    a = m.sample_codes("a handwritten two", 2, top_k=1).cpu().numpy()
    minigen.manual_seed(7)
    b = m.sample_codes("a handwritten two", 2, temperature=0.3, top_k=1).cpu().numpy()
    numpy.testing.assert_array_equal(a, b)
    assert (a[0] == a[1]).all()


def test_ranking_is_by_clip_cosine_best_first():
    minigen.manual_seed(0)
    m = small()
    x, _ = load_mnist("test")
    images = x[:12]
    v = m.clip.encode_text("a handwritten four")
    ranked, scores = D.rank_by_clip(m.clip, images, v)
    u = m.clip.encode_image(images).cpu().numpy()
    cos = (u @ v.cpu().numpy().T)[:, 0]
    numpy.testing.assert_allclose(scores, numpy.sort(cos)[::-1], rtol=1e-6)
    assert (numpy.diff(scores) <= 0).all()
    # the images come in the same order as the scores
    numpy.testing.assert_array_equal(ranked.cpu().numpy(), images.cpu().numpy()[numpy.argsort(-cos, kind="stable")])
    imgs, s = m.generate("the digit 3", 5)
    assert imgs.shape == (5, 1, 28, 28) and (numpy.diff(s) <= 0).all()
    a = imgs.cpu().numpy()
    assert a.min() >= 0.0 and a.max() <= 1.0


def test_tiny_batch_overfits():
    minigen.manual_seed(0)
    m = small(n_embd=32, n_layer=2)
    x, y = load_mnist("train")
    xb, yb = x[:4], y[:4]
    opt = minigen.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=3e-3)
    first = m.loss(xb, yb).item()
    for _ in range(150):
        last = training_step(m, opt, (xb, yb)).item()
    assert first > 2.5 and last < 0.3, (first, last)


def test_same_seed_same_samples():
    out = []
    for _ in range(2):
        minigen.manual_seed(3)
        m = small()
        minigen.manual_seed(11)
        out.append(m.generate("a picture of a five", 4)[0].cpu().numpy())
    numpy.testing.assert_array_equal(out[0], out[1])


def test_checkpoint_round_trip(tmp_path, device):
    minigen.manual_seed(0)
    m = small().to(device)
    opt = minigen.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-3)
    x, y = load_mnist("train")
    training_step(m, opt, (x[:8].to(device), y[:8].to(device)))
    path = os.path.join(tmp_path, "d.npz")
    save_checkpoint(path, m, opt, meta={"model": "dalle"})
    other = small().to(device)
    load_checkpoint(path, other)
    assert "caption_table" not in m.state_dict()
    for name in ("clip.logit_scale", "vqvae.codebook.weight", "prior.wte.weight"):
        numpy.testing.assert_array_equal(m.state_dict()[name].cpu().numpy(), other.state_dict()[name].cpu().numpy())
    minigen.manual_seed(4)
    a = m.generate("7", 3)[0].cpu().numpy()
    minigen.manual_seed(4)
    b = other.generate("7", 3)[0].cpu().numpy()
    numpy.testing.assert_array_equal(a, b)


def test_cpu_and_cuda_agree():
    minigen.manual_seed(0)
    m = small()
    x, y = load_mnist("train")
    a = m.loss(x[:4], y[:4])
    minigen.manual_seed(1)
    la = m.sequence_loss(m.layout(m.caption_table[0, y[:4]], m.vqvae.encode_codes(x[:4]))).item()
    m = m.to("cuda")
    lb = m.sequence_loss(m.layout(m.caption_table[0, y[:4].to("cuda")], m.vqvae.encode_codes(x[:4].to("cuda")))).item()
    assert abs(la - lb) < 1e-5 and numpy.isfinite(a.item())


def test_errors():
    m = small()
    with pytest.raises(ValueError, match="empty"):
        m.text_ids("   ")
    with pytest.raises(ValueError, match="elephant"):
        m.text_ids("a handwritten elephant")
    with pytest.raises(ValueError, match="longer than the prior's text context of 7 words"):
        m.text_ids("a handwritten seven a handwritten seven seven seven")
    with pytest.raises(TypeError, match="string"):
        m.text_ids(7)
    with pytest.raises(ValueError, match="n:"):
        m.sample_codes("7", 0)
    with pytest.raises(ValueError, match="temperature"):
        m.sample_codes("7", 2, temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        m.sample_codes("7", 2, top_k=10 ** 6)
    with pytest.raises(ValueError, match="captions"):
        D.build_dalle(data="mnist", **D.QUICK)


def test_missing_part_checkpoint_names_the_command(monkeypatch):
    monkeypatch.setattr(D, "SHIPPED", "/nonexistent/dalle.npz")
    with pytest.raises(ValueError, match="minigen train clip"):
        D.build_dalle(clip_checkpoint="/nonexistent/clip.npz", vqvae_checkpoint=None,
                      **{k: v for k, v in D.QUICK.items() if "checkpoint" not in k})


def test_quick_runs_through_the_registry_and_the_cli(tmp_path, capsys):
    from minigen.cli import main
    from minigen.train import train_model
    out = str(tmp_path / "r")
    r = train_model("dalle", quick=True, out=out, progress=False, pictures=True, log=lambda *a: None)
    met = r["metrics"]
    assert met["steps"] == 6 and 0.0 <= met["top1_agreement_min"] <= met["top1_agreement_mean"] <= 1.0
    assert {os.path.basename(p) for p in r["pictures"]} >= {"dalle_prompts.png", "loss.png"}
    ckpt = os.path.join(out, "last.npz")
    png, npy = str(tmp_path / "g.png"), str(tmp_path / "s.npy")
    assert main(["sample", "dalle", "--checkpoint", ckpt, "--prompt", "a handwritten seven", "--n", "4",
                 "--out", png]) == 0 and os.path.exists(png)
    assert main(["sample", "dalle", "--checkpoint", ckpt, "--prompt", "the digit 7", "--out", npy]) == 0
    a = numpy.load(npy)
    assert a.shape == (16, 1, 28, 28) and a.dtype == numpy.float32 and 0.0 <= a.min() and a.max() <= 1.0
    capsys.readouterr()
    assert main(["sample", "dalle", "--checkpoint", ckpt, "--prompt", "", "--out", png]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["sample", "dalle", "--checkpoint", ckpt, "--prompt", "a handwritten elephant", "--out", png]) == 1
    assert "elephant" in capsys.readouterr().err
    assert main(["sample", "dalle", "--checkpoint", ckpt, "--out", png]) == 1
    assert "--prompt" in capsys.readouterr().err
    assert main(["sample", "dalle", "--checkpoint", ckpt, "--prompt", "7", "--out", str(tmp_path / "x.jpg")]) == 1
    assert "--out" in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists(D.SHIPPED), reason="no shipped weights")
def test_shipped_model_samples_without_a_checkpoint(tmp_path):
    from minigen.cli import main
    npy = str(tmp_path / "s.npy")
    assert main(["sample", "dalle", "--prompt", "a handwritten seven", "--n", "4", "--out", npy]) == 0
    assert numpy.load(npy).shape == (4, 1, 28, 28)


def test_pytorch_twin_agrees_with_copied_weights():
    torch = pytest.importorskip("torch")
    from minigen.bench.torch_twins import torch_dalle_prior
    minigen.manual_seed(0)
    m = small(text_weight=0.25)
    net = torch_dalle_prior({"vqvae": m.vqvae.config(), "prior": m.prior.config()}, m.text_len, m.sep, m.offset,
                            m.vocab_size, m.text_weight).double()
    ours = {k: v for k, v in m.state_dict().items() if k.startswith(("prior.", "vqvae."))}
    theirs = {k.replace(".attn.c_attn.", ".c_attn.").replace(".attn.c_proj.", ".attn_proj."): k for k in ours}
    assert set(theirs) == set(net.state_dict())
    net.load_state_dict({t: torch.from_numpy(numpy.asarray(ours[k].cpu().numpy(), dtype=numpy.float64))
                         for t, k in theirs.items()})
    x, y = load_mnist("train")
    text = m.caption_table[0, y[:3]]
    loss = m.sequence_loss(m.layout(text, m.vqvae.encode_codes(x[:3])))
    loss.backward()
    tl = net.loss(torch.from_numpy(x[:3].cpu().numpy()).double(), torch.from_numpy(text.cpu().numpy()))
    tl.backward()
    assert abs(loss.item() - tl.item()) < 1e-5
    g = dict(net.named_parameters())
    for t, k in theirs.items():
        if k.startswith("prior."):
            p = dict(m.named_parameters())[k]
            numpy.testing.assert_allclose(p.grad.cpu().numpy(), g[t].grad.cpu().numpy(), rtol=1e-3, atol=1e-5)
